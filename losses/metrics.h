// losses/metrics.h: ranking metrics of one predicted list and their averages
// over many lists (torch-free; library target alro_metrics).
//
// Conventions (docs/method.md, "Metrics"):
//   gain G(r) = 2^r - 1, discount D(x) = log2(1 + x) for 1-based position x;
//   an item is "liked" when its rating >= a threshold (default 4);
//   the true order sorts by rating, highest first, ties by presentation order.
//
// A metric that is undefined for a list (NDCG when every gain is 0; HR, Recall
// and MRR when no item is liked; Kendall tau when every rating is equal or the
// list has fewer than two items) is left out of that metric's average, and the
// summary says how many lists each average covers. Use these functions in the
// trainer's evaluation and in `alro metrics`; they never touch torch.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace alro::losses {

/// Rating from which an item counts as liked (HR, Recall, MRR).
inline constexpr double kDefaultLikedThreshold = 4.0;

/// Gain of a rating: 2^rating - 1.
double Gain(double rating);

/// Discount of a 1-based position: log2(1 + position).
double Discount(double position);

/// True ranks (1 = best) of items given in presentation order: sorted by
/// rating, highest first; equal ratings keep their presentation order.
std::vector<int64_t> TrueRanks(const std::vector<double>& ratings);

/// Indices of `scores` sorted by score, highest first; equal scores keep their
/// index order. This is how a score vector becomes a predicted ranking.
std::vector<int64_t> OrderByScoreDescending(const std::vector<double>& scores);

/// Reorders `values` by `order` (result[p] = values[order[p]]).
std::vector<double> Permute(const std::vector<double>& values, const std::vector<int64_t>& order);

/// DCG of the first k entries of `labels_in_order` (ratings in predicted
/// order); k <= 0 or k > size means the whole list.
double DcgAtK(const std::vector<double>& labels_in_order, int64_t k);

/// DCG@k of the ideal order of `labels` (their order does not matter).
double IdealDcgAtK(const std::vector<double>& labels, int64_t k);

/// NDCG@k = DCG@k / IDCG@k; nullopt when IDCG@k is 0 (no item has a gain).
/// A list shorter than k is scored on all its items.
std::optional<double> NdcgAtK(const std::vector<double>& labels_in_order, int64_t k);

/// Number of liked items (rating >= threshold).
int64_t CountLiked(const std::vector<double>& labels, double threshold);

/// 1 when a liked item is among the first k, else 0; nullopt without liked items.
std::optional<double> HitRateAtK(const std::vector<double>& labels_in_order, int64_t k, double threshold);

/// Liked items among the first k divided by all liked items; nullopt without
/// liked items.
std::optional<double> RecallAtK(const std::vector<double>& labels_in_order, int64_t k, double threshold);

/// 1 / (1-based position of the first liked item); nullopt without liked items.
std::optional<double> ReciprocalRank(const std::vector<double>& labels_in_order, double threshold);

/// Kendall's tau-b between two score vectors over the same items (higher =
/// better in both); pairs tied in either vector count as neither concordant
/// nor discordant. nullopt when either vector is constant or size < 2.
std::optional<double> KendallTauB(const std::vector<double>& x, const std::vector<double>& y);

/// Kendall tau between the predicted order and the true order of a list given
/// as ratings in predicted order: tau-b of (position, rating), so items with
/// equal ratings are not counted as ordered either way.
std::optional<double> KendallTauToTrueOrder(const std::vector<double>& labels_in_order);

/// Kendall tau between two rankings of the same item set, each a sequence of
/// item ids best first. nullopt when the item sets differ or size < 2.
std::optional<double> KendallTauBetweenRankings(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

/// Position bias of one list shown in P orders.
struct PositionBias {
  /// Population standard deviation of NDCG@k over the P orders, per k.
  std::map<int64_t, double> ndcg_std;
  /// Mean Kendall tau over the P (P - 1) / 2 pairs of produced rankings;
  /// nullopt when P < 2 or rankings are missing.
  std::optional<double> mean_pairwise_kendall_tau;
};

/// Computes the position bias of one list. `labels_in_order[p]` are the
/// ratings in the order the model produced for presentation p;
/// `rankings[p]` (optional, may be empty) are the same items' ids in that
/// order, needed for the pairwise Kendall tau.
PositionBias ComputePositionBias(const std::vector<std::vector<double>>& labels_in_order,
                                 const std::vector<std::vector<int64_t>>& rankings,
                                 const std::vector<int64_t>& ks);

/// Which metrics a summary computes.
struct MetricsOptions {
  std::vector<int64_t> ks = {1, 3, 5, 10};
  double liked_threshold = kDefaultLikedThreshold;
};

/// Running means of the ranking metrics over many lists, plus position-bias
/// groups. Add lists one by one, then read Summary() (JSON) or Mean().
class MetricsAccumulator {
 public:
  explicit MetricsAccumulator(MetricsOptions options = {});

  /// Adds one list given as ratings in predicted order.
  void AddList(const std::vector<double>& labels_in_order);

  /// Adds the position-bias statistics of one list shown in several orders
  /// (see ComputePositionBias). The orders are not added as lists.
  void AddPositionBiasGroup(const std::vector<std::vector<double>>& labels_in_order,
                            const std::vector<std::vector<int64_t>>& rankings);

  /// Number of lists added with AddList.
  int64_t lists() const { return lists_; }

  /// Mean of metric `name` ("ndcg@5", "hr@5", "recall@5", "mrr",
  /// "kendall_tau", "position_bias.ndcg@5_std", ...) over the lists where it
  /// is defined; nullopt when it is defined for none.
  std::optional<double> Mean(const std::string& name) const;

  /// {"lists": n, "ndcg@k": mean, ..., "hr@k", "recall@k", "mrr",
  ///  "kendall_tau", "lists_with_liked": n, "lists_with_gain": n,
  ///  "lists_with_order": n, "position_bias": {...} when groups were added}.
  /// Undefined means are written as null.
  nlohmann::ordered_json Summary() const;

 private:
  struct Mean_ {
    double sum = 0.0;
    int64_t count = 0;
  };
  void Observe(const std::string& name, std::optional<double> value);

  MetricsOptions options_;
  int64_t lists_ = 0;
  int64_t groups_ = 0;
  std::map<std::string, Mean_> means_;
};

}  // namespace alro::losses
