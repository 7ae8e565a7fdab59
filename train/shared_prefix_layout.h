// train/shared_prefix_layout.h: the rows a training micro-batch is computed
// in: a list and its PSL copies packed around their common token prefix
// (objective.shared_prefix), and several lists (or groups) packed into one
// row instead of padding every row to the longest (objective.pack_lists).
//
// The loader emits each list followed by P permuted copies; they differ only
// from the first candidate line on, so the instruction and the rated history
// are the same tokens in all 1 + P rows. A shared group is one *segment*
//   [shared prefix (L tokens) | suffix of the original | suffix of copy 1 | ...]
// where L is the longest common token prefix of the group's rows (found by
// comparing tokens; nothing about the prompt template is assumed). Without
// sharing, each rendering is a segment of its own (its whole row is its
// "prefix"). Every token keeps the rotary position it has in its own row
// (0, 1, ...; suffixes continue at L, L+1, ...) and attends to the earlier
// tokens of its segment's prefix and of its own suffix only (a tree-shaped,
// block-diagonal mask), so each rendering's hidden states are those of the
// one-row-per-rendering computation.
//
// Packing puts several segments into one row, first-fit decreasing, into
// rows no wider than the micro-batch's longest segment: it removes padding
// without lengthening any row. Padding tokens see themselves only (never an
// empty row, which would turn softmax into NaN) and no real token sees them.
// The objective reads the same answer slots as before through
// BatchTensors::answer_sources.
//
//   ALRO_ASSIGN_OR_RETURN(LayoutOptions layout, LayoutOptions::FromConfig(config));
//   BatchTensors b = *ToTrainingTensors(batch, pad_id, layout);
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

/// A layout choice of objective.shared_prefix and objective.pack_lists.
enum class LayoutMode {
  kNever,   ///< not used
  kAuto,    ///< used when the cost model says it computes less (ToTrainingTensors)
  kAlways,  ///< always used (tests, benchmarks)
};

/// objective.shared_prefix's choice (the name it had before packing existed).
using SharedPrefixMode = LayoutMode;

/// `text` ("auto", "always", "never") of config key `key` as a mode; anything
/// else is a user error naming the key.
absl::StatusOr<LayoutMode> ParseLayoutMode(const std::string& key, const std::string& text);

/// ParseLayoutMode("objective.shared_prefix", text).
absl::StatusOr<SharedPrefixMode> ParseSharedPrefixMode(const std::string& text);

/// Which layout a micro-batch may take, parsed once from the configuration.
struct LayoutOptions {
  LayoutMode shared_prefix = LayoutMode::kNever;  ///< objective.shared_prefix
  LayoutMode pack_lists = LayoutMode::kNever;     ///< objective.pack_lists
  double attention_entry_cost = 0;                ///< AttentionEntryCost(model)

  /// objective.shared_prefix, objective.pack_lists and the model's shape.
  static absl::StatusOr<LayoutOptions> FromConfig(const config::Config& config);
};

/// One concrete layout: segments are groups sharing their prefix (or single
/// renderings), one segment per row (or several, packed).
struct Layout {
  bool shared_prefix = false;  ///< a list and its copies form one segment around their common prefix
  bool packed = false;         ///< several segments per row (first-fit decreasing)
};

/// Rows of first-fit decreasing: the segments of `lengths` (indices), longest
/// first (ties in index order), each into the first row with room for it,
/// rows at most `width` tokens (every length must be <= width). Segments
/// within a row keep the order they were placed in.
std::vector<std::vector<size_t>> FirstFitDecreasing(const std::vector<int64_t>& lengths, int64_t width);

/// Length of the longest common token prefix of lists[first, first + count).
int64_t CommonPrefixLength(const std::vector<data::RenderedExample>& lists, size_t first, size_t count);

/// ToLayoutTensors(batch, pad_id, {.shared_prefix = true}): each group
/// (original + P copies) in one row of its own, tokens [lists, T'].
absl::StatusOr<BatchTensors> ToSharedPrefixTensors(const data::Batch& batch, int64_t pad_id);

/// `batch` in `layout`: per-list tensors as ToTensors; tokens, positions and
/// the mask of the segments (see the file comment), rows right-padded with
/// `pad_id` to the widest; answer_sources point into the packed rows;
/// real_tokens counts the tokens the model computes. Neither sharing nor
/// packing is ToTensors itself (causal, no mask).
absl::StatusOr<BatchTensors> ToLayoutTensors(const data::Batch& batch, int64_t pad_id, Layout layout);

/// The forward cost of one attention entry (a query-key pair: 4 x hidden
/// flops over all heads) relative to one token's projections and MLP
/// (2 x the weights of a layer), from the model's shape.
double AttentionEntryCost(const config::ModelConfig& model);

/// `batch` in the cheapest layout `options` allow. Every mode that is not
/// kNever may be used, kAlways must be; among those layouts the one with the
/// smallest
///   rows x (T + c x T^2)
/// (token slots plus attention entries, both dense over the padded rows, the
/// entries weighted by c = attention_entry_cost) wins, the simpler one on a
/// tie (causal before shared before packed). Sharing saves tokens but
/// lengthens the rows, and attention is computed densely under the mask:
/// lists whose common prefix is short (the demo's prompt without history)
/// keep the causal layout. Packing never lengthens a row, so it wins exactly
/// when it saves rows.
absl::StatusOr<BatchTensors> ToTrainingTensors(const data::Batch& batch, int64_t pad_id, const LayoutOptions& options);

}  // namespace alro::train
