// data/converters/item_stats.cc: the per-item prefix-sum table.
#include "data/converters/item_stats.h"

#include <algorithm>

namespace alro::data {

ItemStatsIndex::ItemStatsIndex(const RatingLog& log) : by_item_(log.items.size()) {
  std::vector<std::vector<std::pair<int64_t, float>>> ratings(log.items.size());
  for (const auto& [user, events] : log.users) {
    for (const RatingEvent& e : events) ratings[static_cast<size_t>(e.item)].emplace_back(e.timestamp, e.rating);
  }
  for (size_t i = 0; i < ratings.size(); ++i) {
    // Equal timestamps sort by rating, so the sums do not depend on the input
    // order (a query never splits a group of equal timestamps anyway).
    std::sort(ratings[i].begin(), ratings[i].end());
    std::vector<Entry>& out = by_item_[i];
    out.reserve(ratings[i].size());
    double sum = 0.0;
    for (const auto& [timestamp, rating] : ratings[i]) {
      sum += rating;
      out.push_back({timestamp, sum});
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
