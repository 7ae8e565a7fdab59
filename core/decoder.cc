// core/decoder.cc: the decoder's assembly, forward, LM head and parameter
// bookkeeping.
#include "core/decoder.h"

#include <cmath>
#include <limits>
#include <map>

#include <ATen/CPUGeneratorImpl.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/status.h"
#include "core/activation_checkpoint.h"
#include "core/batched_matmul.h"
#include "core/compute_weight.h"
#include "core/attention.h"
#include "distributed/tensor_parallel.h"

namespace alro::core {
namespace {

// Mixes the tensor-parallel-independent data-parallel rank into the dropout
// seed: tensor-parallel peers must draw identical masks, data-parallel
// replicas different ones.
constexpr uint64_t kDropoutSeedStride = 0x9E3779B97F4A7C15ull;

// FNV-1a of a parameter name: each parameter gets its own generator, so its
// initial value depends only on (seed, name), never on the order or on tp.
uint64_t NameHash(const std::string& name) { return Fnv1a(name, kFnv1aAlroOffset); }

// Calls fn(prefix, linear) for every column-parallel projection and
// fr(prefix, linear) for every row-parallel one.
template <typename ColumnFn, typename RowFn>
void ForEachProjection(const std::vector<std::shared_ptr<DecoderLayer>>& layers, ColumnFn fn, RowFn fr) {
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    const DecoderLayer& l = *layers[i];
    fn(p + "self_attn.q_proj.", *l.self_attn->q_proj);
    fn(p + "self_attn.k_proj.", *l.self_attn->k_proj);
    fn(p + "self_attn.v_proj.", *l.self_attn->v_proj);
    fr(p + "self_attn.o_proj.", *l.self_attn->o_proj);
    fn(p + "mlp.gate_proj.", *l.mlp->gate_proj);
    fn(p + "mlp.up_proj.", *l.mlp->up_proj);
    fr(p + "mlp.down_proj.", *l.mlp->down_proj);
  }
}

void AppendNorm(const std::string& name, const RMSNorm& norm, std::vector<ShardedParameter>* out) {
  const at::Tensor& w = norm.weight();
  out->push_back({name, w, -1, {w.size(0)}, 0, w.requires_grad(), /*no_decay=*/true});
}

}  // namespace

at::ScalarType ComputeDtype(const config::ModelConfig& model) {
  return model.dtype == "bfloat16" ? at::kBFloat16 : at::kFloat;
}

Decoder::Decoder(const config::ModelConfig& model, dist::ProcessGrid& grid, bool random_init, c10::Device device)
    : config_(model),
      grid_(grid),
      dtype_(ComputeDtype(model)),
      device_(device),
      dropout_rng_(at::detail::createCPUGenerator(static_cast<uint64_t>(model.seed) +
                                                  kDropoutSeedStride * static_cast<uint64_t>(grid.dp_rank()))),
      rope_(model.hidden_size / model.num_heads, model.max_seq_len, model.rope_theta, device) {
  dist::Communicator& tp = grid.tp();
  ALRO_CHECK(model.hidden_size % model.num_heads == 0 && model.num_heads % model.num_kv_heads == 0 &&
                 model.num_kv_heads % tp.size() == 0 && model.intermediate_size % tp.size() == 0,
             "model shape incompatible with tensor_parallel ", tp.size(), " (run ValidateConfig first)");
  model_ = register_module("model", std::make_shared<torch::nn::Module>());
  embed_tokens_ = model_->register_module(
      "embed_tokens", std::make_shared<VocabParallelEmbedding>(model.vocab_size, model.hidden_size, tp, device));
  auto layers = model_->register_module("layers", std::make_shared<torch::nn::Module>());
  for (int64_t i = 0; i < model.num_layers; ++i) {
    layers_.push_back(
        layers->register_module(std::to_string(i), std::make_shared<DecoderLayer>(model, tp, dropout_rng_, device)));
  }
  norm_ = model_->register_module("norm", std::make_shared<RMSNorm>(model.hidden_size, model.rms_norm_eps, device));
  if (!model.tie_embeddings) {
    lm_head_ = register_module("lm_head", std::make_shared<ColumnParallelLinear>(
                                              model.hidden_size, PaddedVocabSize(model.vocab_size, tp.size()), tp,
                                              LoraSpec{}, at::Generator(), device, model.vocab_size));
  }
  if (model.lora.enabled) {
    // LoRA fine-tuning: only the adapters train.
    for (auto& p : named_parameters()) {
      if (!absl::StrContains(p.key(), "lora_")) p.value().requires_grad_(false);
    }
  }
  if (random_init) InitializeWeights(static_cast<uint64_t>(model.seed));
}

