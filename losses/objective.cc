// losses/objective.cc: the weighted sum of LM, SLL, PSL and single-step
// LambdaLoss terms over a batch of originals and their permuted copies.
#include "losses/objective.h"

#include <ATen/core/grad_mode.h>

#include <iterator>

#include "common/status.h"
#include "losses/lm_loss.h"
#include "losses/pairwise_lambda.h"

namespace alro::losses {
namespace {

// Mean of per-row values [R] under row weights [R].
at::Tensor WeightedMean(const at::Tensor& per_row, const at::Tensor& weights) {
  return (per_row * weights).sum() / weights.sum();
}

// Runs `compute` with autograd only when the term's weight is non-zero: a
// reported-only term must not keep its graph alive or receive gradients.
template <typename F>
at::Tensor ComputeTerm(double weight, F&& compute) {
  if (weight != 0.0) return compute();
  at::NoGradGuard no_grad;
  return compute();
}

}  // namespace

std::vector<std::pair<std::string, double>> ObjectiveTerms::Report() const {
  auto value = [](const at::Tensor& t) { return t.defined() ? t.item<double>() : 0.0; };
  const at::Tensor* terms[] = {&total, &lm, &sll, &psl, &lambdaloss};
  static_assert(std::size(terms) == kObjectiveTermNames.size());
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < kObjectiveTermNames.size(); ++i) out.emplace_back(kObjectiveTermNames[i], value(*terms[i]));
  return out;
}

at::Tensor AnswerSlotProbabilities(const at::Tensor& identifier_logits) {
  return at::softmax(identifier_logits.to(LossComputeDtype(identifier_logits)), /*dim=*/-1);
}

absl::StatusOr<Objective> Objective::Create(const config::ObjectiveConfig& config) {
  PslOptions psl;
  ALRO_ASSIGN_OR_RETURN(psl.divergence, ParsePslDivergence(config.psl_divergence));
  psl.gamma = config.sll_gamma;
  LambdaLossOptions lambda;
  ALRO_ASSIGN_OR_RETURN(lambda.weighting, ParseLambdaWeighting(config.lambdaloss_weighting));
  lambda.mu = config.lambdaloss_mu;
  lambda.sigma = config.sll_sigma;
  return Objective(config, psl, lambda);
}

ObjectiveTerms Objective::Compute(const ObjectiveInputs& in, dist::Communicator& tp) const {
  ALRO_CHECK(in.identifier_logits.dim() == 3, "Objective: identifier_logits must be [N, m, m], got ",
             c10::str(in.identifier_logits.sizes()));
  const int64_t rows = in.identifier_logits.size(0);
  const int64_t group = 1 + in.copies_per_list;
  ALRO_CHECK(rows % group == 0, "Objective: ", rows, " rows is not a multiple of 1 + copies = ", group);
  const at::Tensor Y = AnswerSlotProbabilities(in.identifier_logits);
  const at::TensorOptions options = Y.options();
  const at::Tensor weights = in.row_weights.defined() ? in.row_weights.to(options.dtype()).reshape({rows})
                                                      : at::ones({rows}, options);
  const at::Tensor ratings = in.ratings.to(options.dtype());

  ObjectiveTerms terms;
  const config::ObjectiveConfig& c = config_;
  if (in.answer_token_nll.defined() || in.answer_logits.defined()) {
    terms.lm = ComputeTerm(c.lm_weight, [&] {
      const at::Tensor per_token =
          in.answer_token_nll.defined()
              ? in.answer_token_nll
              : VocabParallelCrossEntropy(in.answer_logits, in.answer_targets, in.vocab_start, tp);
      const at::Tensor counted = (in.answer_targets >= 0).to(per_token.scalar_type()).sum(1).clamp_min(1.0);
      return WeightedMean(per_token.sum(1) / counted, weights.to(per_token.scalar_type()));
    });
  } else {
    ALRO_CHECK(c.lm_weight == 0.0, "Objective: lm_weight is ", c.lm_weight,
               " but neither answer_logits nor answer_token_nll was given");
    terms.lm = at::zeros({}, options);
  }

  const SoftLambdaOptions sll{c.sll_gamma, c.sll_sigma, c.sll_top_k};
  terms.sll = ComputeTerm(c.sll_weight, [&] {
    // Ties follow the list's tie draw (or the original candidate index),
    // which a copy shares with its original: the true order the data module
    // renders as the answer of both.
    const at::Tensor& tie_key = in.tie_ranks.defined() ? in.tie_ranks : in.permutations;
    return WeightedMean(SoftLambdaLossPerList(Y, ratings, sll, tie_key), weights);
  });

  if (in.copies_per_list > 0) {
    ALRO_CHECK(in.permutations.defined(), "Objective: copies_per_list > 0 needs permutations");
    terms.psl = ComputeTerm(c.psl_weight, [&] {
      const int64_t lists = rows / group, m = Y.size(1);
      const at::Tensor by_item = MapColumnsToItems(Y, in.permutations).view({lists, group, m, m});
      const int64_t pairs = lists * in.copies_per_list;
      const at::Tensor originals = by_item.narrow(1, 0, 1).expand({lists, in.copies_per_list, m, m});
      const at::Tensor copies = by_item.narrow(1, 1, in.copies_per_list);
      const at::Tensor per_copy = PermutationConsistencyLossPerList(originals.reshape({pairs, m, m}),
                                                                    copies.reshape({pairs, m, m}), psl_);
      const at::Tensor copy_weights = weights.view({lists, group}).narrow(1, 1, in.copies_per_list).reshape({pairs});
      return WeightedMean(per_copy, copy_weights);
    });
  } else {
    terms.psl = at::zeros({}, options);
  }

  terms.lambdaloss = ComputeTerm(c.single_step_weight, [&] {
    // Single-step scoring: the identifier logits at the first answer slot.
    const at::Tensor first_slot_scores = in.identifier_logits.select(1, 0);
    return WeightedMean(LambdaLossPerList(first_slot_scores, ratings, lambda_), weights);
  });

  at::Tensor total = at::zeros({}, options);
  const std::pair<double, const at::Tensor*> weighted[] = {
      {c.lm_weight, &terms.lm}, {c.sll_weight, &terms.sll}, {c.psl_weight, &terms.psl},
      {c.single_step_weight, &terms.lambdaloss}};
  for (const auto& [weight, term] : weighted) {
    if (weight != 0.0) total = total + weight * term->to(options.dtype());
  }
  terms.total = total;
  return terms;
}

}  // namespace alro::losses
