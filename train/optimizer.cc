// train/optimizer.cc: the AdamW update (see optimizer.h for the formula).
#include "train/optimizer.h"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <utility>

#include "common/status.h"
#include "train/adamw_update.h"
#include "train/grad_spans.h"

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
  AdamWScalars scalars;
  scalars.lr = lr;
  scalars.weight_decay = weight_decay_;
  scalars.beta1 = beta1_;
  scalars.beta2 = beta2_;
  scalars.eps = eps_;
  scalars.step_size = lr / bias1;
  scalars.bias2_sqrt = std::sqrt(bias2);
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].tensor;
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    AdamWUpdate(p, g, exp_avg_[i], exp_avg_sq_[i], !params_[i].no_decay, scalars);
  }
}

void AdamW::ZeroGrad() {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  grads.reserve(params_.size());
  for (const core::ShardedParameter& p : params_) grads.push_back(p.tensor.grad());
  // One zero_ per flat gradient buffer (train/grad_spans.h).
  for (at::Tensor& span : ContiguousSpans(grads)) span.zero_();
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