at::Tensor Decoder::Forward(const at::Tensor& tokens) { return Forward(tokens, nullptr); }

void Decoder::CheckTokens(const at::Tensor& tokens) const {
  ALRO_CHECK(tokens.dim() == 2 && tokens.scalar_type() == at::kLong, "tokens must be [B, T] int64");
  if (tokens.numel() > 0) {
    const int64_t lo = tokens.min().item<int64_t>(), hi = tokens.max().item<int64_t>();
    ALRO_CHECK(lo >= 0 && hi < config_.vocab_size, "token ids [", lo, ", ", hi, "] outside the vocabulary of ",
               config_.vocab_size, " (model.vocab_size too small for the tokenizer?)");
  }
}

at::Tensor Decoder::Forward(const at::Tensor& tokens, KVCache* cache) {
  CheckTokens(tokens);
  const int64_t start = cache != nullptr ? cache->length : 0;
  at::Tensor h = embed_tokens_->Forward(tokens.to(device_), dtype_);
  h = RunLayers(h, start, cache, at::Tensor(), at::Tensor());
  if (cache != nullptr) cache->length += tokens.size(1);
  return norm_->Forward(h);
}

at::Tensor Decoder::Forward(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& mask) {
  CheckTokens(tokens);
  const int64_t b = tokens.size(0), t = tokens.size(1);
  ALRO_CHECK(positions.scalar_type() == at::kLong && positions.dim() == 2 && positions.size(0) == b &&
                 positions.size(1) == t,
             "positions must be [B, T] int64 like the tokens");
  ALRO_CHECK(mask.scalar_type() == at::kBool && mask.dim() == 3 && mask.size(0) == b && mask.size(1) == t &&
                 mask.size(2) == t,
             "mask must be [B, T, T] bool");
  if (positions.numel() > 0) {
    const int64_t lo = positions.min().item<int64_t>(), hi = positions.max().item<int64_t>();
    ALRO_CHECK(lo >= 0 && hi < rope_.max_positions(), "positions [", lo, ", ", hi, "] outside model.max_seq_len ",
               rope_.max_positions());
  }
  at::Tensor h = embed_tokens_->Forward(tokens.to(device_), dtype_);
  h = RunLayers(h, 0, nullptr, positions.to(device_), mask.to(device_));
  return norm_->Forward(h);
}

at::Tensor Decoder::RunLayers(at::Tensor h, int64_t start, KVCache* cache, const at::Tensor& positions,
                              at::Tensor mask) {
  if (!mask.defined()) mask = CausalMask(h.size(1), start, h.device());
  const bool checkpoint =
      config_.activation_checkpointing && is_training() && at::GradMode::is_enabled() && cache == nullptr;
  if (checkpoint && !h.requires_grad()) {
    // With a frozen embedding (LoRA) the layer input has no graph; the
    // checkpoint's backward must still run to reach the adapters.
    h = h.detach().requires_grad_(true);
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    DecoderLayer* layer = layers_[i].get();
    const int index = static_cast<int>(i);
    if (checkpoint) {
      h = CheckpointedForward(
          [this, layer, start, mask, positions](const at::Tensor& x) {
            return layer->Forward(x, rope_, start, mask, nullptr, 0, positions);
          },
          h, dropout_rng_);
    } else {
      h = layer->Forward(h, rope_, start, mask, cache, index, positions);
    }
  }
  return h;
}

at::Tensor Decoder::LocalLogits(const at::Tensor& hidden) {
  const at::Tensor x = dist::CopyToTensorParallelRegion(hidden, grid_.tp());
  const at::Tensor& w = lm_head_ ? lm_head_->weight() : embed_tokens_->weight();
  at::Tensor logits = LinearProduct(x, ComputeWeight(w, x.scalar_type())).to(at::kFloat);
  const int64_t valid = config_.vocab_size - vocab_start();
  if (valid < vocab_shard_size()) {
    const at::Tensor padding =
        at::arange(vocab_shard_size(), at::TensorOptions().dtype(at::kLong).device(logits.device())) >= valid;
    logits = logits.masked_fill(padding, -std::numeric_limits<float>::infinity());
  }
  return logits;
}

