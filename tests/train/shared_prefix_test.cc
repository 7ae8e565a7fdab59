// tests/train/shared_prefix_test.cc: the training layouts of
// train/shared_prefix_layout.h: PSL copies packed around their shared prefix
// (objective.shared_prefix) and lists of different lengths packed into rows
// (objective.pack_lists).
//
//  * every layout (tokens, positions, mask, answer sources) equals a
//    brute-force construction that tracks which (row, position) pairs each
//    packed token stands for, reading the segments back out of the rows;
//  * first-fit decreasing against hand-packed rows;
//  * every loss term and every parameter's gradient of a shared or packed
//    micro-batch equal the one-row-per-rendering computation within 1e-5 in
//    float32, for groups with a real shared prefix (instruction + history
//    lines) and P = 0, 1 and 2, for a degenerate group whose common prefix is
//    two tokens, for lists of very different lengths packed with and without
//    sharing, with activation checkpointing on and off, at tensor-parallel
//    size = world size (the Mpi* suite runs at 1, 2 and 4 ranks);
//  * `auto` shares and packs only when it saves work.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "config/config.h"
#include "core/decoder.h"
#include "distributed/process_grid.h"
#include "losses/objective.h"
#include "tests/core/core_test_util.h"
#include "train/micro_batch_loss.h"
#include "train/shared_prefix_layout.h"

