// train/adamw_update.h: one AdamW update of one parameter tensor, in two
// forms with the same formula (train/optimizer.h):
//   AdamWUpdateComposite  ATen in-place ops (mul_, add_, addcmul_, sqrt, div,
//                         add_, addcdiv_): nine passes over memory, five
//                         dispatched ops with temporaries; any device.
//   AdamWUpdateFused      one loop over the elements of a float32 CPU
//                         parameter that reads p, g, m, v once and writes p,
//                         m, v once.
// AdamWUpdate picks the fused form on the CPU unless ALRO_FUSED_KERNELS=0
// (core/fused_ops.h). Both round every scalar to float32 as ATen does for a
// float32 tensor; they differ only by the rounding of contracted
// multiply-adds (a few ulp of the update; tests/train/optimizer_test.cc).
#pragma once

#include <ATen/ATen.h>

namespace alro::train {

/// The step's scalars, shared by every parameter (from AdamW::Step).
struct AdamWScalars {
  double lr = 0.0;
  double weight_decay = 0.0;  ///< applied only when the parameter decays
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double step_size = 0.0;   ///< lr / (1 - beta1^t)
  double bias2_sqrt = 1.0;  ///< sqrt(1 - beta2^t)
};

/// p <- p * (1 - lr * wd) (when `decays`); m, v <- the moments with
/// gradient g; p <- p - step_size * m / (sqrt(v) / bias2_sqrt + eps).
/// p, m and v are updated in place; g is read.
void AdamWUpdate(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, bool decays,
                 const AdamWScalars& s);
/// The ATen composite form of AdamWUpdate (any device, any layout).
void AdamWUpdateComposite(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, bool decays,
                          const AdamWScalars& s);
/// The single-loop form: p, m, v contiguous float32 on the CPU (g is made
/// contiguous float32 if it is not). Bumps the version counters of p, m and
/// v like the composite's in-place ops.
void AdamWUpdateFused(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, bool decays,
                      const AdamWScalars& s);

}  // namespace alro::train
