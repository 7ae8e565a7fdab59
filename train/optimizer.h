// train/optimizer.h: AdamW with decoupled weight decay (Loshchilov & Hutter),
// written directly on tensors.
//
// Why not torch::optim::AdamW: its state lives inside the optimizer keyed by
// parameter pointer, and its serialisation is a pickle of whole tensors. Here
// every moment tensor has exactly the shape of its (possibly sharded)
// parameter, carries the parameter's name, and can be read and replaced, so
// the checkpoint code saves and reshards the moments exactly like the weights.
//
// Update for parameter p with gradient g at update number t (1-based), with
// learning rate lr (from the schedule) and weight decay wd:
//   p   <- p * (1 - lr * wd)                      (only when p decays)
//   m   <- beta1 * m + (1 - beta1) * g
//   v   <- beta2 * v + (1 - beta2) * g^2
//   p   <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
// which is torch.optim.AdamW's update. Norm weights and biases do not decay
// (core::ShardedParameter::no_decay), as in GPT-2/LLaMA training recipes.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/sharded_parameter.h"

namespace alro::train {

/// AdamW whose state is one (exp_avg, exp_avg_sq) pair of float32 tensors per
/// parameter, shaped like the parameter (and sharded like it).
class AdamW {
 public:
  /// Optimizes the float32 master weights `params` (the trainable ones; a
  /// parameter decays unless no_decay) with the hyper-parameters of `config`
  /// (the learning rate comes per step from the schedule).
  AdamW(std::vector<core::ShardedParameter> params, const config::OptimizerConfig& config);

  /// Applies one update with learning rate `lr` to every parameter that has a
  /// gradient (parameters without one are left alone, as torch does), then
  /// increments step_count(). Gradients are read, not cleared.
  void Step(double lr);

  /// Sets every gradient to zero (keeps the buffers; no reallocation per step).
  void ZeroGrad();

  /// Number of updates applied so far (the t of bias correction).
  int64_t step_count() const { return step_count_; }
  /// Restores the update count from a checkpoint.
  void set_step_count(int64_t n) { step_count_ = n; }

  const std::vector<core::ShardedParameter>& params() const { return params_; }
  /// First moment of params()[i]; same shape and sharding as the parameter.
  at::Tensor& exp_avg(size_t i) { return exp_avg_[i]; }
  /// Second moment of params()[i].
  at::Tensor& exp_avg_sq(size_t i) { return exp_avg_sq_[i]; }

  /// Checkpoint names of the moments of a parameter called `param_name`.
  static std::string ExpAvgName(const std::string& param_name) { return "optimizer.exp_avg." + param_name; }
  static std::string ExpAvgSqName(const std::string& param_name) { return "optimizer.exp_avg_sq." + param_name; }

  /// Both moments of every parameter, each described with its parameter's
  /// layout (split_dim, offset, global_shape) under ExpAvgName/ExpAvgSqName,
  /// so checkpoints save and reshard them exactly like the weights. The
  /// tensors alias the optimizer state: loading into them restores it.
  std::vector<core::ShardedParameter> StateShards();

 private:
  std::vector<core::ShardedParameter> params_;
  std::vector<at::Tensor> exp_avg_;
  std::vector<at::Tensor> exp_avg_sq_;
  double weight_decay_;
  double beta1_;
  double beta2_;
  double eps_;
  int64_t step_count_ = 0;
};

}  // namespace alro::train
