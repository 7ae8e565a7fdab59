// core/rotary_embedding.cc: RoPE tables (computed in double) and rotation.
#include "core/rotary_embedding.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"

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
  const at::ScalarType dtype = x.scalar_type();
  const at::Tensor cos = cos_.narrow(0, start, t).view({1, t, 1, half}).to(dtype);
  const at::Tensor sin = sin_.narrow(0, start, t).view({1, t, 1, half}).to(dtype);
  const at::Tensor x1 = x.narrow(-1, 0, half);
  const at::Tensor x2 = x.narrow(-1, half, half);
  return at::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
}

}  // namespace alro::core
