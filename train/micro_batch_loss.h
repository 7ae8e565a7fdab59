// train/micro_batch_loss.h: the losses of one micro-batch, the part of a
// training step between the packed batch and backward:
//   Decoder::Forward -> LM-head logits at the m answer slots (all tokens of
//   this rank's vocabulary shard) -> the per-token LM loss and the identifier
//   logits [N, m, m] (on the CPU in one pass, core/fused_answer_readout.h) ->
//   losses::Objective (LM + SLL + PSL).
// The trainer calls it once per accumulation micro-step.
#pragma once

#include "core/decoder.h"
#include "distributed/communicator.h"
#include "losses/objective.h"
#include "train/batch_tensors.h"

namespace alro::train {

/// Every term of `objective` for `batch`, differentiable: backward of
/// terms.total fills the model's gradients. Every tensor of `batch` must be
/// on model.device() (ToDevice); `tp` is the model's tensor-parallel group.
losses::ObjectiveTerms MicroBatchLoss(core::Decoder& model, const losses::Objective& objective,
                                      const BatchTensors& batch, dist::Communicator& tp);

}  // namespace alro::train
