// losses/pairwise_lambda.h: the tensor pieces shared by the soft lambda loss
// and the classical LambdaLoss, batched over lists [B, m].
//
// Both losses are
//   (1/IDCG) * sum over pairs (i, j) with rating_i > rating_j (and, with top-k,
//              min(rank_i, rank_j) <= k) of  w_ij * log2(1 + exp(-sigma * margin_ij))
// and differ in where the ranks in w_ij come from (true ranks for SLL, ranks of
// the predicted scores for LambdaLoss) and in the margin (expected positions
// for SLL, scores for LambdaLoss). Ranks and weights carry no gradient.
#pragma once

#include <cstdint>

#include <ATen/ATen.h>

namespace alro::losses {

/// The floating dtype losses compute in: double stays double, everything
/// else (float32, bfloat16, float16) is computed in float32.
at::ScalarType LossComputeDtype(const at::Tensor& t);

/// 1-based ranks of `values` [B, m] sorted highest first within each row;
/// equal values are ordered by `tie_key` (lower first; same shape, any dtype)
/// or, when it is undefined, by position in the row. Returns int64 [B, m].
at::Tensor RanksDescending(const at::Tensor& values, const at::Tensor& tie_key = {});

/// Gains 2^r - 1 of ratings [B, m].
at::Tensor RatingGains(const at::Tensor& ratings);

/// Discount log2(1 + x) of 1-based positions (any shape, floating).
at::Tensor PositionDiscount(const at::Tensor& positions);

/// IDCG of each row of `ratings` [B, m] over its first k ideal positions
/// (k <= 0: all), given the rows' true ranks `ranks` [B, m]. Returns [B].
at::Tensor IdealDcgFromRanks(const at::Tensor& ratings, const at::Tensor& ranks, int64_t k);

/// NDCG-Loss2 rank weight delta_ij = |1/D(|r_i - r_j|) - 1/D(|r_i - r_j| + 1)|
/// from ranks [B, m]; 0 on the diagonal. Returns [B, m, m] in `dtype`.
at::Tensor NdcgLoss2Delta(const at::Tensor& ranks, at::ScalarType dtype);

/// LambdaRank rank weight |1/D(r_i) - 1/D(r_j)| from ranks [B, m]. [B, m, m].
at::Tensor LambdaRankDelta(const at::Tensor& ranks, at::ScalarType dtype);

/// |G_i - G_j| for gains [B, m]. [B, m, m].
at::Tensor GainDifference(const at::Tensor& gains);

/// The pairs a lambda loss sums over: rating_i > rating_j, and with k > 0
/// min(rank_i, rank_j) <= k. Bool [B, m, m].
at::Tensor LambdaPairMask(const at::Tensor& ratings, const at::Tensor& ranks, int64_t top_k);

/// Per-row lambda loss [B]: (1/idcg) * sum_ij mask * weights *
/// log2(1 + exp(-sigma * margins)), where margins[b, i, j] is how much better
/// the model places i than j. Rows with idcg <= 0 (no gain anywhere) give 0.
at::Tensor LambdaSum(const at::Tensor& weights, const at::Tensor& mask, const at::Tensor& margins, double sigma,
                     const at::Tensor& idcg);

}  // namespace alro::losses
