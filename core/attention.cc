// core/attention.cc: grouped-query attention with RoPE and a KV cache, or
// with explicit positions and a per-row mask for packed rows.
#include "core/attention.h"

#include "common/status.h"
#include "core/fused_ops.h"
#include "core/lora.h"
#include "distributed/tensor_parallel.h"

namespace alro::core {

at::Tensor CausalMask(int64_t t, int64_t start, c10::Device device) {
  const at::TensorOptions i64 = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor query_pos = at::arange(start, start + t, i64).unsqueeze(1);
  const at::Tensor key_pos = at::arange(start + t, i64).unsqueeze(0);
  return key_pos > query_pos;
}

at::Tensor GroupedQueryAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                 const at::Tensor& mask) {
  const int64_t b = q.size(0), h = q.size(1), t = q.size(2), d = q.size(3);
  const int64_t kv = k.size(1);
  const int64_t group = h / kv;
  // Query heads kv*group + i read key/value head kv: fold the group into the
  // query rows instead of repeating k and v.
  return MaskedAttention(q.reshape({b, kv, group * t, d}), k, v, mask).view({b, h, t, d});
}

Attention::Attention(const config::ModelConfig& m, dist::Communicator& tp, at::Generator dropout_rng,
                     c10::Device device)
    : head_dim_(m.hidden_size / m.num_heads),
      local_heads_(m.num_heads / tp.size()),
      local_kv_heads_(m.num_kv_heads / tp.size()),
      tp_(tp) {
  ALRO_CHECK(m.num_heads % tp.size() == 0 && m.num_kv_heads % tp.size() == 0,
             "tensor_parallel must divide num_heads and num_kv_heads");
  const int64_t kv_dim = m.num_kv_heads * head_dim_;
  q_proj = register_module("q_proj", std::make_shared<ColumnParallelLinear>(
                                         m.hidden_size, m.num_heads * head_dim_, tp, LoraSpecFor(m.lora, "q_proj"),
                                         dropout_rng, device));
  k_proj = register_module("k_proj", std::make_shared<ColumnParallelLinear>(
                                         m.hidden_size, kv_dim, tp, LoraSpecFor(m.lora, "k_proj"), dropout_rng, device));
  v_proj = register_module("v_proj", std::make_shared<ColumnParallelLinear>(
                                         m.hidden_size, kv_dim, tp, LoraSpecFor(m.lora, "v_proj"), dropout_rng, device));
  o_proj = register_module("o_proj", std::make_shared<RowParallelLinear>(
                                         m.num_heads * head_dim_, m.hidden_size, tp, LoraSpecFor(m.lora, "o_proj"),
                                         dropout_rng, device));
}

at::Tensor Attention::Forward(const at::Tensor& x, const RotaryEmbedding& rope, int64_t start,
                              const at::Tensor& mask, KVCache* cache, int layer, const at::Tensor& positions) {
  const int64_t b = x.size(0), t = x.size(1);
  ALRO_CHECK(!positions.defined() || (cache == nullptr && start == 0), "explicit positions do not decode");
  const auto rotate = [&](const at::Tensor& heads) {
    return positions.defined() ? rope.Apply(heads, positions) : rope.Apply(heads, start);
  };
  const at::Tensor xc = dist::CopyToTensorParallelRegion(x, tp_);
  // Heads first, [B, heads, T, D]: the rotation writes q and k in that
  // layout, and v's transposed view multiplies without a copy.
  const std::vector<at::Tensor> qkv =
      ColumnParallelLinear::ForwardCopiedGroup(xc, {q_proj.get(), k_proj.get(), v_proj.get()});
  const at::Tensor q = rotate(qkv[0].view({b, t, local_heads_, head_dim_}));
  at::Tensor k = rotate(qkv[1].view({b, t, local_kv_heads_, head_dim_}));
  at::Tensor v = qkv[2].view({b, t, local_kv_heads_, head_dim_}).transpose(1, 2);
  if (cache != nullptr) {
    ALRO_CHECK(start + t <= cache->capacity(), "KV cache capacity ", cache->capacity(), " exceeded at ", start + t);
    cache->keys[layer].narrow(2, start, t).copy_(k);
    cache->values[layer].narrow(2, start, t).copy_(v);
    k = cache->keys[layer].narrow(2, 0, start + t);
    v = cache->values[layer].narrow(2, 0, start + t);
  }
  const at::Tensor out = GroupedQueryAttention(q, k, v, mask);  // [B, h, T, D]
  return o_proj->Forward(out.transpose(1, 2).reshape({b, t, local_heads_ * head_dim_}));
}

}  // namespace alro::core
