// losses/soft_lambda_loss.cc: expected positions and the soft lambda loss.
#include "losses/soft_lambda_loss.h"

#include "common/status.h"
#include "losses/pairwise_lambda.h"

namespace alro::losses {

at::Tensor ExpectedPositions(const at::Tensor& Y, double gamma) {
  ALRO_CHECK(Y.dim() == 3 && Y.size(1) == Y.size(2), "ExpectedPositions: Y must be [B, m, m], got ",
             c10::str(Y.sizes()));
  const at::Tensor y = Y.to(LossComputeDtype(Y));
  // Softmax over slots k (dim 1) for each item i (dim 2).
  const at::Tensor position_probs = at::softmax(y * gamma, /*dim=*/1);
  const at::Tensor positions = at::arange(1, y.size(1) + 1, y.options()).view({1, -1, 1});
  return (position_probs * positions).sum(1);
}

at::Tensor SoftLambdaLossPerList(const at::Tensor& Y, const at::Tensor& ratings, const SoftLambdaOptions& options,
                                 const at::Tensor& tie_key) {
  ALRO_CHECK(ratings.dim() == 2 && ratings.size(0) == Y.size(0) && ratings.size(1) == Y.size(2),
             "SoftLambdaLoss: ratings ", c10::str(ratings.sizes()), " do not match Y ", c10::str(Y.sizes()));
  const at::Tensor s = ExpectedPositions(Y, options.gamma);
  const at::ScalarType dtype = s.scalar_type();
  const at::Tensor r = ratings.detach().to(dtype);
  const at::Tensor true_ranks = RanksDescending(r, tie_key);
  const at::Tensor weights = NdcgLoss2Delta(true_ranks, dtype) * GainDifference(RatingGains(r));
  // margins[b, i, j] = s_j - s_i: positive when the better item i sits earlier.
  const at::Tensor margins = s.unsqueeze(1) - s.unsqueeze(2);
  const at::Tensor idcg = IdealDcgFromRanks(r, true_ranks, /*k=*/0);
  return LambdaSum(weights, LambdaPairMask(r, true_ranks, options.top_k), margins, options.sigma, idcg);
}

at::Tensor SoftLambdaLoss(const at::Tensor& Y, const at::Tensor& ratings, const SoftLambdaOptions& options) {
  return SoftLambdaLossPerList(Y, ratings, options).mean();
}

}  // namespace alro::losses
