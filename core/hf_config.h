// core/hf_config.h: the Hugging Face `config.json` of a LLaMA-family model
// (model_type llama or mistral), read into and written from ModelConfig.
//
// Reading follows transformers' LlamaConfig / MistralConfig: a key the file
// omits takes that class's default (recorded in HfModelShape::defaulted, so
// callers can say so). Features alro's decoder does not implement are refused
// by name, never ignored: rope_scaling, attention or MLP biases, another
// hidden_act or model_type, a head_dim other than hidden/heads, attention
// dropout, a sliding window shorter than the context, quantized weights.
#pragma once

#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/config.h"
#include "nlohmann/json.hpp"

namespace alro::core {

/// The architecture a config.json defines.
struct HfModelShape {
  /// The file it was read from (named in messages).
  std::string path;
  /// vocab_size, hidden_size, intermediate_size, num_layers, num_heads,
  /// num_kv_heads, max_seq_len, rope_theta, rms_norm_eps and tie_embeddings
  /// as the file gives them; every other key keeps ModelConfig's default.
  config::ModelConfig model;
  /// config.json keys the file omits, whose value is the class default.
  std::set<std::string> defaulted;
};

/// Parses config.json text (`path` names it in errors). Every problem is a
/// user error naming the file and the key.
absl::StatusOr<HfModelShape> ParseHfConfig(absl::string_view text, const std::string& path);

/// Reads and parses `dir`/config.json.
absl::StatusOr<HfModelShape> ReadHfConfig(const std::string& dir);

/// Reads `dir`/config.json and overwrites the shape keys of *model with it;
/// preset becomes "custom". (A job's configuration goes through
/// core/pretrained_shape.h instead, which also checks explicit values.)
absl::Status ApplyHfConfig(const std::string& dir, config::ModelConfig* model);

/// The config.json of `model` as LlamaForCausalLM, with `torch_dtype`
/// ("float32", "bfloat16", "float16") naming the dtype of the saved weights.
nlohmann::json HfConfigJson(const config::ModelConfig& model, const std::string& torch_dtype);

}  // namespace alro::core
