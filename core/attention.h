// core/attention.h: grouped-query causal self-attention, tensor parallel.
//
// Heads are split over the tensor-parallel ranks: q_proj, k_proj and v_proj
// are column-parallel (rank r owns query heads [r*H/tp, (r+1)*H/tp) and the
// key/value heads they read, [r*KV/tp, (r+1)*KV/tp)), o_proj is row-parallel.
// One CopyToTensorParallelRegion before q/k/v and one reduction inside o_proj
// are the block's only communication. Query head j reads key/value head
// j / (H/KV), as in Hugging Face's repeat_kv.
#pragma once

#include <cstdint>
#include <memory>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "config/config.h"
#include "core/kv_cache.h"
#include "core/parallel_linear.h"
#include "core/rotary_embedding.h"
#include "distributed/communicator.h"

namespace alro::core {

/// Causal mask for `t` new queries at positions [start, start + t) over keys
/// [0, start + t): true where the key is in the future (to be masked).
at::Tensor CausalMask(int64_t t, int64_t start, c10::Device device);

/// Scaled-dot-product attention with grouped query heads (MaskedAttention of
/// core/fused_ops.h; the softmax in float32, double for double): q [B, H, T, D], k/v [B, KV, S, D], mask [T, S] shared by the
/// batch or [B, T, S] per row (true = masked; every query must see at least
/// one key) -> [B, H, T, D] in q's dtype. H must be a multiple of KV.
at::Tensor GroupedQueryAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                 const at::Tensor& mask);

/// The attention block of one decoder layer (see the file comment).
class Attention : public torch::nn::Module {
 public:
  Attention(const config::ModelConfig& model, dist::Communicator& tp, at::Generator dropout_rng, c10::Device device);

  /// x [B, T, hidden] replicated -> [B, T, hidden] replicated. Tokens sit at
  /// positions [start, start + T); `mask` comes from CausalMask. With a
  /// `cache`, this layer's keys/values for the new tokens are written at
  /// [start, start + T) of `layer` and attention reads positions [0, start + T).
  /// A defined `positions` [B, T] int64 overrides the contiguous positions
  /// for rotary embedding (packed rows; then `mask` is [B, T, T], start is 0
  /// and there is no cache).
  at::Tensor Forward(const at::Tensor& x, const RotaryEmbedding& rope, int64_t start, const at::Tensor& mask,
                     KVCache* cache, int layer, const at::Tensor& positions);

  std::shared_ptr<ColumnParallelLinear> q_proj, k_proj, v_proj;
  std::shared_ptr<RowParallelLinear> o_proj;

 private:
  int64_t head_dim_, local_heads_, local_kv_heads_;
  dist::Communicator& tp_;
};

}  // namespace alro::core
