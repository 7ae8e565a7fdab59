// core/mlp.h: LLaMA's SwiGLU feed-forward block, tensor parallel:
//   y = down_proj(silu(gate_proj(x)) * up_proj(x))
// gate_proj and up_proj are column-parallel (sharing one copy of x), so each
// rank computes its slice of the intermediate features; down_proj is
// row-parallel and reduces.
#pragma once

#include <memory>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "config/config.h"
#include "core/parallel_linear.h"
#include "distributed/communicator.h"

namespace alro::core {

/// The MLP block of one decoder layer.
class Mlp : public torch::nn::Module {
 public:
  Mlp(const config::ModelConfig& model, dist::Communicator& tp, at::Generator dropout_rng, c10::Device device);

  /// x [B, T, hidden] replicated -> [B, T, hidden] replicated.
  at::Tensor Forward(const at::Tensor& x);

  std::shared_ptr<ColumnParallelLinear> gate_proj, up_proj;
  std::shared_ptr<RowParallelLinear> down_proj;

 private:
  dist::Communicator& tp_;
};

}  // namespace alro::core
