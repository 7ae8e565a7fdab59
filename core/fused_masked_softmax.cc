// core/fused_masked_softmax.cc: attention's scale, mask and softmax in one
// pass per row forward and one backward (the composite runs div,
// masked_fill, softmax and their three backward kernels, each a full pass
// over the [B, H, T, S] scores with its own allocation). Masked entries are
// never exponentiated: under a causal mask that is half of them. The row
// kernels are cloned per ISA (ALRO_VECTOR_CLONES, core/fused_math.h).
//
// Forward per row: v = x / sqrt(d) where unmasked, p = exp(v - max) / sum.
// Backward:        dx = p * (dp - sum(p * dp)) / sqrt(d)   (0 where masked).
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "core/fused_math.h"
#include "core/fused_ops.h"

namespace alro::core {
namespace {

// Where row r of the [B, KV, G * T, S] scores finds its mask row, and the
// span [lo, hi) of that mask row from its first to its last unmasked key
// (under a causal mask, query i's span is [0, i + 1)). Keys outside the span
// get probability 0 without being exponentiated.
struct MaskRows {
  const bool* data;
  const int64_t* spans;  // lo, hi per mask row (forward only)
  int64_t t, s, rows_per_batch;  // rows_per_batch = KV * G * T
  bool per_batch;
  int64_t Index(int64_t r) const { return (per_batch ? r / rows_per_batch : 0) * t + r % t; }
};

// The mask rows of scores x [B, KV, G * T, S] under a contiguous mask m.
MaskRows RowsOf(const at::Tensor& x, const at::Tensor& m, const int64_t* spans) {
  return {m.data_ptr<bool>(), spans, m.size(-2), m.size(-1), x.size(1) * x.size(2), m.dim() == 3};
}

// Rows [begin, end) of the forward: the softmax of each row's span, zeros
// outside it.
template <typename scalar_t>
ALRO_VECTOR_CLONES void ForwardRows(const scalar_t* xp, const MaskRows& mask, scalar_t scale, scalar_t* yp,
                                    int64_t begin, int64_t end) {
  const int64_t s = mask.s;
  // A product instead of a division per element: exact when head_dim is a
  // power of 4 (16, 64, 256), within 1 ulp of the composite's division
  // otherwise.
  const scalar_t inv_scale = scalar_t(1) / scale;
  std::vector<scalar_t> scratch(static_cast<size_t>(fused_math::PaddedWidth(s)));
  for (int64_t r = begin; r < end; ++r) {
    const scalar_t* __restrict xr = xp + r * s;
    scalar_t* __restrict yr = yp + r * s;
    const int64_t row = mask.Index(r);
    const int64_t lo = mask.spans[2 * row], hi = mask.spans[2 * row + 1];
    if (lo == hi) {
      // Every key masked: NaN, as the composite's softmax of all -inf.
      for (int64_t j = 0; j < s; ++j) yr[j] = std::numeric_limits<scalar_t>::quiet_NaN();
      continue;
    }
    // Byte loads: GCC does not vectorise a select on a bool load.
    const uint8_t* m = reinterpret_cast<const uint8_t*>(mask.data + row * s) + lo;
    for (int64_t j = 0; j < lo; ++j) yr[j] = 0;
    fused_math::MaskedSoftmaxSpan(xr + lo, m, hi - lo, inv_scale, scratch.data(), yr + lo);
    for (int64_t j = hi; j < s; ++j) yr[j] = 0;
  }
}

// Rows [begin, end) of the backward, over whole rows: masked keys get
// gradient 0 whatever the upstream gradient (as masked_fill's backward
// gives; also for a fully masked row, whose probabilities are NaN).
template <typename scalar_t>
ALRO_VECTOR_CLONES void BackwardRows(const scalar_t* dyp, const scalar_t* yp, const MaskRows& mask, scalar_t scale,
                                     scalar_t* dxp, int64_t begin, int64_t end) {
  const int64_t s = mask.s;
  const scalar_t inv_scale = scalar_t(1) / scale;
  for (int64_t r = begin; r < end; ++r) {
    const uint8_t* m = reinterpret_cast<const uint8_t*>(mask.data + mask.Index(r) * s);
    fused_math::MaskedSoftmaxBackwardSpan(dyp + r * s, yp + r * s, m, s, inv_scale, dxp + r * s);
  }
}

template <typename scalar_t>
void ForwardKernel(const at::Tensor& x, const MaskRows& mask, scalar_t scale, at::Tensor& y) {
  const int64_t s = x.size(-1), rows = x.numel() / s;
  const scalar_t* xp = x.data_ptr<scalar_t>();
  scalar_t* yp = y.data_ptr<scalar_t>();
  at::parallel_for(0, rows, fused_math::RowGrain(s),
                   [&](int64_t begin, int64_t end) { ForwardRows(xp, mask, scale, yp, begin, end); });
}

template <typename scalar_t>
void BackwardKernel(const at::Tensor& dy, const at::Tensor& y, const MaskRows& mask, scalar_t scale, at::Tensor& dx) {
  const int64_t s = y.size(-1), rows = y.numel() / s;
  const scalar_t* dyp = dy.data_ptr<scalar_t>();
  const scalar_t* yp = y.data_ptr<scalar_t>();
  scalar_t* dxp = dx.data_ptr<scalar_t>();
  at::parallel_for(0, rows, fused_math::RowGrain(s),
                   [&](int64_t begin, int64_t end) { BackwardRows(dyp, yp, mask, scale, dxp, begin, end); });
}

class MaskedSoftmaxFunction : public torch::autograd::Function<MaskedSoftmaxFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& scores, const at::Tensor& mask,
                            int64_t head_dim) {
    // Named in profiles (the forward of a custom Function is no operator).
    RECORD_FUNCTION("alro::masked_softmax_fused", c10::ArrayRef<const c10::IValue>{});
    TORCH_CHECK(scores.dim() == 4 && mask.scalar_type() == at::kBool && (mask.dim() == 2 || mask.dim() == 3),
                "MaskedSoftmax: scores [B, KV, G*T, S] and a bool mask [T, S] or [B, T, S]");
    const int64_t t = mask.size(-2), s = mask.size(-1);
    TORCH_CHECK(scores.size(3) == s && scores.size(2) % t == 0 &&
                    (mask.dim() == 2 || mask.size(0) == scores.size(0)),
                "MaskedSoftmax: the mask's shape does not match the scores");
    const at::Tensor x = scores.contiguous();
    const at::Tensor m = mask.contiguous();
    at::Tensor y = at::empty_like(x);
    const std::vector<int64_t> spans = fused_math::UnmaskedSpans(m.data_ptr<bool>(), m.numel() / s, s);
    const MaskRows rows = RowsOf(x, m, spans.data());
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "MaskedSoftmaxFused", [&] {
      ForwardKernel<scalar_t>(x, rows, static_cast<scalar_t>(std::sqrt(static_cast<double>(head_dim))), y);
    });
    ctx->save_for_backward({y, m});
    ctx->saved_data["head_dim"] = head_dim;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& y = saved[0];
    const at::Tensor& m = saved[1];
    const at::Tensor dy = grads[0].contiguous();
    const MaskRows rows = RowsOf(y, m, nullptr);
    const double head_dim = static_cast<double>(ctx->saved_data["head_dim"].toInt());
    at::Tensor dx = at::empty_like(y);
    AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "MaskedSoftmaxFusedBackward", [&] {
      BackwardKernel<scalar_t>(dy, y, rows, static_cast<scalar_t>(std::sqrt(head_dim)), dx);
    });
    return {dx, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor MaskedSoftmaxFused(const at::Tensor& scores, const at::Tensor& mask, int64_t head_dim) {
  return MaskedSoftmaxFunction::apply(scores, mask, head_dim);
}

}  // namespace alro::core
