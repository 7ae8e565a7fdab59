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
  // h = x + attn(norm(x)); out = h + mlp(norm(h)). Each norm takes the
  // stream it reads as well (ResidualRmsNorm), so x's and h's two gradients
  // (through the norm, and along the stream) are summed inside its backward.
  const ResidualNormed in = input_layernorm->ForwardResidual(x, at::Tensor());
  const at::Tensor attn = self_attn->Forward(in.normed, rope, start, mask, cache, layer, positions);
  const ResidualNormed mid = post_attention_layernorm->ForwardResidual(in.sum, attn);
  return mid.sum + mlp->Forward(mid.normed);
}

}  // namespace alro::core
