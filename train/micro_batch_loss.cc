// train/micro_batch_loss.cc: MicroBatchLoss (see micro_batch_loss.h).
#include "train/micro_batch_loss.h"

#include "core/fused_answer_readout.h"
#include "core/fused_ops.h"
#include "core/identifier_logits.h"

namespace alro::train {

losses::ObjectiveTerms MicroBatchLoss(core::Decoder& model, const losses::Objective& objective,
                                      const BatchTensors& batch, dist::Communicator& tp) {
  const int64_t n = batch.identifier_ids.size(0), m = batch.identifier_ids.size(1);
  // Packed rows (shared prefixes) carry their own positions and mask.
  const at::Tensor hidden = batch.attention_mask.defined()
                                ? model.Forward(batch.tokens, batch.positions, batch.attention_mask)
                                : model.Forward(batch.tokens);
  const at::Tensor local = model.LocalLogits(HiddenAtAnswerSlots(hidden, batch.answer_sources));  // [N, m, Vs]
  const int64_t vocab_shard = local.size(-1);
  // Every answer slot of list i scores the same m identifiers of list i.
  const at::Tensor ids = batch.identifier_ids.unsqueeze(1).expand({n, m, m}).reshape({n * m, m});
  losses::ObjectiveInputs inputs;
  inputs.answer_targets = batch.answer_targets;
  inputs.vocab_start = model.vocab_start();
  if (local.device().is_cpu() && core::FusedKernelsEnabled()) {
    // Both readings of the answer slots' logits in one pass (the LM loss per
    // token and the identifier logits): core/fused_answer_readout.h.
    const core::AnswerReadout readout = core::FusedAnswerReadout(
        local.reshape({n * m, vocab_shard}), batch.answer_targets.reshape({n * m}), ids, model.vocab_start(), tp);
    inputs.answer_token_nll = readout.target_nll.view({n, m});
    inputs.identifier_logits = readout.identifier_logits.view({n, m, m});
  } else {
    inputs.answer_logits = local;
    inputs.identifier_logits =
        core::IdentifierLogits(local.reshape({n * m, vocab_shard}), ids, model.vocab_start(), tp).view({n, m, m});
  }
  inputs.ratings = batch.ratings;
  inputs.permutations = batch.permutations;
  inputs.tie_ranks = batch.tie_ranks;
  inputs.copies_per_list = batch.copies_per_list;
  inputs.row_weights = batch.weights;
  return objective.Compute(inputs, tp);
}

}  // namespace alro::train
