// core/fused_rotary.cc: rotary embedding and the move to heads-first layout
// in one pass forward and one pass backward.
//
// The composite form (core/fused_ops.cc) narrows x into halves, runs four
// products, a subtraction, an addition and a cat, and then attention copies
// the result from [B, T, heads, D] to [B, heads, T, D] for its batched
// matmuls; backward runs the products' gradients and two slice_backwards
// (each a zeroed tensor and a copy). Here each element is read and written
// once per direction, and the output is already in the layout attention
// multiplies in. The loop is cloned per ISA (ALRO_VECTOR_CLONES,
// core/fused_math.h).
//
// For a head vector x = [x1, x2] and its position's c = cos, s = sin rows:
//   y1 = x1 c - x2 s,   y2 = x2 c + x1 s,
//   dx1 = dy1 c + dy2 s,   dx2 = dy2 c - dy1 s.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "core/fused_math.h"
#include "core/fused_ops.h"

namespace alro::core {
namespace {

// Where the kernels find their operands: x-side tensors are [B, T, H, D]
// (token-major, as the projections write them), y-side [B, H, T, D]
// (heads first); the tables are [B or 1, T, D/2] float32.
struct RotaryShape {
  int64_t b, t, h, d;
  int64_t table_batch_stride;  // 0 when one table row serves the whole batch
};

// Tokens [begin, end) of the flattened (batch, token) range, in one
// direction. Forward (kBackward false) reads x-side, writes y-side and
// rotates by +angle; backward reads dy y-side, writes dx x-side and rotates
// by -angle (the transpose of a rotation). Cloned per ISA.
//
// kHalf is head_dim / 2 when it is one of the common sizes (see Rotate), 0
// otherwise. A trip count known at compile time is what lets GCC vectorise
// the inner loop: with a run-time count of 8 (the tiny preset's head dim 16)
// it took the scalar remainder loop every time, which made the bf16 rotary
// 5% of the demo's step (perf).
template <typename scalar_t, bool kBackward, int kHalf>
ALRO_VECTOR_CLONES void RotateTokens(const scalar_t* in, const float* cos_table, const float* sin_table,
                                     const RotaryShape& s, scalar_t* out, int64_t begin, int64_t end) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t half = kHalf > 0 ? kHalf : s.d / 2;
  for (int64_t bt = begin; bt < end; ++bt) {
    const int64_t b = bt / s.t, t = bt % s.t;
    const float* __restrict c = cos_table + b * s.table_batch_stride + t * half;
    const float* __restrict sn = sin_table + b * s.table_batch_stride + t * half;
    for (int64_t h = 0; h < s.h; ++h) {
      const int64_t token_major = (bt * s.h + h) * s.d;
      const int64_t heads_first = ((b * s.h + h) * s.t + t) * s.d;
      const scalar_t* __restrict src = in + (kBackward ? heads_first : token_major);
      scalar_t* __restrict dst = out + (kBackward ? token_major : heads_first);
      for (int64_t i = 0; i < half; ++i) {
        const acc_t x1 = static_cast<acc_t>(src[i]), x2 = static_cast<acc_t>(src[half + i]);
        const acc_t ci = static_cast<acc_t>(c[i]);
        const acc_t si = kBackward ? -static_cast<acc_t>(sn[i]) : static_cast<acc_t>(sn[i]);
        dst[i] = fused_math::RoundTo<scalar_t>(x1 * ci - x2 * si);
        dst[half + i] = fused_math::RoundTo<scalar_t>(x2 * ci + x1 * si);
      }
    }
  }
}

template <bool kBackward>
at::Tensor Rotate(const at::Tensor& in, const at::Tensor& cos, const at::Tensor& sin, const RotaryShape& s) {
  at::Tensor out = kBackward ? at::empty({s.b, s.t, s.h, s.d}, in.options())
                             : at::empty({s.b, s.h, s.t, s.d}, in.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, in.scalar_type(), "RotaryHeadsFirstFused", [&] {
    const scalar_t* in_p = in.data_ptr<scalar_t>();
    scalar_t* out_p = out.data_ptr<scalar_t>();
    const float* cos_p = cos.data_ptr<float>();
    const float* sin_p = sin.data_ptr<float>();
    // A (batch, token) pair is a row of heads x head_dim elements.
    at::parallel_for(0, s.b * s.t, fused_math::RowGrain(s.h * s.d), [&](int64_t begin, int64_t end) {
      switch (s.d / 2) {
        case 8: return RotateTokens<scalar_t, kBackward, 8>(in_p, cos_p, sin_p, s, out_p, begin, end);
        case 16: return RotateTokens<scalar_t, kBackward, 16>(in_p, cos_p, sin_p, s, out_p, begin, end);
        case 32: return RotateTokens<scalar_t, kBackward, 32>(in_p, cos_p, sin_p, s, out_p, begin, end);
        case 64: return RotateTokens<scalar_t, kBackward, 64>(in_p, cos_p, sin_p, s, out_p, begin, end);
        default: return RotateTokens<scalar_t, kBackward, 0>(in_p, cos_p, sin_p, s, out_p, begin, end);
      }
    });
  });
  return out;
}

class RotaryHeadsFirstFunction : public torch::autograd::Function<RotaryHeadsFirstFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos,
                            const at::Tensor& sin) {
    // Named in profiles (the forward of a custom Function is no operator).
    RECORD_FUNCTION("alro::rotary_fused", c10::ArrayRef<const c10::IValue>{});
    TORCH_CHECK(x.dim() == 4 && x.size(-1) % 2 == 0, "RotaryHeadsFirst: x must be [B, T, heads, even head_dim]");
    const int64_t b = x.size(0), t = x.size(1), half = x.size(3) / 2;
    TORCH_CHECK(cos.scalar_type() == at::kFloat && cos.sizes() == sin.sizes() && cos.dim() == 3 &&
                    (cos.size(0) == 1 || cos.size(0) == b) && cos.size(1) == t && cos.size(2) == half,
                "RotaryHeadsFirst: cos and sin must be float32 [B or 1, T, head_dim/2]");
    const at::Tensor c = cos.contiguous(), s = sin.contiguous();
    const RotaryShape shape{b, t, x.size(2), x.size(3), c.size(0) == 1 ? 0 : t * half};
    ctx->save_for_backward({c, s});
    return Rotate<false>(x.contiguous(), c, s, shape);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor dy = grads[0].contiguous();  // [B, H, T, D]
    const int64_t b = dy.size(0), h = dy.size(1), t = dy.size(2), d = dy.size(3);
    const RotaryShape shape{b, t, h, d, saved[0].size(0) == 1 ? 0 : t * (d / 2)};
    return {Rotate<true>(dy, saved[0], saved[1], shape), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor RotaryHeadsFirstFused(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return RotaryHeadsFirstFunction::apply(x, cos, sin);
}

}  // namespace alro::core
