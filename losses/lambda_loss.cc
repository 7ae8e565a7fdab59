// losses/lambda_loss.cc: LambdaLoss with its three weighting schemes.
#include "losses/lambda_loss.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "losses/pairwise_lambda.h"

namespace alro::losses {

absl::StatusOr<LambdaWeighting> ParseLambdaWeighting(absl::string_view name) {
  if (name == "ndcg2") return LambdaWeighting::kNdcgLoss2;
  if (name == "lambdarank") return LambdaWeighting::kLambdaRank;
  if (name == "ndcg2pp") return LambdaWeighting::kNdcgLoss2PlusPlus;
  return InvalidArgument(absl::StrCat("objective.lambdaloss_weighting: unknown weighting '", name, "'"),
                         "use ndcg2, lambdarank or ndcg2pp");
}

at::Tensor LambdaLossPerList(const at::Tensor& scores, const at::Tensor& ratings, const LambdaLossOptions& options) {
  ALRO_CHECK(scores.dim() == 2 && scores.sizes() == ratings.sizes(), "LambdaLoss: scores ", c10::str(scores.sizes()),
             " and ratings ", c10::str(ratings.sizes()), " must both be [B, m]");
  const at::ScalarType dtype = LossComputeDtype(scores);
  const at::Tensor f = scores.to(dtype);
  const at::Tensor r = ratings.detach().to(dtype);
  const at::Tensor predicted_ranks = RanksDescending(f);
  at::Tensor rank_weight;
  switch (options.weighting) {
    case LambdaWeighting::kNdcgLoss2:
      rank_weight = NdcgLoss2Delta(predicted_ranks, dtype);
      break;
    case LambdaWeighting::kLambdaRank:
      rank_weight = LambdaRankDelta(predicted_ranks, dtype);
      break;
    case LambdaWeighting::kNdcgLoss2PlusPlus:
      rank_weight = NdcgLoss2Delta(predicted_ranks, dtype) * options.mu + LambdaRankDelta(predicted_ranks, dtype);
      break;
  }
  const at::Tensor weights = rank_weight * GainDifference(RatingGains(r));
  // margins[b, i, j] = f_i - f_j.
  const at::Tensor margins = f.unsqueeze(2) - f.unsqueeze(1);
  const at::Tensor idcg = IdealDcgFromRanks(r, RanksDescending(r), options.top_k);
  return LambdaSum(weights, LambdaPairMask(r, predicted_ranks, options.top_k), margins, options.sigma, idcg);
}

at::Tensor LambdaLoss(const at::Tensor& scores, const at::Tensor& ratings, const LambdaLossOptions& options) {
  return LambdaLossPerList(scores, ratings, options).mean();
}

}  // namespace alro::losses
