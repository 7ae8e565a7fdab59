// train/grad_spans.h: the gradients of a parameter list as few contiguous
// spans, so that per-step passes over them (the global norm, clipping,
// zeroing) cost one operation per flat buffer instead of one per parameter.
//
// dist::GradientSynchronizer makes every gradient a view of its bucket's flat
// buffer; consecutive views of one buffer merge into a single 1-D span here.
// Gradients that are not such views (a single process without a
// synchronizer, tests that assign .grad) stay spans of their own, so the
// callers need no flat buffer to be correct, only to be fast.
#pragma once

#include <vector>

#include <ATen/ATen.h>

namespace alro::train {

/// 1-D views that together cover exactly the elements of the defined
/// tensors of `tensors` (undefined ones are skipped): contiguous tensors
/// that are adjacent in one storage (same dtype and device) merge into one
/// span; any other tensor is returned as itself. Overlapping tensors are
/// never merged, so an element covered twice by `tensors` is covered twice
/// by the spans. Writing through a span writes the tensors.
std::vector<at::Tensor> ContiguousSpans(const std::vector<at::Tensor>& tensors);

}  // namespace alro::train
