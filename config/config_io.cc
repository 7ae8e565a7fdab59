// config/config_io.cc: YAML <-> Config through the structs' Visit() lists.
#include "config/config_io.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"
#include "common/cpu_features.h"
#include "common/file_util.h"
#include "common/hash.h"
#include "common/status.h"

namespace alro::config {
namespace {

// ---- helpers shared by the visitors

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string DidYouMean(const std::string& key, const std::vector<std::string>& known) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, key.size() / 3) + 1;
  for (const std::string& k : known) {
    const size_t d = EditDistance(key, k);
    if (d < best_distance) {
      best_distance = d;
      best = k;
    }
  }
  return best;
}

template <typename T>
const char* TypeName() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else return "a list";
}

// ---- the reader: YAML node -> struct, collecting every problem

// Where each key of the final tree came from: the file's own keys with their
// lines, and the --set assignments. Sections count too, so an error about a
// section that only an override created names that override.
class KeySources {
 public:
  explicit KeySources(std::string source) : source_(std::move(source)) {}

  // Records every key path of the file (before overrides) and reports keys
  // given twice in one mapping and keys that are not plain names.
  void IndexFile(const YAML::Node& node, const std::string& prefix, std::vector<std::string>* errors) {
    if (!node.IsMap()) return;
    std::map<std::string, int> seen;
    for (const auto& entry : node) {
      const int line = entry.first.Mark().line + 1;
      if (!entry.first.IsScalar()) {
        errors->push_back(absl::StrCat(source_, ":", line, ": ", prefix.empty() ? "top level" : prefix,
                                       ": a key must be a plain name\n  HINT: write keys as name: value"));
        continue;
      }
      const std::string key = entry.first.Scalar();
      const std::string path = prefix + key;
      if (auto [it, fresh] = seen.emplace(key, line); !fresh) {
        errors->push_back(absl::StrCat(source_, ":", line, ": ", path, ": given twice (first at line ", it->second,
                                       ")\n  HINT: keep one of the two; YAML would silently use only one"));
        continue;
      }
      file_lines_.emplace(path, line);
      IndexFile(entry.second, path + ".", errors);
    }
  }

  void AddOverride(const std::string& key, const std::string& assignment) { overrides_[key] = assignment; }

  // "--set a.b=1", "file.yaml:7", or the file alone when nothing better is known.
  std::string Where(const std::string& key) const {
    if (auto it = overrides_.find(key); it != overrides_.end()) return absl::StrCat("--set ", it->second);
    if (auto it = file_lines_.find(key); it != file_lines_.end()) return absl::StrCat(source_, ":", it->second);
    // A section the file lacks was created by an override below it.
    for (const auto& [overridden, assignment] : overrides_) {
      if (absl::StartsWith(overridden, key + ".")) return absl::StrCat("--set ", assignment);
    }
    return source_;
  }

  // True when the file or an override gives `key` itself.
  bool Given(const std::string& key) const { return overrides_.count(key) > 0 || file_lines_.count(key) > 0; }

 private:
  std::string source_;
  std::map<std::string, int> file_lines_;
  std::map<std::string, std::string> overrides_;
};

class Reader {
 public:
  Reader(const KeySources* sources, std::vector<std::string>* errors, ConfigOrigins* origins)
      : sources_(sources), errors_(errors), origins_(origins) {}

  // Visits `target` against the map `node` found at `prefix` ("model.").
  template <typename S>
  void ReadSection(const YAML::Node& node, const std::string& prefix, S& target) {
    YAML::Node saved_node = node_;
    std::string saved_prefix = prefix_;
    std::vector<std::string> saved_known = std::move(known_);
    node_.reset(node);
    prefix_ = prefix;
    known_.clear();
    if (node_ && !node_.IsNull() && !node_.IsMap()) {
      Error(node_, prefix.substr(0, prefix.size() - 1), "must be a mapping of keys to values",
            "indent the keys of this section under it");
    } else {
      target.Visit(*this);
      if (node_ && node_.IsMap()) ReportUnknownKeys();
    }
    node_.reset(saved_node);
    prefix_ = std::move(saved_prefix);
    known_ = std::move(saved_known);
  }

