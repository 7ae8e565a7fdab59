// core/fused_ops.h: single-pass CPU kernels for the decoder's non-matmul work
// (RMSNorm, SwiGLU's silu(gate) * up, attention's scale-mask-softmax, the
// rotary embedding with attention's heads-first layout) and attention as one
// tiled kernel that skips masked keys, each a
// torch::autograd::Function with a hand-written backward, and the composite
// ATen formulas they replace.
//
// Why: at the presets alro trains on a CPU, each composite op is a separate
// pass over memory with its own allocation and autograd node; the profile in
// docs/performance.md ("Where the time goes") shows them next to the matmuls.
// The fused kernels read and write each element once per direction and keep
// the statistics in float32 for float32, bf16 and half inputs (double stays
// double, for finite-difference tests). Their results equal the composites'
// up to float rounding order.
//
// The dispatching entry points (RmsNorm, ResidualRmsNorm, SwiGlu, MaskedSoftmax,
// RotaryHeadsFirst, MaskedAttention) run the fused
// kernel on CPU tensors unless ALRO_FUSED_KERNELS=0, and the composite on
// every other device (CUDA under LibTorch 2.x) or when switched off.
#pragma once

#include <ATen/ATen.h>

namespace alro::core {

/// False when the environment sets ALRO_FUSED_KERNELS=0 (read once): every
/// op then runs its composite form, for comparing numerics.
bool FusedKernelsEnabled();

/// Hugging Face's LlamaRMSNorm over the last dimension of x [..., H]:
/// float32 statistics, the normalised value cast back to x's dtype, then
/// multiplied by weight [H] cast to x's dtype.
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps);
/// The composite form of RmsNorm (ATen ops, autograd derives the backward).
at::Tensor RmsNormComposite(const at::Tensor& x, const at::Tensor& weight, double eps);
/// The fused CPU kernel of RmsNorm (x and weight on the CPU).
at::Tensor RmsNormFused(const at::Tensor& x, const at::Tensor& weight, double eps);

/// What ResidualRmsNorm returns: the residual stream after the step, and
/// its normalised value (the next sublayer's input).
struct ResidualNormed {
  at::Tensor sum;
  at::Tensor normed;
};

/// A pre-norm layer's residual step: sum = x + delta (x itself when delta is
/// undefined) and normed = RmsNorm(sum, weight, eps). Use it where a
/// residual stream is both normalised and carried on: its fused form also
/// adds the stream's two gradients (from `sum`'s consumers and through the
/// norm) in its own backward pass, where autograd would add them out of
/// place. delta has x's shape and dtype.
ResidualNormed ResidualRmsNorm(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight, double eps);
/// The composite form of ResidualRmsNorm (an add and RmsNormComposite).
ResidualNormed ResidualRmsNormComposite(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight,
                                        double eps);
/// The fused CPU kernel of ResidualRmsNorm.
ResidualNormed ResidualRmsNormFused(const at::Tensor& x, const at::Tensor& delta, const at::Tensor& weight,
                                    double eps);

/// silu(gate) * up, elementwise, both [..., I] of one dtype; as the
/// composite, silu(gate) is rounded to that dtype before the product.
at::Tensor SwiGlu(const at::Tensor& gate, const at::Tensor& up);
/// The composite form of SwiGlu.
at::Tensor SwiGluComposite(const at::Tensor& gate, const at::Tensor& up);
/// The fused CPU kernel of SwiGlu.
at::Tensor SwiGluFused(const at::Tensor& gate, const at::Tensor& up);

/// Attention probabilities: softmax(masked_fill(scores / sqrt(head_dim),
/// mask, -inf)) over the last dimension. scores [B, KV, G * T, S] float32
/// (or double) holds G query groups of T queries per key/value head; mask is
/// bool [T, S] shared by the batch or [B, T, S] (true = masked). Same dtype
/// as scores.
at::Tensor MaskedSoftmax(const at::Tensor& scores, const at::Tensor& mask, int64_t head_dim);
/// The composite form of MaskedSoftmax.
at::Tensor MaskedSoftmaxComposite(const at::Tensor& scores, const at::Tensor& mask, int64_t head_dim);
/// The fused CPU kernel of MaskedSoftmax.
at::Tensor MaskedSoftmaxFused(const at::Tensor& scores, const at::Tensor& mask, int64_t head_dim);

/// Attention's output softmax(mask(q k^T / sqrt(D))) v per key/value head:
/// q [B, KV, G * T, D] holds G query groups of T queries per head (grouped
/// query attention with the groups folded into the rows), k and v
/// [B, KV, S, D], mask bool [T, S] or [B, T, S] (true = masked) as for
/// MaskedSoftmax. Returns [B, KV, G * T, D] in q's dtype; the softmax runs in
/// float32 (double for double). A query whose keys are all masked gets NaN,
/// as the composite. The fused kernel is core/fused_attention.cc (on the
/// CPU: float32 and double, and bf16 and half computed in float32, rounded
/// once at the output); other devices run the composite.
at::Tensor MaskedAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask);
/// The composite form of MaskedAttention: BatchedMatmul, MaskedSoftmax,
/// BatchedMatmul over the whole [B, KV, G * T, S] scores.
at::Tensor MaskedAttentionComposite(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                    const at::Tensor& mask);
/// The fused CPU kernel of MaskedAttention (float32 or double; bf16 and half
/// computed in float32, each head converted as the kernel reads it and
/// rounded once where it writes; a CBLAS gemm loaded). Its backward gives a
/// fully masked query no gradient (the composite's turns the values'
/// gradient NaN).
at::Tensor MaskedAttentionFused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const at::Tensor& mask);
/// The score entries MaskedAttentionFused multiplies per key/value head, for
/// `mask` ([T, S] or [B, T, S], true = masked), `groups` query groups and
/// head dimension `head_dim` (which sets the narrowest gap worth skipping),
/// summed over the mask's batches: what its blocks of queries keep of the
/// groups * T x S squares after skipping keys outside their ranges and wide
/// gaps inside them. Tests and benchmarks compare it with the squares.
int64_t MaskedAttentionScoreEntries(const at::Tensor& mask, int64_t groups, int64_t head_dim);

/// The rotary embedding's "rotate half" of x [B, T, heads, D] (D even) by the
/// angle rows cos, sin (float32 [B or 1, T, D/2]: token (b, t)'s rows), in
/// the heads-first layout attention multiplies in: [B, heads, T, D], x's
/// dtype. For x = [x1, x2]: [x1 cos - x2 sin, x2 cos + x1 sin].
at::Tensor RotaryHeadsFirst(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);
/// The composite form of RotaryHeadsFirst (a transposed view, not contiguous).
at::Tensor RotaryHeadsFirstComposite(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);
/// The fused CPU kernel of RotaryHeadsFirst (contiguous output).
at::Tensor RotaryHeadsFirstFused(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace alro::core
