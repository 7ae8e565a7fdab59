// train/shared_prefix_layout.cc: packing groups of a list and its copies
// around their common prefix (see shared_prefix_layout.h).
#include "train/shared_prefix_layout.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace alro::train {
namespace {

// Where one group's rows go in its packed row.
struct GroupPlan {
  int64_t prefix = 0;                 // common prefix length L
  std::vector<int64_t> suffix_start;  // packed index of each row's first suffix token
  int64_t length = 0;                 // packed length: L + sum of the suffixes
};

std::vector<GroupPlan> PlanGroups(const std::vector<data::RenderedExample>& lists, int64_t group_size) {
  std::vector<GroupPlan> plans;
  for (size_t first = 0; first < lists.size(); first += static_cast<size_t>(group_size)) {
    GroupPlan plan;
    plan.prefix = CommonPrefixLength(lists, first, static_cast<size_t>(group_size));
    plan.length = plan.prefix;
    for (int64_t r = 0; r < group_size; ++r) {
      plan.suffix_start.push_back(plan.length);
      plan.length += static_cast<int64_t>(lists[first + static_cast<size_t>(r)].tokens.size()) - plan.prefix;
    }
    plans.push_back(std::move(plan));
  }
  return plans;
}

// Packed index of position p of row r of a group.
int64_t PackedIndex(const GroupPlan& plan, int64_t r, int64_t p) {
  return p < plan.prefix ? p : plan.suffix_start[static_cast<size_t>(r)] + (p - plan.prefix);
}

// Which branch each packed token belongs to: 0 = the shared prefix, 1 + r =
// the suffix of row r, and a distinct negative id for each padding token.
// Query q reads key k iff k <= q and the key is in the prefix or in q's own
// branch; the mask is the negation (true = masked).
at::Tensor TreeMask(const at::Tensor& branch) {
  const int64_t t = branch.size(1);
  const at::Tensor index = at::arange(t, at::kLong);
  const at::Tensor not_future = index.view({1, 1, t}) <= index.view({1, t, 1});  // [1, q, k]
  const at::Tensor key = branch.unsqueeze(1), query = branch.unsqueeze(2);
  return ~(not_future & ((key == 0) | (key == query)));
}

// `out` (ToTensors' result for `lists`) with its groups packed as `plans` say.
absl::StatusOr<BatchTensors> Pack(const std::vector<data::RenderedExample>& lists, BatchTensors out,
                                  const std::vector<GroupPlan>& plans, int64_t pad_id) {
  const int64_t group_size = 1 + out.copies_per_list;
  for (size_t i = 0; i < lists.size(); ++i) {
    if (lists[i].copy_index != static_cast<int32_t>(static_cast<int64_t>(i) % group_size)) {
      return absl::InvalidArgumentError(absl::StrCat("shared prefix: row ", i, " (list ",
                                                     lists[i].example_id, ") has copy_index ", lists[i].copy_index,
                                                     "; rows must come as each original followed by its copies"));
    }
  }
  int64_t width = 0;
  out.real_tokens = 0;
  for (const GroupPlan& plan : plans) {
    width = std::max(width, plan.length);
    out.real_tokens += plan.length;
  }
  const int64_t groups = static_cast<int64_t>(plans.size());
  out.tokens = at::full({groups, width}, pad_id, at::kLong);
  out.positions = at::zeros({groups, width}, at::kLong);
  at::Tensor branch = at::empty({groups, width}, at::kLong);
  auto tokens = out.tokens.accessor<int64_t, 2>();
  auto positions = out.positions.accessor<int64_t, 2>();
  auto branches = branch.accessor<int64_t, 2>();
  auto answers = out.answer_positions.accessor<int64_t, 2>();
  auto sources = out.answer_sources.accessor<int64_t, 2>();
  const int64_t m = out.answer_positions.size(1);
  for (int64_t g = 0; g < groups; ++g) {
    const GroupPlan& plan = plans[static_cast<size_t>(g)];
    for (int64_t j = 0; j < width; ++j) branches[g][j] = -1 - j;  // padding: a branch of its own
    for (int64_t r = 0; r < group_size; ++r) {
      const int64_t row = g * group_size + r;
      const std::vector<int32_t>& row_tokens = lists[static_cast<size_t>(row)].tokens;
      for (int64_t p = 0; p < static_cast<int64_t>(row_tokens.size()); ++p) {
        const int64_t j = PackedIndex(plan, r, p);
        tokens[g][j] = row_tokens[static_cast<size_t>(p)];
        positions[g][j] = p;
        branches[g][j] = p < plan.prefix ? 0 : 1 + r;
      }
      // The hidden state that predicts answer slot k sits at the packed
      // index of the token before it, which may lie in the shared prefix.
      for (int64_t k = 0; k < m; ++k) sources[row][k] = g * width + PackedIndex(plan, r, answers[row][k] - 1);
    }
  }
  out.attention_mask = TreeMask(branch);
  return out;
}

}  // namespace