  template <typename S>
  void Section(const char* key, S& target) {
    known_.push_back(key);
    ReadSection(Child(key), prefix_ + key + ".", target);
  }

  template <typename T>
  void Field(const char* key, T& value) {
    known_.push_back(key);
    const YAML::Node child = LeafChild(key);
    if (!child) return;
    Convert(child, prefix_ + key, value);
  }

  template <typename T>
  void Field(const char* key, T& value, Range<T> range) {
    known_.push_back(key);
    const YAML::Node child = LeafChild(key);
    if (!child) return;
    if (!Convert(child, prefix_ + key, value)) return;
    if (value < range.min || value > range.max || (std::is_floating_point_v<T> && std::isnan(double(value)))) {
      std::ostringstream what;
      what << "is " << value << ", outside the allowed range [" << range.min << ", " << range.max << "]";
      Error(child, prefix_ + key, what.str(), "choose a value inside the range");
    }
  }

  void Choice(const char* key, std::string& value, absl::Span<const char* const> allowed) {
    known_.push_back(key);
    const YAML::Node child = LeafChild(key);
    if (!child) return;
    if (!Convert(child, prefix_ + key, value)) return;
    CheckChoice(child, prefix_ + key, value, allowed);
  }

  void Choices(const char* key, std::vector<std::string>& values, std::initializer_list<const char*> allowed) {
    known_.push_back(key);
    const YAML::Node child = LeafChild(key);
    if (!child) return;
    if (!Convert(child, prefix_ + key, values)) return;
    for (const std::string& v : values) CheckChoice(child, prefix_ + key, v, allowed);
  }

  void Path(const char* key, std::string& value, bool /*is_dir*/) { Field(key, value); }

