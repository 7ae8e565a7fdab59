// train/reference_rankers.h: the classic orders `alro eval --baselines`
// prints next to the model, computed on the same lists in the same run:
//
//   random      a seeded shuffle;
//   popularity  number of users who rated the item;
//   item_mean   the item's mean rating shrunk toward the global mean by
//               kItemMeanShrinkage pseudo-ratings;
//   mf          biased matrix factorisation r = mu + b_u + b_i + p_u . q_i,
//               fitted by alternating least squares (docs/method.md,
//               "Reference orders"), factors and L2 weight chosen on the
//               validation lists.
//
// Every order uses only the ratings a list could have been preceded by
// under the per-user time split: for the valid split, the training split's
// ratings; for the test split, the training and validation splits' ratings
// (history and candidates, each user-item pair once).
//
// Torch-free: plain C++ on the rating triples, small dense solves.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace alro::train {

/// One known rating.
struct RatingTriple {
  std::string user;
  std::string item;
  double rating = 0.0;
};

/// A list to rank: the user and the candidates' item ids and ratings (labels),
/// presentation order.
struct ReferenceList {
  std::string example_id;
  std::string user;
  std::vector<std::string> items;
  std::vector<double> ratings;
};

/// Pseudo-ratings toward the global mean in the item-mean order.
inline constexpr double kItemMeanShrinkage = 5.0;

/// Scores candidates: higher = ranked earlier. Unknown users or items get
/// the model's fallback (global mean, zero counts).
class ReferenceRanker {
 public:
  virtual ~ReferenceRanker() = default;
  virtual std::vector<double> Score(const std::string& user, const std::vector<std::string>& items) const = 0;
};

/// Number of distinct users who rated each item.
class PopularityRanker : public ReferenceRanker {
 public:
  explicit PopularityRanker(const std::vector<RatingTriple>& ratings);
  std::vector<double> Score(const std::string& user, const std::vector<std::string>& items) const override;

 private:
  std::map<std::string, double> counts_;
};

/// (sum + k * mu) / (count + k) per item, mu = the global mean rating.
class ItemMeanRanker : public ReferenceRanker {
 public:
  ItemMeanRanker(const std::vector<RatingTriple>& ratings, double shrinkage);
  std::vector<double> Score(const std::string& user, const std::vector<std::string>& items) const override;
  double global_mean() const { return global_mean_; }

 private:
  double global_mean_ = 0.0;
  double shrinkage_ = 0.0;
  std::map<std::string, std::pair<double, int64_t>> sums_;  // item -> (sum, count)
};

/// Options of the ALS fit.
struct AlsOptions {
  int64_t factors = 16;
  double l2 = 10.0;      ///< ridge weight on every user/item vector (factors and bias)
  int64_t iterations = 10;
  uint64_t seed = 1;     ///< initial item factors
};

/// Biased matrix factorisation by alternating least squares: each half-step
/// solves, for every user (then every item), the ridge regression of its
/// residual ratings on the other side's [factors, 1], exactly.
class AlsRanker : public ReferenceRanker {
 public:
  AlsRanker(const std::vector<RatingTriple>& ratings, const AlsOptions& options);
  std::vector<double> Score(const std::string& user, const std::vector<std::string>& items) const override;

  /// Predicted rating (mu + b_u + b_i + p_u . q_i; the unknown side's terms are 0).
  double Predict(const std::string& user, const std::string& item) const;
  /// The regularised squared error the fit minimises, on its own ratings.
  double Objective() const;

 private:
  AlsOptions options_;
  double mu_ = 0.0;
  std::map<std::string, int64_t> user_index_, item_index_;
  std::vector<std::vector<double>> users_, items_;  // [factors..., bias]
  std::vector<RatingTriple> ratings_;
};

/// Solves (A) x = b for a symmetric positive definite A (n x n, row-major),
/// by Cholesky. Exposed for tests.
std::vector<double> SolveSpd(std::vector<double> a, std::vector<double> b);

/// NDCG@k averaged over `lists` when ranked by `ranker` (ties: presentation order).
double MeanNdcg(const ReferenceRanker& ranker, const std::vector<ReferenceList>& lists, int64_t k);

/// The grid searched for the mf order: factors x l2.
std::vector<AlsOptions> AlsGrid();

/// Fits ALS on `train` for each option of AlsGrid() and returns the one with
/// the best NDCG@10 on `valid`.
AlsOptions SelectAls(const std::vector<RatingTriple>& train, const std::vector<ReferenceList>& valid);

}  // namespace alro::train
