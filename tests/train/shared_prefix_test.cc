// tests/train/shared_prefix_test.cc: PSL copies packed around their shared
// prefix (train/shared_prefix_layout.h).
//
//  * the layout (tokens, positions, mask, answer sources) equals a brute-force
//    construction that tracks which (row, position) pairs each packed token
//    stands for;
//  * every loss term and every parameter's gradient of the packed micro-batch
//    equal the unshared computation within 1e-5 in float32, for groups with a
//    real shared prefix (instruction + history lines) and P = 1 and 2, for a
//    degenerate group whose common prefix is two tokens, with activation
//    checkpointing on and off, at tensor-parallel size = world size (the
//    Mpi* suite runs at 1, 2 and 4 ranks);
//  * `auto` packs only when it saves work.
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
constexpr int64_t kVocab = 251;  // core::testing::SmallTestModel().vocab_size
constexpr int64_t kPad = 0;

// One list as a prompt would render it: an instruction, `history` rated
// lines, then the candidate lines in presentation order and the answer (the
// identifiers, best rating first). The copies of a group present the same
// candidates in another order, so they share everything before the first
// candidate line.
struct ListSpec {
  std::vector<int32_t> head;                       // instruction + history tokens
  std::vector<std::vector<int32_t>> candidates;    // each candidate's title tokens (lengths differ)
  std::vector<float> ratings;                      // each candidate's rating (distinct)
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

TEST(SharedPrefixLayout, MatchesBruteForce) {
  for (int copies : {1, 2}) {
    SCOPED_TRACE(absl::StrCat("P = ", copies));
    // Lists of different history lengths, so rows get different padding;
    // the last list has no history (a prefix of two tokens: BOS and slot 0's
    // identifier).
    const data::Batch batch = MakeBatch(3, copies, {3, 1, 0}, 17 + copies);
    absl::StatusOr<BatchTensors> packed = ToSharedPrefixTensors(batch, kPad);
    ASSERT_TRUE(packed.ok()) << packed.status();
    const int64_t group = 1 + copies, width = packed->tokens.size(1);
    ASSERT_EQ(packed->tokens.size(0), 3);
    ASSERT_EQ(packed->attention_mask.sizes(), (std::vector<int64_t>{3, width, width}));
    const auto tokens = packed->tokens.accessor<int64_t, 2>();
    const auto positions = packed->positions.accessor<int64_t, 2>();
    const auto mask = packed->attention_mask.accessor<bool, 3>();
    const auto sources = packed->answer_sources.accessor<int64_t, 2>();
    int64_t total = 0;
    for (int64_t g = 0; g < 3; ++g) {
      const std::vector<data::RenderedExample> rows(batch.lists.begin() + g * group,
                                                    batch.lists.begin() + (g + 1) * group);
      const BruteForceGroup want = BruteForce(rows);
      total += static_cast<int64_t>(want.tokens.size());
      const int64_t n = static_cast<int64_t>(want.tokens.size());
      ASSERT_LE(n, width);
      for (int64_t a = 0; a < width; ++a) {
        const bool real = a < n;
        EXPECT_EQ(tokens[g][a], real ? want.tokens[a] : kPad) << "group " << g << " @" << a;
        if (real) {
          EXPECT_EQ(positions[g][a], want.stands_for[a].begin()->second) << g << " @" << a;
        }
        for (int64_t b = 0; b < width; ++b) {
          const bool masked = mask[g][a][b];
          if (real && b < n) {
            bool reads = false;
            for (const auto& [row, pos] : want.stands_for[a])
              for (const auto& [row_b, pos_b] : want.stands_for[b]) reads = reads || (row == row_b && pos_b <= pos);
            EXPECT_EQ(masked, !reads) << "group " << g << " query " << a << " key " << b;
          } else if (real) {
            EXPECT_TRUE(masked) << "real token " << a << " reads padding " << b;
          } else {
            // Padding reads itself (never an all-masked row) and nothing
            // after it; what it computes is never read.
            if (b == a) EXPECT_FALSE(masked);
            if (b > a) EXPECT_TRUE(masked);
          }
        }
      }
      // Each answer slot's predicting hidden state stands for (row, slot - 1).
      for (int64_t r = 0; r < group; ++r) {
        const data::RenderedExample& row = rows[static_cast<size_t>(r)];
        for (int k = 0; k < kCandidates; ++k) {
          const int64_t source = sources[g * group + r][k];
          ASSERT_EQ(source / width, g);
          const auto& stands = want.stands_for[static_cast<size_t>(source % width)];
          EXPECT_TRUE(stands.count({static_cast<int>(r), row.answer_positions[static_cast<size_t>(k)] - 1}))
              << "row " << r << " slot " << k;
        }
      }
    }
    EXPECT_EQ(packed->real_tokens, total);
    // The per-list tensors are ToTensors' own.
    absl::StatusOr<BatchTensors> unshared = ToTensors(batch, kPad);
    ASSERT_TRUE(unshared.ok());
    for (auto [a, b] : {std::pair{&packed->answer_positions, &unshared->answer_positions},
                        std::pair{&packed->answer_targets, &unshared->answer_targets},
                        std::pair{&packed->identifier_ids, &unshared->identifier_ids},
                        std::pair{&packed->permutations, &unshared->permutations}}) {
      EXPECT_TRUE(at::equal(*a, *b));
    }
    EXPECT_EQ(packed->copies_per_list, copies);
    EXPECT_EQ(packed->lists, 3);
  }
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
    absl::StatusOr<BatchTensors> b = ToTrainingTensors(batch, kPad, mode, entry_cost);
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

// ---------------------------------------------------------------------------
// Losses and gradients against the unshared computation.

// The core tests' small model (tp 1, 2 and 4 split it; the vocabulary of 251
// is padded at tp 2 and 4), long enough for the history lists.
config::ModelConfig TestModel(bool checkpoint) {
  config::ModelConfig m = core::testing::SmallTestModel();
  m.max_seq_len = 128;
  m.activation_checkpointing = checkpoint;
  return m;
}

struct Variant {
  const char* name;
  int copies;
  std::vector<int> history;
  bool checkpoint;
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

class MpiSharedPrefixTest : public ::testing::TestWithParam<Variant> {};

TEST_P(MpiSharedPrefixTest, LossesAndGradientsEqualTheUnsharedComputation) {
  const Variant v = GetParam();
  dist::ProcessGrid grid = core::testing::WorldGrid(core::testing::WorldSize());
  config::ObjectiveConfig oc;
  oc.psl_copies = v.copies;
  oc.single_step_weight = 1.0;  // every term carries gradient
  absl::StatusOr<losses::Objective> objective = losses::Objective::Create(oc);
  ASSERT_TRUE(objective.ok());
  const data::Batch batch = MakeBatch(3, v.copies, v.history, 23 + v.copies);
  absl::StatusOr<BatchTensors> unshared = ToTensors(batch, kPad);
  absl::StatusOr<BatchTensors> packed = ToSharedPrefixTensors(batch, kPad);
  ASSERT_TRUE(unshared.ok() && packed.ok());
  // The packed batch must really share something for the comparison to mean it.
  EXPECT_LT(packed->real_tokens, unshared->real_tokens);
  EXPECT_EQ(packed->tokens.size(0), 3);

  const config::ModelConfig m = TestModel(v.checkpoint);
  const Result want = LossAndGradients(m, grid, *objective, *unshared);
  const Result got = LossAndGradients(m, grid, *objective, *packed);
  ASSERT_EQ(got.terms.size(), want.terms.size());
  for (size_t i = 0; i < want.terms.size(); ++i) {
    EXPECT_NEAR(got.terms[i].second, want.terms[i].second, kTolerance * std::max(1.0, std::abs(want.terms[i].second)))
        << want.terms[i].first;
    EXPECT_GT(std::abs(want.terms[i].second), 0.0) << want.terms[i].first << " is zero: compares nothing";
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
    ::testing::Values(Variant{"history_p1", 1, {3, 2, 4}, false}, Variant{"history_p2", 2, {3, 2, 4}, false},
                      Variant{"history_p1_checkpointed", 1, {3, 2, 4}, true},
                      Variant{"history_p2_checkpointed", 2, {3, 2, 4}, true},
                      Variant{"two_token_prefix_p1", 1, {0}, false},
                      Variant{"two_token_prefix_p2_checkpointed", 2, {0}, true}),
    [](const ::testing::TestParamInfo<Variant>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace alro::train
