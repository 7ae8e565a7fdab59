// train/grad_clip.cc: global-norm gradient clipping (see grad_clip.h).
#include "train/grad_clip.h"

#include <ATen/core/grad_mode.h>

#include <cmath>

#include "train/grad_spans.h"

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
  std::vector<at::Tensor> counted;
  for (const core::ShardedParameter& p : params) {
    if (p.split_dim < 0 && tp.rank() != 0) continue;  // replicated: count once
    counted.push_back(p.tensor.grad());
  }
  // One pass per flat gradient buffer (train/grad_spans.h), not per parameter.
  at::Tensor total = at::zeros({1}, at::TensorOptions().dtype(at::kDouble).device(device));
  for (const at::Tensor& span : ContiguousSpans(counted)) {
    // Squares and sums in double keep the norm independent of how the
    // parameters are split and grouped (tp 1 and tp 2 agree to double rounding).
    total += span.to(at::kDouble, /*non_blocking=*/false, /*copy=*/true).square_().sum();
  }
  tp.AllReduce(total, dist::ReduceOp::kSum);
  return std::sqrt(total.item<double>());
}

double ClipGradients(const std::vector<core::ShardedParameter>& params, double norm, double max_norm) {
  if (max_norm <= 0.0 || !(norm > max_norm)) return 1.0;
  at::NoGradGuard no_grad;
  const double factor = max_norm / (norm + kClipEpsilon);
  std::vector<at::Tensor> grads;
  grads.reserve(params.size());
  for (const core::ShardedParameter& p : params) grads.push_back(p.tensor.grad());
  for (at::Tensor& span : ContiguousSpans(grads)) span.mul_(factor);
  return factor;
}

}  // namespace alro::train
