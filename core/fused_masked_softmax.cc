// core/fused_masked_softmax.cc: attention's scale, mask and softmax in one
// pass per row forward and one backward (the composite runs div,
// masked_fill, softmax and their three backward kernels, each a full pass
// over the [B, H, T, S] scores with its own allocation). Masked entries are
// never exponentiated: under a causal mask that is half of them.
//
// Forward per row: v = x / sqrt(d) where unmasked, p = exp(v - max) / sum.
// Backward:        dx = p * (dp - sum(p * dp)) / sqrt(d)   (0 where masked).
#include <cmath>
#include <limits>

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "core/fused_math.h"
#include "core/fused_ops.h"

namespace alro::core {
namespace {

// Where row r of the [B, KV, G * T, S] scores finds its mask row.
struct MaskRows {
  const bool* data;
  int64_t t, s, rows_per_batch;  // rows_per_batch = KV * G * T
  bool per_batch;
  const bool* Row(int64_t r) const {
    const int64_t b = per_batch ? r / rows_per_batch : 0;
    return data + (b * t + r % t) * s;
  }
};

int64_t RowGrain(int64_t width) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, width)); }

template <typename scalar_t>
void ForwardKernel(const at::Tensor& x, const MaskRows& mask, scalar_t scale, at::Tensor& y) {
  const int64_t s = x.size(-1), rows = x.numel() / s;
  const scalar_t* xp = x.data_ptr<scalar_t>();
  scalar_t* yp = y.data_ptr<scalar_t>();
  at::parallel_for(0, rows, RowGrain(s), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const scalar_t* xr = xp + r * s;
      scalar_t* yr = yp + r * s;
      const bool* m = mask.Row(r);
      // Masked entries become -inf, so they take no part in the max and
      // exponentiate to exactly 0.
      const scalar_t neg_inf = -std::numeric_limits<scalar_t>::infinity();
      for (int64_t j = 0; j < s; ++j) yr[j] = m[j] ? neg_inf : xr[j] / scale;
      scalar_t maxes[8] = {neg_inf, neg_inf, neg_inf, neg_inf, neg_inf, neg_inf, neg_inf, neg_inf};
      int64_t j = 0;
      for (; j + 8 <= s; j += 8) {
        for (int k = 0; k < 8; ++k) maxes[k] = std::max(maxes[k], yr[j + k]);
      }
      scalar_t max = neg_inf;
      for (; j < s; ++j) max = std::max(max, yr[j]);
      for (int k = 0; k < 8; ++k) max = std::max(max, maxes[k]);
      for (j = 0; j < s; ++j) yr[j] = fused_math::Exp(yr[j] - max);
      const scalar_t sum = fused_math::Sum(yr, s);
      // A row with every key masked gives NaN, as the composite's softmax
      // of all -inf does.
      const scalar_t inv = scalar_t(1) / sum;
      for (int64_t j = 0; j < s; ++j) yr[j] *= inv;
    }
  });
}

template <typename scalar_t>
void BackwardKernel(const at::Tensor& dy, const at::Tensor& y, scalar_t scale, at::Tensor& dx) {
  const int64_t s = y.size(-1), rows = y.numel() / s;
  const scalar_t* dyp = dy.data_ptr<scalar_t>();
  const scalar_t* yp = y.data_ptr<scalar_t>();
  scalar_t* dxp = dx.data_ptr<scalar_t>();
  at::parallel_for(0, rows, RowGrain(s), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const scalar_t* dyr = dyp + r * s;
      const scalar_t* yr = yp + r * s;
      scalar_t* dxr = dxp + r * s;
      const scalar_t dot = fused_math::Dot(yr, dyr, s);
      for (int64_t j = 0; j < s; ++j) dxr[j] = yr[j] * (dyr[j] - dot) / scale;
    }
  });
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
    const MaskRows rows{m.data_ptr<bool>(), t, s, scores.size(1) * scores.size(2), mask.dim() == 3};
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "MaskedSoftmaxFused", [&] {
      ForwardKernel<scalar_t>(x, rows, static_cast<scalar_t>(std::sqrt(static_cast<double>(head_dim))), y);
    });
    ctx->save_for_backward({y});
    ctx->saved_data["head_dim"] = head_dim;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const at::Tensor y = ctx->get_saved_variables()[0];
    const at::Tensor dy = grads[0].contiguous();
    const double head_dim = static_cast<double>(ctx->saved_data["head_dim"].toInt());
    at::Tensor dx = at::empty_like(y);
    AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "MaskedSoftmaxFusedBackward", [&] {
      BackwardKernel<scalar_t>(dy, y, static_cast<scalar_t>(std::sqrt(head_dim)), dx);
    });
    return {dx, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor MaskedSoftmaxFused(const at::Tensor& scores, const at::Tensor& mask, int64_t head_dim) {
  return MaskedSoftmaxFunction::apply(scores, mask, head_dim);
}

}  // namespace alro::core
