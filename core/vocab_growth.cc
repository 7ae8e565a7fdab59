// core/vocab_growth.cc: the mean-of-sources rows of a grown vocabulary.
#include "core/vocab_growth.h"

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
  // must not depend on summation order.
  const at::Tensor rows = base.to(at::kDouble);
  const at::Tensor all_mean = rows.mean(0);
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
    out[static_cast<int64_t>(k)].copy_(rows.index_select(0, at::tensor(index, at::kLong)).mean(0));
  }
  return out.to(at::kFloat);
}

}  // namespace alro::core