std::vector<ShardedParameter> Decoder::ShardedParameters() const {
  std::vector<ShardedParameter> out;
  embed_tokens_->AppendShardedParameters("model.embed_tokens.", &out);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    const DecoderLayer& l = *layers_[i];
    l.self_attn->q_proj->AppendShardedParameters(p + "self_attn.q_proj.", &out);
    l.self_attn->k_proj->AppendShardedParameters(p + "self_attn.k_proj.", &out);
    l.self_attn->v_proj->AppendShardedParameters(p + "self_attn.v_proj.", &out);
    l.self_attn->o_proj->AppendShardedParameters(p + "self_attn.o_proj.", &out);
    l.mlp->gate_proj->AppendShardedParameters(p + "mlp.gate_proj.", &out);
    l.mlp->up_proj->AppendShardedParameters(p + "mlp.up_proj.", &out);
    l.mlp->down_proj->AppendShardedParameters(p + "mlp.down_proj.", &out);
    AppendNorm(p + "input_layernorm.weight", *l.input_layernorm, &out);
    AppendNorm(p + "post_attention_layernorm.weight", *l.post_attention_layernorm, &out);
  }
  AppendNorm("model.norm.weight", *norm_, &out);
  if (lm_head_) lm_head_->AppendShardedParameters("lm_head.", &out);
  return out;
}

std::vector<ShardedParameter> Decoder::ExportParameters() const {
  std::map<std::string, at::Tensor> merged;
  ForEachProjection(
      layers_, [&](const std::string& p, const ColumnParallelLinear& l) { merged[p + "weight"] = l.MergedWeight(); },
      [&](const std::string& p, const RowParallelLinear& l) { merged[p + "weight"] = l.MergedWeight(); });
  std::vector<ShardedParameter> out;
  for (ShardedParameter& p : ShardedParameters()) {
    if (absl::StrContains(p.name, "lora_")) continue;
    auto it = merged.find(p.name);
    p.tensor = it != merged.end() ? it->second : p.tensor.detach();
    out.push_back(std::move(p));
  }
  return out;
}

void Decoder::InitializeWeights(uint64_t seed) {
  at::NoGradGuard no_grad;
  for (const ShardedParameter& p : ShardedParameters()) {
    at::Tensor local = p.tensor;
    if (absl::EndsWith(p.name, "norm.weight")) {
      local.fill_(1.0);
      continue;
    }
    if (absl::EndsWith(p.name, "lora_B.weight")) {
      local.zero_();
      continue;
    }
    at::Generator gen = at::detail::createCPUGenerator(seed ^ NameHash(p.name));
    at::Tensor full;
    if (absl::EndsWith(p.name, "lora_A.weight")) {
      // PEFT's default: kaiming_uniform(a=sqrt(5)), i.e. U(+-1/sqrt(fan_in)).
      const double bound = 1.0 / std::sqrt(static_cast<double>(p.global_shape[1]));
      full = at::empty(p.global_shape).uniform_(-bound, bound, gen);
    } else {
      full = at::normal(0.0, config_.init_std, p.global_shape, gen);
    }
    if (p.split_dim < 0) {
      local.copy_(full);
      continue;
    }
    local.zero_();  // vocabulary padding rows stay zero
    const int64_t n = p.valid_length();
    local.narrow(p.split_dim, 0, n).copy_(full.narrow(p.split_dim, p.offset, n));
  }
}

KVCache Decoder::NewKVCache(int64_t batch, int64_t capacity) const {
  KVCache cache;
  const int64_t head_dim = config_.hidden_size / config_.num_heads;
  const int64_t local_kv = config_.num_kv_heads / grid_.tp_size();
  for (size_t i = 0; i < layers_.size(); ++i) {
    const at::TensorOptions options = at::TensorOptions().dtype(dtype_).device(device_);
    cache.keys.push_back(at::zeros({batch, local_kv, capacity, head_dim}, options));
    cache.values.push_back(at::zeros({batch, local_kv, capacity, head_dim}, options));
  }
  return cache;
}

}  // namespace alro::core