 private:
  // A missing key yields a valid Undefined node (yaml-cpp's own lookup of a
  // missing key returns an invalid node that throws when used).
  YAML::Node Child(const char* key) const {
    if (!node_.IsDefined() || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& map = node_;
    YAML::Node child = map[key];
    if (!child.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    return child;
  }

  // Child() of a leaf key, noting where its value came from.
  YAML::Node LeafChild(const char* key) {
    YAML::Node child = Child(key);
    if (child && origins_ != nullptr) (*origins_)[prefix_ + key] = sources_->Where(prefix_ + key);
    return child;
  }

  template <typename T>
  bool Convert(const YAML::Node& node, const std::string& key, T& value) {
    constexpr bool kIsList = !std::is_arithmetic_v<T> && !std::is_same_v<T, std::string>;
    if (kIsList ? !node.IsSequence() : !node.IsScalar()) {
      // YAML reads {a} as a mapping and [a] as a list: a text that starts
      // with a brace (a prompt template) must be quoted, twice on a shell.
      const bool quote = !kIsList && (node.IsMap() || node.IsSequence());
      Error(node, key, absl::StrCat("must be ", TypeName<T>()),
            quote ? "YAML reads a value that starts with { or [ as a mapping or list: quote it, "
                    "in a file key: \"{mean} {id}\", on a command line --set 'key=\"{mean} {id}\"'"
                  : "fix the value's type");
      return false;
    }
    try {
      value = node.as<T>();
      return true;
    } catch (const YAML::Exception&) {
      Error(node, key, absl::StrCat("must be ", TypeName<T>(), ", got '", YAML::Dump(node), "'"),
            "fix the value's type");
      return false;
    }
  }

  void CheckChoice(const YAML::Node& node, const std::string& key, const std::string& value,
                   absl::Span<const char* const> allowed) {
    std::vector<std::string> options(allowed.begin(), allowed.end());
    if (std::find(options.begin(), options.end(), value) != options.end()) return;
    const std::string guess = DidYouMean(value, options);
    Error(node, key, absl::StrCat("is '", value, "', not one of: ", absl::StrJoin(options, ", ")),
          guess.empty() ? "use one of the listed values" : absl::StrCat("did you mean '", guess, "'?"));
  }

  void ReportUnknownKeys() {
    for (const auto& entry : node_) {
      if (!entry.first.IsScalar()) continue;  // KeySources::IndexFile reported it
      const std::string key = entry.first.Scalar();
      if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
      const std::string guess = DidYouMean(key, known_);
      Error(entry.first, prefix_ + key, "unknown key",
            guess.empty() ? absl::StrCat("known keys here: ", absl::StrJoin(known_, ", "))
                          : absl::StrCat("did you mean ", prefix_ + guess, "?"));
    }
  }

  void Error(const YAML::Node& /*node*/, const std::string& key, const std::string& what, const std::string& hint) {
    errors_->push_back(absl::StrCat(sources_->Where(key), ": ", key, ": ", what, "\n  HINT: ", hint));
  }

  const KeySources* sources_;
  std::vector<std::string>* errors_;
  ConfigOrigins* origins_;
  YAML::Node node_;
  std::string prefix_;
  std::vector<std::string> known_;
};

// ---- the writer: struct -> YAML emitter

class Writer {
 public:
  explicit Writer(YAML::Emitter* out) : out_(*out) {}

  template <typename S>
  void Section(const char* key, S& target) {
    out_ << YAML::Key << key << YAML::Value << YAML::BeginMap;
    target.Visit(*this);
    out_ << YAML::EndMap;
  }
  template <typename T>
  void Field(const char* key, T& value) {
    out_ << YAML::Key << key << YAML::Value;
    if constexpr (std::is_same_v<T, std::vector<std::string>> || std::is_same_v<T, std::vector<int64_t>>) {
      out_ << YAML::Flow << value;
    } else if constexpr (std::is_floating_point_v<T>) {
      out_ << YAML::Precision(17) << value;
    } else {
      out_ << value;
    }
  }
  template <typename T>
  void Field(const char* key, T& value, Range<T>) { Field(key, value); }
  void Choice(const char* key, std::string& value, absl::Span<const char* const>) { Field(key, value); }
  void Choices(const char* key, std::vector<std::string>& v, std::initializer_list<const char*>) { Field(key, v); }
  void Path(const char* key, std::string& value, bool) { Field(key, value); }

 private:
  YAML::Emitter& out_;
};

// ---- the path checker: every non-empty Path() must exist

class PathChecker {
 public:
  explicit PathChecker(std::vector<std::string>* errors) : errors_(errors) {}
  template <typename S>
  void Section(const char* key, S& target) {
    const std::string saved = prefix_;
    prefix_ += std::string(key) + ".";
    target.Visit(*this);
    prefix_ = saved;
  }
  template <typename... A>
  void Field(A&&...) {}
  void Choice(const char*, std::string&, absl::Span<const char* const>) {}
  void Choices(const char*, std::vector<std::string>&, std::initializer_list<const char*>) {}
  void Path(const char* key, std::string& value, bool is_dir) {
    if (value.empty()) return;
    if (!PathExists(value)) {
      errors_->push_back(absl::StrCat(prefix_, key, ": ", value, " does not exist\n  HINT: ",
                                      "fix the path (relative paths start at the current directory)"));
    } else if (is_dir != IsDirectory(value)) {
      errors_->push_back(absl::StrCat(prefix_, key, ": ", value, " is ",
                                      is_dir ? "not a directory" : "a directory, not a file",
                                      "\n  HINT: point it at the ", is_dir ? "directory" : "file", " itself"));
    }
  }

 private:
  std::vector<std::string>* errors_;
  std::string prefix_;
};

// ---- the range checker: values set outside YAML against the keys' ranges

class RangeChecker {
 public:
  RangeChecker(std::string prefix, std::vector<std::string>* problems)
      : prefix_(std::move(prefix)), problems_(problems) {}
  template <typename S>
  void Section(const char*, S&) {}
  template <typename T>
  void Field(const char*, T&) {}
  template <typename T>
  void Field(const char* key, T& value, Range<T> range) {
    if (value >= range.min && value <= range.max) return;  // NaN fails both
    std::ostringstream what;
    what << prefix_ << key << " is " << value << ", outside [" << range.min << ", " << range.max << "]";
    problems_->push_back(what.str());
  }
  void Choice(const char*, std::string&, absl::Span<const char* const>) {}
  void Choices(const char*, std::vector<std::string>&, std::initializer_list<const char*>) {}
  void Path(const char*, std::string&, bool) {}

 private:
  std::string prefix_;
  std::vector<std::string>* problems_;
};

absl::Status ErrorsToStatus(const std::vector<std::string>& errors, absl::string_view what) {
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, " (", errors.size(), errors.size() == 1 ? " problem" : " problems", "):\n",
                   absl::StrJoin(errors, "\n")));
}