namespace alro::train {
namespace {

constexpr double kTolerance = 1e-5;
constexpr int32_t kCandidates = 4;
constexpr int32_t kBos = 1, kEos = 2, kNewline = 3, kSeparator = 4;
constexpr int32_t kFirstIdentifier = 10;  // slot j's identifier is kFirstIdentifier + j
constexpr int32_t kFirstWord = 20;        // content tokens are drawn from [kFirstWord, kVocab)
constexpr int64_t kVocab = 251;           // core::testing::SmallTestModel().vocab_size
constexpr int64_t kPad = 0;

// One list as a prompt would render it: an instruction, `history` rated
// lines, then the candidate lines in presentation order and the answer (the
// identifiers, best rating first). The copies of a group present the same
// candidates in another order, so they share everything before the first
// candidate line.
struct ListSpec {
  std::vector<int32_t> head;                     // instruction + history tokens
  std::vector<std::vector<int32_t>> candidates;  // each candidate's title tokens (lengths differ)
  std::vector<float> ratings;                    // each candidate's rating (distinct)
};

ListSpec RandomList(std::mt19937& rng, int history) {
  std::uniform_int_distribution<int32_t> word(kFirstWord, static_cast<int32_t>(kVocab) - 1);
  std::uniform_int_distribution<int> length(1, 4);
  ListSpec spec;
  spec.head.push_back(kBos);
  if (history > 0) {
    for (int i = 0; i < 5; ++i) spec.head.push_back(word(rng));  // the instruction
    spec.head.push_back(kNewline);
    for (int h = 0; h < history; ++h) {
      for (int i = length(rng); i > 0; --i) spec.head.push_back(word(rng));
      spec.head.push_back(kSeparator);
      spec.head.push_back(word(rng));  // the rating
      spec.head.push_back(kNewline);
    }
  }
  for (int j = 0; j < kCandidates; ++j) {
    // Distinct first title tokens: rows differ right after slot 0's identifier.
    std::vector<int32_t> title = {kFirstWord + j};
    for (int i = length(rng); i > 1; --i) title.push_back(word(rng));
    spec.candidates.push_back(title);
    spec.ratings.push_back(static_cast<float>(j) + 0.5f * static_cast<float>(j % 2));
  }
  std::shuffle(spec.ratings.begin(), spec.ratings.end(), rng);
  return spec;
}

// The rendering of `spec` with slot j showing candidate perm[j].
data::RenderedExample Render(const ListSpec& spec, const std::vector<int32_t>& perm, int copy, int list) {
  data::RenderedExample r;
  r.example_id = absl::StrCat("list", list);
  r.copy_index = copy;
  r.permutation = perm;
  r.tokens = spec.head;
  for (int32_t j = 0; j < kCandidates; ++j) {
    const int32_t item = perm[static_cast<size_t>(j)];
    r.tokens.push_back(kFirstIdentifier + j);
    for (int32_t t : spec.candidates[static_cast<size_t>(item)]) r.tokens.push_back(t);
    r.tokens.push_back(kNewline);
    r.identifier_ids.push_back(kFirstIdentifier + j);
    r.ratings.push_back(spec.ratings[static_cast<size_t>(item)]);
  }
  r.tokens.push_back(kSeparator);
  std::vector<int32_t> slots(kCandidates);
  for (int32_t j = 0; j < kCandidates; ++j) slots[static_cast<size_t>(j)] = j;
  std::stable_sort(slots.begin(), slots.end(), [&](int32_t a, int32_t b) { return r.ratings[a] > r.ratings[b]; });
  for (int32_t j : slots) {
    r.answer_positions.push_back(static_cast<int32_t>(r.tokens.size()));
    r.tokens.push_back(kFirstIdentifier + j);
  }
  r.tokens.push_back(kEos);
  return r;
}

// Lists with `history` history lines each (0 = no instruction either), each
// followed by `copies` permuted copies, as the loader orders them.
data::Batch MakeBatch(int lists, int copies, const std::vector<int>& history, uint32_t seed) {
  std::mt19937 rng(seed);
  data::Batch batch;
  for (int i = 0; i < lists; ++i) {
    const ListSpec spec = RandomList(rng, history[static_cast<size_t>(i) % history.size()]);
    std::vector<int32_t> perm(kCandidates);
    for (int32_t j = 0; j < kCandidates; ++j) perm[static_cast<size_t>(j)] = j;
    batch.lists.push_back(Render(spec, perm, 0, i));
    for (int c = 1; c <= copies; ++c) {
      std::vector<int32_t> shuffled = perm;
      // Slot 0 shows another candidate than the original's slot 0, so the
      // rows part right after the first identifier.
      do std::shuffle(shuffled.begin(), shuffled.end(), rng);
      while (shuffled[0] == perm[0]);
      batch.lists.push_back(Render(spec, shuffled, c, i));
    }
  }
  return batch;
}

// ---------------------------------------------------------------------------
// The layout against a brute-force construction.

// Brute force: the common prefix by comparing every row at every position;
// the packed row as the prefix followed by each row's remaining tokens; each
// packed token stands for a set of (row, position) pairs. Query a may read
// key b iff some row contains both, with b's position <= a's.
struct BruteForceGroup {
  std::vector<int64_t> tokens;
  std::vector<std::set<std::pair<int, int>>> stands_for;  // per packed index: (row in group, position)
};

BruteForceGroup BruteForce(const std::vector<data::RenderedExample>& rows) {
  size_t prefix = 0;
  while (true) {
    bool same = true;
    for (const auto& r : rows) same = same && prefix < r.tokens.size() && r.tokens[prefix] == rows[0].tokens[prefix];
    if (!same) break;
    ++prefix;
  }
  BruteForceGroup g;
  for (size_t p = 0; p < prefix; ++p) {
    g.tokens.push_back(rows[0].tokens[p]);
    std::set<std::pair<int, int>> all;
    for (size_t r = 0; r < rows.size(); ++r) all.insert({static_cast<int>(r), static_cast<int>(p)});
    g.stands_for.push_back(all);
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t p = prefix; p < rows[r].tokens.size(); ++p) {
      g.tokens.push_back(rows[r].tokens[p]);
      g.stands_for.push_back({{static_cast<int>(r), static_cast<int>(p)}});
    }
  }
  return g;
}

// Checks `packed` (the batch in `layout`) against the brute force: reads
// each row back as segments (a segment is the brute-force group of 1 + P
// renderings when sharing, one rendering otherwise; each must appear exactly
// once, whole, and positions restart in it), then checks every token's
// position, every mask entry and every answer source. Returns the number of
// segments.
size_t CheckAgainstBruteForce(const data::Batch& batch, Layout layout, const BatchTensors& packed) {
  const int64_t lists = static_cast<int64_t>(batch.lists.size());
  const int64_t group = layout.shared_prefix ? 1 + packed.copies_per_list : 1;
  std::vector<BruteForceGroup> segments;
  int64_t total = 0, longest = 0;
  for (int64_t first = 0; first < lists; first += group) {
    BruteForceGroup s = BruteForce(
        std::vector<data::RenderedExample>(batch.lists.begin() + first, batch.lists.begin() + first + group));
    for (auto& stands : s.stands_for) {  // rows of the batch, not of the group
      std::set<std::pair<int, int>> global;
      for (const auto& [row, pos] : stands) global.insert({row + static_cast<int>(first), pos});
      stands = global;
    }
    total += static_cast<int64_t>(s.tokens.size());
    longest = std::max<int64_t>(longest, static_cast<int64_t>(s.tokens.size()));
    segments.push_back(std::move(s));
  }
  const int64_t rows = packed.tokens.size(0), width = packed.tokens.size(1);
  EXPECT_EQ(width, longest) << "rows are as wide as the longest segment, no wider";
  EXPECT_EQ(packed.real_tokens, total);
  EXPECT_EQ(packed.attention_mask.sizes(), (std::vector<int64_t>{rows, width, width}));
  const auto tokens = packed.tokens.accessor<int64_t, 2>();
  const auto positions = packed.positions.accessor<int64_t, 2>();
  const auto mask = packed.attention_mask.accessor<bool, 3>();
  const auto sources = packed.answer_sources.accessor<int64_t, 2>();
  std::vector<int> used(segments.size(), 0);
  for (int64_t g = 0; g < rows; ++g) {
    // What each packed index stands for, read back from the tokens.
    std::vector<std::set<std::pair<int, int>>> stands(static_cast<size_t>(width));
    int64_t o = 0, in_row = 0;
    while (o < width && tokens[g][o] != kPad) {
      size_t found = segments.size();
      for (size_t s = 0; s < segments.size() && found == segments.size(); ++s) {
        const std::vector<int64_t>& want = segments[s].tokens;
        bool match = !used[s] && o + static_cast<int64_t>(want.size()) <= width;
        for (size_t i = 0; match && i < want.size(); ++i) match = tokens[g][o + static_cast<int64_t>(i)] == want[i];
        if (match) found = s;
      }
      if (found == segments.size()) {
        ADD_FAILURE() << "row " << g << " @" << o << ": no segment starts here";
        return segments.size();
      }
      ++used[found];
      ++in_row;
      for (size_t i = 0; i < segments[found].tokens.size(); ++i)
        stands[static_cast<size_t>(o) + i] = segments[found].stands_for[i];
      o += static_cast<int64_t>(segments[found].tokens.size());
    }
    for (int64_t a = o; a < width; ++a)
      EXPECT_EQ(tokens[g][a], kPad) << "row " << g << " @" << a << " after the segments";
    if (!layout.packed) EXPECT_EQ(in_row, 1) << "row " << g;
    for (int64_t a = 0; a < width; ++a) {
      const bool real = !stands[static_cast<size_t>(a)].empty();
      if (real) EXPECT_EQ(positions[g][a], stands[static_cast<size_t>(a)].begin()->second) << g << " @" << a;
      for (int64_t b = 0; b < width; ++b) {
        const bool masked = mask[g][a][b];
        if (real) {
          bool reads = false;
          for (const auto& [row, pos] : stands[static_cast<size_t>(a)])
            for (const auto& [row_b, pos_b] : stands[static_cast<size_t>(b)])
              reads = reads || (row == row_b && pos_b <= pos);
          EXPECT_EQ(masked, !reads) << "row " << g << " query " << a << " key " << b;
        } else {
          // Padding reads itself only (never an all-masked row); what it
          // computes is never read.
          EXPECT_EQ(masked, b != a) << "row " << g << " padding query " << a << " key " << b;
        }
      }
    }
    // Each answer slot's predicting hidden state stands for (list, slot - 1).
    for (int64_t i = 0; i < lists; ++i) {
      const data::RenderedExample& list = batch.lists[static_cast<size_t>(i)];
      for (int k = 0; k < kCandidates; ++k) {
        const int64_t source = sources[i][k];
        if (source / width != g) continue;
        EXPECT_TRUE(stands[static_cast<size_t>(source % width)].count(
            {static_cast<int>(i), list.answer_positions[static_cast<size_t>(k)] - 1}))
            << "list " << i << " slot " << k;
      }
    }
  }
  for (size_t s = 0; s < segments.size(); ++s) EXPECT_EQ(used[s], 1) << "segment " << s;
  // Every answer source lies in some row.
  EXPECT_LT(packed.answer_sources.max().item<int64_t>(), rows * width);
  EXPECT_GE(packed.answer_sources.min().item<int64_t>(), 0);
  // The per-list tensors are ToTensors' own.
  absl::StatusOr<BatchTensors> causal = ToTensors(batch, kPad);
  EXPECT_TRUE(causal.ok());
  for (auto [a, b] : {std::pair{&packed.answer_positions, &causal->answer_positions},
                      std::pair{&packed.answer_targets, &causal->answer_targets},
                      std::pair{&packed.identifier_ids, &causal->identifier_ids},
                      std::pair{&packed.permutations, &causal->permutations}}) {
    EXPECT_TRUE(at::equal(*a, *b));
  }
  return segments.size();
}

TEST(SharedPrefixLayout, MatchesBruteForce) {
  for (int copies : {0, 1, 2}) {
    for (const Layout layout : {Layout{true, false}, Layout{false, true}, Layout{true, true}}) {
      SCOPED_TRACE(absl::StrCat("P = ", copies, ", shared ", layout.shared_prefix, ", packed ", layout.packed));
      // Lists of very different history lengths, so rows get different
      // padding and short segments fit beside the long one; the lists
      // without history share a prefix of two tokens (BOS and slot 0's
      // identifier).
      const data::Batch batch = MakeBatch(5, copies, {14, 0, 1, 0, 3}, 17 + copies);
      absl::StatusOr<BatchTensors> packed = ToLayoutTensors(batch, kPad, layout);
      ASSERT_TRUE(packed.ok()) << packed.status();
      const size_t segments = CheckAgainstBruteForce(batch, layout, *packed);
      EXPECT_EQ(packed->copies_per_list, copies);
      EXPECT_EQ(packed->lists, 5);
      if (layout.packed) {
        EXPECT_LT(packed->tokens.size(0), static_cast<int64_t>(segments)) << "nothing was packed: the test is void";
      } else {
        EXPECT_EQ(packed->tokens.size(0), static_cast<int64_t>(segments));
      }
    }
  }
  // The causal layout is ToTensors itself.
  const data::Batch batch = MakeBatch(2, 1, {1, 0}, 3);
  absl::StatusOr<BatchTensors> causal = ToLayoutTensors(batch, kPad, Layout{});
  ASSERT_TRUE(causal.ok());
  EXPECT_FALSE(causal->attention_mask.defined());
  EXPECT_EQ(causal->tokens.size(0), 4);
}

TEST(SharedPrefixLayout, FirstFitDecreasingPacksLongestFirst) {
  // Packed by hand, longest first into the first row with room (width 9):
  // 9 | 6 3 | 5 4 | 5 2 2 | 1; 37 tokens need at least 5 rows of 9.
  const std::vector<int64_t> lengths = {2, 5, 9, 3, 6, 4, 5, 2, 1};
  const std::vector<std::vector<size_t>> rows = FirstFitDecreasing(lengths, 9);
  const std::vector<std::vector<size_t>> want = {{2}, {4, 3}, {1, 5}, {6, 0, 7}, {8}};
  ASSERT_EQ(rows.size(), want.size());
  for (size_t r = 0; r < want.size(); ++r) EXPECT_EQ(rows[r], want[r]) << "row " << r;
  // Equal lengths that do not fit twice: one per row, in index order.
  EXPECT_EQ(FirstFitDecreasing({5, 5, 5}, 5), (std::vector<std::vector<size_t>>{{0}, {1}, {2}}));
  EXPECT_EQ(FirstFitDecreasing({2, 2, 2, 2}, 4), (std::vector<std::vector<size_t>>{{0, 1}, {2, 3}}));
}

TEST(SharedPrefixLayout, CommonPrefixIsTheHeadBeforeTheFirstDifferingToken) {
  const data::Batch batch = MakeBatch(2, 2, {3, 0}, 5);
  // The history list shares its whole head plus slot 0's identifier; the list
  // without history shares BOS and that identifier only.
  std::mt19937 rng(5);
  const int64_t head = static_cast<int64_t>(RandomList(rng, 3).head.size());
  EXPECT_EQ(CommonPrefixLength(batch.lists, 0, 3), head + 1);
  EXPECT_EQ(CommonPrefixLength(batch.lists, 3, 3), 2);
  EXPECT_EQ(CommonPrefixLength(batch.lists, 0, 1), static_cast<int64_t>(batch.lists[0].tokens.size()));
}

TEST(SharedPrefixLayout, AutoPacksOnlyWhenItSavesWork) {
  const data::Batch history = MakeBatch(2, 1, {6}, 3), bare = MakeBatch(2, 1, {0}, 3);
  const auto packs = [](const data::Batch& batch, SharedPrefixMode mode, double entry_cost) {
    absl::StatusOr<BatchTensors> b =
        ToTrainingTensors(batch, kPad, LayoutOptions{mode, LayoutMode::kNever, entry_cost});
    EXPECT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(b->tokens.size(0), b->attention_mask.defined() ? 2 : 4);
    return b->attention_mask.defined();
  };
  // Counting tokens only, sharing two tokens pays; once attention entries
  // cost something, the doubled row length of the bare lists does not.
  EXPECT_TRUE(packs(history, SharedPrefixMode::kAuto, 0.0));
  EXPECT_TRUE(packs(bare, SharedPrefixMode::kAuto, 0.0));
  EXPECT_TRUE(packs(history, SharedPrefixMode::kAuto, 0.01));
  EXPECT_FALSE(packs(bare, SharedPrefixMode::kAuto, 0.01));
  EXPECT_FALSE(packs(history, SharedPrefixMode::kNever, 0.0));
  EXPECT_TRUE(packs(bare, SharedPrefixMode::kAlways, 1.0));
  // One entry: 4 x 64 flops; one token: 2 x (64 x (128 + 64) + 3 x 64 x 96) flops.
  EXPECT_DOUBLE_EQ(AttentionEntryCost(core::testing::SmallTestModel()), 256.0 / (2.0 * (64 * 192 + 3 * 64 * 96)));
  EXPECT_FALSE(ParseSharedPrefixMode("sometimes").ok());
  EXPECT_EQ(*ParseSharedPrefixMode("auto"), SharedPrefixMode::kAuto);
}

// The rows x (T + c x T^2) of a layout's tensors.
double DenseCost(const BatchTensors& b, double entry_cost) {
  const double t = static_cast<double>(b.tokens.size(1));
  return static_cast<double>(b.tokens.size(0)) * (t + entry_cost * t * t);
}

TEST(SharedPrefixLayout, AutoPacksListsOnlyWhenRowsFall) {
  constexpr double kEntryCost = 0.01;
  const auto train = [](const data::Batch& batch, LayoutMode shared, LayoutMode pack) {
    absl::StatusOr<BatchTensors> b = ToTrainingTensors(batch, kPad, LayoutOptions{shared, pack, kEntryCost});
    EXPECT_TRUE(b.ok()) << b.status();
    return *b;
  };
  // One long list and short ones: the short ones fit beside each other.
  const data::Batch mixed = MakeBatch(5, 1, {14, 0, 1, 0, 3}, 9);
  const BatchTensors packed = train(mixed, LayoutMode::kNever, LayoutMode::kAuto);
  ASSERT_TRUE(packed.attention_mask.defined());
  EXPECT_LT(packed.tokens.size(0), 10);
  EXPECT_EQ(packed.tokens.size(1), ToTensors(mixed, kPad)->tokens.size(1)) << "packing lengthened the rows";
  EXPECT_FALSE(train(mixed, LayoutMode::kNever, LayoutMode::kNever).attention_mask.defined());
  // Lists too alike for two to share a row: auto keeps the causal layout,
  // exactly ToTensors; always packs one per row.
  const data::Batch alike = MakeBatch(3, 1, {0}, 9);
  const BatchTensors kept = train(alike, LayoutMode::kNever, LayoutMode::kAuto);
  EXPECT_FALSE(kept.attention_mask.defined());
  EXPECT_TRUE(at::equal(kept.tokens, ToTensors(alike, kPad)->tokens));
  const BatchTensors forced = train(alike, LayoutMode::kNever, LayoutMode::kAlways);
  EXPECT_TRUE(forced.attention_mask.defined());
  EXPECT_EQ(forced.tokens.size(0), 6);
  // Both on auto: the cheapest of the four layouts, by their tensors' cost.
  for (const data::Batch* batch : {&mixed, &alike}) {
    const BatchTensors chosen = train(*batch, LayoutMode::kAuto, LayoutMode::kAuto);
    double cheapest = DenseCost(*ToTensors(*batch, kPad), kEntryCost);
    for (const Layout layout : {Layout{true, false}, Layout{false, true}, Layout{true, true}}) {
      cheapest = std::min(cheapest, DenseCost(*ToLayoutTensors(*batch, kPad, layout), kEntryCost));
    }
    EXPECT_DOUBLE_EQ(DenseCost(chosen, kEntryCost), cheapest);
  }
  const absl::StatusOr<LayoutMode> bad = ParseLayoutMode("objective.pack_lists", "sometimes");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().ToString().find("objective.pack_lists"), std::string::npos) << bad.status();
}

