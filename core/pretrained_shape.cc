// core/pretrained_shape.cc: the checkpoint's config.json against the job's
// configuration, key by key.
#include "core/pretrained_shape.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "core/hf_config.h"

namespace alro::core {
namespace {

// Relative tolerance for θ and ε: YAML and JSON print and parse the same
// decimal, so anything beyond rounding is a different value.
constexpr double kRelativeTolerance = 1e-9;
// The origin given to every key by CheckPretrainedShape.
constexpr char kJobConfiguration[] = "the job's configuration";

enum class Kind { kInt, kReal, kBool, kLimit };

// A shape key: its names in both files and its accessors.
struct ShapeKey {
  const char* key;
  const char* hf_key;
  Kind kind;
  double (*get)(const config::ModelConfig&);
  void (*set)(config::ModelConfig*, double);
};

const ShapeKey kShapeKeys[] = {
    {"vocab_size", "vocab_size", Kind::kInt, [](const config::ModelConfig& m) { return double(m.vocab_size); },
     [](config::ModelConfig* m, double v) { m->vocab_size = int64_t(v); }},
    {"hidden_size", "hidden_size", Kind::kInt, [](const config::ModelConfig& m) { return double(m.hidden_size); },
     [](config::ModelConfig* m, double v) { m->hidden_size = int64_t(v); }},
    {"intermediate_size", "intermediate_size", Kind::kInt,
     [](const config::ModelConfig& m) { return double(m.intermediate_size); },
     [](config::ModelConfig* m, double v) { m->intermediate_size = int64_t(v); }},
    {"num_layers", "num_hidden_layers", Kind::kInt, [](const config::ModelConfig& m) { return double(m.num_layers); },
     [](config::ModelConfig* m, double v) { m->num_layers = int64_t(v); }},
    {"num_heads", "num_attention_heads", Kind::kInt, [](const config::ModelConfig& m) { return double(m.num_heads); },
     [](config::ModelConfig* m, double v) { m->num_heads = int64_t(v); }},
    {"num_kv_heads", "num_key_value_heads", Kind::kInt,
     [](const config::ModelConfig& m) { return double(m.num_kv_heads); },
     [](config::ModelConfig* m, double v) { m->num_kv_heads = int64_t(v); }},
    {"max_seq_len", "max_position_embeddings", Kind::kLimit,
     [](const config::ModelConfig& m) { return double(m.max_seq_len); },
     [](config::ModelConfig* m, double v) { m->max_seq_len = int64_t(v); }},
    {"rope_theta", "rope_theta", Kind::kReal, [](const config::ModelConfig& m) { return m.rope_theta; },
     [](config::ModelConfig* m, double v) { m->rope_theta = v; }},
    {"rms_norm_eps", "rms_norm_eps", Kind::kReal, [](const config::ModelConfig& m) { return m.rms_norm_eps; },
     [](config::ModelConfig* m, double v) { m->rms_norm_eps = v; }},
    {"tie_embeddings", "tie_word_embeddings", Kind::kBool,
     [](const config::ModelConfig& m) { return m.tie_embeddings ? 1.0 : 0.0; },
     [](config::ModelConfig* m, double v) { m->tie_embeddings = v != 0.0; }},
};

std::string Format(Kind kind, double v) {
  switch (kind) {
    case Kind::kBool:
      return v != 0.0 ? "true" : "false";
    case Kind::kReal:
      return absl::StrFormat("%.10g", v);
    default:
      return absl::StrCat(int64_t(v));
  }
}

bool Agrees(Kind kind, double job, double checkpoint) {
  switch (kind) {
    case Kind::kReal:
      return std::abs(job - checkpoint) <= kRelativeTolerance * std::abs(checkpoint);
    case Kind::kLimit:
      return job <= checkpoint;
    default:
      return job == checkpoint;
  }
}

}  // namespace

absl::StatusOr<std::vector<ShapeValue>> ResolveModelShape(const config::ConfigOrigins& origins,
                                                          bool read_checkpoint, config::ModelConfig* model) {
  std::vector<ShapeValue> out;
  auto origin_of = [&](const std::string& key) -> const std::string* {
    auto it = origins.find(key);
    return it == origins.end() ? nullptr : &it->second;
  };
  if (model->pretrained.empty() || !read_checkpoint) {
    const std::string unread =
        model->pretrained.empty() ? "" : absl::StrCat(" (", model->pretrained, "/config.json not read)");
    for (const ShapeKey& k : kShapeKeys) {
      const std::string key = absl::StrCat("model.", k.key);
      const std::string* origin = origin_of(key);
      out.push_back({key, Format(k.kind, k.get(*model)), absl::StrCat(origin ? *origin : "default", unread)});
    }
    return out;
  }
  ALRO_ASSIGN_OR_RETURN(HfModelShape shape, ReadHfConfig(model->pretrained));
  std::vector<std::string> conflicts;
  config::ModelConfig resolved = *model;
  for (const ShapeKey& k : kShapeKeys) {
    const std::string key = absl::StrCat("model.", k.key);
    const double checkpoint = k.get(shape.model);
    const std::string hf = shape.defaulted.count(k.hf_key)
                               ? absl::StrCat(shape.path, " (", k.hf_key, " absent: the class default)")
                               : absl::StrCat(shape.path, " (", k.hf_key, ")");
    const std::string* origin = origin_of(key);
    if (origin == nullptr) {
      k.set(&resolved, checkpoint);
      out.push_back({key, Format(k.kind, checkpoint), hf});
      continue;
    }
    const double job = k.get(*model);
    if (!Agrees(k.kind, job, checkpoint)) {
      conflicts.push_back(absl::StrCat(key, ": ", *origin, " says ", Format(k.kind, job), ", but ", shape.path,
                                       " says ", k.hf_key, " = ", Format(k.kind, checkpoint),
                                       shape.defaulted.count(k.hf_key) ? " (absent: the class default)" : "",
                                       k.kind == Kind::kLimit ? " (the longest sequence the model was made for)" : ""));
      continue;
    }
    out.push_back({key, Format(k.kind, job),
                   absl::StrCat(*origin, k.kind == Kind::kLimit && job < checkpoint ? ", within " : ", agrees with ",
                                hf)});
  }
  if (!conflicts.empty()) {
    return InvalidArgument(
        absl::StrCat("model.pretrained ", model->pretrained, " defines the architecture, and the configuration "
                     "contradicts it (", conflicts.size(), conflicts.size() == 1 ? " key" : " keys", "):\n  ",
                     absl::StrJoin(conflicts, "\n  ")),
        "remove these keys (and a model.preset that sets them) from the configuration so the checkpoint's "
        "values are used, or point model.pretrained at the checkpoint you meant");
  }
  const std::vector<std::string> out_of_range = config::ModelRangeProblems(resolved);
  if (!out_of_range.empty()) {
    return UserError(absl::StatusCode::kUnimplemented,
                     absl::StrCat(shape.path, " gives values alro does not support: ", absl::StrJoin(out_of_range, "; ")),
                     "use a checkpoint within these ranges (docs/configuration.md lists them)");
  }
  resolved.preset = "custom";
  *model = resolved;
  return out;
}

absl::Status CheckPretrainedShape(const config::ModelConfig& model) {
  if (model.pretrained.empty()) return absl::OkStatus();
  config::ConfigOrigins all;
  for (const ShapeKey& k : kShapeKeys) all[absl::StrCat("model.", k.key)] = kJobConfiguration;
  config::ModelConfig copy = model;
  return ResolveModelShape(all, /*read_checkpoint=*/true, &copy).status();
}

}  // namespace alro::core
