// data/converters/splitter.h: turns a RatingLog into list-wise examples with
// the per-user time split (docs/data.md, "Split protocol"):
//
//   sort each user's ratings by time (ties: input order);
//   test  = the last m rated items as candidates;
//   valid = the m before them;
//   train = earlier windows of m, stepping back by `stride`;
//   history of a list = up to H ratings right before its candidates.
//
// A list needs at least one history rating, so users need at least
// 2m + 1 ratings (and at least min_ratings). Candidates are stored in a
// seeded shuffled presentation order, so the order carries no label.
// With item_stats, every interaction of a list carries its item's rating
// count and mean over all users' ratings strictly before the list's first
// candidate.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "data/converters/rating_log.h"
#include "data/drop_report.h"
#include "data/list_example.pb.h"

namespace alro::data {

/// Options of the split (the converter's flags).
struct SplitOptions {
  int64_t num_candidates = 10;  ///< m
  int64_t max_history = 20;     ///< H
  int64_t min_ratings = 0;      ///< users with fewer ratings are dropped; 0 = 2m + 1
  int64_t stride = 0;           ///< step between training windows; 0 = m
  uint64_t seed = 42;           ///< presentation-order shuffle
  /// Attach every interaction's item statistics as of the list's first
  /// candidate (data/converters/item_stats.h).
  bool item_stats = false;
};

/// Checks the options; returns them with the 0 defaults filled in.
absl::StatusOr<SplitOptions> ResolveSplitOptions(const SplitOptions& options);

/// Calls `emit` for every example, users in sorted order, for each user the
/// training windows oldest first, then valid, then test. Users with too few
/// ratings are reported to `drops`, all their ratings counted (reason
/// "ratings of users with too few ratings").
absl::Status SplitRatingLog(const RatingLog& log, const SplitOptions& options, DropReport* drops,
                            const std::function<absl::Status(const proto::ListExample&)>& emit);

}  // namespace alro::data
