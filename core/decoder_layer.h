// core/decoder_layer.h: one pre-norm LLaMA decoder layer:
//   h = x + self_attn(input_layernorm(x));  y = h + mlp(post_attention_layernorm(h))
#pragma once

#include <memory>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "config/config.h"
#include "core/attention.h"
#include "core/kv_cache.h"
#include "core/mlp.h"
#include "core/rms_norm.h"
#include "core/rotary_embedding.h"
#include "distributed/communicator.h"

namespace alro::core {

/// A decoder layer; its children carry the Hugging Face names.
class DecoderLayer : public torch::nn::Module {
 public:
  DecoderLayer(const config::ModelConfig& model, dist::Communicator& tp, at::Generator dropout_rng, c10::Device device);

  /// x [B, T, hidden] -> [B, T, hidden]; arguments as in Attention::Forward.
  at::Tensor Forward(const at::Tensor& x, const RotaryEmbedding& rope, int64_t start, const at::Tensor& mask,
                     KVCache* cache, int layer, const at::Tensor& positions);

  std::shared_ptr<RMSNorm> input_layernorm, post_attention_layernorm;
  std::shared_ptr<Attention> self_attn;
  std::shared_ptr<Mlp> mlp;
};

}  // namespace alro::core
