// core/fused_swiglu.cc: silu(gate) * up in one pass forward and one pass
// backward (the composite allocates silu(gate), saves it and runs three
// elementwise kernels). The loops are cloned per ISA (ALRO_VECTOR_CLONES,
// core/fused_math.h).
//
// With s = sigmoid(g):  y = cast(g * s) * u,
//   dg = dy * u * s * (1 + g * (1 - s)),   du = dy * cast(g * s).
#include <cmath>

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "core/fused_math.h"
#include "core/fused_ops.h"

namespace alro::core {
namespace {

// Elements [begin, end) of the forward.
template <typename scalar_t>
ALRO_VECTOR_CLONES void SwiGluForwardRange(const scalar_t* gp, const scalar_t* up_p, scalar_t* yp, int64_t begin,
                                           int64_t end) {
  using acc_t = at::opmath_type<scalar_t>;
  const scalar_t* __restrict g_in = gp;
  const scalar_t* __restrict u_in = up_p;
  scalar_t* __restrict y_out = yp;
  for (int64_t i = begin; i < end; ++i) {
    const acc_t g = static_cast<acc_t>(g_in[i]);
    const scalar_t silu = fused_math::RoundTo<scalar_t>(g / (acc_t(1) + fused_math::Exp(-g)));
    y_out[i] = fused_math::RoundTo<scalar_t>(static_cast<acc_t>(silu) * static_cast<acc_t>(u_in[i]));
  }
}

template <typename scalar_t>
void SwiGluForwardKernel(const at::Tensor& gate, const at::Tensor& up, at::Tensor& y) {
  const scalar_t* gp = gate.data_ptr<scalar_t>();
  const scalar_t* up_p = up.data_ptr<scalar_t>();
  scalar_t* yp = y.data_ptr<scalar_t>();
  at::parallel_for(0, gate.numel(), fused_math::kMinElementsPerThread,
                   [&](int64_t begin, int64_t end) { SwiGluForwardRange(gp, up_p, yp, begin, end); });
}

// Elements [begin, end) of the backward for one choice of wanted gradients
// (a template argument: a test inside the loop would keep it scalar).
template <typename scalar_t, bool kGate, bool kUp>
ALRO_VECTOR_CLONES void SwiGluBackwardRange(const scalar_t* dyp, const scalar_t* gp, const scalar_t* up_p,
                                            scalar_t* dgp, scalar_t* dup_p, int64_t begin, int64_t end) {
  using acc_t = at::opmath_type<scalar_t>;
  const scalar_t* __restrict dy_in = dyp;
  const scalar_t* __restrict g_in = gp;
  const scalar_t* __restrict u_in = up_p;
  scalar_t* __restrict dg_out = dgp;
  scalar_t* __restrict du_out = dup_p;
  for (int64_t i = begin; i < end; ++i) {
    const acc_t g = static_cast<acc_t>(g_in[i]);
    const acc_t d = static_cast<acc_t>(dy_in[i]);
    const acc_t s = acc_t(1) / (acc_t(1) + fused_math::Exp(-g));
    if constexpr (kGate) {
      dg_out[i] = fused_math::RoundTo<scalar_t>(d * static_cast<acc_t>(u_in[i]) * s * (acc_t(1) + g * (acc_t(1) - s)));
    }
    if constexpr (kUp) {
      du_out[i] = fused_math::RoundTo<scalar_t>(d * static_cast<acc_t>(fused_math::RoundTo<scalar_t>(g * s)));
    }
  }
}

template <typename scalar_t, bool kGate, bool kUp>
void SwiGluBackwardLoop(const scalar_t* dyp, const scalar_t* gp, const scalar_t* up_p, scalar_t* dgp, scalar_t* dup_p,
                        int64_t n) {
  at::parallel_for(0, n, fused_math::kMinElementsPerThread, [&](int64_t begin, int64_t end) {
    SwiGluBackwardRange<scalar_t, kGate, kUp>(dyp, gp, up_p, dgp, dup_p, begin, end);
  });
}

template <typename scalar_t>
void SwiGluBackwardKernel(const at::Tensor& dy, const at::Tensor& gate, const at::Tensor& up, at::Tensor& dgate,
                          at::Tensor& dup) {
  const scalar_t* dyp = dy.data_ptr<scalar_t>();
  const scalar_t* gp = gate.data_ptr<scalar_t>();
  const scalar_t* up_p = up.data_ptr<scalar_t>();
  scalar_t* dgp = dgate.defined() ? dgate.data_ptr<scalar_t>() : nullptr;
  scalar_t* dup_p = dup.defined() ? dup.data_ptr<scalar_t>() : nullptr;
  const int64_t n = gate.numel();
  if (dgp != nullptr && dup_p != nullptr) {
    SwiGluBackwardLoop<scalar_t, true, true>(dyp, gp, up_p, dgp, dup_p, n);
  } else if (dgp != nullptr) {
    SwiGluBackwardLoop<scalar_t, true, false>(dyp, gp, up_p, dgp, dup_p, n);
  } else if (dup_p != nullptr) {
    SwiGluBackwardLoop<scalar_t, false, true>(dyp, gp, up_p, dgp, dup_p, n);
  }
}

class SwiGluFunction : public torch::autograd::Function<SwiGluFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& gate, const at::Tensor& up) {
    // Named in profiles (the forward of a custom Function is no operator).
    RECORD_FUNCTION("alro::swiglu_fused", c10::ArrayRef<const c10::IValue>{});
    TORCH_CHECK(gate.sizes() == up.sizes() && gate.scalar_type() == up.scalar_type(),
                "SwiGlu: gate and up must have one shape and dtype");
    const at::Tensor g = gate.contiguous(), u = up.contiguous();
    at::Tensor y = at::empty_like(g);
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, g.scalar_type(), "SwiGluFused",
                                    [&] { SwiGluForwardKernel<scalar_t>(g, u, y); });
    ctx->save_for_backward({g, u});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor dy = grads[0].contiguous();
    at::Tensor dgate = ctx->needs_input_grad(0) ? at::empty_like(saved[0]) : at::Tensor();
    at::Tensor dup = ctx->needs_input_grad(1) ? at::empty_like(saved[1]) : at::Tensor();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, dy.scalar_type(), "SwiGluFusedBackward",
                                    [&] { SwiGluBackwardKernel<scalar_t>(dy, saved[0], saved[1], dgate, dup); });
    return {dgate, dup};
  }
};

}  // namespace

at::Tensor SwiGluFused(const at::Tensor& gate, const at::Tensor& up) { return SwiGluFunction::apply(gate, up); }

}  // namespace alro::core
