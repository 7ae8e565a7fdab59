// tests/data/prompt_test.cc: tokenizer training and identifier checks, and
// prompt rendering checked against an independent re-derivation: the
// answer identifiers, their positions, the ratings per slot, permuted copies.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "absl/strings/match.h"
#include "data/prompt.h"
#include "data/random.h"
#include "data/tokenizer.h"
#include "tests/data/test_util.h"

namespace alro::data {
namespace {

using testing::SmallTokenizer;
using testing::SyntheticExample;

TEST(Tokenizer, IdentifiersAreSingleTokens) {
  auto tokenizer = SmallTokenizer();
  auto ids = tokenizer->IdentifierIds(config::PromptConfig().identifiers);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->size(), 20u);
  for (size_t k = 0; k < ids->size(); ++k) EXPECT_EQ(tokenizer->IdToPiece((*ids)[k]), config::PromptConfig().identifiers[k]);
  // A multi-piece identifier is refused with the pieces it splits into.
  auto bad = tokenizer->IdentifierId("Toy Story");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "is not one token")) << bad.status();
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "HINT:"));
  EXPECT_EQ(tokenizer->Decode(tokenizer->Encode("Heat (1995)")), "Heat (1995)");
  EXPECT_GE(tokenizer->newline_id(), 0);
  EXPECT_EQ(tokenizer->PieceToId("no-such-piece"), -1);
}

TEST(Tokenizer, TrainingIsDeterministic) {
  std::vector<std::string> corpus = {"Toy Story (1995)", "Heat (1995)", "Casino (1995)", "Rank these movies"};
  TokenizerTrainingOptions options;
  options.vocab_size = 80;
  options.user_defined_symbols = {"A", "B", "<nl>"};
  auto a = TrainTokenizer(corpus, options);
  auto b = TrainTokenizer(corpus, options);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status();
  EXPECT_EQ(*a, *b);
  options.user_defined_symbols = {"A,B"};
  EXPECT_FALSE(TrainTokenizer(corpus, options).ok());
}

TEST(Prompt, AnswerPositionsAndTrueOrder) {
  auto tokenizer = SmallTokenizer();
  config::PromptConfig prompt;
  auto renderer = PromptRenderer::Create(prompt, tokenizer);
  ASSERT_TRUE(renderer.ok()) << renderer.status();
  const proto::ListExample ex = SyntheticExample(3, 5);
  auto r = (*renderer)->Render(ex);
  ASSERT_TRUE(r.ok()) << r.status();
  const int m = 5;
  ASSERT_EQ(r->answer_positions.size(), 5u);
  ASSERT_EQ(r->ratings.size(), 5u);
  ASSERT_EQ(r->loss_mask.size(), r->tokens.size());
  // The tie ranks are a permutation of the slots.
  std::vector<int32_t> ties = r->tie_ranks;
  std::sort(ties.begin(), ties.end());
  for (int j = 0; j < m; ++j) EXPECT_EQ(ties[j], j);
  // Brute force: the k-th answer slot is the k-th best rating (equal ratings
  // by tie rank).
  std::vector<int> slots(m);
  for (int j = 0; j < m; ++j) slots[j] = j;
  std::sort(slots.begin(), slots.end(), [&](int a, int b) {
    if (ex.candidates(a).rating() != ex.candidates(b).rating()) return ex.candidates(a).rating() > ex.candidates(b).rating();
    return r->tie_ranks[a] < r->tie_ranks[b];
  });
  for (int k = 0; k < m; ++k) {
    const int32_t pos = r->answer_positions[k];
    EXPECT_EQ(r->tokens[pos], r->identifier_ids[slots[k]]) << k;
    EXPECT_EQ(r->loss_mask[pos], 1);
    EXPECT_EQ(r->ratings[k], ex.candidates(k).rating());
  }
  EXPECT_EQ(r->tokens.front(), tokenizer->bos_id());
  EXPECT_EQ(r->tokens.back(), tokenizer->eos_id());
  // The loss mask covers exactly the answer identifiers and the EOS.
  EXPECT_EQ(std::count(r->loss_mask.begin(), r->loss_mask.end(), 1), m + 1);
  // Each slot's identifier leads a candidate line in the prompt part.
  const auto prompt_end = r->tokens.begin() + r->answer_positions[0];
  for (int j = 0; j < m; ++j) {
    EXPECT_NE(std::find(r->tokens.begin(), prompt_end, r->identifier_ids[j]), prompt_end) << j;
  }
  // The text shows the same answer (the evaluation tie draw).
  r = (*renderer)->Render(ex, {}, 0, EvalTieSeed(ex.example_id()));
  ASSERT_TRUE(r.ok());
  for (int k = 0; k < m; ++k) slots[k] = static_cast<int>(std::find(r->identifier_ids.begin(), r->identifier_ids.end(),
                                                                    r->tokens[r->answer_positions[k]]) -
                                                          r->identifier_ids.begin());
  const std::string text = RenderPromptText(prompt, ex);
  std::string answer = "Answer:";
  for (int k = 0; k < m; ++k) answer += std::string(" ") + prompt.identifiers[slots[k]];
  EXPECT_TRUE(absl::StrContains(text, answer)) << text;
  EXPECT_TRUE(absl::StrContains(text, "rated")) << text;
  EXPECT_TRUE(absl::StartsWith(text, prompt.header + "\n")) << text;
  // Without a header (configs/tiny.yaml) the text starts with the first line.
  config::PromptConfig headless = prompt;
  headless.header = "";
  const std::string headless_text = RenderPromptText(headless, ex);
  EXPECT_EQ(headless_text, text.substr(prompt.header.size() + 1)) << headless_text;
}

