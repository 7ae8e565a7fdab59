// train/shared_prefix_layout.cc: the segments of a micro-batch (groups
// around their common prefix, or single renderings), packed into rows (see
// shared_prefix_layout.h).
#include "train/shared_prefix_layout.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace alro::train {
namespace {

// Where the renderings [first, first + count) of one segment go in it.
struct Segment {
  size_t first = 0;                   // the segment's first rendering (batch row)
  int64_t prefix = 0;                 // common prefix length L (a lone rendering: all of it)
  std::vector<int64_t> suffix_start;  // index in the segment of each rendering's first suffix token
  int64_t length = 0;                 // L + sum of the suffixes
};

// One segment per `group_size` consecutive renderings.
std::vector<Segment> PlanSegments(const std::vector<data::RenderedExample>& lists, int64_t group_size) {
  std::vector<Segment> segments;
  for (size_t first = 0; first < lists.size(); first += static_cast<size_t>(group_size)) {
    Segment segment;
    segment.first = first;
    segment.prefix = CommonPrefixLength(lists, first, static_cast<size_t>(group_size));
    segment.length = segment.prefix;
    for (int64_t r = 0; r < group_size; ++r) {
      segment.suffix_start.push_back(segment.length);
      segment.length += static_cast<int64_t>(lists[first + static_cast<size_t>(r)].tokens.size()) - segment.prefix;
    }
    segments.push_back(std::move(segment));
  }
  return segments;
}

// Index in its segment of position p of the segment's rendering r.
int64_t SegmentIndex(const Segment& segment, int64_t r, int64_t p) {
  return p < segment.prefix ? p : segment.suffix_start[static_cast<size_t>(r)] + (p - segment.prefix);
}

// A layout made concrete: the segments and which go in each row.
struct RowPlan {
  std::vector<Segment> segments;
  std::vector<std::vector<size_t>> rows;  // segment indices per row, in row order
  int64_t width = 0;                      // the widest row
};

RowPlan PlanRows(const std::vector<data::RenderedExample>& lists, int64_t copies_per_list, Layout layout) {
  RowPlan plan;
  plan.segments = PlanSegments(lists, layout.shared_prefix ? 1 + copies_per_list : 1);
  std::vector<int64_t> lengths;
  for (const Segment& segment : plan.segments) lengths.push_back(segment.length);
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  if (layout.packed) {
    plan.rows = FirstFitDecreasing(lengths, longest);
  } else {
    for (size_t s = 0; s < lengths.size(); ++s) plan.rows.push_back({s});
  }
  plan.width = longest;  // packing fills rows up to the longest segment, never past it
  return plan;
}

// Query q reads key k iff k <= q, both lie in the same segment, and the key
// is in the segment's prefix (branch 0) or in q's own suffix. The mask is the
// negation (true = masked).
at::Tensor SegmentMask(const at::Tensor& segment, const at::Tensor& branch) {
  const int64_t t = branch.size(1);
  const at::Tensor index = at::arange(t, at::kLong);
  const at::Tensor not_future = index.view({1, 1, t}) <= index.view({1, t, 1});  // [1, q, k]
  const at::Tensor same_segment = segment.unsqueeze(1) == segment.unsqueeze(2);
  const at::Tensor key = branch.unsqueeze(1), query = branch.unsqueeze(2);
  return ~(not_future & same_segment & ((key == 0) | (key == query)));
}

// `out` (ToTensors' result for `lists`) laid out as `plan` says.
absl::StatusOr<BatchTensors> Pack(const std::vector<data::RenderedExample>& lists, BatchTensors out,
                                  const RowPlan& plan, int64_t pad_id) {
  const int64_t group_size = 1 + out.copies_per_list;
  for (size_t i = 0; i < lists.size(); ++i) {
    if (lists[i].copy_index != static_cast<int32_t>(static_cast<int64_t>(i) % group_size)) {
      return absl::InvalidArgumentError(absl::StrCat("layout: row ", i, " (list ", lists[i].example_id,
                                                     ") has copy_index ", lists[i].copy_index,
                                                     "; rows must come as each original followed by its copies"));
    }
  }
  const int64_t rows = static_cast<int64_t>(plan.rows.size()), width = plan.width;
  out.real_tokens = 0;
  for (const Segment& segment : plan.segments) out.real_tokens += segment.length;
  out.tokens = at::full({rows, width}, pad_id, at::kLong);
  out.positions = at::zeros({rows, width}, at::kLong);
  at::Tensor segment_ids = at::empty({rows, width}, at::kLong), branch = at::zeros({rows, width}, at::kLong);
  auto tokens = out.tokens.accessor<int64_t, 2>();
  auto positions = out.positions.accessor<int64_t, 2>();
  auto segments = segment_ids.accessor<int64_t, 2>();
  auto branches = branch.accessor<int64_t, 2>();
  auto answers = out.answer_positions.accessor<int64_t, 2>();
  auto sources = out.answer_sources.accessor<int64_t, 2>();
  const int64_t m = out.answer_positions.size(1);
  for (int64_t g = 0; g < rows; ++g) {
    for (int64_t j = 0; j < width; ++j) segments[g][j] = -1 - j;  // padding: a segment of its own
    int64_t offset = 0;
    for (size_t s : plan.rows[static_cast<size_t>(g)]) {
      const Segment& segment = plan.segments[s];
      const int64_t renderings = static_cast<int64_t>(segment.suffix_start.size());
      for (int64_t r = 0; r < renderings; ++r) {
        const int64_t row = static_cast<int64_t>(segment.first) + r;
        const std::vector<int32_t>& row_tokens = lists[static_cast<size_t>(row)].tokens;
        for (int64_t p = 0; p < static_cast<int64_t>(row_tokens.size()); ++p) {
          const int64_t j = offset + SegmentIndex(segment, r, p);
          tokens[g][j] = row_tokens[static_cast<size_t>(p)];
          positions[g][j] = p;
          segments[g][j] = static_cast<int64_t>(s);
          branches[g][j] = p < segment.prefix ? 0 : 1 + r;
        }
        // The hidden state that predicts answer slot k sits at the packed
        // index of the token before it, which may lie in the shared prefix.
        for (int64_t k = 0; k < m; ++k) {
          sources[row][k] = g * width + offset + SegmentIndex(segment, r, answers[row][k] - 1);
        }
      }
      offset += segment.length;
    }
  }
  out.attention_mask = SegmentMask(segment_ids, branch);
  return out;
}

}  // namespace

