// core/hf_config.cc: config.json <-> ModelConfig.
#include "core/hf_config.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/json_util.h"
#include "common/status.h"

namespace alro::core {
namespace {

constexpr char kConfigFile[] = "config.json";
constexpr char kUseOriginalHint[] = "use the config.json that came with the checkpoint";

// transformers' class defaults for keys a config.json may omit.
struct ClassDefaults {
  const char* model_type;
  int64_t max_position_embeddings;
  int64_t num_key_value_heads;  // 0 = num_attention_heads
  double rope_theta;
  double rms_norm_eps;
  int64_t sliding_window;  // 0 = none
};
constexpr ClassDefaults kLlamaDefaults = {"llama", 2048, 0, 10000.0, 1e-6, 0};
constexpr ClassDefaults kMistralDefaults = {"mistral", 4096 * 32, 8, 10000.0, 1e-6, 4096};

class JsonReader {
 public:
  JsonReader(const nlohmann::json& j, const std::string& path, HfModelShape* shape)
      : j_(j), path_(path), shape_(shape) {}

  bool Has(const char* key) const {
    auto it = j_.find(key);
    return it != j_.end() && !it->is_null();
  }

  // A positive integer; a missing required key is an error, a missing
  // optional one takes `fallback` and is recorded as defaulted.
  absl::Status Int(const char* key, bool required, int64_t fallback, int64_t* out) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      if (required) {
        return InvalidArgument(absl::StrCat(path_, ": key \"", key, "\" is missing"), kUseOriginalHint);
      }
      shape_->defaulted.insert(key);
      *out = fallback;
      return absl::OkStatus();
    }
    if (!it->is_number_integer() || it->get<int64_t>() <= 0) {
      return InvalidArgument(absl::StrCat(path_, ": key \"", key, "\" must be a positive integer, got ", it->dump()),
                             kUseOriginalHint);
    }
    *out = it->get<int64_t>();
    return absl::OkStatus();
  }

  absl::Status Double(const char* key, double fallback, double* out) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      shape_->defaulted.insert(key);
      *out = fallback;
      return absl::OkStatus();
    }
    if (!it->is_number() || !(it->get<double>() > 0) || !std::isfinite(it->get<double>())) {
      return InvalidArgument(absl::StrCat(path_, ": key \"", key, "\" must be a positive number, got ", it->dump()),
                             kUseOriginalHint);
    }
    *out = it->get<double>();
    return absl::OkStatus();
  }

  absl::Status Bool(const char* key, bool fallback, bool* out) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) {
      shape_->defaulted.insert(key);
      *out = fallback;
      return absl::OkStatus();
    }
    if (!it->is_boolean()) {
      return InvalidArgument(absl::StrCat(path_, ": key \"", key, "\" must be true or false, got ", it->dump()),
                             kUseOriginalHint);
    }
    *out = it->get<bool>();
    return absl::OkStatus();
  }

  absl::Status Unsupported(const char* key, const char* hint) const {
    auto it = j_.find(key);
    return UserError(absl::StatusCode::kUnimplemented,
                     absl::StrCat(path_, ": key \"", key, "\" = ", it == j_.end() ? "(default)" : it->dump(),
                                  " is not supported by alro's decoder"),
                     hint);
  }

 private:
  const nlohmann::json& j_;
  const std::string& path_;
  HfModelShape* shape_;
};

}  // namespace