// Applies "a.b.c=value" to the YAML tree, creating maps on the way.
absl::Status ApplyOverride(YAML::Node root, const std::string& assignment, KeySources* sources) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    return InvalidArgument(absl::StrCat("--set ", assignment, ": expected KEY=VALUE"),
                           "write it as --set section.key=value, e.g. --set model.num_layers=4");
  }
  const std::string key = assignment.substr(0, eq);
  const std::string value_text = assignment.substr(eq + 1);
  const std::vector<std::string> parts = absl::StrSplit(key, '.');
  YAML::Node value;
  try {
    value = YAML::Load(value_text);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(absl::StrCat("--set ", assignment, ": value is not valid YAML: ", e.msg),
                           "quote strings that contain YAML punctuation");
  }
  YAML::Node cursor(root);
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i].empty()) return InvalidArgument(absl::StrCat("--set ", assignment, ": empty key part"));
    YAML::Node next = cursor[parts[i]];
    if (next && !next.IsMap() && !next.IsNull()) {
      return InvalidArgument(absl::StrCat("--set ", assignment, ": ", parts[i], " is not a section"),
                             "only leaf keys take values");
    }
    cursor.reset(next);
  }
  if (parts.back().empty()) return InvalidArgument(absl::StrCat("--set ", assignment, ": empty key part"));
  cursor[parts.back()] = value;
  sources->AddOverride(key, assignment);
  return absl::OkStatus();
}

// model.dtype "auto" becomes bfloat16 on GPUs and on CPUs with native bf16
// dot products, float32 elsewhere (there LibTorch emulates bf16 matmuls,
// measured 8.5x slower than float32: docs/performance.md). It is resolved
// here, on the machine that runs the job, so the checkpoint's config.yaml
// records what ran. Returns the reason when it resolved "auto", else "".
std::string ResolveAutoDtype(YAML::Node root) {
  YAML::Node model = root["model"];
  if (!model || !model.IsMap() || !model["dtype"] || !model["dtype"].IsScalar() ||
      model["dtype"].Scalar() != "auto") {
    return "";
  }
  const YAML::Node parallel = root["parallel"];
  const bool cuda = parallel && parallel.IsMap() && parallel["device"] && parallel["device"].IsScalar() &&
                    parallel["device"].Scalar() == "cuda";
  const std::string flag = NativeBfloat16CpuFlag();
  model["dtype"] = cuda || !flag.empty() ? "bfloat16" : "float32";
  if (cuda) return "auto: bfloat16 on cuda";
  return flag.empty() ? "auto: float32, this CPU has no avx512_bf16 or amx_bf16 and would emulate bf16"
                      : absl::StrCat("auto: bfloat16, this CPU has ", flag);
}

}  // namespace

absl::StatusOr<Config> ParseConfig(absl::string_view yaml_text, absl::string_view source,
                                   const std::vector<std::string>& overrides, ConfigOrigins* origins) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::ParserException& e) {
    return InvalidArgument(absl::StrCat(source, ":", e.mark.line + 1, ":", e.mark.column + 1,
                                        ": YAML syntax error: ", e.msg),
                           "fix the YAML syntax (indentation, colons, quotes)");
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    return InvalidArgument(absl::StrCat(source, ": the top level must be a mapping of sections"),
                           "start the file with sections such as `model:` and `data:`");
  }
  KeySources sources{std::string(source)};
  std::vector<std::string> errors;
  sources.IndexFile(root, "", &errors);
  for (const std::string& assignment : overrides) {
    ALRO_RETURN_IF_ERROR(ApplyOverride(root, assignment, &sources));
  }

  const std::string dtype_choice = ResolveAutoDtype(root);

  Config config;
  // The preset fills the shape first; explicit keys then override it.
  const YAML::Node model = root["model"];
  if (model && model.IsMap() && model["preset"] && model["preset"].IsScalar()) {
    ApplyModelPreset(model["preset"].as<std::string>(), &config.model);
  }
  ConfigOrigins read_origins;
  Reader reader(&sources, &errors, &read_origins);
  reader.ReadSection(root, "", config);
  ALRO_RETURN_IF_ERROR(ErrorsToStatus(errors, absl::StrCat("invalid configuration ", source)));
  // Shape keys the file leaves to an explicit preset come from that preset.
  if (auto preset = read_origins.find("model.preset");
      preset != read_origins.end() && config.model.preset != kCustomPreset) {
    for (const char* key : kModelPresetKeys) {
      read_origins.emplace(absl::StrCat("model.", key),
                           absl::StrCat("model.preset ", config.model.preset, " (", preset->second, ")"));
    }
  }
  if (!dtype_choice.empty()) read_origins["model.dtype"] += absl::StrCat(" (", dtype_choice, ")");
  if (origins != nullptr) *origins = std::move(read_origins);
  return config;
}

