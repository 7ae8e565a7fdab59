// tests/core/prefix_sharing_test.cc: the prefix plan against brute force,
// and decoding and first-slot scoring with shared prefixes against the
// unshared computation (every row runs its whole prompt), for several lists
// and 1 to 4 presentation orders each. The Mpi* suite runs at
// tensor-parallel size = world size (1, 2 and 4).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/decoder.h"
#include "core/decoding.h"
#include "core/prefix_sharing.h"
#include "tests/core/core_test_util.h"

namespace alro::core {
namespace {

using testing::MaxAbsDiff;
using testing::SmallTestModel;
using testing::WorldGrid;
using testing::WorldSize;

constexpr double kTolerance = 1e-5;

std::vector<int64_t> Row(const at::Tensor& tokens, int64_t r, int64_t length) {
  const at::Tensor row = tokens[r].narrow(0, 0, length).contiguous();
  return std::vector<int64_t>(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + length);
}

// The best saving over every P by counting distinct prefixes directly.
int64_t BruteForceBestSaving(const at::Tensor& tokens, int64_t max_length) {
  const int64_t b = tokens.size(0);
  int64_t best = 0;
  for (int64_t p = 1; p <= std::min(max_length, tokens.size(1)); ++p) {
    std::set<std::vector<int64_t>> distinct;
    for (int64_t r = 0; r < b; ++r) distinct.insert(Row(tokens, r, p));
    best = std::max(best, p * (b - static_cast<int64_t>(distinct.size())));
  }
  return best;
}

TEST(PrefixPlan, SavesTheMostTokensAndGroupsRowsByTheirPrefix) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t b = 1 + static_cast<int64_t>(rng() % 8), t = 1 + static_cast<int64_t>(rng() % 12);
    const int64_t max_length = static_cast<int64_t>(rng() % (t + 2));
    // Three symbols, and rows copied from earlier ones: long common prefixes.
    at::Tensor tokens = at::randint(3, {b, t}, at::kLong);
    for (int64_t r = 1; r < b; ++r) {
      if (rng() % 2 == 0) {
        const int64_t from = static_cast<int64_t>(rng() % r), keep = static_cast<int64_t>(rng() % (t + 1));
        tokens[r].narrow(0, 0, keep).copy_(tokens[from].narrow(0, 0, keep));
      }
    }
    SCOPED_TRACE(absl::StrCat("trial ", trial, " B ", b, " T ", t, " max ", max_length));
    const int64_t best = BruteForceBestSaving(tokens, max_length);
    const PrefixPlan plan = PlanPrefixSharing(tokens, max_length, PrefixSharing::kAlways);
    EXPECT_EQ(plan.saved_tokens(), best);
    EXPECT_LE(plan.length, std::max<int64_t>(max_length, 0));
    if (plan.length == 0) {
      EXPECT_EQ(best, 0);
      continue;
    }
    ASSERT_EQ(static_cast<int64_t>(plan.group.size()), b);
    for (int64_t r = 0; r < b; ++r) {
      ASSERT_LT(plan.group[r], static_cast<int64_t>(plan.sources.size()));
      EXPECT_EQ(plan.group[plan.sources[plan.group[r]]], plan.group[r]) << "source outside its group";
      for (int64_t s = 0; s < b; ++s) {
        EXPECT_EQ(plan.group[r] == plan.group[s], Row(tokens, r, plan.length) == Row(tokens, s, plan.length))
            << "rows " << r << " and " << s;
      }
    }
    // auto shares the same prefix, or nothing when it saves too little.
    const PrefixPlan automatic = PlanPrefixSharing(tokens, max_length, PrefixSharing::kAuto);
    const bool worth = static_cast<double>(best) >= kAutoMinSavedShare * static_cast<double>(b * t);
    EXPECT_EQ(automatic.length, worth ? plan.length : 0);
    EXPECT_EQ(PlanPrefixSharing(tokens, max_length, PrefixSharing::kNever).length, 0);
  }
}