absl::StatusOr<HfModelShape> ParseHfConfig(absl::string_view text, const std::string& path) {
  ALRO_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(text, path));
  if (!j.is_object()) return InvalidArgument(absl::StrCat(path, ": not a JSON object"), kUseOriginalHint);
  HfModelShape shape;
  shape.path = path;
  JsonReader r(j, path, &shape);
  // The model type decides the class, hence the defaults of omitted keys.
  auto type = j.find("model_type");
  if (type == j.end() || !type->is_string() || (*type != "llama" && *type != "mistral")) {
    return r.Unsupported("model_type", "alro loads LLaMA-family models (model_type \"llama\" or \"mistral\")");
  }
  const ClassDefaults& defaults = *type == "mistral" ? kMistralDefaults : kLlamaDefaults;
  if (r.Has("hidden_act") && j["hidden_act"] != "silu") {
    return r.Unsupported("hidden_act", "alro's MLP is SwiGLU (hidden_act \"silu\")");
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    bool bias = false;
    ALRO_RETURN_IF_ERROR(r.Bool(key, false, &bias));
    if (bias) return r.Unsupported(key, "alro's projections have no bias (as LLaMA)");
  }
  if (r.Has("rope_scaling")) {
    return r.Unsupported("rope_scaling", "alro implements plain RoPE only; use a checkpoint without rope_scaling "
                                         "(e.g. LLaMA-2, LLaMA-3.0, Mistral 7B v0.1)");
  }
  if (r.Has("quantization_config")) {
    return r.Unsupported("quantization_config", "use the checkpoint's unquantized (float) weights");
  }
  if (r.Has("attention_dropout") && !(j["attention_dropout"].is_number() && j["attention_dropout"] == 0)) {
    return r.Unsupported("attention_dropout", "alro's attention has no dropout; set it to 0.0");
  }
  config::ModelConfig& m = shape.model;
  ALRO_RETURN_IF_ERROR(r.Int("vocab_size", true, 0, &m.vocab_size));
  ALRO_RETURN_IF_ERROR(r.Int("hidden_size", true, 0, &m.hidden_size));
  ALRO_RETURN_IF_ERROR(r.Int("intermediate_size", true, 0, &m.intermediate_size));
  ALRO_RETURN_IF_ERROR(r.Int("num_hidden_layers", true, 0, &m.num_layers));
  ALRO_RETURN_IF_ERROR(r.Int("num_attention_heads", true, 0, &m.num_heads));
  // An explicit null means "as many as attention heads" in both classes;
  // an absent key is the class default (Mistral: 8).
  if (auto kv = j.find("num_key_value_heads"); kv != j.end() && kv->is_null()) {
    m.num_kv_heads = m.num_heads;
  } else {
    ALRO_RETURN_IF_ERROR(r.Int("num_key_value_heads", false,
                               defaults.num_key_value_heads > 0 ? defaults.num_key_value_heads : m.num_heads,
                               &m.num_kv_heads));
  }
  ALRO_RETURN_IF_ERROR(r.Int("max_position_embeddings", false, defaults.max_position_embeddings, &m.max_seq_len));
  ALRO_RETURN_IF_ERROR(r.Double("rope_theta", defaults.rope_theta, &m.rope_theta));
  ALRO_RETURN_IF_ERROR(r.Double("rms_norm_eps", defaults.rms_norm_eps, &m.rms_norm_eps));
  ALRO_RETURN_IF_ERROR(r.Bool("tie_word_embeddings", false, &m.tie_embeddings));
  if (auto window = j.find("sliding_window"); defaults.sliding_window > 0 || (window != j.end() && !window->is_null())) {
    int64_t w = 0;
    if (window == j.end() || !window->is_null()) {
      ALRO_RETURN_IF_ERROR(r.Int("sliding_window", false, defaults.sliding_window, &w));
    }
    if (w > 0 && w < m.max_seq_len) {
      return r.Unsupported("sliding_window", "alro's attention is full causal attention; use a checkpoint whose "
                                             "sliding_window is null or at least max_position_embeddings");
    }
  }
  if (m.hidden_size % m.num_heads != 0 || m.num_heads % m.num_kv_heads != 0) {
    return InvalidArgument(absl::StrCat(path, ": num_attention_heads ", m.num_heads, " must divide hidden_size ",
                                        m.hidden_size, " and be a multiple of num_key_value_heads ", m.num_kv_heads),
                           "the config.json is inconsistent; use the one that came with the checkpoint");
  }
  int64_t head_dim = 0;
  ALRO_RETURN_IF_ERROR(r.Int("head_dim", false, m.hidden_size / m.num_heads, &head_dim));
  if (head_dim != m.hidden_size / m.num_heads) {
    return r.Unsupported("head_dim", "alro needs head_dim = hidden_size / num_attention_heads");
  }
  m.preset = "custom";
  return shape;
}

absl::StatusOr<HfModelShape> ReadHfConfig(const std::string& dir) {
  const std::string path = JoinPath(dir, kConfigFile);
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return UserError(text.status().code(), absl::StrCat("model.pretrained: ", text.status().message()),
                     "point model.pretrained at a Hugging Face model directory (config.json + *.safetensors)");
  }
  return ParseHfConfig(*text, path);
}

absl::Status ApplyHfConfig(const std::string& dir, config::ModelConfig* model) {
  ALRO_ASSIGN_OR_RETURN(HfModelShape shape, ReadHfConfig(dir));
  const config::ModelConfig& s = shape.model;
  model->vocab_size = s.vocab_size;
  model->hidden_size = s.hidden_size;
  model->intermediate_size = s.intermediate_size;
  model->num_layers = s.num_layers;
  model->num_heads = s.num_heads;
  model->num_kv_heads = s.num_kv_heads;
  model->max_seq_len = s.max_seq_len;
  model->rope_theta = s.rope_theta;
  model->rms_norm_eps = s.rms_norm_eps;
  model->tie_embeddings = s.tie_embeddings;
  model->preset = "custom";
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
