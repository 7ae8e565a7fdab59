// core/rms_norm.h: RMSNorm (Zhang & Sennrich 2019) as LLaMA uses it: the
// statistics in float32 whatever the compute dtype, then the weight.
#pragma once

#include <cstdint>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "core/fused_ops.h"

namespace alro::core {

/// y = x / sqrt(mean(x^2) + eps) * weight over the last dimension. The weight
/// is replicated on every tensor-parallel rank (it sees the full hidden size).
class RMSNorm : public torch::nn::Module {
 public:
  RMSNorm(int64_t hidden_size, double eps, c10::Device device);
  /// Normalises `x` (any dtype); the result has x's dtype.
  at::Tensor Forward(const at::Tensor& x);
  /// The residual step around the norm (core/fused_ops.h's
  /// ResidualRmsNorm): {x + delta, its normalised value}; delta may be
  /// undefined (then the stream is x).
  ResidualNormed ForwardResidual(const at::Tensor& x, const at::Tensor& delta);
  const at::Tensor& weight() const { return weight_; }

 private:
  double eps_;
  at::Tensor weight_;
};

}  // namespace alro::core