TEST(Prompt, PermutedCopyShowsTheSameItemsInAnotherOrder) {
  auto renderer = *PromptRenderer::Create(config::PromptConfig(), SmallTokenizer());
  const proto::ListExample ex = SyntheticExample(11, 4);
  const std::vector<int32_t> perm = {2, 0, 3, 1};
  auto original = renderer->Render(ex);
  auto copy = renderer->Render(ex, perm, 1);
  ASSERT_TRUE(original.ok() && copy.ok());
  EXPECT_EQ(copy->copy_index, 1);
  EXPECT_EQ(copy->permutation, perm);
  EXPECT_EQ(copy->tokens.size(), original->tokens.size());
  for (int j = 0; j < 4; ++j) EXPECT_EQ(copy->ratings[j], original->ratings[perm[j]]);
  // The answer names the same items in the same order: map each copy slot
  // back to its original candidate.
  for (int k = 0; k < 4; ++k) {
    const int32_t copy_slot = static_cast<int32_t>(
        std::find(copy->identifier_ids.begin(), copy->identifier_ids.end(), copy->tokens[copy->answer_positions[k]]) -
        copy->identifier_ids.begin());
    const int32_t original_slot = static_cast<int32_t>(
        std::find(original->identifier_ids.begin(), original->identifier_ids.end(),
                  original->tokens[original->answer_positions[k]]) - original->identifier_ids.begin());
    EXPECT_EQ(perm[copy_slot], original_slot) << k;
  }
  EXPECT_FALSE(renderer->Render(ex, {0, 0, 1, 2}).ok());
}

// The original candidate that answer slot k of `r` names.
int32_t AnswerItem(const RenderedExample& r, int k) {
  const auto slot = std::find(r.identifier_ids.begin(), r.identifier_ids.end(), r.tokens[r.answer_positions[k]]) -
                    r.identifier_ids.begin();
  return r.permutation[static_cast<size_t>(slot)];
}

// A list with three groups of equal ratings: 4 4 4 | 3 3 | 1.
proto::ListExample ListWithTies() {
  proto::ListExample ex = SyntheticExample(5, 6);
  const float ratings[] = {4, 3, 4, 1, 4, 3};
  for (int c = 0; c < 6; ++c) ex.mutable_candidates(c)->set_rating(ratings[c]);
  return ex;
}

TEST(TieRule, EveryPresentationOrderTargetsTheSameItems) {
  auto renderer = *PromptRenderer::Create(config::PromptConfig(), SmallTokenizer());
  const proto::ListExample ex = ListWithTies();
  for (uint64_t tie_seed : {0ull, 1ull, 77ull, 123456789ull}) {
    auto original = renderer->Render(ex, {}, 0, tie_seed);
    ASSERT_TRUE(original.ok());
    for (const std::vector<int32_t>& perm : std::vector<std::vector<int32_t>>{
             {5, 4, 3, 2, 1, 0}, {1, 3, 5, 0, 2, 4}, {2, 0, 4, 1, 5, 3}}) {
      auto copy = renderer->Render(ex, perm, 1, tie_seed);
      ASSERT_TRUE(copy.ok());
      for (int k = 0; k < 6; ++k) EXPECT_EQ(AnswerItem(*copy, k), AnswerItem(*original, k)) << "seed " << tie_seed;
    }
  }
}

