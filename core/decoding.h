// core/decoding.h: inference for the ranker.
//
// - ConstrainedGreedyDecode: the model writes the answer one identifier at a
//   time with a KV cache; at each slot only identifiers not yet written are
//   allowed and the most likely one is taken, so the output is always a
//   permutation of the candidates.
// - ScoreFirstSlot: a single forward scores every candidate by its
//   identifier's logit at the first answer slot (ranking by one step).
//
// Both are collective over the tensor-parallel group: every rank runs them
// with the same inputs and gets the same result. Rows that begin with the
// same tokens (the presentation orders of one list) compute that prefix once
// (core/prefix_sharing.h); `sharing` kNever runs every row's whole prompt.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

#include "core/decoder.h"
#include "core/prefix_sharing.h"

namespace alro::core {

/// The decoded answers of a batch.
struct DecodedPermutations {
  /// [B][m]: order[b][k] = the slot whose identifier was written k-th.
  std::vector<std::vector<int64_t>> order;
  /// [B, m, m] float32 on the CPU: the identifier logits at each answer
  /// slot, as the model saw them (before masking the identifiers already
  /// written).
  at::Tensor step_logits;
};

/// Decodes a ranking for each of B prompts of equal length T (prompts [B, T]
/// int64, ending just before the first answer identifier), with identifiers
/// identifier_ids [B, m]. `separator` is fed after each written identifier
/// (the tokens the answer format puts between identifiers, e.g. ","); empty
/// when identifiers follow each other directly. Runs without gradients.
DecodedPermutations ConstrainedGreedyDecode(Decoder& model, const at::Tensor& prompts,
                                            const at::Tensor& identifier_ids,
                                            const std::vector<int64_t>& separator = {},
                                            PrefixSharing sharing = PrefixSharing::kAuto);

/// tokens [B, T] right-padded, first_answer_position [B] (index of the first
/// answer identifier in each row), identifier_ids [B, m] -> [B, m] float32
/// scores, higher = ranked earlier. Differentiable (usable as a training
/// objective); wrap in at::NoGradGuard for inference. Prefixes are shared
/// only without gradients (the KV cache is written in place).
at::Tensor ScoreFirstSlot(Decoder& model, const at::Tensor& tokens, const at::Tensor& first_answer_position,
                          const at::Tensor& identifier_ids, PrefixSharing sharing = PrefixSharing::kAuto);

}  // namespace alro::core
