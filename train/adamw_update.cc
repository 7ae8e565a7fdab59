// train/adamw_update.cc: the composite and the fused AdamW update of one
// tensor (see adamw_update.h). Compiled with -O3 -fno-math-errno
// -fno-trapping-math (train/CMakeLists.txt) so that GCC vectorises the fused
// loop (sqrt without the errno path).
#include "train/adamw_update.h"

#include <cmath>
#include <cstdint>

#include "common/status.h"
#include "core/fused_ops.h"

namespace alro::train {
namespace {

// What the fused loop can write: contiguous float32 on the CPU.
bool FusedLayout(const at::Tensor& p, const at::Tensor& m, const at::Tensor& v) {
  auto ok = [](const at::Tensor& t) {
    return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous();
  };
  return ok(p) && ok(m) && ok(v);
}

}  // namespace

void AdamWUpdate(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, bool decays,
                 const AdamWScalars& s) {
  if (core::FusedKernelsEnabled() && FusedLayout(p, m, v)) {
    AdamWUpdateFused(p, g, m, v, decays, s);
  } else {
    AdamWUpdateComposite(p, g, m, v, decays, s);
  }
}

void AdamWUpdateComposite(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, bool decays,
                          const AdamWScalars& s) {
  at::NoGradGuard no_grad;
  if (decays && s.weight_decay != 0.0) p.mul_(1.0 - s.lr * s.weight_decay);
  m.mul_(s.beta1).add_(g, 1.0 - s.beta1);
  v.mul_(s.beta2).addcmul_(g, g, 1.0 - s.beta2);
  const at::Tensor denom = (v.sqrt() / s.bias2_sqrt).add_(s.eps);
  p.addcdiv_(m, denom, -s.step_size);
}

void AdamWUpdateFused(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, bool decays,
                      const AdamWScalars& s) {
  ALRO_CHECK(FusedLayout(p, m, v), "AdamWUpdateFused: p, m and v must be contiguous float32 CPU tensors");
  ALRO_CHECK(g.numel() == p.numel() && m.numel() == p.numel() && v.numel() == p.numel(),
             "AdamWUpdateFused: p, g, m, v differ in size");
  at::NoGradGuard no_grad;
  const at::Tensor gc = g.to(at::kFloat).contiguous();
  // Every scalar rounded to float first, as ATen's float32 kernels do.
  const float decay = decays && s.weight_decay != 0.0 ? static_cast<float>(1.0 - s.lr * s.weight_decay) : 1.0f;
  const float b1 = static_cast<float>(s.beta1), a1 = static_cast<float>(1.0 - s.beta1);
  const float b2 = static_cast<float>(s.beta2), a2 = static_cast<float>(1.0 - s.beta2);
  const float bias2_sqrt = static_cast<float>(s.bias2_sqrt), eps = static_cast<float>(s.eps);
  const float neg_step = static_cast<float>(-s.step_size);
  float* __restrict__ pp = p.data_ptr<float>();
  float* __restrict__ mp = m.data_ptr<float>();
  float* __restrict__ vp = v.data_ptr<float>();
  const float* __restrict__ gp = gc.data_ptr<float>();
  const int64_t n = p.numel();
  // The composite's operations in its order: decay, first moment, second
  // moment, denominator, update.
  for (int64_t i = 0; i < n; ++i) {
    const float gi = gp[i];
    const float mi = mp[i] * b1 + a1 * gi;
    const float vi = vp[i] * b2 + a2 * gi * gi;
    const float denom = std::sqrt(vi) / bias2_sqrt + eps;
    mp[i] = mi;
    vp[i] = vi;
    pp[i] = pp[i] * decay + neg_step * mi / denom;
  }
  // Writes through raw pointers do not count as in-place ops: bump the
  // version counters as the composite's ops do, so that whatever keys on them
  // (core/compute_weight.h's cached bf16 copies of the masters, autograd's
  // check of saved tensors) sees the change.
  for (at::Tensor* t : {&p, &m, &v}) t->unsafeGetTensorImpl()->bump_version();
}

}  // namespace alro::train
