// data/converters/splitter.cc: the per-user time split.
#include "data/converters/splitter.h"

#include <algorithm>
#include <memory>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "data/converters/item_stats.h"
#include "data/random.h"
#include "data/record_format.h"

namespace alro::data {
namespace {

// Every list shows at least this many history ratings.
constexpr int64_t kMinHistory = 1;

// `stats` (optional) adds the item's statistics as of `list_start`.
proto::Interaction MakeInteraction(const RatingLog& log, const RatingEvent& e, const ItemStatsIndex* stats,
                                   int64_t list_start) {
  proto::Interaction out;
  *out.mutable_item() = log.items[static_cast<size_t>(e.item)];
  out.set_rating(e.rating);
  out.set_timestamp(e.timestamp);
  if (stats != nullptr) {
    const ItemStatsAt at = stats->At(e.item, list_start);
    out.mutable_item_stats()->set_count(at.count);
    out.mutable_item_stats()->set_mean(static_cast<float>(at.mean));
  }
  return out;
}

const char* SplitName(proto::Split split) {
  switch (split) {
    case proto::SPLIT_TRAIN: return "train";
    case proto::SPLIT_VALID: return "valid";
    case proto::SPLIT_TEST: return "test";
    default: return "unspecified";
  }
}

}  // namespace

absl::StatusOr<SplitOptions> ResolveSplitOptions(const SplitOptions& options) {
  SplitOptions o = options;
  if (o.num_candidates < 2) return InvalidArgument("--num-candidates must be at least 2", "a list needs 2+ items");
  if (o.max_history < kMinHistory) return InvalidArgument("--max-history must be at least 1");
  if (o.stride < 0) return InvalidArgument("--stride must be >= 0 (0 = num_candidates)");
  if (o.stride == 0) o.stride = o.num_candidates;
  const int64_t needed = 2 * o.num_candidates + kMinHistory;
  if (o.min_ratings == 0) o.min_ratings = needed;
  if (o.min_ratings < needed) {
    return InvalidArgument(absl::StrCat("--min-ratings ", o.min_ratings, " is below 2 x num_candidates + 1 = ", needed),
                           "a user needs a test list, a validation list and some history");
  }
  return o;
}

absl::Status SplitRatingLog(const RatingLog& log, const SplitOptions& options, DropReport* drops,
                            const std::function<absl::Status(const proto::ListExample&)>& emit) {
  const int64_t m = options.num_candidates;
  std::unique_ptr<ItemStatsIndex> stats;
  if (options.item_stats) stats = std::make_unique<ItemStatsIndex>(log);
  std::vector<RatingEvent> events;
  std::vector<int> order(static_cast<size_t>(m));
  for (const auto& [user, user_events] : log.users) {
    const int64_t n = static_cast<int64_t>(user_events.size());
    if (n < options.min_ratings) {
      if (n > 0) {
        drops->Add("ratings of users with too few ratings", absl::StrCat("user ", user),
                   absl::StrCat(n, " ratings, fewer than --min-ratings ", options.min_ratings), n);
      }
      continue;
    }
    events = user_events;
    std::stable_sort(events.begin(), events.end(), [](const RatingEvent& a, const RatingEvent& b) {
      return a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.sequence < b.sequence;
    });
    // Candidate windows as [start, start + m): training windows oldest first.
    std::vector<std::pair<int64_t, proto::Split>> windows;
    std::vector<int64_t> train_starts;
    for (int64_t start = n - 3 * m; start >= kMinHistory; start -= options.stride) train_starts.push_back(start);
    std::reverse(train_starts.begin(), train_starts.end());
    for (int64_t s : train_starts) windows.emplace_back(s, proto::SPLIT_TRAIN);
    windows.emplace_back(n - 2 * m, proto::SPLIT_VALID);
    windows.emplace_back(n - m, proto::SPLIT_TEST);
    int64_t train_window = 0;
    for (const auto& [start, split] : windows) {
      proto::ListExample ex;
      ex.set_schema_version(kSchemaVersion);
      ex.set_user_id(user);
      ex.set_split(split);
      const int64_t number = split == proto::SPLIT_TRAIN ? train_window++ : 0;
      ex.set_example_id(absl::StrCat(SplitName(split), "/", user, "/", number));
      // The window's first candidate in time: the statistics' cut-off.
      const int64_t list_start = events[static_cast<size_t>(start)].timestamp;
      for (int64_t h = std::max<int64_t>(0, start - options.max_history); h < start; ++h) {
        *ex.add_history() = MakeInteraction(log, events[static_cast<size_t>(h)], stats.get(), list_start);
      }
      // Presentation order: a shuffle keyed by (seed, example id), so it is
      // independent of time and rating order and of the other lists.
      std::iota(order.begin(), order.end(), 0);
      Rng rng(HashCombine(options.seed, HashString(ex.example_id())));
      rng.Shuffle(&order);
      for (int k : order) {
        *ex.add_candidates() = MakeInteraction(log, events[static_cast<size_t>(start + k)], stats.get(), list_start);
      }
      ALRO_RETURN_IF_ERROR(emit(ex));
    }
  }
  return absl::OkStatus();
}

}  // namespace alro::data
