// losses/ranking_jsonl.h: the rankings JSONL format read by `alro metrics`
// (torch-free; part of alro_metrics).
//
// One JSON object per line, in either form:
//   {"labels": [5, 3, 4]}                          ratings in predicted order
//   {"scores": [0.1, 2.0, 0.7], "labels": [3, 5, 4]}
//                                  labels in presentation order; the predicted
//                                  order sorts the scores, highest first, ties
//                                  by presentation order
// Optional keys: "list_id" (string or integer): lines that share it are the
// same list shown in different orders and form a position-bias group;
// "items" (integers, aligned with "labels"): item ids, needed for the pairwise
// Kendall tau of a group. Other keys are ignored; blank lines are skipped.
//
// `alro eval --output` writes the second form, plus "example_id" and "order"
// (presentation slots, best first); its scores are higher-is-better in every
// mode, so reading its file here gives exactly the metrics eval printed
// (train::RankingJsonLine).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "losses/metrics.h"
#include "nlohmann/json.hpp"

namespace alro::losses {

/// One parsed line of a rankings file.
struct RankingRecord {
  /// Ratings in predicted order.
  std::vector<double> labels_in_order;
  /// Item ids in predicted order; empty when the line has no "items".
  std::vector<int64_t> ranking;
  /// Position-bias group; empty when the line has no "list_id".
  std::string list_id;
};

/// Parses one line. `where` names it in errors ("file:line (byte N)").
absl::StatusOr<RankingRecord> ParseRankingLine(absl::string_view line, absl::string_view where);

/// Parses a whole rankings file's `text` and returns the metrics summary
/// (MetricsAccumulator::Summary), with position-bias groups built from lines
/// sharing a "list_id". The first malformed line is an error naming `path`,
/// the line number and its byte offset.
absl::StatusOr<nlohmann::ordered_json> ComputeMetricsFromJsonl(absl::string_view text, absl::string_view path,
                                                       const MetricsOptions& options);

}  // namespace alro::losses
