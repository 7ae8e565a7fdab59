// train/micro_batch_loss.cc: MicroBatchLoss (see micro_batch_loss.h).
#include "train/micro_batch_loss.h"

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
  // Every answer slot of list i scores the same m identifiers of list i.
  const at::Tensor ids = batch.identifier_ids.unsqueeze(1).expand({n, m, m}).reshape({n * m, m});
  const at::Tensor identifier_logits =
      core::IdentifierLogits(local.reshape({n * m, local.size(-1)}), ids, model.vocab_start(), tp).view({n, m, m});
  losses::ObjectiveInputs inputs;
  inputs.answer_logits = local;
  inputs.answer_targets = batch.answer_targets;
  inputs.vocab_start = model.vocab_start();
  inputs.identifier_logits = identifier_logits;
  inputs.ratings = batch.ratings;
  inputs.permutations = batch.permutations;
  inputs.tie_ranks = batch.tie_ranks;
  inputs.copies_per_list = batch.copies_per_list;
  inputs.row_weights = batch.weights;
  return objective.Compute(inputs, tp);
}

}  // namespace alro::train
