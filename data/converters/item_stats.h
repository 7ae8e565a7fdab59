// data/converters/item_stats.h: every item's rating count and mean rating as
// of a moment in time, over all users' ratings, for the optional prompt
// fields {count} and {mean} (docs/data.md, "Item statistics").
//
// A list's statistics are taken as of its first candidate's timestamp T and
// count only ratings with timestamp < T (strictly earlier), so no list sees
// its own candidates' ratings, any later rating, or any rating given in the
// same second as its first candidate.
//
// Cost: one (timestamp, cumulative sum) entry per rating, 16 bytes, plus a
// vector per item; a query is a binary search in the item's ratings.
#pragma once

#include <cstdint>
#include <vector>

#include "data/converters/rating_log.h"

namespace alro::data {

/// Count and mean of an item's ratings before a time.
struct ItemStatsAt {
  int64_t count = 0;
  double mean = 0.0;  ///< 0 when count == 0
};

/// Prefix sums of every item's ratings in time order. Build once per log.
class ItemStatsIndex {
 public:
  /// Indexes every rating of every user in `log`.
  explicit ItemStatsIndex(const RatingLog& log);

  /// Statistics of item `item` (index into RatingLog::items) over the
  /// ratings with timestamp strictly below `before`.
  ItemStatsAt At(int32_t item, int64_t before) const;

 private:
  struct Entry {
    int64_t timestamp;
    double cumulative_sum;  // sum of ratings up to and including this one
  };
  std::vector<std::vector<Entry>> by_item_;
};

}  // namespace alro::data