absl::StatusOr<LayoutMode> ParseLayoutMode(const std::string& key, const std::string& text) {
  if (text == "auto") return LayoutMode::kAuto;
  if (text == "always") return LayoutMode::kAlways;
  if (text == "never") return LayoutMode::kNever;
  return UserError(absl::StatusCode::kInvalidArgument, absl::StrCat(key, ": unknown value \"", text, "\""),
                   "use auto, always or never (docs/configuration.md)");
}

absl::StatusOr<SharedPrefixMode> ParseSharedPrefixMode(const std::string& text) {
  return ParseLayoutMode("objective.shared_prefix", text);
}

absl::StatusOr<LayoutOptions> LayoutOptions::FromConfig(const config::Config& config) {
  LayoutOptions options;
  ALRO_ASSIGN_OR_RETURN(options.shared_prefix, ParseSharedPrefixMode(config.objective.shared_prefix));
  ALRO_ASSIGN_OR_RETURN(options.pack_lists, ParseLayoutMode("objective.pack_lists", config.objective.pack_lists));
  options.attention_entry_cost = AttentionEntryCost(config.model);
  return options;
}

std::vector<std::vector<size_t>> FirstFitDecreasing(const std::vector<int64_t>& lengths, int64_t width) {
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  std::vector<std::vector<size_t>> rows;
  std::vector<int64_t> free;  // room left in each row
  for (size_t s : order) {
    size_t row = 0;
    while (row < rows.size() && free[row] < lengths[s]) ++row;
    if (row == rows.size()) {
      rows.emplace_back();
      free.push_back(width);
    }
    rows[row].push_back(s);
    free[row] -= lengths[s];
  }
  return rows;
}