TEST(TieRule, EqualRatingsAreNotOrderedByPresentationSlot) {
  // Over many tie draws, each of the three items rated 4 (original
  // candidates 0, 2, 4) comes first about equally often, and so does each
  // presentation slot of a permuted rendering: no slot is favoured.
  auto renderer = *PromptRenderer::Create(config::PromptConfig(), SmallTokenizer());
  const proto::ListExample ex = ListWithTies();
  const std::vector<int32_t> perm = {4, 1, 2, 5, 0, 3};
  std::map<int32_t, int> first_item;
  constexpr int kDraws = 600;
  for (int s = 0; s < kDraws; ++s) {
    auto r = renderer->Render(ex, perm, 1, static_cast<uint64_t>(s));
    ASSERT_TRUE(r.ok());
    ++first_item[AnswerItem(*r, 0)];
    // Ratings still decide across groups.
    EXPECT_EQ(ex.candidates(AnswerItem(*r, 3)).rating(), 3.0f);
    EXPECT_EQ(AnswerItem(*r, 5), 3);
  }
  ASSERT_EQ(first_item.size(), 3u);
  for (const auto& [item, count] : first_item) {
    EXPECT_TRUE(item == 0 || item == 2 || item == 4) << item;
    EXPECT_GT(count, kDraws / 3 - 60) << item;  // binomial sd ~ 11.5: > 5 sd margin
    EXPECT_LT(count, kDraws / 3 + 60) << item;
  }
  // The same draw is reproducible (exact resume).
  EXPECT_EQ(TieRanks(42, 6), TieRanks(42, 6));
  EXPECT_NE(TieRanks(42, 6), TieRanks(43, 6));
}

TEST(Prompt, ItemStatisticsPlaceholders) {
  config::PromptConfig prompt;
  prompt.candidate_line = "{id} {mean} {count} {title}";
  prompt.history_line = "{title} {rating} {mean}";
  prompt.stats_shrinkage = 2.0;
  prompt.stats_prior_mean = 3.0;
  auto renderer = PromptRenderer::Create(prompt, SmallTokenizer());
  ASSERT_TRUE(renderer.ok()) << renderer.status();
  proto::ListExample ex = SyntheticExample(2, 3);
  // Without statistics in the record: a clear error.
  auto missing = (*renderer)->Render(ex);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "--item-stats true")) << missing.status();
  for (auto* list : {ex.mutable_history(), ex.mutable_candidates()}) {
    for (proto::Interaction& x : *list) {
      x.mutable_item_stats()->set_count(37);
      x.mutable_item_stats()->set_mean(4.5f);
    }
  }
  ASSERT_TRUE((*renderer)->Render(ex).ok());
  // (37 * 4.5 + 2 * 3) / 39 = 4.423...; 37 rounds down to 20.
  const std::string text = RenderPromptText(prompt, ex);
  EXPECT_TRUE(absl::StrContains(text, "A 4.4 20 ")) << text;
  EXPECT_EQ(FormatItemCount(0), "0");
  EXPECT_EQ(FormatItemCount(1), "1");
  EXPECT_EQ(FormatItemCount(4), "2");
  EXPECT_EQ(FormatItemCount(5), "5");
  EXPECT_EQ(FormatItemCount(99), "50");
  EXPECT_EQ(FormatItemCount(100), "100");
  EXPECT_EQ(FormatItemCount(2500), "2000");
  proto::ItemStats none;
  EXPECT_EQ(FormatItemMean(none, 3.5, 0.0), "-");
  EXPECT_EQ(FormatItemMean(none, 3.5, 5.0), "3.5");
}

TEST(Prompt, HistoryIsCutToFitMaxTokens) {
  config::PromptConfig prompt;
  auto full = (*PromptRenderer::Create(prompt, SmallTokenizer()))->Render(SyntheticExample(1, 4));
  ASSERT_TRUE(full.ok());
  RenderOptions options;
  options.max_tokens = static_cast<int64_t>(full->tokens.size()) - 1;
  auto cut = (*PromptRenderer::Create(prompt, SmallTokenizer(), options))->Render(SyntheticExample(1, 4));
  ASSERT_TRUE(cut.ok()) << cut.status();
  EXPECT_LE(static_cast<int64_t>(cut->tokens.size()), options.max_tokens);
  EXPECT_LT(cut->tokens.size(), full->tokens.size());
  options.max_tokens = 10;
  EXPECT_FALSE((*PromptRenderer::Create(prompt, SmallTokenizer(), options))->Render(SyntheticExample(1, 4)).ok());
  // More candidates than identifiers.
  prompt.identifiers = {"A", "B", "C"};
  EXPECT_FALSE((*PromptRenderer::Create(prompt, SmallTokenizer()))->Render(SyntheticExample(1, 4)).ok());
  prompt.candidate_line = "{title} {bogus}";
  EXPECT_FALSE(PromptRenderer::Create(prompt, SmallTokenizer()).ok());
}

// Tie seeds, shard orders and shuffles of every data set derive from
// HashString: its values are pinned (computed by an independent Python
// implementation of FNV-1a + SplitMix64) so that no refactoring changes them.
TEST(Random, HashStringPinnedValues) {
  EXPECT_EQ(HashString(""), 0xc3817c016ba4ff30ull);
  EXPECT_EQ(HashString("a"), 0x5f29c2aadd9b8527ull);
  EXPECT_EQ(HashString("ml-1m/u42/t17"), 0x2a3c02b6d278947dull);
  EXPECT_EQ(EvalTieSeed("u1-0"), HashString("u1-0"));
}

}  // namespace
}  // namespace alro::data
