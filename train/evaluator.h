// train/evaluator.h: ranking a split with the model and scoring the
// rankings (NDCG@k, HR@k, Recall@k, MRR, Kendall tau) — the validation of
// `alro train` and the whole of `alro eval`.
//
// Two inference modes (core/decoding.h):
//  * "decode": constrained greedy decoding of the answer, one identifier at
//    a time, each exactly once (what the ranker is trained to do);
//  * "single_step": one forward, candidates ordered by their identifier's
//    logit at the first answer slot.
// Lists are spread over the data-parallel ranks (data/eval_reader.h); the
// tensor-parallel ranks of a replica decode together. Results are gathered
// over the data-parallel group so every rank returns the same summary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/decoder.h"
#include "data/eval_reader.h"
#include "distributed/process_grid.h"
#include "nlohmann/json.hpp"

namespace alro::train {

/// Inference mode names accepted by ParseRankMode.
enum class RankMode { kDecode, kSingleStep };

/// "decode" or "single_step"; a user error naming `key` otherwise.
absl::StatusOr<RankMode> ParseRankMode(const std::string& text, const std::string& key);

/// The ranking of one list.
struct RankedList {
  std::string example_id;
  std::vector<int64_t> order;   ///< presentation slots, best first
  std::vector<double> scores;   ///< score of order[k] (probability at its decoding step, or first-slot logit)
  std::vector<double> ratings;  ///< ratings by presentation slot (labels)
};

/// What Evaluate computes.
struct EvalSettings {
  RankMode mode = RankMode::kDecode;
  std::vector<int64_t> ks = {1, 3, 5, 10};
  double liked_threshold = 4.0;
  /// Also return every list's ranking (gathered on every rank).
  bool keep_rankings = false;
};

/// The result of one evaluation.
struct EvalResult {
  nlohmann::ordered_json summary;   ///< losses::MetricsAccumulator::Summary()
  std::vector<RankedList> rankings;  ///< when keep_rankings: batch by batch, dp ranks in order
};

/// Ranks every list of `reader` with `model` and scores the rankings.
/// Collective over grid.world() (every rank calls it with its own reader).
absl::StatusOr<EvalResult> Evaluate(core::Decoder& model, const data::EvalReader& reader, dist::ProcessGrid& grid,
                                    const EvalSettings& settings);

/// Ranks the lists of one rendered batch (no gathering): the building block
/// of Evaluate and of `alro rank`. Collective over the tensor-parallel group.
absl::StatusOr<std::vector<RankedList>> RankBatch(core::Decoder& model, const data::Batch& batch, RankMode mode);

}  // namespace alro::train