int64_t CommonPrefixLength(const std::vector<data::RenderedExample>& lists, size_t first, size_t count) {
  if (count == 0) return 0;
  const std::vector<int32_t>& head = lists[first].tokens;
  size_t length = head.size();
  for (size_t i = first + 1; i < first + count; ++i) {
    const std::vector<int32_t>& row = lists[i].tokens;
    length = std::min(length, row.size());
    length = static_cast<size_t>(
        std::mismatch(head.begin(), head.begin() + static_cast<std::ptrdiff_t>(length), row.begin()).first -
        head.begin());
  }
  return static_cast<int64_t>(length);
}

absl::StatusOr<BatchTensors> ToSharedPrefixTensors(const data::Batch& batch, int64_t pad_id) {
  return ToLayoutTensors(batch, pad_id, Layout{/*shared_prefix=*/true, /*packed=*/false});
}

absl::StatusOr<BatchTensors> ToLayoutTensors(const data::Batch& batch, int64_t pad_id, Layout layout) {
  ALRO_ASSIGN_OR_RETURN(BatchTensors causal, ToTensors(batch, pad_id));
  if (!layout.shared_prefix && !layout.packed) return causal;
  const RowPlan plan = PlanRows(batch.lists, causal.copies_per_list, layout);
  return Pack(batch.lists, std::move(causal), plan, pad_id);
}

double AttentionEntryCost(const config::ModelConfig& model) {
  const double hidden = static_cast<double>(model.hidden_size);
  const double kv_width = hidden / static_cast<double>(model.num_heads) * static_cast<double>(model.num_kv_heads);
  const double weights =
      hidden * (2 * hidden + 2 * kv_width) + 3 * hidden * static_cast<double>(model.intermediate_size);
  return 4 * hidden / (2 * weights);
}

absl::StatusOr<BatchTensors> ToTrainingTensors(const data::Batch& batch, int64_t pad_id, const LayoutOptions& options) {
  ALRO_ASSIGN_OR_RETURN(BatchTensors causal, ToTensors(batch, pad_id));
  const auto allowed = [](LayoutMode mode, bool used) {
    return mode == LayoutMode::kAlways ? used : mode == LayoutMode::kNever ? !used : true;
  };
  const auto cost = [&](int64_t rows, int64_t length) {
    const double t = static_cast<double>(length);
    return static_cast<double>(rows) * (t + options.attention_entry_cost * t * t);
  };
  // The candidates in order of simplicity; the decision needs only the plans.
  bool found = false;
  Layout best;
  RowPlan best_plan;
  double best_cost = 0;
  for (const Layout layout : {Layout{false, false}, Layout{true, false}, Layout{false, true}, Layout{true, true}}) {
    if (!allowed(options.shared_prefix, layout.shared_prefix) || !allowed(options.pack_lists, layout.packed)) {
      continue;
    }
    RowPlan plan;
    double c = cost(causal.tokens.size(0), causal.tokens.size(1));
    if (layout.shared_prefix || layout.packed) {
      plan = PlanRows(batch.lists, causal.copies_per_list, layout);
      c = cost(static_cast<int64_t>(plan.rows.size()), plan.width);
    }
    if (!found || c < best_cost) {
      found = true;
      best = layout;
      best_plan = std::move(plan);
      best_cost = c;
    }
  }
  if (!best.shared_prefix && !best.packed) return causal;
  return Pack(batch.lists, std::move(causal), best_plan, pad_id);
}

}  // namespace alro::train
