// train/batch_tensors.h: a data::Batch (rendered token lists) as the tensors
// the model and the objective consume.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "data/rendered_example.h"

namespace alro::train {

/// One micro-batch of N rendered lists (originals and their permuted copies,
/// in the loader's order), m candidates each. ToTensors gives one row per
/// list (R = N, causal attention); train/shared_prefix_layout.h packs each
/// list with its copies into one row (R = N / (1 + P)).
struct BatchTensors {
  at::Tensor tokens;            ///< [R, T] int64, right-padded with the pad id
  at::Tensor answer_positions;  ///< [N, m] int64: index of answer slot k in its list's own tokens
  at::Tensor answer_sources;    ///< [N, m] int64: row * T + t of the token whose hidden state predicts slot k
  at::Tensor positions;         ///< [R, T] int64 rotary positions; undefined = 0..T-1 in every row
  at::Tensor attention_mask;    ///< [R, T, T] bool, true = masked; undefined = causal
  at::Tensor answer_targets;    ///< [N, m] int64: the token at each answer slot
  at::Tensor identifier_ids;    ///< [N, m] int64: token id of slot j's identifier
  at::Tensor ratings;           ///< [N, m] float32: rating of the item at slot j
  at::Tensor permutations;      ///< [N, m] int64: slot j shows original candidate perm[j]
  at::Tensor tie_ranks;         ///< [N, m] int64: tie rank of slot j's item (equal ratings, lower first)
  at::Tensor weights;           ///< [N] float32: 0 for evaluation padding
  int64_t real_tokens = 0;      ///< tokens the model computes (before padding), summed over rows
  int64_t lists = 0;            ///< original lists (copy_index 0)
  int64_t copies_per_list = 0;  ///< P
};

/// Packs `batch`. Every list must have the same m (the data set's list
/// length) and positions inside its tokens; `pad_id` fills the right padding
/// (its value never matters: attention is causal and padded positions are
/// never read). The rows must come as the loader makes them: each original
/// followed by the same number P of copies.
absl::StatusOr<BatchTensors> ToTensors(const data::Batch& batch, int64_t pad_id);

/// The same tensors on `device` (counts unchanged).
BatchTensors ToDevice(const BatchTensors& batch, c10::Device device);

/// hidden [R, T, H] -> [N, m, H]: the hidden states that predict each answer
/// slot, at `answer_sources` (BatchTensors; in one row per list that is
/// position answer_positions - 1: the model predicts token t from t - 1).
at::Tensor HiddenAtAnswerSlots(const at::Tensor& hidden, const at::Tensor& answer_sources);

}  // namespace alro::train
