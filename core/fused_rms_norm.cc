// core/fused_rms_norm.cc: RMSNorm forward and backward in one pass over each
// row (the composite takes six elementwise passes and saves four tensors),
// and the decoder layer's residual step around it (ResidualRmsNorm). The row
// kernels are cloned per ISA (ALRO_VECTOR_CLONES, core/fused_math.h).
//
// y = cast(x * r) * cast(w), r = 1 / sqrt(mean(x^2) + eps), r per row in the
// accumulation type (float32 for float32/bf16/half, double for double).
// Backward with g = dy * w:
//   dx = r * g - x * r^3 / H * sum(g * x),   dw = sum over rows of dy * cast(x * r).
// The residual step normalises s = cast(x + delta) and returns s too; its
// backward is the same with s for x, plus the gradient that s itself
// received, added in the same pass: ds_total = ds + dx_norm, which is the
// gradient of both x and delta.
#include <algorithm>
#include <vector>

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "common/status.h"
#include "core/fused_math.h"
#include "core/fused_ops.h"

namespace alro::core {
namespace {

// Rows [begin, end) of the forward; wc is the weight cast to x's dtype.
// With a delta (dp not null), the row normalised is s = cast(x + delta),
// written to sp first; otherwise it is x itself.
template <typename scalar_t>
ALRO_VECTOR_CLONES void RmsNormForwardRows(const scalar_t* xp, const scalar_t* dp, const scalar_t* wc, double eps,
                                           int64_t h, scalar_t* sp, scalar_t* yp, at::opmath_type<scalar_t>* rp,
                                           int64_t begin, int64_t end) {
  using acc_t = at::opmath_type<scalar_t>;
  for (int64_t row = begin; row < end; ++row) {
    const scalar_t* __restrict xr = xp + row * h;
    scalar_t* __restrict yr = yp + row * h;
    if (dp != nullptr) {
      const scalar_t* __restrict dr = dp + row * h;
      scalar_t* __restrict sr = sp + row * h;
      for (int64_t i = 0; i < h; ++i) {
        sr[i] = fused_math::RoundTo<scalar_t>(static_cast<acc_t>(xr[i]) + static_cast<acc_t>(dr[i]));
      }
      xr = sr;
    }
    const acc_t sum = fused_math::SumSquares<acc_t>(xr, h);
    const acc_t r = acc_t(1) / std::sqrt(sum / static_cast<acc_t>(h) + static_cast<acc_t>(eps));
    rp[row] = r;
    for (int64_t i = 0; i < h; ++i) {
      const scalar_t normed = fused_math::RoundTo<scalar_t>(static_cast<acc_t>(xr[i]) * r);
      yr[i] = fused_math::RoundTo<scalar_t>(static_cast<acc_t>(normed) * static_cast<acc_t>(wc[i]));
    }
  }
}

// `delta` and `sum` are both defined (the residual step) or both undefined.
template <typename scalar_t>
void RmsNormForwardKernel(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& w, double eps,
                          at::Tensor& sum, at::Tensor& y, at::Tensor& rstd) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t h = x.size(-1), rows = x.numel() / h;
  const scalar_t* xp = x.data_ptr<scalar_t>();
  const scalar_t* dp = delta.defined() ? delta.data_ptr<scalar_t>() : nullptr;
  scalar_t* sp = sum.defined() ? sum.data_ptr<scalar_t>() : nullptr;
  scalar_t* yp = y.data_ptr<scalar_t>();
  acc_t* rp = rstd.data_ptr<acc_t>();
  // The weight cast to x's dtype once, as the composite's weight.to(dtype).
  std::vector<scalar_t> wc(h);
  const acc_t* wp = w.data_ptr<acc_t>();
  for (int64_t i = 0; i < h; ++i) wc[i] = static_cast<scalar_t>(wp[i]);
  at::parallel_for(0, rows, fused_math::RowGrain(h), [&](int64_t begin, int64_t end) {
    RmsNormForwardRows(xp, dp, wc.data(), eps, h, sp, yp, rp, begin, end);
  });
}

// Rows [begin, end) of the backward; wc is the weight rounded to x's dtype,
// in the accumulation type. dxp or dwr is null when that gradient is not
// wanted; dwr accumulates this task's rows. dsp, when not null, is a
// gradient that x received from elsewhere (the residual stream), added to
// dx before its one rounding.
template <typename scalar_t>
ALRO_VECTOR_CLONES void RmsNormBackwardRows(const scalar_t* dyp, const scalar_t* xp, const at::opmath_type<scalar_t>* wc,
                                            const at::opmath_type<scalar_t>* rp, int64_t h, const scalar_t* dsp,
                                            scalar_t* dxp, at::opmath_type<scalar_t>* dwr, int64_t begin,
                                            int64_t end) {
  using acc_t = at::opmath_type<scalar_t>;
  for (int64_t row = begin; row < end; ++row) {
    const scalar_t* __restrict xr = xp + row * h;
    const scalar_t* __restrict dyr = dyp + row * h;
    const acc_t r = rp[row];
    if (dxp != nullptr) {
      const acc_t dot = fused_math::Dot3<acc_t>(dyr, wc, xr, h);
      const acc_t c = dot * r * r * r / static_cast<acc_t>(h);
      scalar_t* __restrict dxr = dxp + row * h;
      if (dsp == nullptr) {
        for (int64_t i = 0; i < h; ++i) {
          dxr[i] =
              fused_math::RoundTo<scalar_t>(r * static_cast<acc_t>(dyr[i]) * wc[i] - c * static_cast<acc_t>(xr[i]));
        }
      } else {
        const scalar_t* __restrict dsr = dsp + row * h;
        for (int64_t i = 0; i < h; ++i) {
          dxr[i] = fused_math::RoundTo<scalar_t>(r * static_cast<acc_t>(dyr[i]) * wc[i] -
                                                 c * static_cast<acc_t>(xr[i]) + static_cast<acc_t>(dsr[i]));
        }
      }
    }
    if (dwr != nullptr) {
      acc_t* __restrict dw = dwr;
      for (int64_t i = 0; i < h; ++i) {
        const scalar_t normed = fused_math::RoundTo<scalar_t>(static_cast<acc_t>(xr[i]) * r);
        dw[i] += static_cast<acc_t>(dyr[i]) * static_cast<acc_t>(normed);
      }
    }
  }
}

// `dsum` (may be undefined): x's gradient from elsewhere, added into dx.
template <typename scalar_t>
void RmsNormBackwardKernel(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& w, const at::Tensor& rstd,
                           const at::Tensor& dsum, at::Tensor& dx, at::Tensor& dw) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t h = x.size(-1), rows = x.numel() / h;
  const scalar_t* dyp = dy.data_ptr<scalar_t>();
  const scalar_t* xp = x.data_ptr<scalar_t>();
  const acc_t* rp = rstd.data_ptr<acc_t>();
  scalar_t* dxp = dx.defined() ? dx.data_ptr<scalar_t>() : nullptr;
  const scalar_t* dsp = dsum.defined() ? dsum.data_ptr<scalar_t>() : nullptr;
  const acc_t* wp = w.data_ptr<acc_t>();
  std::vector<acc_t> wc(h);
  for (int64_t i = 0; i < h; ++i) wc[i] = static_cast<acc_t>(static_cast<scalar_t>(wp[i]));
  // dw: one partial sum per thread, added in thread order. parallel_for
  // gives thread i the i-th block of rows, so the sum is deterministic for a
  // given thread count. (Blocks can be shorter than the grain, so a block's
  // first row divided by the grain is no unique index.)
  const int64_t tasks = dw.defined() ? at::get_num_threads() : 0;
  std::vector<acc_t> partial(static_cast<size_t>(tasks * h), acc_t(0));
  at::parallel_for(0, rows, fused_math::RowGrain(h), [&](int64_t begin, int64_t end) {
    acc_t* dwr = dw.defined() ? partial.data() + at::get_thread_num() * h : nullptr;
    RmsNormBackwardRows(dyp, xp, wc.data(), rp, h, dsp, dxp, dwr, begin, end);
  });
  if (dw.defined()) {
    acc_t* dwp = dw.data_ptr<acc_t>();
    for (int64_t i = 0; i < h; ++i) dwp[i] = 0;
    for (int64_t t = 0; t < tasks; ++t) {
      for (int64_t i = 0; i < h; ++i) dwp[i] += partial[t * h + i];
    }
  }
}

