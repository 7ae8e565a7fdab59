// losses/lambda_loss.h: the classical LambdaLoss on real-valued scores (Wang
// et al., CIKM 2018, "The LambdaLoss Framework for Ranking Metric
// Optimization"), with the NDCG-Loss2, LambdaRank and NDCG-Loss2++ weightings.
//
// For one list with scores f_i and ratings r_i, ranks pi_i come from sorting
// the scores (highest first; equal scores keep presentation order) and carry
// no gradient. With G_i = (2^r_i - 1) / IDCG@k and D(x) = log2(1 + x):
//   NDCG-Loss2   w_ij = delta_ij |G_i - G_j|,  delta_ij = |1/D(|pi_i-pi_j|) - 1/D(|pi_i-pi_j|+1)|
//   LambdaRank   w_ij = |1/D(pi_i) - 1/D(pi_j)| |G_i - G_j|
//   NDCG-Loss2++ w_ij = (mu delta_ij + |1/D(pi_i) - 1/D(pi_j)|) |G_i - G_j|
//   loss = sum_{r_i > r_j} w_ij log2(1 + exp(-sigma (f_i - f_j)))
// With top-k, only pairs with min(pi_i, pi_j) <= k count and IDCG is IDCG@k.
// alro uses it to train the single-step scoring mode (the scores of all
// identifiers at the first answer slot) and as the reference for SLL's pair
// weighting (docs/method.md).
#pragma once

#include <cstdint>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace alro::losses {

/// The pair weighting of LambdaLoss.
enum class LambdaWeighting {
  kNdcgLoss2,       ///< "ndcg2"
  kLambdaRank,      ///< "lambdarank"
  kNdcgLoss2PlusPlus,  ///< "ndcg2pp"
};

/// Parses config key objective.lambdaloss_weighting.
absl::StatusOr<LambdaWeighting> ParseLambdaWeighting(absl::string_view name);

/// Default mu of NDCG-Loss2++.
inline constexpr double kDefaultLambdaMu = 10.0;

/// Parameters of LambdaLoss.
struct LambdaLossOptions {
  LambdaWeighting weighting = LambdaWeighting::kNdcgLoss2;
  double mu = kDefaultLambdaMu;
  double sigma = 1.0;
  /// Truncation at k (pairs with an item in the predicted top k, IDCG@k); 0 = none.
  int64_t top_k = 0;
};

/// LambdaLoss of each list [B] from scores [B, m] and ratings [B, m].
at::Tensor LambdaLossPerList(const at::Tensor& scores, const at::Tensor& ratings, const LambdaLossOptions& options);

/// LambdaLoss averaged over the lists of the batch (a scalar).
at::Tensor LambdaLoss(const at::Tensor& scores, const at::Tensor& ratings, const LambdaLossOptions& options);

}  // namespace alro::losses