absl::StatusOr<SharedPrefixMode> ParseSharedPrefixMode(const std::string& text) {
  if (text == "auto") return SharedPrefixMode::kAuto;
  if (text == "always") return SharedPrefixMode::kAlways;
  if (text == "never") return SharedPrefixMode::kNever;
  return UserError(absl::StatusCode::kInvalidArgument,
                   absl::StrCat("objective.shared_prefix: unknown value \"", text, "\""),
                   "use auto, always or never (docs/configuration.md)");
}

int64_t CommonPrefixLength(const std::vector<data::RenderedExample>& lists, size_t first, size_t count) {
  if (count == 0) return 0;
  const std::vector<int32_t>& head = lists[first].tokens;
  size_t length = head.size();
  for (size_t i = first + 1; i < first + count; ++i) {
    const std::vector<int32_t>& row = lists[i].tokens;
    length = std::min(length, row.size());
    length = static_cast<size_t>(std::mismatch(head.begin(), head.begin() + static_cast<std::ptrdiff_t>(length),
                                               row.begin())
                                     .first -
                                 head.begin());
  }
  return static_cast<int64_t>(length);
}

absl::StatusOr<BatchTensors> ToSharedPrefixTensors(const data::Batch& batch, int64_t pad_id) {
  ALRO_ASSIGN_OR_RETURN(BatchTensors unshared, ToTensors(batch, pad_id));
  const std::vector<GroupPlan> plans = PlanGroups(batch.lists, 1 + unshared.copies_per_list);
  return Pack(batch.lists, std::move(unshared), plans, pad_id);
}

double AttentionEntryCost(const config::ModelConfig& model) {
  const double hidden = static_cast<double>(model.hidden_size);
  const double kv_width = hidden / static_cast<double>(model.num_heads) * static_cast<double>(model.num_kv_heads);
  const double weights = hidden * (2 * hidden + 2 * kv_width) + 3 * hidden * static_cast<double>(model.intermediate_size);
  return 4 * hidden / (2 * weights);
}

absl::StatusOr<BatchTensors> ToTrainingTensors(const data::Batch& batch, int64_t pad_id, SharedPrefixMode mode,
                                               double attention_entry_cost) {
  if (mode == SharedPrefixMode::kNever) return ToTensors(batch, pad_id);
  if (mode == SharedPrefixMode::kAlways) return ToSharedPrefixTensors(batch, pad_id);
  ALRO_ASSIGN_OR_RETURN(BatchTensors unshared, ToTensors(batch, pad_id));
  if (unshared.copies_per_list == 0) return unshared;
  // The decision needs only the packed lengths.
  const std::vector<GroupPlan> plans = PlanGroups(batch.lists, 1 + unshared.copies_per_list);
  int64_t width = 0;
  for (const GroupPlan& plan : plans) width = std::max(width, plan.length);
  const auto cost = [&](int64_t rows, int64_t length) {
    const double t = static_cast<double>(length);
    return static_cast<double>(rows) * (t + attention_entry_cost * t * t);
  };
  if (cost(unshared.lists, width) < cost(unshared.tokens.size(0), unshared.tokens.size(1))) {
    return Pack(batch.lists, std::move(unshared), plans, pad_id);
  }
  return unshared;
}

}  // namespace alro::train
