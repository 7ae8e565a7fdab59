// losses/soft_lambda_loss.h: the soft lambda loss (SLL) of ALRO: a LambdaLoss
// (NDCG-Loss2 weighting) on the soft expected positions of the items in the
// model's generated ranking.
//
// For one list with m items in presentation order, Y[k, i] is the probability
// that answer slot k (1-based) shows item i. Then
//   s_i    = sum_k k * softmax_k(gamma * Y[k, i])          (expected position)
//   tau_i  = true rank (rating, highest first; ties by tie key)
//   delta_ij = |1/D(|tau_i - tau_j|) - 1/D(|tau_i - tau_j| + 1)|, D(x) = log2(1 + x)
//   SLL    = (1/IDCG) sum_{r_i > r_j} delta_ij |G_i - G_j| log2(1 + exp(-sigma (s_j - s_i)))
// with G = 2^r - 1, optionally only pairs with min(tau_i, tau_j) <= k.
// docs/method.md explains the choices.
#pragma once

#include <cstdint>

#include <ATen/ATen.h>

namespace alro::losses {

/// Default sharpness gamma of the softmax over positions.
inline constexpr double kDefaultSllGamma = 10.0;
/// Default scale sigma of the pairwise logistic.
inline constexpr double kDefaultSllSigma = 1.0;

/// Parameters of the soft lambda loss (config keys objective.sll_*).
struct SoftLambdaOptions {
  double gamma = kDefaultSllGamma;
  double sigma = kDefaultSllSigma;
  /// Only pairs with an item among the true top k; 0 = all pairs.
  int64_t top_k = 0;
};

/// Expected positions s [B, m] (1-based) of the items of Y [B, m, m]:
/// s[b, i] = sum_k k * softmax over k of gamma * Y[b, k, i]. Differentiable.
at::Tensor ExpectedPositions(const at::Tensor& Y, double gamma);

/// SLL of each list [B]. `ratings` [B, m] are in presentation order (column
/// order of Y). `tie_key` [B, m] (optional) orders equal ratings, lower first;
/// undefined = presentation order. For a permuted copy pass the original
/// candidate indices so that its true order matches the original's.
at::Tensor SoftLambdaLossPerList(const at::Tensor& Y, const at::Tensor& ratings, const SoftLambdaOptions& options,
                                 const at::Tensor& tie_key = {});

/// SLL averaged over the lists of the batch (a scalar).
at::Tensor SoftLambdaLoss(const at::Tensor& Y, const at::Tensor& ratings, const SoftLambdaOptions& options);

}  // namespace alro::losses
