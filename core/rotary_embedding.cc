// core/rotary_embedding.cc: RoPE tables (computed in double) and rotation at
// contiguous or explicit per-token positions (the rotation itself is
// RotaryHeadsFirst, core/fused_ops.h).
#include "core/rotary_embedding.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "core/fused_ops.h"

namespace alro::core {

RotaryEmbedding::RotaryEmbedding(int64_t head_dim, int64_t max_positions, double theta, c10::Device device)
    : head_dim_(head_dim), max_positions_(max_positions) {
  ALRO_CHECK(head_dim % 2 == 0, "RoPE needs an even head dimension, got ", head_dim);
  const at::TensorOptions f64 = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor inv_freq = at::pow(theta, -at::arange(0, head_dim, 2, f64) / static_cast<double>(head_dim));
  const at::Tensor angles = at::outer(at::arange(max_positions, f64), inv_freq);
  cos_ = angles.cos().to(device, at::kFloat);
  sin_ = angles.sin().to(device, at::kFloat);
}

at::Tensor RotaryEmbedding::Apply(const at::Tensor& x, int64_t start) const {
  const int64_t t = x.size(1);
  ALRO_CHECK(start >= 0 && start + t <= max_positions_, "positions [", start, ", ", start + t,
             ") exceed model.max_seq_len ", max_positions_);
  const int64_t half = head_dim_ / 2;
  return RotaryHeadsFirst(x, cos_.narrow(0, start, t).view({1, t, half}), sin_.narrow(0, start, t).view({1, t, half}));
}

at::Tensor RotaryEmbedding::Apply(const at::Tensor& x, const at::Tensor& positions) const {
  const int64_t b = x.size(0), t = x.size(1), half = head_dim_ / 2;
  ALRO_CHECK(positions.dim() == 2 && positions.size(0) == b && positions.size(1) == t,
             "RoPE positions must be [B, T] like the input's first two dimensions");
  // The same table rows as the contiguous form: a token at position p gets
  // bit-identical cos/sin whichever form computed it.
  const at::Tensor index = positions.reshape({-1});
  return RotaryHeadsFirst(x, cos_.index_select(0, index).view({b, t, half}),
                          sin_.index_select(0, index).view({b, t, half}));
}

}  // namespace alro::core