TEST(PrefixPlan, ParsesTheFlagValues) {
  EXPECT_EQ(*ParsePrefixSharing("auto", "k"), PrefixSharing::kAuto);
  EXPECT_EQ(*ParsePrefixSharing("always", "k"), PrefixSharing::kAlways);
  EXPECT_EQ(*ParsePrefixSharing("never", "k"), PrefixSharing::kNever);
  const absl::StatusOr<PrefixSharing> bad = ParsePrefixSharing("yes", "--shared-prefix");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--shared-prefix"), std::string::npos);
}

// Rendered-like lists: an instruction every list shares, a history of the
// list's own, then the candidate block in a presentation order (each line an
// identifier token and a title of 1 to 3 tokens) and an answer cue.
constexpr int64_t kInstruction = 4;
constexpr int64_t kCandidates = 5;
const std::vector<int64_t> kIdentifiers = {5, 70, 130, 190, 250};  // one per vocabulary shard at tp 4

struct ListRows {
  std::vector<std::vector<int64_t>> rows;  // one per order
};

// `orders` renderings of one list whose prompt has exactly `length` tokens.
ListRows RenderList(std::mt19937_64& rng, int64_t orders, int64_t length) {
  std::vector<std::vector<int64_t>> titles(kCandidates);
  int64_t block = 0;
  for (auto& title : titles) {
    title.resize(1 + rng() % 3);
    for (int64_t& token : title) token = 20 + static_cast<int64_t>(rng() % 170);
    block += 1 + static_cast<int64_t>(title.size());
  }
  const int64_t cue = 2, history = length - kInstruction - block - cue;
  EXPECT_GE(history, 0);
  std::vector<int64_t> head = {1, 2, 3, 4};  // the instruction
  for (int64_t i = 0; i < history; ++i) head.push_back(20 + static_cast<int64_t>(rng() % 170));
  ListRows list;
  std::vector<int64_t> order(kCandidates);
  std::iota(order.begin(), order.end(), 0);
  for (int64_t o = 0; o < orders; ++o) {
    if (o > 0) std::shuffle(order.begin(), order.end(), rng);
    std::vector<int64_t> row = head;
    for (int64_t slot = 0; slot < kCandidates; ++slot) {
      row.push_back(kIdentifiers[slot]);
      row.insert(row.end(), titles[order[slot]].begin(), titles[order[slot]].end());
    }
    row.push_back(9);
    row.push_back(10);
    list.rows.push_back(row);
  }
  return list;
}

// [rows, width] right-padded with 0.
at::Tensor Stack(const std::vector<std::vector<int64_t>>& rows) {
  size_t width = 0;
  for (const auto& r : rows) width = std::max(width, r.size());
  at::Tensor out = at::zeros({static_cast<int64_t>(rows.size()), static_cast<int64_t>(width)}, at::kLong);
  for (size_t i = 0; i < rows.size(); ++i) {
    out[static_cast<int64_t>(i)].narrow(0, 0, static_cast<int64_t>(rows[i].size())).copy_(at::tensor(rows[i], at::kLong));
  }
  return out;
}

at::Tensor IdentifierRows(int64_t rows) {
  return at::tensor(kIdentifiers, at::kLong).view({1, kCandidates}).expand({rows, kCandidates}).contiguous();
}

class MpiPrefixSharingTest : public ::testing::Test {
 protected:
  config::ModelConfig config_ = SmallTestModel();
  dist::ProcessGrid grid_ = WorldGrid(WorldSize());
  Decoder model_{config_, grid_};
};

