// core/fused_answer_readout.h: the two things a training step reads from
// the LM head's logits at the answer slots, in one pass over each row:
//   - the negative log-likelihood of the true answer token (the LM loss per
//     token, losses::VocabParallelCrossEntropy's value), and
//   - the logits of the list's m identifiers (core::IdentifierLogits' value),
// with one backward that writes the logits' gradient once.
//
// Why: at the answer slots the logits are [N * m, Vs], the step's widest
// activation when the vocabulary is much larger than the hidden size (the
// demo: 1024 vs 64). Read separately, the cross-entropy takes six passes over
// it (max, subtract, exp, sum, divide; backward: scale, scatter), the
// identifier gather's backward zero-fills a second [N * m, Vs] tensor, and
// autograd adds the two gradients into a third. The fused kernel reads the
// logits once forward and once backward (recomputing the exponentials instead
// of saving the softmax) and writes one gradient.
//
// Vocabulary parallelism: rank r holds the logits of global ids
// [vocab_start, vocab_start + Vs). Each rank takes its row maximum and the
// sum of exp(x - local max); one all-reduce (max) gives the global maximum,
// every rank rescales its sum to it, and one all-reduce (sum) gives the sums
// and the target logits (only the rank whose shard holds the target
// contributes one). The identifier logits travel in a third all-reduce, as
// in IdentifierLogits. The backward needs no communication: every rank gets
// the full gradients of both outputs and writes its own columns.
#pragma once

#include <cstdint>

#include <ATen/ATen.h>

#include "distributed/communicator.h"

namespace alro::core {

/// The readout of FusedAnswerReadout.
struct AnswerReadout {
  /// [R] float32 (double for double logits): -log softmax(logits)[target],
  /// 0 where the target is negative (ignored).
  at::Tensor target_nll;
  /// [R, m] in the logits' dtype: the logit of each identifier id, identical
  /// on every tensor-parallel rank.
  at::Tensor identifier_logits;
};

/// local_logits [R, Vs] (CPU; float32, bf16, half or double; this rank's
/// vocabulary shard starting at global id `vocab_start`), targets [R] global
/// ids (negative = ignored), identifier_ids [R, m] global ids -> both
/// readings, differentiable with respect to local_logits. Equals
/// losses::VocabParallelCrossEntropy and IdentifierLogits on the same inputs
/// up to float rounding order. Use it where a step needs both (the trainer's
/// micro-batch loss); ALRO_FUSED_KERNELS=0 and non-CPU devices take the
/// separate functions instead (FusedKernelsEnabled, core/fused_ops.h).
AnswerReadout FusedAnswerReadout(const at::Tensor& local_logits, const at::Tensor& targets,
                                 const at::Tensor& identifier_ids, int64_t vocab_start, dist::Communicator& tp);

}  // namespace alro::core
