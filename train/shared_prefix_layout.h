// train/shared_prefix_layout.h: a list and its PSL copies in one packed row
// that computes their common token prefix once (objective.shared_prefix).
//
// The loader emits each list followed by P permuted copies; they differ only
// from the first candidate line on, so the instruction and the rated history
// are the same tokens in all 1 + P rows. The packed row of a group is
//   [shared prefix (L tokens) | suffix of the original | suffix of copy 1 | ...]
// where L is the longest common token prefix of the group's rows (found by
// comparing tokens; nothing about the prompt template is assumed). Every
// suffix token keeps the rotary position it has in its own row (L, L+1, ...)
// and attends to the prefix and to the earlier tokens of its own suffix only
// (a tree-shaped mask), so each row's hidden states are those of the
// unshared computation. Padding tokens see the prefix and themselves (never
// an empty row, which would turn softmax into NaN) and no real token sees
// them. The objective reads the same answer slots as before through
// BatchTensors::answer_sources.
//
//   BatchTensors b = *ToTrainingTensors(batch, pad_id, SharedPrefixMode::kAuto,
//                                       AttentionEntryCost(config.model));
//   (MicroBatchLoss then runs Decoder::Forward(tokens, positions, mask))
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "data/rendered_example.h"
#include "train/batch_tensors.h"

namespace alro::train {

/// When a micro-batch is packed with shared prefixes (objective.shared_prefix).
enum class SharedPrefixMode {
  kNever,   ///< one row per list and per copy (the causal layout)
  kAuto,    ///< packed when the cost model says it computes less (ToTrainingTensors)
  kAlways,  ///< always packed (tests, benchmarks)
};

/// objective.shared_prefix ("auto", "always", "never") as a mode; anything
/// else is a user error naming the key.
absl::StatusOr<SharedPrefixMode> ParseSharedPrefixMode(const std::string& text);

/// Length of the longest common token prefix of lists[first, first + count).
int64_t CommonPrefixLength(const std::vector<data::RenderedExample>& lists, size_t first, size_t count);

/// `batch` with each group (original + P copies) packed into one row (see the
/// file comment). The per-list tensors (answer_positions, targets,
/// identifiers, ratings, permutations, tie ranks, weights) are ToTensors'
/// unchanged; tokens become [lists, T'] (right-padded with `pad_id` to the
/// longest packed row), positions and attention_mask are set, and
/// answer_sources point into the packed rows. real_tokens counts the packed
/// tokens (what the model computes).
absl::StatusOr<BatchTensors> ToSharedPrefixTensors(const data::Batch& batch, int64_t pad_id);

/// The forward cost of one attention entry (a query-key pair: 4 x hidden
/// flops over all heads) relative to one token's projections and MLP
/// (2 x the weights of a layer), from the model's shape.
double AttentionEntryCost(const config::ModelConfig& model);

/// ToTensors or ToSharedPrefixTensors as `mode` says. kAuto packs when
///   rows x (T + c x T^2)
/// (token slots plus attention entries, both dense over the padded rows, the
/// entries weighted by c = `attention_entry_cost`) is smaller packed than
/// unshared. Packing saves tokens but lengthens the rows, and attention is
/// computed densely under the mask: lists whose common prefix is short (the
/// demo's prompt without history) keep the causal layout.
absl::StatusOr<BatchTensors> ToTrainingTensors(const data::Batch& batch, int64_t pad_id, SharedPrefixMode mode,
                                               double attention_entry_cost);

}  // namespace alro::train
