// core/decoder_layer.cc: residual wiring of one decoder layer.
#include "core/decoder_layer.h"

namespace alro::core {

DecoderLayer::DecoderLayer(const config::ModelConfig& m, dist::Communicator& tp, at::Generator dropout_rng,
                           c10::Device device) {
  self_attn = register_module("self_attn", std::make_shared<Attention>(m, tp, dropout_rng, device));
  mlp = register_module("mlp", std::make_shared<Mlp>(m, tp, dropout_rng, device));
  input_layernorm = register_module("input_layernorm", std::make_shared<RMSNorm>(m.hidden_size, m.rms_norm_eps, device));
  post_attention_layernorm =
      register_module("post_attention_layernorm", std::make_shared<RMSNorm>(m.hidden_size, m.rms_norm_eps, device));
}

at::Tensor DecoderLayer::Forward(const at::Tensor& x, const RotaryEmbedding& rope, int64_t start,
                                 const at::Tensor& mask, KVCache* cache, int layer, const at::Tensor& positions) {
  const at::Tensor h =
      x + self_attn->Forward(input_layernorm->Forward(x), rope, start, mask, cache, layer, positions);
  return h + mlp->Forward(post_attention_layernorm->Forward(h));
}

}  // namespace alro::core
