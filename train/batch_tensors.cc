// train/batch_tensors.cc: packing rendered lists into padded tensors.
#include "train/batch_tensors.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace alro::train {

absl::StatusOr<BatchTensors> ToTensors(const data::Batch& batch, int64_t pad_id) {
  const auto& rows = batch.lists;
  if (rows.empty()) return absl::InvalidArgumentError("ToTensors: empty batch");
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t m = static_cast<int64_t>(rows[0].answer_positions.size());
  int64_t t_max = 0;
  BatchTensors out;
  for (const data::RenderedExample& r : rows) {
    const bool consistent = static_cast<int64_t>(r.answer_positions.size()) == m &&
                            static_cast<int64_t>(r.identifier_ids.size()) == m &&
                            static_cast<int64_t>(r.ratings.size()) == m &&
                            (r.permutation.empty() || static_cast<int64_t>(r.permutation.size()) == m) &&
                            (r.tie_ranks.empty() || static_cast<int64_t>(r.tie_ranks.size()) == m);
    if (!consistent || m == 0) {
      return UserError(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("list ", r.example_id, " has ", r.answer_positions.size(),
                                    " answer slots, the batch's first list has ", m),
                       "every list of a data set must have the same number of candidates (alro convert --m)");
    }
    for (int32_t p : r.answer_positions) {
      if (p < 1 || p >= static_cast<int64_t>(r.tokens.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat("list ", r.example_id, ": answer position ", p, " outside its ", r.tokens.size(), " tokens"));
      }
    }
    t_max = std::max<int64_t>(t_max, static_cast<int64_t>(r.tokens.size()));
    out.real_tokens += static_cast<int64_t>(r.tokens.size());
    if (r.copy_index == 0) ++out.lists;
  }
  out.copies_per_list = out.lists > 0 ? n / out.lists - 1 : 0;
  if (out.lists * (1 + out.copies_per_list) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("ToTensors: ", n, " rows are not ", out.lists, " lists with equal numbers of copies"));
  }
  out.tokens = at::full({n, t_max}, pad_id, at::kLong);
  out.answer_positions = at::empty({n, m}, at::kLong);
  out.answer_sources = at::empty({n, m}, at::kLong);
  out.answer_targets = at::empty({n, m}, at::kLong);
  out.identifier_ids = at::empty({n, m}, at::kLong);
  out.ratings = at::empty({n, m}, at::kFloat);
  out.permutations = at::empty({n, m}, at::kLong);
  out.tie_ranks = at::empty({n, m}, at::kLong);
  out.weights = at::empty({n}, at::kFloat);
  auto tokens = out.tokens.accessor<int64_t, 2>();
  auto positions = out.answer_positions.accessor<int64_t, 2>();
  auto sources = out.answer_sources.accessor<int64_t, 2>();
  auto targets = out.answer_targets.accessor<int64_t, 2>();
  auto ids = out.identifier_ids.accessor<int64_t, 2>();
  auto ratings = out.ratings.accessor<float, 2>();
  auto perms = out.permutations.accessor<int64_t, 2>();
  auto ties = out.tie_ranks.accessor<int64_t, 2>();
  auto weights = out.weights.accessor<float, 1>();
  for (int64_t i = 0; i < n; ++i) {
    const data::RenderedExample& r = rows[i];
    for (size_t t = 0; t < r.tokens.size(); ++t) tokens[i][t] = r.tokens[t];
    for (int64_t k = 0; k < m; ++k) {
      positions[i][k] = r.answer_positions[k];
      sources[i][k] = i * t_max + r.answer_positions[k] - 1;
      targets[i][k] = r.tokens[r.answer_positions[k]];
      ids[i][k] = r.identifier_ids[k];
      ratings[i][k] = r.ratings[k];
      perms[i][k] = r.permutation.empty() ? k : r.permutation[k];
      // Without a tie draw (hand-made lists), the original candidate index.
      ties[i][k] = r.tie_ranks.empty() ? perms[i][k] : r.tie_ranks[k];
    }
    weights[i] = r.weight;
  }
  return out;
}

BatchTensors ToDevice(const BatchTensors& batch, c10::Device device) {
  BatchTensors out = batch;
  for (at::Tensor* t : {&out.tokens, &out.answer_positions, &out.answer_sources, &out.positions,
                        &out.attention_mask, &out.answer_targets, &out.identifier_ids, &out.ratings,
                        &out.permutations, &out.tie_ranks, &out.weights}) {
    if (t->defined()) *t = t->to(device);
  }
  return out;
}

at::Tensor HiddenAtAnswerSlots(const at::Tensor& hidden, const at::Tensor& answer_sources) {
  const int64_t width = hidden.size(-1);
  return hidden.reshape({-1, width})
      .index_select(0, answer_sources.reshape({-1}))
      .view({answer_sources.size(0), answer_sources.size(1), width});
}

}  // namespace alro::train
