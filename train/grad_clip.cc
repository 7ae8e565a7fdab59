// train/grad_clip.cc: global-norm gradient clipping (see grad_clip.h).
#include "train/grad_clip.h"

#include <ATen/core/grad_mode.h>

#include <cmath>

namespace alro::train {
namespace {
// Added to the norm before dividing, as torch.nn.utils.clip_grad_norm_ does.
constexpr double kClipEpsilon = 1e-6;
}  // namespace

double GlobalGradNorm(const std::vector<core::ShardedParameter>& params, dist::Communicator& tp) {
  at::NoGradGuard no_grad;
  // Summed on the parameters' device (one host sync per step, not one per
  // parameter); every rank's total lives on its device, so the all-reduce
  // takes the same transport everywhere.
  const c10::Device device = params.empty() ? c10::Device(c10::kCPU) : params.front().tensor.device();
  at::Tensor total = at::zeros({1}, at::TensorOptions().dtype(at::kDouble).device(device));
  for (const core::ShardedParameter& p : params) {
    const at::Tensor& g = p.tensor.grad();
    if (!g.defined()) continue;
    if (p.split_dim < 0 && tp.rank() != 0) continue;  // replicated: count once
    // Double accumulation keeps the norm independent of how the parameter
    // is split (the tp 1 and tp 2 norms agree to rounding of float squares).
    total += g.to(at::kDouble).pow(2).sum();
  }
  tp.AllReduce(total, dist::ReduceOp::kSum);
  return std::sqrt(total.item<double>());
}

double ClipGradients(const std::vector<core::ShardedParameter>& params, double norm, double max_norm) {
  if (max_norm <= 0.0 || !(norm > max_norm)) return 1.0;
  at::NoGradGuard no_grad;
  const double factor = max_norm / (norm + kClipEpsilon);
  for (const core::ShardedParameter& p : params) {
    at::Tensor g = p.tensor.mutable_grad();
    if (g.defined()) g.mul_(factor);
  }
  return factor;
}

}  // namespace alro::train
