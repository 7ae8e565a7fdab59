// core/hf_config.h: the Hugging Face `config.json` of a LLaMA-family model
// (model_type llama or mistral), read into and written from ModelConfig.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "config/config.h"
#include "nlohmann/json.hpp"

namespace alro::core {

/// Reads `dir`/config.json and overwrites the shape keys of *model with it
/// (vocab_size, hidden_size, intermediate_size, num_hidden_layers,
/// num_attention_heads, num_key_value_heads, max_position_embeddings,
/// rope_theta, rms_norm_eps, tie_word_embeddings); preset becomes "custom".
/// Features alro does not implement (biases, rope_scaling, another
/// activation or head_dim) are errors naming the key.
absl::Status ApplyHfConfig(const std::string& dir, config::ModelConfig* model);

/// The config.json of `model` as LlamaForCausalLM, with `torch_dtype`
/// ("float32", "bfloat16", "float16") naming the dtype of the saved weights.
nlohmann::json HfConfigJson(const config::ModelConfig& model, const std::string& torch_dtype);

}  // namespace alro::core