// ---------------------------------------------------------------------------
// Losses and gradients against the unshared computation.

// The core tests' small model (tp 1, 2 and 4 split it; the vocabulary of 251
// is padded at tp 2 and 4), long enough for the history lists.
config::ModelConfig TestModel(bool checkpoint) {
  config::ModelConfig m = core::testing::SmallTestModel();
  m.max_seq_len = 256;
  m.activation_checkpointing = checkpoint;
  return m;
}

struct Variant {
  const char* name;
  int copies;
  std::vector<int> history;  // one list per entry
  bool checkpoint;
  Layout layout;
};

// Failure messages name the variant instead of dumping its bytes.
void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

// Every term and every trainable parameter's local gradient of one micro-batch.
struct Result {
  std::vector<std::pair<std::string, double>> terms;
  std::map<std::string, at::Tensor> grads;
};

Result LossAndGradients(const config::ModelConfig& m, dist::ProcessGrid& grid, const losses::Objective& objective,
                        const BatchTensors& batch) {
  core::Decoder model(m, grid);
  model.train();
  losses::ObjectiveTerms terms = MicroBatchLoss(model, objective, batch, grid.tp());
  terms.total.backward();
  Result out;
  out.terms = terms.Report();
  for (const core::ShardedParameter& p : model.ShardedParameters()) {
    if (p.trainable && p.tensor.grad().defined()) out.grads[p.name] = p.tensor.grad().clone();
  }
  return out;
}

