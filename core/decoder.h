// core/decoder.h: the tensor-parallel LLaMA-family decoder (LLaMA-2/3,
// Mistral-shaped): token embedding, pre-norm layers of grouped-query
// attention with RoPE and a SwiGLU MLP, a final RMSNorm and a tied or untied
// LM head.
//
// Written once for any tensor-parallel size: embed_tokens and lm_head are
// vocabulary-parallel (vocabulary padded to a multiple of tp), attention
// heads and MLP features are split by column/row-parallel linears (Megatron
// layout), and all communication goes through distributed/tensor_parallel.h.
// Parameters stay unfused and carry Hugging Face names
// (model.layers.0.self_attn.q_proj.weight, ...), so named_parameters(),
// checkpoints and the HF export agree without a mapping table.
//
// Forward() stops at the final norm; LocalLogits() applies the LM head where
// the caller needs logits (training needs them only at answer positions).
//
//   Decoder model(cfg.model, grid);
//   at::Tensor hidden = model.Forward(tokens);              // [B, T, H]
//   at::Tensor logits = model.LocalLogits(hidden_at_slots); // [N, V/tp]
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "config/config.h"
#include "core/decoder_layer.h"
#include "core/kv_cache.h"
#include "core/parallel_linear.h"
#include "core/rms_norm.h"
#include "core/rotary_embedding.h"
#include "core/sharded_parameter.h"
#include "core/vocab_parallel_embedding.h"
#include "distributed/process_grid.h"

namespace alro::core {

/// The compute dtype named by model.dtype ("float32" or "bfloat16").
at::ScalarType ComputeDtype(const config::ModelConfig& model);

/// The decoder (see the file comment). Master weights are float32; the
/// forward runs in model.dtype. With model.lora.enabled the base weights are
/// frozen (requires_grad false) and only the adapters train.
class Decoder : public torch::nn::Module {
 public:
  /// Builds the layers for `grid`'s tensor-parallel group, with every weight
  /// on `device` (dist::SelectDevice). With `random_init` the weights are
  /// drawn by InitializeWeights(model.seed); otherwise they are zero (use it
  /// when a checkpoint is loaded next, to save time).
  Decoder(const config::ModelConfig& model, dist::ProcessGrid& grid, bool random_init = true,
          c10::Device device = c10::Device(c10::kCPU));

  /// The device of the weights and of every output.
  c10::Device device() const { return device_; }

  /// tokens [B, T] int64 in [0, vocab_size) -> final hidden states [B, T, H]
  /// (after the final norm) in the compute dtype, replicated on the
  /// tensor-parallel ranks. Right padding is harmless (causal attention).
  at::Tensor Forward(const at::Tensor& tokens);

  /// Incremental form for decoding: the tokens sit at positions
  /// [cache->length, cache->length + T); their keys/values are appended to
  /// `cache` and cache->length advances by T. Never checkpointed.
  at::Tensor Forward(const at::Tensor& tokens, KVCache* cache);

  /// Packed rows (train/shared_prefix_layout.h): token (b, t) sits at rotary
  /// position positions[b][t] (int64 [B, T]) and reads the keys s where
  /// mask[b][t][s] is false (bool [B, T, T], true = masked; every token must
  /// see itself). With positions 0..T-1 and a causal mask it equals
  /// Forward(tokens). Checkpointed like it; never decodes.
  at::Tensor Forward(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& mask);

  /// hidden [..., H] -> this rank's vocabulary shard of the logits
  /// [..., vocab_shard_size()] in float32: global token vocab_start() + j is
  /// column j. Columns past vocab_size (padding of the last shard) are -inf.
  at::Tensor LocalLogits(const at::Tensor& hidden);

  /// First global token id of this rank's vocabulary shard.
  int64_t vocab_start() const { return embed_tokens_->vocab_start(); }
  /// Columns of LocalLogits (padded vocabulary / tp).
  int64_t vocab_shard_size() const { return embed_tokens_->shard_size(); }

  /// Every parameter with its sharding, in a fixed order (embedding, layers,
  /// final norm, LM head; adapters after their base weight). Checkpoints and
  /// resharding rely on it.
  std::vector<ShardedParameter> ShardedParameters() const;

  /// The base weights as they should be exported: LoRA adapters merged into
  /// their base weight (copies), adapters themselves left out.
  std::vector<ShardedParameter> ExportParameters() const;

  /// Redraws every weight from `seed`, the same full tensor whatever the
  /// tensor-parallel size (each rank keeps its slice): norms 1, LoRA B 0,
  /// LoRA A uniform(+-1/sqrt(in)), all else normal(0, init_std).
  void InitializeWeights(uint64_t seed);

  /// An empty cache for `batch` sequences of up to `capacity` positions.
  KVCache NewKVCache(int64_t batch, int64_t capacity) const;

  const config::ModelConfig& config() const { return config_; }
  dist::ProcessGrid& grid() { return grid_; }
  at::ScalarType compute_dtype() const { return dtype_; }
  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }
  /// The CPU generator of every LoRA dropout mask of this rank (seeded from
  /// model.seed and the data-parallel rank). Checkpoint its state to resume a
  /// run with lora.dropout > 0 exactly.
  at::Generator& dropout_generator() { return dropout_rng_; }

 private:
  void CheckTokens(const at::Tensor& tokens) const;
  /// `mask` undefined: the causal mask of positions [start, start + T).
  at::Tensor RunLayers(at::Tensor h, int64_t start, KVCache* cache, const at::Tensor& positions, at::Tensor mask);

  config::ModelConfig config_;
  dist::ProcessGrid& grid_;
  at::ScalarType dtype_;
  c10::Device device_;
  at::Generator dropout_rng_;
  RotaryEmbedding rope_;
  std::shared_ptr<torch::nn::Module> model_;
  std::shared_ptr<VocabParallelEmbedding> embed_tokens_;
  std::vector<std::shared_ptr<DecoderLayer>> layers_;
  std::shared_ptr<RMSNorm> norm_;
  std::shared_ptr<ColumnParallelLinear> lm_head_;  // null with tied embeddings
};

}  // namespace alro::core
