// core/vocab_growth.h: a pretrained model's vocabulary grown by new tokens
// at load time (item tokens, docs/data.md "Item tokens").
//
// The checkpoint's V rows of the token embedding (and of an untied LM head)
// stay rows 0..V-1; the model has V + n rows, and new row V+k starts as the
// mean of the checkpoint rows its sources name (an item's title pieces), so
// a new token begins near what its text means instead of at random. The
// same rule fills the LM head's new rows from the head's own rows, so a tied
// and an untied model grow alike. Computed in double precision from the
// checkpoint's full tensor on every rank, which then keeps only the rows of
// its vocabulary shard: no communication, and every tensor-parallel size
// gets the same values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace alro::core {

class Decoder;

/// How the vocabulary grows (see the file comment).
struct VocabGrowth {
  /// V: the checkpoint's vocab_size.
  int64_t checkpoint_vocab = 0;
  /// sources[k]: the token ids (< V) whose rows' mean starts row V+k; empty
  /// means the mean of all V rows (e.g. <item_other>, which stands for every
  /// item without a token).
  std::vector<std::vector<int32_t>> sources;

  /// V + number of new rows.
  int64_t grown_vocab() const { return checkpoint_vocab + static_cast<int64_t>(sources.size()); }
};

/// The new rows [sources.size(), hidden] (float32) for the checkpoint tensor
/// `base` [V, hidden] (any floating dtype). Fails when `base` does not have
/// V rows or a source id is outside [0, V).
absl::StatusOr<at::Tensor> GrownRows(const at::Tensor& base, const VocabGrowth& growth);

/// LoadHfCheckpoint (core/hf_checkpoint.h) into a model of
/// growth.grown_vocab() tokens from a checkpoint whose embedding and LM head
/// have growth.checkpoint_vocab rows: those fill the first rows of each
/// rank's shard, the new rows start from GrownRows. Every other tensor and
/// check as LoadHfCheckpoint (it shares their code in hf_checkpoint.cc).
absl::Status LoadGrownHfCheckpoint(const std::string& dir, Decoder& model, const VocabGrowth& growth);

}  // namespace alro::core
