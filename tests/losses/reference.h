// tests/losses/reference.h: brute-force double-precision references for the
// ranking losses, written with plain loops over std::vector and independently
// of the tensor code in losses/ (sorting instead of rank counting, explicit
// sums instead of masks), so a shared mistake is unlikely.
#pragma once

#include <cstdint>
#include <vector>

namespace alro::losses::reference {

using Matrix = std::vector<std::vector<double>>;  // [k][i]

/// Expected positions s_i = sum_k k softmax_k(gamma Y[k][i]).
std::vector<double> ExpectedPositions(const Matrix& Y, double gamma);

/// True ranks: sort by rating desc, ties by key asc (key = index if empty).
std::vector<int64_t> Ranks(const std::vector<double>& values, const std::vector<double>& tie_key = {});

/// The soft lambda loss of one list, as the issue states it.
double SoftLambdaLoss(const Matrix& Y, const std::vector<double>& ratings, double gamma, double sigma,
                      int64_t top_k, const std::vector<double>& tie_key = {});

/// Weighting: 0 NDCG-Loss2, 1 LambdaRank, 2 NDCG-Loss2++.
double LambdaLoss(const std::vector<double>& scores, const std::vector<double>& ratings, int weighting, double mu,
                  double sigma, int64_t top_k);

/// Divergence: 0 JS, 1 symmetric KL (mean of both directions), 2 MSE of
/// expected positions. Averaged over rows (js, kl) or items (mse).
double Consistency(const Matrix& Y, const Matrix& Yc, int divergence, double gamma);

}  // namespace alro::losses::reference
