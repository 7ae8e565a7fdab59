// data/converters/item_stats.cc: the per-item prefix-sum table.
#include "data/converters/item_stats.h"

#include <algorithm>

#include "common/status.h"

namespace alro::data {

ItemStatsIndex::ItemStatsIndex(const std::vector<int64_t>& ratings_per_item)
    : by_item_(ratings_per_item.size()), filled_(new std::atomic<int64_t>[ratings_per_item.size()]) {
  for (size_t i = 0; i < ratings_per_item.size(); ++i) {
    by_item_[i].resize(static_cast<size_t>(ratings_per_item[i]));
    filled_[i] = 0;
  }
}

void ItemStatsIndex::Add(int32_t item, int64_t timestamp, float rating) {
  const auto i = static_cast<size_t>(item);
  const int64_t slot = filled_[i].fetch_add(1, std::memory_order_relaxed);
  ALRO_CHECK(slot < static_cast<int64_t>(by_item_[i].size()), "more ratings of item ", item, " than counted");
  by_item_[i][static_cast<size_t>(slot)] = Entry{timestamp, static_cast<double>(rating)};
}

void ItemStatsIndex::Finish(int32_t begin, int32_t end) {
  for (int32_t item = begin; item < end; ++item) {
    std::vector<Entry>& entries = by_item_[static_cast<size_t>(item)];
    ALRO_CHECK(filled_[static_cast<size_t>(item)].load() == static_cast<int64_t>(entries.size()),
               "item ", item, " has fewer ratings than counted");
    // Equal timestamps sort by rating, so the sums do not depend on the input
    // order (a query never splits a group of equal timestamps anyway).
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.cumulative_sum < b.cumulative_sum;
    });
    double sum = 0.0;
    for (Entry& e : entries) {
      sum += e.cumulative_sum;
      e.cumulative_sum = sum;
    }
  }
}

ItemStatsAt ItemStatsIndex::At(int32_t item, int64_t before) const {
  const std::vector<Entry>& entries = by_item_.at(static_cast<size_t>(item));
  const auto end = std::lower_bound(entries.begin(), entries.end(), before,
                                    [](const Entry& e, int64_t t) { return e.timestamp < t; });
  ItemStatsAt out;
  out.count = end - entries.begin();
  if (out.count > 0) out.mean = std::prev(end)->cumulative_sum / static_cast<double>(out.count);
  return out;
}

}  // namespace alro::data
