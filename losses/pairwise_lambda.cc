// losses/pairwise_lambda.cc: ranks, gains, discounts and the pairwise sum
// shared by SLL and LambdaLoss.
#include "losses/pairwise_lambda.h"

#include <cmath>

#include "common/status.h"

namespace alro::losses {

at::ScalarType LossComputeDtype(const at::Tensor& t) {
  return t.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

at::Tensor RanksDescending(const at::Tensor& values, const at::Tensor& tie_key) {
  ALRO_CHECK(values.dim() == 2, "RanksDescending: expected [B, m], got ", c10::str(values.sizes()));
  const at::Tensor v = values.detach();
  at::Tensor key = tie_key.defined() ? tie_key.detach().to(at::kDouble)
                                     : at::arange(v.size(1), v.options().dtype(at::kDouble)).expand_as(v);
  ALRO_CHECK(key.sizes() == v.sizes(), "RanksDescending: tie_key ", c10::str(key.sizes()), " vs values ",
             c10::str(v.sizes()));
  // rank_i = 1 + #{j: v_j > v_i} + #{j: v_j == v_i and key_j < key_i}; m is
  // small (tens), so the m x m comparison beats a sort with tie handling.
  const at::Tensor vi = v.unsqueeze(2), vj = v.unsqueeze(1);
  const at::Tensor ahead = (vj > vi) | ((vj == vi) & (key.unsqueeze(1) < key.unsqueeze(2)));
  return ahead.sum(2).to(at::kLong) + 1;
}

at::Tensor RatingGains(const at::Tensor& ratings) { return at::exp2(ratings) - 1.0; }

at::Tensor PositionDiscount(const at::Tensor& positions) { return at::log2(positions + 1.0); }

at::Tensor IdealDcgFromRanks(const at::Tensor& ratings, const at::Tensor& ranks, int64_t k) {
  const at::Tensor positions = ranks.to(ratings.scalar_type());
  at::Tensor terms = RatingGains(ratings) / PositionDiscount(positions);
  if (k > 0) terms = terms.masked_fill(ranks > k, 0.0);
  return terms.sum(1);
}

at::Tensor NdcgLoss2Delta(const at::Tensor& ranks, at::ScalarType dtype) {
  const at::Tensor r = ranks.to(dtype);
  const at::Tensor distance = (r.unsqueeze(2) - r.unsqueeze(1)).abs();
  // D(0) = 0: keep the diagonal finite before zeroing it.
  const at::Tensor safe = distance.clamp_min(1.0);
  const at::Tensor delta = (1.0 / PositionDiscount(safe) - 1.0 / PositionDiscount(safe + 1.0)).abs();
  return delta.masked_fill(distance == 0, 0.0);
}

at::Tensor LambdaRankDelta(const at::Tensor& ranks, at::ScalarType dtype) {
  const at::Tensor inverse_discount = 1.0 / PositionDiscount(ranks.to(dtype));
  return (inverse_discount.unsqueeze(2) - inverse_discount.unsqueeze(1)).abs();
}

at::Tensor GainDifference(const at::Tensor& gains) { return (gains.unsqueeze(2) - gains.unsqueeze(1)).abs(); }

at::Tensor LambdaPairMask(const at::Tensor& ratings, const at::Tensor& ranks, int64_t top_k) {
  at::Tensor mask = ratings.unsqueeze(2) > ratings.unsqueeze(1);
  if (top_k > 0) mask = mask & (at::minimum(ranks.unsqueeze(2), ranks.unsqueeze(1)) <= top_k);
  return mask;
}

at::Tensor LambdaSum(const at::Tensor& weights, const at::Tensor& mask, const at::Tensor& margins, double sigma,
                     const at::Tensor& idcg) {
  // log2(1 + exp(-x)) = softplus(-x) / ln 2, stable for large |x|.
  const at::Tensor pair_loss = at::softplus(margins * -sigma) / std::log(2.0);
  const at::Tensor total = (pair_loss * weights).masked_fill(~mask, 0.0).sum({1, 2});
  const at::Tensor has_gain = idcg > 0;
  return at::where(has_gain, total / at::where(has_gain, idcg, at::ones_like(idcg)), at::zeros_like(total));
}

}  // namespace alro::losses
