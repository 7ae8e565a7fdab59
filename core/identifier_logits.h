// core/identifier_logits.h: the logits of the m identifier tokens (the
// one-token labels of the candidate slots) taken from vocabulary-parallel
// logits, without gathering the full vocabulary.
//
// Each identifier id lies in exactly one rank's shard: that rank gathers the
// column, the others contribute zero, and one all-reduce of the [N, m] result
// (ReduceFromTensorParallelRegion) assembles it on every rank. Backward sends
// each rank the full [N, m] gradient and its own columns pick it up.
#pragma once

#include <cstdint>

#include <ATen/ATen.h>

#include "distributed/communicator.h"

namespace alro::core {

class Decoder;

/// local_logits [N, Vs] (this rank's vocabulary shard starting at global id
/// `vocab_start`), identifier_ids [N, m] global token ids -> [N, m] logits,
/// identical on every tensor-parallel rank, differentiable.
at::Tensor IdentifierLogits(const at::Tensor& local_logits, const at::Tensor& identifier_ids, int64_t vocab_start,
                            dist::Communicator& tp);

/// The ranking matrix inputs for a batch of rendered lists: hidden [B, T, H]
/// from Decoder::Forward, answer_positions [B, K] (index in the tokens of the
/// k-th answer identifier; K = m for all slots, 1 for the first),
/// identifier_ids [B, m] -> [B, K, m] float32 logits where [b, k, j] is the
/// logit of slot j's identifier at answer slot k, read at position
/// answer_positions[b, k] - 1 (the model predicts token t from t-1).
at::Tensor SlotIdentifierLogits(Decoder& model, const at::Tensor& hidden, const at::Tensor& answer_positions,
                                const at::Tensor& identifier_ids);

}  // namespace alro::core
