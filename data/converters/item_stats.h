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
// vector per item; a query is a binary search in the item's ratings. The
// converter fills the index from its sorted runs on every rank (each item's
// slots filled by any thread, in any order) and counts its bytes against
// --memory-limit.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace alro::data {

/// Count and mean of an item's ratings before a time.
struct ItemStatsAt {
  int64_t count = 0;
  double mean = 0.0;  ///< 0 when count == 0
};

/// Prefix sums of every item's ratings in time order.
///
///   ItemStatsIndex index(ratings_per_item);        // exact sizes
///   index.Add(item, timestamp, rating);            // once per rating, any thread
///   index.Finish();                                // sort + prefix sums
///   ItemStatsAt s = index.At(item, before);
class ItemStatsIndex {
 public:
  /// Bytes per rating held.
  static constexpr int64_t kBytesPerRating = 16;

  /// Room for `ratings_per_item[i]` ratings of item i.
  explicit ItemStatsIndex(const std::vector<int64_t>& ratings_per_item);

  /// Adds one rating of `item`; thread-safe. More ratings of an item than
  /// announced is an internal error.
  void Add(int32_t item, int64_t timestamp, float rating);

  /// Sorts each item's ratings by (time, rating), so the sums do not depend
  /// on the order of Add() calls, and makes the prefix sums. Items
  /// [begin, end) only, so threads can share the work.
  void Finish(int32_t begin, int32_t end);

  /// Statistics of item `item` over the ratings with timestamp strictly
  /// below `before`.
  ItemStatsAt At(int32_t item, int64_t before) const;

  int32_t items() const { return static_cast<int32_t>(by_item_.size()); }
  /// Ratings of `item` added.
  int64_t ratings(int32_t item) const { return static_cast<int64_t>(by_item_[static_cast<size_t>(item)].size()); }
  /// Timestamp of the k-th rating of `item` in time order (after Finish).
  int64_t timestamp(int32_t item, int64_t k) const {
    return by_item_[static_cast<size_t>(item)][static_cast<size_t>(k)].timestamp;
  }

 private:
  struct Entry {
    int64_t timestamp;
    double cumulative_sum;  // the rating itself until Finish(); then the sum up to and including this one
  };
  std::vector<std::vector<Entry>> by_item_;
  std::unique_ptr<std::atomic<int64_t>[]> filled_;
};

}  // namespace alro::data