constexpr Layout kShared{/*shared_prefix=*/true, /*packed=*/false};
constexpr Layout kPacked{/*shared_prefix=*/false, /*packed=*/true};
constexpr Layout kSharedPacked{/*shared_prefix=*/true, /*packed=*/true};

class MpiSharedPrefixTest : public ::testing::TestWithParam<Variant> {};

TEST_P(MpiSharedPrefixTest, LossesAndGradientsEqualTheUnsharedComputation) {
  const Variant v = GetParam();
  dist::ProcessGrid grid = core::testing::WorldGrid(core::testing::WorldSize());
  config::ObjectiveConfig oc;
  oc.psl_copies = v.copies;
  oc.single_step_weight = 1.0;  // every term carries gradient
  absl::StatusOr<losses::Objective> objective = losses::Objective::Create(oc);
  ASSERT_TRUE(objective.ok());
  const int lists = static_cast<int>(v.history.size());
  const data::Batch batch = MakeBatch(lists, v.copies, v.history, 23 + v.copies);
  absl::StatusOr<BatchTensors> unshared = ToTensors(batch, kPad);
  absl::StatusOr<BatchTensors> packed = ToLayoutTensors(batch, kPad, v.layout);
  ASSERT_TRUE(unshared.ok() && packed.ok());
  // The layout must really share or pack something for the comparison to mean it.
  const int64_t segments = v.layout.shared_prefix ? lists : lists * (1 + v.copies);
  if (v.layout.shared_prefix) EXPECT_LT(packed->real_tokens, unshared->real_tokens);
  if (v.layout.packed) {
    EXPECT_LT(packed->tokens.size(0), segments);
    EXPECT_LE(packed->tokens.size(1), unshared->tokens.size(1) * (v.layout.shared_prefix ? 1 + v.copies : 1));
  } else {
    EXPECT_EQ(packed->tokens.size(0), segments);
  }

  const config::ModelConfig m = TestModel(v.checkpoint);
  const Result want = LossAndGradients(m, grid, *objective, *unshared);
  const Result got = LossAndGradients(m, grid, *objective, *packed);
  ASSERT_EQ(got.terms.size(), want.terms.size());
  for (size_t i = 0; i < want.terms.size(); ++i) {
    EXPECT_NEAR(got.terms[i].second, want.terms[i].second, kTolerance * std::max(1.0, std::abs(want.terms[i].second)))
        << want.terms[i].first;
    if (v.copies > 0 || want.terms[i].first != "psl") {
      EXPECT_GT(std::abs(want.terms[i].second), 0.0) << want.terms[i].first << " is zero: compares nothing";
    }
  }
  ASSERT_EQ(got.grads.size(), want.grads.size());
  EXPECT_GT(want.grads.size(), 10u);
  for (const auto& [name, expected] : want.grads) {
    const at::Tensor& actual = got.grads.at(name);
    const double scale = std::max(1.0, expected.abs().max().item<double>());
    EXPECT_LT((actual - expected).abs().max().item<double>() / scale, kTolerance) << name;
    EXPECT_GT(expected.abs().max().item<double>(), 0.0) << name << " has an all-zero gradient";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, MpiSharedPrefixTest,
    ::testing::Values(Variant{"history_p1", 1, {3, 2, 4}, false, kShared},
                      Variant{"history_p2", 2, {3, 2, 4}, false, kShared},
                      Variant{"history_p1_checkpointed", 1, {3, 2, 4}, true, kShared},
                      Variant{"history_p2_checkpointed", 2, {3, 2, 4}, true, kShared},
                      Variant{"two_token_prefix_p1", 1, {0, 0, 0}, false, kShared},
                      Variant{"two_token_prefix_p2_checkpointed", 2, {0, 0, 0}, true, kShared},
                      // Lists of very different lengths packed into rows.
                      Variant{"packed_p0", 0, {14, 0, 1, 0}, false, kPacked},
                      Variant{"packed_p0_checkpointed", 0, {14, 0, 1, 0}, true, kPacked},
                      Variant{"packed_p1", 1, {14, 0, 1, 0}, false, kPacked},
                      Variant{"packed_p2_checkpointed", 2, {14, 0, 1, 0}, true, kPacked},
                      Variant{"packed_shared_p1", 1, {14, 0, 1, 0}, false, kSharedPacked},
                      Variant{"packed_shared_p1_checkpointed", 1, {14, 0, 1, 0}, true, kSharedPacked},
                      Variant{"packed_shared_p2", 2, {14, 0, 1, 0}, false, kSharedPacked},
                      Variant{"packed_shared_p2_checkpointed", 2, {14, 0, 1, 0}, true, kSharedPacked}),
    [](const ::testing::TestParamInfo<Variant>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace alro::train
