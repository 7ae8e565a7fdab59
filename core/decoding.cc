// core/decoding.cc: constrained greedy decoding and first-slot scoring.
#include "core/decoding.h"

#include <ATen/core/grad_mode.h>

#include <limits>

#include "common/status.h"
#include "core/identifier_logits.h"

namespace alro::core {

DecodedPermutations ConstrainedGreedyDecode(Decoder& model, const at::Tensor& prompts,
                                            const at::Tensor& identifier_ids, const std::vector<int64_t>& separator,
                                            PrefixSharing sharing) {
  ALRO_CHECK(prompts.dim() == 2 && identifier_ids.dim() == 2 && prompts.size(0) == identifier_ids.size(0),
             "ConstrainedGreedyDecode wants prompts [B, T] and identifier_ids [B, m]");
  at::NoGradGuard no_grad;
  const int64_t b = prompts.size(0), t = prompts.size(1), m = identifier_ids.size(1);
  const int64_t per_step = 1 + static_cast<int64_t>(separator.size());
  const at::Tensor ids = identifier_ids.to(model.device(), at::kLong);
  KVCache cache = model.NewKVCache(b, t + m * per_step);
  // The last prompt token's hidden state predicts the first identifier, so
  // it stays out of the shared prefix.
  at::Tensor hidden = ForwardSharingPrefix(model, prompts, PlanPrefixSharing(prompts, t - 1, sharing), &cache);
  at::Tensor written = at::zeros({b, m}, at::TensorOptions().dtype(at::kBool).device(model.device()));
  const int64_t sep_len = static_cast<int64_t>(separator.size());
  const at::Tensor sep =
      at::tensor(separator, at::TensorOptions().dtype(at::kLong)).to(model.device()).view({1, sep_len}).expand({b, sep_len});
  DecodedPermutations result;
  result.order.assign(b, {});
  std::vector<at::Tensor> steps;
  for (int64_t k = 0; k < m; ++k) {
    const at::Tensor last = hidden.select(1, hidden.size(1) - 1);  // [B, H]
    const at::Tensor scores = IdentifierLogits(model.LocalLogits(last), ids, model.vocab_start(), model.grid().tp());
    steps.push_back(scores);
    const at::Tensor choice =
        scores.masked_fill(written, -std::numeric_limits<float>::infinity()).argmax(-1);  // [B]
    written.scatter_(1, choice.unsqueeze(1), true);
    const at::Tensor chosen = choice.cpu();
    for (int64_t i = 0; i < b; ++i) result.order[i].push_back(chosen[i].item<int64_t>());
    if (k + 1 == m) break;
    const at::Tensor next = at::cat({ids.gather(1, choice.unsqueeze(1)), sep}, 1);  // [B, per_step]
    hidden = model.Forward(next, &cache);
  }
  result.step_logits = at::stack(steps, 1).cpu();
  return result;
}

at::Tensor ScoreFirstSlot(Decoder& model, const at::Tensor& tokens, const at::Tensor& first_answer_position,
                          const at::Tensor& identifier_ids, PrefixSharing sharing) {
  ALRO_CHECK(first_answer_position.dim() == 1 && first_answer_position.size(0) == tokens.size(0),
             "first_answer_position must be [B]");
  at::Tensor source = first_answer_position.to(model.device()).view({-1, 1});
  // The scores are read at first_answer_position - 1, which must stay in
  // every row's suffix.
  const int64_t shareable = at::GradMode::is_enabled() || tokens.size(0) == 0
                                ? 0
                                : first_answer_position.min().item<int64_t>() - 1;
  const PrefixPlan plan = PlanPrefixSharing(tokens, shareable, sharing);
  at::Tensor hidden;
  if (plan.length == 0) {
    hidden = model.Forward(tokens.to(at::kLong));
  } else {
    KVCache cache = model.NewKVCache(tokens.size(0), tokens.size(1));
    hidden = ForwardSharingPrefix(model, tokens, plan, &cache);  // positions [P, T)
    source = source - plan.length;
  }
  return SlotIdentifierLogits(model, hidden, source, identifier_ids.to(model.device())).squeeze(1);
}

}  // namespace alro::core
