// train/optimizer.cc: the AdamW update (see optimizer.h for the formula).
#include "train/optimizer.h"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <utility>

#include "common/status.h"

namespace alro::train {

AdamW::AdamW(std::vector<core::ShardedParameter> params, const config::OptimizerConfig& config)
    : params_(std::move(params)),
      weight_decay_(config.weight_decay),
      beta1_(config.beta1),
      beta2_(config.beta2),
      eps_(config.eps) {
  exp_avg_.reserve(params_.size());
  exp_avg_sq_.reserve(params_.size());
  for (const core::ShardedParameter& p : params_) {
    ALRO_CHECK(p.tensor.defined(), "optimizer parameter ", p.name, " is undefined");
    ALRO_CHECK(p.tensor.scalar_type() == at::kFloat, "optimizer parameter ", p.name,
               " must be a float32 master weight");
    exp_avg_.push_back(at::zeros_like(p.tensor, at::MemoryFormat::Contiguous));
    exp_avg_sq_.push_back(at::zeros_like(p.tensor, at::MemoryFormat::Contiguous));
  }
}

void AdamW::Step(double lr) {
  at::NoGradGuard no_grad;
  ++step_count_;
  // Bias corrections in double: beta^t underflows gracefully and the scalars
  // are the same on every rank, so replicas stay bit-identical.
  const double bias1 = 1.0 - std::pow(beta1_, static_cast<double>(step_count_));
  const double bias2 = 1.0 - std::pow(beta2_, static_cast<double>(step_count_));
  const double step_size = lr / bias1;
  const double bias2_sqrt = std::sqrt(bias2);
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].tensor;
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    if (!params_[i].no_decay && weight_decay_ != 0.0) p.mul_(1.0 - lr * weight_decay_);
    exp_avg_[i].mul_(beta1_).add_(g, 1.0 - beta1_);
    exp_avg_sq_[i].mul_(beta2_).addcmul_(g, g, 1.0 - beta2_);
    const at::Tensor denom = (exp_avg_sq_[i].sqrt() / bias2_sqrt).add_(eps_);
    p.addcdiv_(exp_avg_[i], denom, -step_size);
  }
}

void AdamW::ZeroGrad() {
  for (core::ShardedParameter& p : params_) {
    at::Tensor g = p.tensor.mutable_grad();
    if (g.defined()) g.zero_();
  }
}

std::vector<core::ShardedParameter> AdamW::StateShards() {
  std::vector<core::ShardedParameter> shards;
  shards.reserve(2 * params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    core::ShardedParameter m = params_[i];
    m.name = ExpAvgName(params_[i].name);
    m.tensor = exp_avg_[i];
    m.trainable = false;
    core::ShardedParameter v = m;
    v.name = ExpAvgSqName(params_[i].name);
    v.tensor = exp_avg_sq_[i];
    shards.push_back(std::move(m));
    shards.push_back(std::move(v));
  }
  return shards;
}

}  // namespace alro::train