// The residual step: {s, RmsNorm(s)} with s = x + delta, or s = x (returned
// as a view of x) when delta is undefined; the plain RmsNorm is the latter
// with s unused. One node instead of an add, a norm and the autograd sum of
// s's two gradients: LibTorch 1.13 adds a tensor's gradients out of place, a
// full pass and a fresh allocation per residual stream per layer.
class ResidualRmsNormFunction : public torch::autograd::Function<ResidualRmsNormFunction> {
 public:
  // delta is optional rather than undefined: autograd records every
  // tensor argument's device, which an undefined tensor has none of.
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                                                const c10::optional<at::Tensor>& delta, const at::Tensor& weight,
                                                double eps) {
    RECORD_FUNCTION("alro::rms_norm_fused", c10::ArrayRef<const c10::IValue>{});
    const at::Tensor xc = x.contiguous();
    const at::Tensor dc = delta.has_value() && delta->defined() ? delta->contiguous() : at::Tensor();
    const at::ScalarType acc = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
    const at::Tensor wc = weight.to(acc).contiguous();
    at::Tensor sum = dc.defined() ? at::empty_like(xc) : at::Tensor();
    at::Tensor y = at::empty_like(xc);
    at::Tensor rstd = at::empty(xc.sizes().slice(0, xc.dim() - 1), xc.options().dtype(acc));
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, xc.scalar_type(), "ResidualRmsNormFused",
                                    [&] { RmsNormForwardKernel<scalar_t>(xc, dc, wc, eps, sum, y, rstd); });
    ctx->save_for_backward({sum.defined() ? sum : xc, wc, rstd});
    ctx->saved_data["weight_dtype"] = static_cast<int64_t>(weight.scalar_type());
    ctx->saved_data["has_delta"] = dc.defined();
    // An unused output's gradient stays undefined (no pass over zeros).
    ctx->set_materialize_grads(false);
    // Without a delta the stream passes through: autograd hands out x
    // itself as a view with this node's history.
    return {sum.defined() ? sum : x, y};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& s = saved[0];
    const at::Tensor& w = saved[1];
    const at::Tensor& rstd = saved[2];
    const bool has_delta = ctx->saved_data["has_delta"].toBool();
    // needs_input_grad counts tensor inputs only: x, delta when given, weight.
    const size_t weight_input = has_delta ? 2 : 1;
    const at::Tensor dsum = grads[0].defined() ? grads[0].contiguous() : at::Tensor();
    at::Tensor ds, dw;
    if (!grads[1].defined()) {
      ds = dsum;  // the norm's output was not used: only the stream's gradient
    } else {
      const at::Tensor dy = grads[1].contiguous();
      if (ctx->needs_input_grad(0) || (has_delta && ctx->needs_input_grad(1))) ds = at::empty_like(s);
      if (ctx->needs_input_grad(weight_input)) dw = at::empty_like(w);
      AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, s.scalar_type(), "ResidualRmsNormFusedBackward",
                                      [&] { RmsNormBackwardKernel<scalar_t>(dy, s, w, rstd, dsum, ds, dw); });
      if (dw.defined()) dw = dw.to(static_cast<at::ScalarType>(ctx->saved_data["weight_dtype"].toInt()));
    }
    return {ds, has_delta ? ds : at::Tensor(), dw, at::Tensor()};
  }
};

}  // namespace

ResidualNormed ResidualRmsNormFused(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight,
                                    double eps) {
  ALRO_CHECK(!delta.defined() || (delta.sizes() == x.sizes() && delta.scalar_type() == x.scalar_type()),
             "ResidualRmsNorm: delta ", c10::str(delta.sizes()), " must have x's shape ", c10::str(x.sizes()),
             " and dtype");
  const c10::optional<at::Tensor> maybe_delta = delta.defined() ? c10::optional<at::Tensor>(delta) : c10::nullopt;
  const torch::autograd::variable_list out = ResidualRmsNormFunction::apply(x, maybe_delta, weight, eps);
  return {out[0], out[1]};
}

at::Tensor RmsNormFused(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return ResidualRmsNormFused(x, at::Tensor(), weight, eps).normed;
}

}  // namespace alro::core
