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
#include "core/prefix_sharing.h"
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
  /// Score of order[k], higher = better, so strictly decreasing along
  /// `order` in decode mode: m - k for the k-th written identifier; in
  /// single_step mode the first slot's identifier logit.
  std::vector<double> scores;
  /// Decode mode: probability of order[k] among the identifiers still
  /// allowed at step k (the last is always 1). Empty in single_step mode.
  std::vector<double> step_probabilities;
  std::vector<double> ratings;  ///< ratings by presentation slot (labels)
  /// 0 for the stored presentation order; 1.. for the extra orders of
  /// EvalSettings::orders.
  int32_t copy_index = 0;
  /// Slot j shows original candidate permutation[j] (identity for copy 0).
  std::vector<int64_t> permutation;
};

/// What Evaluate computes.
struct EvalSettings {
  RankMode mode = RankMode::kDecode;
  std::vector<int64_t> ks = {1, 3, 5, 10};
  double liked_threshold = 4.0;
  /// Also return every list's ranking (gathered on every rank).
  bool keep_rankings = false;
  /// Presentation orders per list (the stored one first); > 1 adds the
  /// position-bias figures. The reader must render orders - 1 copies.
  int64_t orders = 1;
  /// Whether rows that begin alike (a list's orders) compute their common
  /// prefix once (core/prefix_sharing.h); the rankings are the same.
  core::PrefixSharing prefix_sharing = core::PrefixSharing::kAuto;
};

/// The result of one evaluation.
struct EvalResult {
  /// losses::MetricsAccumulator::Summary() of the stored orders; with
  /// orders > 1 also "position_bias" (NDCG@k std and pairwise Kendall tau
  /// over each list's orders) and "bootstrap" (the metrics of ranking each
  /// list by its items' mean position over the orders, as LLMRank's
  /// bootstrapping does). Always "same_answer_share" (the share of
  /// lists whose answer, as a slot sequence, is the most common one) and
  /// "distinct_answers".
  nlohmann::ordered_json summary;
  /// When keep_rankings: the stored orders' rankings, batch by batch, dp
  /// ranks in order.
  std::vector<RankedList> rankings;
};

/// Ranks every list of `reader` with `model` and scores the rankings.
/// Collective over grid.world() (every rank calls it with its own reader).
absl::StatusOr<EvalResult> Evaluate(core::Decoder& model, const data::EvalReader& reader, dist::ProcessGrid& grid,
                                    const EvalSettings& settings);

/// One line of the rankings JSONL format (losses/ranking_jsonl.h) for `list`:
/// {"example_id", "order": presentation slots best first, "scores" and
/// "labels": by presentation slot}. Sorting "scores" (higher first, ties by
/// slot) gives "order", so `alro metrics` reproduces `alro eval`'s metrics.
std::string RankingJsonLine(const RankedList& list);

/// Ranks the lists of one rendered batch (no gathering): the building block
/// of Evaluate and of `alro rank`. Collective over the tensor-parallel group.
/// Rows that begin alike share their common prefix per `sharing`.
absl::StatusOr<std::vector<RankedList>> RankBatch(core::Decoder& model, const data::Batch& batch, RankMode mode,
                                                  core::PrefixSharing sharing = core::PrefixSharing::kAuto);

}  // namespace alro::train