absl::StatusOr<Config> LoadConfig(const std::string& path, const std::vector<std::string>& overrides,
                                  ConfigOrigins* origins) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return UserError(text.status().code(), absl::StrCat("config file ", path, ": ", text.status().message()),
                     "pass an existing YAML file with --config (see configs/)");
  }
  return ParseConfig(*text, path, overrides, origins);
}

std::vector<std::string> ModelRangeProblems(const ModelConfig& model) {
  std::vector<std::string> problems;
  RangeChecker checker("model.", &problems);
  ModelConfig copy = model;
  copy.Visit(checker);
  return problems;
}

void ResolveDerived(Config* config, int64_t world_size) {
  if (config->parallel.data_parallel == 0 && world_size > 0) {
    config->parallel.data_parallel = std::max<int64_t>(1, world_size / config->parallel.tensor_parallel);
  }
  const int64_t dp = std::max<int64_t>(1, config->parallel.data_parallel);
  if (config->schedule.global_batch_size == 0) {
    config->schedule.global_batch_size = config->schedule.micro_batch_size * dp;
  }
}

int64_t AccumulationSteps(const Config& config) {
  const int64_t per_step = config.schedule.micro_batch_size * std::max<int64_t>(1, config.parallel.data_parallel);
  return std::max<int64_t>(1, config.schedule.global_batch_size / per_step);
}

