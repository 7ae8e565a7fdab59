// losses/psl_loss.cc: the permuted-copy consistency loss.
#include "losses/psl_loss.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "losses/pairwise_lambda.h"

namespace alro::losses {
namespace {

// Probabilities are floored before taking logs so that a probability that
// underflowed to 0 contributes 0 * log(floor) = 0 instead of 0 * -inf = NaN.
constexpr double kProbabilityFloor = 1e-30;

at::Tensor SafeLog(const at::Tensor& p) { return at::log(p.clamp_min(kProbabilityFloor)); }

// KL(p || q) over the last dimension.
at::Tensor KlDivergence(const at::Tensor& p, const at::Tensor& q) { return (p * (SafeLog(p) - SafeLog(q))).sum(-1); }

}  // namespace

absl::StatusOr<PslDivergence> ParsePslDivergence(absl::string_view name) {
  if (name == "js") return PslDivergence::kJensenShannon;
  if (name == "kl") return PslDivergence::kSymmetricKl;
  if (name == "mse") return PslDivergence::kExpectedPositionMse;
  return InvalidArgument(absl::StrCat("objective.psl_divergence: unknown divergence '", name, "'"),
                         "use js, kl or mse");
}

at::Tensor MapColumnsToItems(const at::Tensor& Y, const at::Tensor& permutation) {
  ALRO_CHECK(Y.dim() == 3 && permutation.dim() == 2 && permutation.size(0) == Y.size(0) &&
                 permutation.size(1) == Y.size(2),
             "MapColumnsToItems: Y ", c10::str(Y.sizes()), " and permutation ", c10::str(permutation.sizes()),
             " do not match");
  const at::Tensor slots = permutation.to(at::kLong);
  // inverse[b, item] = the slot that shows `item`.
  const at::Tensor inverse =
      at::empty_like(slots).scatter_(1, slots, at::arange(slots.size(1), slots.options()).expand_as(slots));
  return Y.gather(2, inverse.unsqueeze(1).expand({Y.size(0), Y.size(1), Y.size(2)}));
}

at::Tensor PermutationConsistencyLossPerList(const at::Tensor& Y, const at::Tensor& Y_copy_mapped_back,
                                             const PslOptions& options) {
  ALRO_CHECK(Y.sizes() == Y_copy_mapped_back.sizes(), "PSL: Y ", c10::str(Y.sizes()), " vs copy ",
             c10::str(Y_copy_mapped_back.sizes()));
  const at::ScalarType dtype = LossComputeDtype(Y);
  const at::Tensor p = Y.to(dtype), q = Y_copy_mapped_back.to(dtype);
  switch (options.divergence) {
    case PslDivergence::kJensenShannon: {
      const at::Tensor mixture = (p + q) * 0.5;
      return ((KlDivergence(p, mixture) + KlDivergence(q, mixture)) * 0.5).mean(-1);
    }
    case PslDivergence::kSymmetricKl:
      return ((KlDivergence(p, q) + KlDivergence(q, p)) * 0.5).mean(-1);
    case PslDivergence::kExpectedPositionMse:
      return (ExpectedPositions(p, options.gamma) - ExpectedPositions(q, options.gamma)).pow(2).mean(-1);
  }
  ALRO_CHECK(false, "PSL: unknown divergence");
  return {};
}

at::Tensor PermutationConsistencyLoss(const at::Tensor& Y, const at::Tensor& Y_copy_mapped_back,
                                      const PslOptions& options) {
  return PermutationConsistencyLossPerList(Y, Y_copy_mapped_back, options).mean();
}

}  // namespace alro::losses
