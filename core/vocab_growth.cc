// core/vocab_growth.cc: the mean-of-sources rows of a grown vocabulary.
#include "core/vocab_growth.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace alro::core {

absl::StatusOr<at::Tensor> GrownRows(const at::Tensor& base, const VocabGrowth& growth) {
  const int64_t v = growth.checkpoint_vocab;
  if (base.dim() != 2 || base.size(0) != v) {
    return absl::InvalidArgumentError(absl::StrCat("vocabulary growth from ", v, " rows got a tensor of ",
                                                   base.dim(), " dimensions and ", base.dim() > 0 ? base.size(0) : 0,
                                                   " rows"));
  }
  // Double precision: the mean of many rows of a half-precision checkpoint
  // must not depend on summation order. The full table is converted a slice
  // at a time, so that a large vocabulary (128K x 4096) never exists in
  // double precision at once.
  constexpr int64_t kRowsPerSlice = 4096;
  at::Tensor all_sum = at::zeros({base.size(1)}, at::kDouble);
  for (int64_t r = 0; r < v; r += kRowsPerSlice) {
    all_sum += base.narrow(0, r, std::min(kRowsPerSlice, v - r)).to(at::kDouble).sum(0);
  }
  const at::Tensor all_mean = all_sum / static_cast<double>(v);
  at::Tensor out = at::empty({static_cast<int64_t>(growth.sources.size()), base.size(1)}, at::kDouble);
  for (size_t k = 0; k < growth.sources.size(); ++k) {
    const std::vector<int32_t>& ids = growth.sources[k];
    if (ids.empty()) {
      out[static_cast<int64_t>(k)].copy_(all_mean);
      continue;
    }
    std::vector<int64_t> index;
    for (int32_t id : ids) {
      if (id < 0 || id >= v) {
        return absl::InvalidArgumentError(absl::StrCat("new vocabulary row ", v + static_cast<int64_t>(k),
                                                       " starts from token ", id, ", outside the checkpoint's ",
                                                       v, " rows"));
      }
      index.push_back(id);
    }
    out[static_cast<int64_t>(k)].copy_(base.index_select(0, at::tensor(index, at::kLong)).to(at::kDouble).mean(0));
  }
  return out.to(at::kFloat);
}

}  // namespace alro::core
