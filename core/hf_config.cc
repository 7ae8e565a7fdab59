// core/hf_config.cc: config.json <-> ModelConfig.
#include "core/hf_config.h"

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/json_util.h"
#include "common/status.h"

namespace alro::core {
namespace {

constexpr char kConfigFile[] = "config.json";
// LlamaConfig's defaults for keys a config.json may omit.
constexpr double kDefaultRopeTheta = 10000.0;
constexpr double kDefaultRmsNormEps = 1e-6;

// Reads an integer key; `required` keys must be present.
absl::Status ReadInt(const nlohmann::json& j, const std::string& path, const char* key, bool required,
                     int64_t* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (!required) return absl::OkStatus();
    return InvalidArgument(absl::StrCat(path, ": key \"", key, "\" is missing"),
                           "use the config.json that came with the checkpoint");
  }
  if (!it->is_number_integer() || it->get<int64_t>() <= 0) {
    return InvalidArgument(absl::StrCat(path, ": key \"", key, "\" must be a positive integer, got ", it->dump()),
                           "use the config.json that came with the checkpoint");
  }
  *out = it->get<int64_t>();
  return absl::OkStatus();
}

absl::Status ReadDouble(const nlohmann::json& j, const std::string& path, const char* key, double* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number() || it->get<double>() <= 0) {
    return InvalidArgument(absl::StrCat(path, ": key \"", key, "\" must be a positive number, got ", it->dump()),
                           "use the config.json that came with the checkpoint");
  }
  *out = it->get<double>();
  return absl::OkStatus();
}

absl::Status Unsupported(const std::string& path, const char* key, const nlohmann::json& value, const char* hint) {
  return UserError(absl::StatusCode::kUnimplemented,
                   absl::StrCat(path, ": key \"", key, "\" = ", value.dump(), " is not supported by alro's decoder"),
                   hint);
}

}  // namespace

absl::Status ApplyHfConfig(const std::string& dir, config::ModelConfig* model) {
  const std::string path = JoinPath(dir, kConfigFile);
  ALRO_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(path));
  if (!j.is_object()) return InvalidArgument(absl::StrCat(path, ": not a JSON object"), "use the model's config.json");
  auto type = j.find("model_type");
  if (type != j.end() && !(type->is_string() && (*type == "llama" || *type == "mistral"))) {
    return Unsupported(path, "model_type", *type, "alro loads LLaMA-family models (model_type llama or mistral)");
  }
  auto act = j.find("hidden_act");
  if (act != j.end() && *act != "silu") return Unsupported(path, "hidden_act", *act, "only SwiGLU (silu) MLPs");
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    auto it = j.find(key);
    if (it != j.end() && it->is_boolean() && it->get<bool>()) {
      return Unsupported(path, key, *it, "alro's projections have no bias (as LLaMA)");
    }
  }
  auto scaling = j.find("rope_scaling");
  if (scaling != j.end() && !scaling->is_null()) {
    return Unsupported(path, "rope_scaling", *scaling, "use a checkpoint with plain RoPE (e.g. LLaMA-2, LLaMA-3)");
  }
  config::ModelConfig m = *model;
  ALRO_RETURN_IF_ERROR(ReadInt(j, path, "vocab_size", true, &m.vocab_size));
  ALRO_RETURN_IF_ERROR(ReadInt(j, path, "hidden_size", true, &m.hidden_size));
  ALRO_RETURN_IF_ERROR(ReadInt(j, path, "intermediate_size", true, &m.intermediate_size));
  ALRO_RETURN_IF_ERROR(ReadInt(j, path, "num_hidden_layers", true, &m.num_layers));
  ALRO_RETURN_IF_ERROR(ReadInt(j, path, "num_attention_heads", true, &m.num_heads));
  m.num_kv_heads = m.num_heads;
  ALRO_RETURN_IF_ERROR(ReadInt(j, path, "num_key_value_heads", false, &m.num_kv_heads));
  ALRO_RETURN_IF_ERROR(ReadInt(j, path, "max_position_embeddings", false, &m.max_seq_len));
  m.rope_theta = kDefaultRopeTheta;
  m.rms_norm_eps = kDefaultRmsNormEps;
  ALRO_RETURN_IF_ERROR(ReadDouble(j, path, "rope_theta", &m.rope_theta));
  ALRO_RETURN_IF_ERROR(ReadDouble(j, path, "rms_norm_eps", &m.rms_norm_eps));
  auto tie = j.find("tie_word_embeddings");
  m.tie_embeddings = tie != j.end() && tie->is_boolean() && tie->get<bool>();
  int64_t head_dim = m.hidden_size / m.num_heads;
  ALRO_RETURN_IF_ERROR(ReadInt(j, path, "head_dim", false, &head_dim));
  if (head_dim * m.num_heads != m.hidden_size) {
    return Unsupported(path, "head_dim", j["head_dim"], "alro needs head_dim = hidden_size / num_attention_heads");
  }
  if (m.hidden_size % m.num_heads != 0 || m.num_heads % m.num_kv_heads != 0) {
    return InvalidArgument(absl::StrCat(path, ": num_attention_heads ", m.num_heads, " must divide hidden_size ",
                                        m.hidden_size, " and be a multiple of num_key_value_heads ", m.num_kv_heads),
                           "the config.json is inconsistent; use the one that came with the checkpoint");
  }
  m.preset = "custom";
  *model = m;
  return absl::OkStatus();
}

nlohmann::json HfConfigJson(const config::ModelConfig& m, const std::string& torch_dtype) {
  return nlohmann::json{
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"hidden_act", "silu"},
      {"attention_bias", false},
      {"vocab_size", m.vocab_size},
      {"hidden_size", m.hidden_size},
      {"intermediate_size", m.intermediate_size},
      {"num_hidden_layers", m.num_layers},
      {"num_attention_heads", m.num_heads},
      {"num_key_value_heads", m.num_kv_heads},
      {"max_position_embeddings", m.max_seq_len},
      {"rope_theta", m.rope_theta},
      {"rms_norm_eps", m.rms_norm_eps},
      {"rope_scaling", nullptr},
      {"tie_word_embeddings", m.tie_embeddings},
      {"initializer_range", m.init_std},
      {"torch_dtype", torch_dtype},
  };
}

}  // namespace alro::core
