// tests/core/decoding_test.cc: identifier logits across vocabulary shards,
// KV-cache decoding against full recomputation, constrained greedy decoding
// (always a permutation, and greedy under full recomputation), and
// first-slot scoring. Runs at tensor-parallel size = world size.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "core/decoder.h"
#include "core/decoding.h"
#include "core/identifier_logits.h"
#include "tests/core/core_test_util.h"

namespace alro::core {
namespace {

using testing::FullLogits;
using testing::MaxAbsDiff;
using testing::RandomTokens;
using testing::SmallTestModel;
using testing::WorldGrid;
using testing::WorldSize;

constexpr double kTolerance = 1e-5;

class MpiDecodingTest : public ::testing::Test {
 protected:
  config::ModelConfig config_ = SmallTestModel();
  dist::ProcessGrid grid_ = WorldGrid(WorldSize());
  Decoder model_{config_, grid_};
};

TEST_F(MpiDecodingTest, IdentifierLogitsEqualIndexingTheFullVocabulary) {
  at::NoGradGuard no_grad;
  const at::Tensor hidden = model_.Forward(RandomTokens(3, 7, config_.vocab_size, 1)).select(1, 6);  // [3, H]
  const at::Tensor full = FullLogits(model_, hidden);                                                // [3, V]
  // Ids spread over every shard, including the last real id (next to padding).
  const at::Tensor ids = at::tensor({0, 62, 63, 125, 126, 188, 189, 250, 5, 250, 1, 77, 200, 100, 150,
                                     9, 30, 240, 64, 127, 190, 2, 3, 4},
                                    at::kLong)
                             .view({3, 8});
  const at::Tensor got = IdentifierLogits(model_.LocalLogits(hidden), ids, model_.vocab_start(), grid_.tp());
  EXPECT_LT(MaxAbsDiff(got, full.gather(1, ids)), kTolerance);
}

TEST_F(MpiDecodingTest, KVCacheDecodingEqualsFullRecomputation) {
  model_.eval();
  at::NoGradGuard no_grad;
  const at::Tensor tokens = RandomTokens(2, 13, config_.vocab_size, 2);
  const at::Tensor full = model_.Forward(tokens);
  KVCache cache = model_.NewKVCache(2, 13);
  std::vector<at::Tensor> pieces;
  // A prompt, single tokens, then a chunk: every path through the cache.
  int64_t at = 0;
  for (int64_t step : {5, 1, 1, 1, 2, 3}) {
    pieces.push_back(model_.Forward(tokens.narrow(1, at, step), &cache));
    at += step;
  }
  EXPECT_EQ(cache.length, 13);
  const at::Tensor incremental = at::cat(pieces, 1);
  EXPECT_LT(MaxAbsDiff(incremental, full), kTolerance);
  EXPECT_LT(MaxAbsDiff(FullLogits(model_, incremental), FullLogits(model_, full)), kTolerance);
}

// The decoded order, re-fed as one sequence without a cache, must pick at
// every slot the best identifier not yet written.
void ExpectGreedyUnderRecomputation(Decoder& model, const at::Tensor& prompts, const at::Tensor& ids,
                                    const std::vector<int64_t>& separator, const DecodedPermutations& out) {
  const int64_t b = prompts.size(0), t = prompts.size(1), m = ids.size(1);
  for (int64_t i = 0; i < b; ++i) {
    std::vector<int64_t> sequence(prompts[i].data_ptr<int64_t>(), prompts[i].data_ptr<int64_t>() + t);
    std::vector<int64_t> slot_positions;
    for (int64_t k = 0; k < m; ++k) {
      slot_positions.push_back(static_cast<int64_t>(sequence.size()));
      sequence.push_back(ids[i][out.order[i][k]].item<int64_t>());
      sequence.insert(sequence.end(), separator.begin(), separator.end());
    }
    const at::Tensor seq = at::tensor(sequence, at::kLong).view({1, -1});
    const at::Tensor pos = at::tensor(slot_positions, at::kLong).view({1, -1});
    const at::Tensor y = SlotIdentifierLogits(model, model.Forward(seq), pos, ids[i].view({1, -1}))[0];  // [m, m]
    EXPECT_LT(MaxAbsDiff(y, out.step_logits[i]), 1e-4);
    std::vector<bool> used(m, false);
    for (int64_t k = 0; k < m; ++k) {
      float best = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < m; ++j) {
        if (!used[j]) best = std::max(best, y[k][j].item<float>());
      }
      EXPECT_FLOAT_EQ(y[k][out.order[i][k]].item<float>(), best) << "row " << i << " slot " << k;
      used[out.order[i][k]] = true;
    }
  }
}

TEST_F(MpiDecodingTest, ConstrainedGreedyDecodingReturnsPermutations) {
  model_.eval();
  at::NoGradGuard no_grad;
  for (int64_t m : {1, 2, 5, 9}) {
    for (const std::vector<int64_t>& separator : {std::vector<int64_t>{}, std::vector<int64_t>{7, 11}}) {
      const at::Tensor prompts = RandomTokens(3, 6, config_.vocab_size, 100 + m);
      // Distinct identifier ids per row, from every vocabulary shard.
      std::vector<at::Tensor> rows;
      for (int64_t i = 0; i < 3; ++i) rows.push_back(at::randperm(config_.vocab_size, at::kLong).narrow(0, 0, m));
      at::Tensor ids = at::stack(rows);
      grid_.tp().Broadcast(ids, 0);  // every tp rank must decode the same lists
      const DecodedPermutations out = ConstrainedGreedyDecode(model_, prompts, ids, separator);
      ASSERT_EQ(out.order.size(), 3u);
      for (const std::vector<int64_t>& order : out.order) {
        std::vector<int64_t> sorted = order;
        std::sort(sorted.begin(), sorted.end());
        std::vector<int64_t> identity(m);
        for (int64_t j = 0; j < m; ++j) identity[j] = j;
        EXPECT_EQ(sorted, identity) << "not a permutation";
      }
      ExpectGreedyUnderRecomputation(model_, prompts, ids, separator, out);
    }
  }
}

TEST_F(MpiDecodingTest, ScoreFirstSlotReadsThePositionBeforeTheAnswer) {
  at::NoGradGuard no_grad;
  const at::Tensor tokens = RandomTokens(2, 12, config_.vocab_size, 3);
  const at::Tensor first = at::tensor({7, 11}, at::kLong);
  const at::Tensor ids = at::tensor({3, 90, 180, 250, 4, 5, 6, 7}, at::kLong).view({2, 4});
  const at::Tensor scores = ScoreFirstSlot(model_, tokens, first, ids);
  const at::Tensor full = FullLogits(model_, model_.Forward(tokens));  // [2, 12, V]
  for (int64_t b = 0; b < 2; ++b) {
    const at::Tensor expected = full[b][first[b].item<int64_t>() - 1].index_select(0, ids[b]);
    EXPECT_LT(MaxAbsDiff(scores[b], expected), kTolerance);
  }
  // Tokens after the answer position do not change the scores (causality).
  at::Tensor changed = tokens.clone();
  changed[0].narrow(0, 7, 5).fill_(1);
  EXPECT_LT(MaxAbsDiff(ScoreFirstSlot(model_, changed, first, ids)[0], scores[0]), kTolerance);
}

}  // namespace
}  // namespace alro::core
