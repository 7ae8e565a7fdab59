// losses/lm_loss.h: the language-model (cross-entropy) loss of tokens whose
// logits are split by vocabulary across the tensor-parallel group, without
// ever building the full-vocabulary logits on one rank (Megatron-LM's
// vocab_parallel_cross_entropy).
//
// Each rank holds logits[:, vocab_start : vocab_start + Vs]. Forward:
//   1. row max over the shard, all-reduced with max   (stability shift);
//   2. the target's shifted logit (0 on ranks that do not own the target) and
//      the sum of exp over the shard, all-reduced with sum (one collective);
//   3. loss = log(sum exp) - target logit.
// Backward needs no communication: d loss / d logits = softmax - onehot(target),
// restricted to this rank's shard.
#pragma once

#include <cstdint>

#include <ATen/ATen.h>

#include "distributed/communicator.h"

namespace alro::losses {

/// Targets equal to this (or any negative id) are ignored: loss 0, gradient 0.
inline constexpr int64_t kIgnoreTarget = -100;

/// Cross-entropy of each row: `local_logits` [..., Vs] is this rank's shard
/// of the vocabulary starting at global id `vocab_start`; `targets` [...]
/// (int64, same leading shape) are global token ids. Returns the per-row loss
/// [...] (float32, or double for double logits), identical on every rank of
/// `tp`. Differentiable with respect to `local_logits`. Every rank of `tp`
/// must call it with the same targets.
at::Tensor VocabParallelCrossEntropy(const at::Tensor& local_logits, const at::Tensor& targets,
                                     int64_t vocab_start, dist::Communicator& tp);

}  // namespace alro::losses