TEST_F(MpiPrefixSharingTest, SharedDecodingEqualsTheUnsharedDecoding) {
  model_.eval();
  at::NoGradGuard no_grad;
  std::mt19937_64 rng(11);  // the same lists on every rank
  for (int64_t lists : {1, 3}) {
    for (int64_t orders = 1; orders <= 4; ++orders) {
      for (const std::vector<int64_t>& separator : {std::vector<int64_t>{}, std::vector<int64_t>{7}}) {
        SCOPED_TRACE(absl::StrCat(lists, " lists x ", orders, " orders, separator ", separator.size()));
        // Decoding wants equal prompt lengths: the lists' histories differ
        // in length so that their candidate blocks fill up to 40 tokens.
        std::vector<std::vector<int64_t>> rows;
        for (int64_t l = 0; l < lists; ++l) {
          for (auto& r : RenderList(rng, orders, 40).rows) rows.push_back(r);
        }
        const at::Tensor prompts = Stack(rows);
        const at::Tensor ids = IdentifierRows(prompts.size(0));
        const PrefixPlan plan = PlanPrefixSharing(prompts, prompts.size(1) - 1, PrefixSharing::kAlways);
        if (prompts.size(0) > 1) {
          // The test must run the shared path: at least the instruction.
          EXPECT_GE(plan.length, kInstruction);
          if (lists == 1) EXPECT_EQ(plan.sources.size(), 1u);
        }
        const DecodedPermutations shared =
            ConstrainedGreedyDecode(model_, prompts, ids, separator, PrefixSharing::kAlways);
        const DecodedPermutations unshared =
            ConstrainedGreedyDecode(model_, prompts, ids, separator, PrefixSharing::kNever);
        EXPECT_EQ(shared.order, unshared.order);
        EXPECT_LT(MaxAbsDiff(shared.step_logits, unshared.step_logits), kTolerance);
        EXPECT_GT(unshared.step_logits.abs().max().item<double>(), 0.0);
      }
    }
  }
}

TEST_F(MpiPrefixSharingTest, SharedFirstSlotScoresEqualTheUnsharedScores) {
  model_.eval();
  at::NoGradGuard no_grad;
  std::mt19937_64 rng(12);
  for (int64_t lists : {1, 3}) {
    for (int64_t orders = 1; orders <= 4; ++orders) {
      SCOPED_TRACE(absl::StrCat(lists, " lists x ", orders, " orders"));
      // Lists of different lengths, right-padded, each row followed by its
      // answer (the identifiers in slot order and a separator).
      std::vector<std::vector<int64_t>> rows;
      std::vector<int64_t> first;
      for (int64_t l = 0; l < lists; ++l) {
        for (auto& r : RenderList(rng, orders, 32 + 5 * l).rows) {
          first.push_back(static_cast<int64_t>(r.size()));
          for (int64_t id : kIdentifiers) {
            r.push_back(id);
            r.push_back(7);
          }
          rows.push_back(r);
        }
      }
      const at::Tensor tokens = Stack(rows);
      const at::Tensor first_position = at::tensor(first, at::kLong);
      const at::Tensor ids = IdentifierRows(tokens.size(0));
      if (tokens.size(0) > 1) {
        const int64_t shareable = first_position.min().item<int64_t>() - 1;
        EXPECT_GE(PlanPrefixSharing(tokens, shareable, PrefixSharing::kAlways).length, kInstruction);
      }
      const at::Tensor shared = ScoreFirstSlot(model_, tokens, first_position, ids, PrefixSharing::kAlways);
      const at::Tensor unshared = ScoreFirstSlot(model_, tokens, first_position, ids, PrefixSharing::kNever);
      EXPECT_LT(MaxAbsDiff(shared, unshared), kTolerance);
      EXPECT_GT(unshared.abs().max().item<double>(), 0.0);
    }
  }
}

// With gradients the scores come from the unshared forward (the cache is
// written in place), so they stay differentiable.
TEST_F(MpiPrefixSharingTest, ScoresWithGradientsDoNotShare) {
  std::mt19937_64 rng(13);
  const ListRows list = RenderList(rng, 3, 30);
  const at::Tensor tokens = Stack(list.rows);
  const at::Tensor first = at::full({tokens.size(0)}, tokens.size(1) - 1, at::kLong);
  const at::Tensor scores = ScoreFirstSlot(model_, tokens, first, IdentifierRows(tokens.size(0)),
                                           PrefixSharing::kAlways);
  EXPECT_TRUE(scores.requires_grad());
}

}  // namespace
}  // namespace alro::core