absl::Status ValidateConfig(const Config& config, const ValidationContext& context) {
  std::vector<std::string> errors;
  auto fail = [&](std::string what, std::string hint) {
    errors.push_back(absl::StrCat(what, "\n  HINT: ", hint));
  };
  const ModelConfig& m = config.model;
  const int64_t tp = config.parallel.tensor_parallel;
  if (m.hidden_size % m.num_heads != 0) {
    fail(absl::StrCat("model.hidden_size (", m.hidden_size, ") is not divisible by model.num_heads (",
                      m.num_heads, ")"),
         "choose num_heads that divides hidden_size");
  }
  if (m.num_heads % m.num_kv_heads != 0) {
    fail(absl::StrCat("model.num_heads (", m.num_heads, ") is not a multiple of model.num_kv_heads (",
                      m.num_kv_heads, ")"),
         "grouped-query attention needs num_heads = k x num_kv_heads");
  }
  if (m.num_heads % tp != 0) {
    fail(absl::StrCat("parallel.tensor_parallel (", tp, ") does not divide model.num_heads (", m.num_heads, ")"),
         "use a tensor_parallel size that divides the number of attention heads");
  }
  if (m.num_kv_heads % tp != 0) {
    fail(absl::StrCat("parallel.tensor_parallel (", tp, ") does not divide model.num_kv_heads (",
                      m.num_kv_heads, ")"),
         "use a tensor_parallel size that divides the number of key/value heads");
  }
  if (m.intermediate_size % tp != 0) {
    fail(absl::StrCat("parallel.tensor_parallel (", tp, ") does not divide model.intermediate_size (",
                      m.intermediate_size, ")"),
         "use a tensor_parallel size that divides the MLP width");
  }
  if ((m.hidden_size / std::max<int64_t>(1, m.num_heads)) % 2 != 0) {
    fail(absl::StrCat("model head dimension hidden_size/num_heads = ", m.hidden_size / m.num_heads, " is odd"),
         "rotary embeddings need an even head dimension");
  }
  if (config.parallel.device == "cuda" && config.parallel.backend == "mpi") {
    fail("parallel.backend mpi cannot carry CUDA tensors (parallel.device is cuda)",
         "use parallel.backend=auto or nccl on GPUs (NCCL carries the tensors; MPI only starts the job)");
  }
  if (m.lora.enabled && !m.pretrained.empty() && m.lora.targets.empty()) {
    fail("model.lora.targets is empty while LoRA is enabled", "list at least one projection, e.g. [q_proj, v_proj]");
  }
  if (context.world_size > 0) {
    const int64_t dp = config.parallel.data_parallel == 0 ? context.world_size / tp : config.parallel.data_parallel;
    if (context.world_size % tp != 0 || dp * tp != context.world_size) {
      fail(absl::StrCat("parallel.data_parallel (", dp, ") x parallel.tensor_parallel (", tp, ") = ", dp * tp,
                        ", but the job has ", context.world_size, " ranks"),
           absl::StrCat("launch with mpirun -np ", dp * tp, ", or set parallel.data_parallel=0 and a "
                        "tensor_parallel that divides ", context.world_size));
    } else {
      const int64_t per_step = config.schedule.micro_batch_size * dp;
      const int64_t global = config.schedule.global_batch_size;
      if (global != 0 && global % per_step != 0) {
        fail(absl::StrCat("schedule.global_batch_size (", global, ") is not a multiple of micro_batch_size (",
                          config.schedule.micro_batch_size, ") x data_parallel (", dp, ") = ", per_step),
             absl::StrCat("use a multiple of ", per_step));
      }
    }
  }
  if (config.schedule.warmup_steps > config.schedule.steps) {
    fail(absl::StrCat("schedule.warmup_steps (", config.schedule.warmup_steps, ") exceeds schedule.steps (",
                      config.schedule.steps, ")"),
         "lower warmup_steps or raise steps");
  }
  const std::vector<std::string>& ids = config.prompt.identifiers;
  if (ids.empty()) fail("prompt.identifiers is empty", "list one single-token identifier per candidate slot");
  std::set<std::string> unique(ids.begin(), ids.end());
  if (unique.size() != ids.size()) fail("prompt.identifiers has duplicates", "make every identifier distinct");
  for (int64_t k : config.logging.ndcg_k) {
    if (k < 1) fail(absl::StrCat("logging.ndcg_k contains ", k), "cut-offs must be >= 1");
  }
  if (config.checkpoint.resume != "none" && config.checkpoint.resume != "auto" && context.check_paths &&
      !IsDirectory(config.checkpoint.resume)) {
    fail(absl::StrCat("checkpoint.resume: ", config.checkpoint.resume, " is not a checkpoint directory"),
         "use none, auto, or the path of a checkpoint (see `alro ckpt inspect`)");
  }
  if (context.check_paths) {
    PathChecker checker(&errors);
    Config copy = config;
    copy.Visit(checker);
  }
  return ErrorsToStatus(errors, "inconsistent configuration");
}

bool ApplyModelPreset(absl::string_view preset, ModelConfig* m) {
  if (preset == kCustomPreset) return true;
  for (const ModelPreset& s : kModelPresets) {
    if (preset != s.name) continue;
    m->vocab_size = s.vocab_size;
    m->hidden_size = s.hidden_size;
    m->intermediate_size = s.intermediate_size;
    m->num_layers = s.num_layers;
    m->num_heads = s.num_heads;
    m->num_kv_heads = s.num_kv_heads;
    m->max_seq_len = s.max_seq_len;
    m->rope_theta = s.rope_theta;
    m->rms_norm_eps = s.rms_norm_eps;
    return true;
  }
  return false;
}

std::string ConfigToYaml(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  Writer writer(&out);
  Config copy = config;
  copy.Visit(writer);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

uint64_t ConfigHash(const Config& config) { return Fnv1a(ConfigToYaml(config), kFnv1aAlroOffset); }

}  // namespace alro::config
