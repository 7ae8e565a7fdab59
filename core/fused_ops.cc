// core/fused_ops.cc: the ALRO_FUSED_KERNELS switch and the dispatch between
// the fused CPU kernels and the composite forms.
#include "core/fused_ops.h"

#include <cmath>
#include <limits>

#include "common/env_switch.h"

namespace alro::core {
namespace {

bool UseFused(const at::Tensor& t) { return t.device().is_cpu() && FusedKernelsEnabled(); }

}  // namespace

bool FusedKernelsEnabled() {
  static const bool enabled = EnvSwitchOn("ALRO_FUSED_KERNELS");
  return enabled;
}

at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return UseFused(x) ? RmsNormFused(x, weight, eps) : RmsNormComposite(x, weight, eps);
}

at::Tensor RmsNormComposite(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return normed.to(x.scalar_type()) * weight.to(x.scalar_type());
}

ResidualNormed ResidualRmsNorm(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight, double eps) {
  return UseFused(x) ? ResidualRmsNormFused(x, delta, weight, eps) : ResidualRmsNormComposite(x, delta, weight, eps);
}

ResidualNormed ResidualRmsNormComposite(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight,
                                        double eps) {
  const at::Tensor sum = delta.defined() ? x + delta : x;
  return {sum, RmsNormComposite(sum, weight, eps)};
}

at::Tensor SwiGlu(const at::Tensor& gate, const at::Tensor& up) {
  return UseFused(gate) ? SwiGluFused(gate, up) : SwiGluComposite(gate, up);
}

at::Tensor SwiGluComposite(const at::Tensor& gate, const at::Tensor& up) { return at::silu(gate) * up; }

at::Tensor MaskedSoftmax(const at::Tensor& scores, const at::Tensor& mask, int64_t head_dim) {
  return UseFused(scores) ? MaskedSoftmaxFused(scores, mask, head_dim)
                          : MaskedSoftmaxComposite(scores, mask, head_dim);
}

at::Tensor MaskedSoftmaxComposite(const at::Tensor& scores, const at::Tensor& mask, int64_t head_dim) {
  const int64_t b = scores.size(0), kv = scores.size(1), s = scores.size(3);
  const int64_t t = mask.size(-2);
  const int64_t mask_rows = mask.dim() == 3 ? mask.size(0) : 1;
  const at::Tensor masked = (scores / std::sqrt(static_cast<double>(head_dim)))
                                .view({b, kv, -1, t, s})
                                .masked_fill(mask.reshape({mask_rows, 1, 1, t, s}),
                                             -std::numeric_limits<double>::infinity());
  return at::softmax(masked, -1).view(scores.sizes());
}

at::Tensor RotaryHeadsFirst(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return UseFused(x) ? RotaryHeadsFirstFused(x, cos, sin) : RotaryHeadsFirstComposite(x, cos, sin);
}

at::Tensor RotaryHeadsFirstComposite(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor c = cos.unsqueeze(2).to(x.scalar_type());  // [B or 1, T, 1, half] against x's heads
  const at::Tensor s = sin.unsqueeze(2).to(x.scalar_type());
  const at::Tensor x1 = x.narrow(-1, 0, half);
  const at::Tensor x2 = x.narrow(-1, half, half);
  return at::cat({x1 * c - x2 * s, x2 * c + x1 * s}, -1).transpose(1, 2);
}

}  // namespace alro::core
