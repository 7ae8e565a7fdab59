// train/grad_spans.cc: merging adjacent views into spans (see grad_spans.h).
#include "train/grad_spans.h"

#include <algorithm>
#include <cstdint>
#include <tuple>

namespace alro::train {

std::vector<at::Tensor> ContiguousSpans(const std::vector<at::Tensor>& tensors) {
  std::vector<at::Tensor> spans;
  std::vector<const at::Tensor*> mergeable;
  for (const at::Tensor& t : tensors) {
    if (!t.defined()) continue;
    if (t.is_contiguous() && t.numel() > 0 && t.has_storage()) {
      mergeable.push_back(&t);
    } else {
      spans.push_back(t);
    }
  }
  // Same storage, then by position in it: adjacent slots of one buffer end
  // up next to each other whatever order the parameters come in.
  auto key = [](const at::Tensor* t) {
    return std::make_tuple(t->storage().unsafeGetStorageImpl(), static_cast<int>(t->scalar_type()),
                           t->storage_offset());
  };
  std::stable_sort(mergeable.begin(), mergeable.end(),
                   [&](const at::Tensor* a, const at::Tensor* b) { return key(a) < key(b); });
  size_t i = 0;
  while (i < mergeable.size()) {
    const at::Tensor& first = *mergeable[i];
    const int64_t start = first.storage_offset();
    int64_t end = start + first.numel();
    size_t j = i + 1;
    for (; j < mergeable.size(); ++j) {
      const at::Tensor& next = *mergeable[j];
      if (next.storage().unsafeGetStorageImpl() != first.storage().unsafeGetStorageImpl() ||
          next.scalar_type() != first.scalar_type() || next.storage_offset() != end) {
        break;
      }
      end += next.numel();
    }
    if (j == i + 1) {
      spans.push_back(first.view({-1}));
    } else {
      // A view of `first` (sharing its version counter) over the whole run.
      spans.push_back(first.as_strided({end - start}, {1}, start));
    }
    i = j;
  }
  return spans;
}

}  // namespace alro::train
