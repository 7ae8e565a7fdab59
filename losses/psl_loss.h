// losses/psl_loss.h: permutation-sensitive learning (PSL): the consistency
// loss between a list's answer-slot distributions Y and those of a permuted
// copy of the same list, after mapping the copy's columns back to the
// original items.
//
// A copy shows the same candidates in another order; its identifiers follow
// the presentation slots, so column j of the copy's Y' is the item it shows at
// slot j. With Y'' = Y' mapped back (column i = original item i):
//   js   L = (1/m) sum_k JS(Y[k, .] || Y''[k, .])
//   kl   L = (1/m) sum_k (KL(Y[k] || Y''[k]) + KL(Y''[k] || Y[k])) / 2
//   mse  L = (1/m) sum_i (s_i - s''_i)^2   (expected positions, see SLL)
// Gradients flow into both Y and Y'.
#pragma once

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "losses/soft_lambda_loss.h"

namespace alro::losses {

/// How two answer-slot distributions are compared.
enum class PslDivergence {
  kJensenShannon,        ///< "js" (default)
  kSymmetricKl,          ///< "kl": the mean of KL in both directions
  kExpectedPositionMse,  ///< "mse": mean squared difference of expected positions
};

/// Parses config key objective.psl_divergence.
absl::StatusOr<PslDivergence> ParsePslDivergence(absl::string_view name);

/// Parameters of the consistency loss.
struct PslOptions {
  PslDivergence divergence = PslDivergence::kJensenShannon;
  /// Sharpness of the expected positions (mse only; the same gamma as SLL).
  double gamma = kDefaultSllGamma;
};

/// Maps the columns of `Y` [B, m, m] to original items: `permutation` [B, m]
/// (int64) says that presentation slot j shows original candidate
/// permutation[b, j]; the result's column permutation[b, j] is Y's column j.
/// Differentiable (a gather).
at::Tensor MapColumnsToItems(const at::Tensor& Y, const at::Tensor& permutation);

/// Consistency loss of each list [B] between `Y` and `Y_copy_mapped_back`
/// (both [B, m, m], columns indexing the same original items).
at::Tensor PermutationConsistencyLossPerList(const at::Tensor& Y, const at::Tensor& Y_copy_mapped_back,
                                             const PslOptions& options);

/// The consistency loss averaged over the lists (a scalar).
at::Tensor PermutationConsistencyLoss(const at::Tensor& Y, const at::Tensor& Y_copy_mapped_back,
                                      const PslOptions& options);

}  // namespace alro::losses
