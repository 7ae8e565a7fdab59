// losses/objective.h: ALRO's training objective
//   L = lm_weight * L_LM + sll_weight * SLL + psl_weight * L_PSL
//       (+ single_step_weight * LambdaLoss on the first slot's scores)
// with the weights and options of config::ObjectiveConfig, every term
// reported separately.
//
// Batch layout (data/loader.h): rows come in groups of 1 + P, the original
// list followed by its P permuted copies. LM and SLL are averaged over all
// rows (copies are trained with the same losses); PSL compares each copy with
// its original after mapping the copy's columns back to the original items.
// A term whose weight is 0 is still computed for reporting, without autograd.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "distributed/communicator.h"
#include "losses/lambda_loss.h"
#include "losses/psl_loss.h"
#include "losses/soft_lambda_loss.h"

namespace alro::losses {

/// What the model produced for one micro-batch of N = B * (1 + P) rows.
struct ObjectiveInputs {
  /// [N, A, Vs]: this rank's vocabulary shard of the logits that predict the
  /// A answer tokens (teacher forcing on the true answer): the m identifiers,
  /// plus the end-of-sequence token when the caller includes it. May be
  /// undefined when lm_weight is 0 or answer_token_nll is given.
  at::Tensor answer_logits;
  /// [N, A] int64: global ids of the true answer tokens (negative = ignore).
  at::Tensor answer_targets;
  /// [N, A] (optional): the per-token LM loss already computed from
  /// answer_logits (core::FusedAnswerReadout's target_nll, 0 at ignored
  /// targets). When defined, the LM term uses it and answer_logits is not
  /// read.
  at::Tensor answer_token_nll;
  /// First global token id of this rank's vocabulary shard.
  int64_t vocab_start = 0;
  /// [N, m, m]: full logits at answer slot k of the identifier of
  /// presentation slot j (core::IdentifierLogits).
  at::Tensor identifier_logits;
  /// [N, m]: rating of the item shown at presentation slot j.
  at::Tensor ratings;
  /// [N, m] int64: slot j shows original candidate permutation[j] (identity
  /// for originals). Undefined = identity everywhere (no copies).
  at::Tensor permutations;
  /// [N, m] int64 (optional): tie rank of the item at slot j; equal ratings
  /// are ordered by it in SLL's true ranks (lower first). Undefined = the
  /// original candidate index (`permutations`).
  at::Tensor tie_ranks;
  /// P: permuted copies after each original row.
  int64_t copies_per_list = 0;
  /// [N] (optional): per-row weights; undefined = all 1.
  at::Tensor row_weights;
};

/// Names of the objective's reported terms, in ObjectiveTerms::Report()'s
/// order: "loss" is the weighted total. Logs, metrics JSONL and the
/// trainer's all-reduced step vector use these names and this order.
inline constexpr std::array<const char*, 5> kObjectiveTermNames = {"loss", "lm", "sll", "psl", "lambdaloss"};

/// The objective and its terms (scalars). `total` carries the gradient.
struct ObjectiveTerms {
  at::Tensor total;
  at::Tensor lm;
  at::Tensor sll;
  at::Tensor psl;
  at::Tensor lambdaloss;

  /// (kObjectiveTermNames[i], value) of total, lm, sll, psl and lambdaloss,
  /// as doubles, for logs and metrics JSONL.
  std::vector<std::pair<std::string, double>> Report() const;
};

/// Answer-slot distributions Y [N, m, m]: softmax over the m identifiers of
/// the identifier logits (in float32, or double for double input).
at::Tensor AnswerSlotProbabilities(const at::Tensor& identifier_logits);

/// The weighted objective. Cheap to copy.
class Objective {
 public:
  /// Builds it from a (validated) configuration; an unknown divergence or
  /// weighting name is a user error naming the key.
  static absl::StatusOr<Objective> Create(const config::ObjectiveConfig& config);

  /// Computes every term; `tp` is the tensor-parallel group that splits the
  /// vocabulary of `answer_logits`.
  ObjectiveTerms Compute(const ObjectiveInputs& inputs, dist::Communicator& tp) const;

  const config::ObjectiveConfig& config() const { return config_; }

 private:
  Objective(config::ObjectiveConfig config, PslOptions psl, LambdaLossOptions lambda)
      : config_(std::move(config)), psl_(psl), lambda_(lambda) {}

  config::ObjectiveConfig config_;
  PslOptions psl_;
  LambdaLossOptions lambda_;
};

}  // namespace alro::losses
