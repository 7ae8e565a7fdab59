// config/config_io.h: loading, overriding, validating and printing a Config.
//
//   ALRO_ASSIGN_OR_RETURN(Config cfg, LoadConfig("configs/tiny.yaml", {"model.num_layers=4"}));
//   ALRO_RETURN_IF_ERROR(ValidateConfig(cfg, {.world_size = 4}));
//
// Every error names the source (file:line, or "--set"), the full key
// (model.num_heads) and what to change. All problems found are reported
// together, not only the first.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"

namespace alro::config {

/// Where each key given explicitly got its value: "configs/x.yaml:7",
/// "--set model.num_heads=4", or for shape keys left to an explicit preset
/// "model.preset llama2-7b (configs/x.yaml:6)". Keys that keep their
/// default (or the default preset's value) are absent.
using ConfigOrigins = std::map<std::string, std::string>;

/// Parses YAML text (named `source` in messages, e.g. the file path) and then
/// applies `overrides`, each "a.b.c=value" as given to --set. Checks keys,
/// types and ranges; does not look at the file system or the world size.
/// Errors name the source of the offending key or section (file:line, or
/// the --set assignment that created it); a key given twice is an error.
/// When `origins` is not null it receives where each given key came from.
absl::StatusOr<Config> ParseConfig(absl::string_view yaml_text, absl::string_view source,
                                   const std::vector<std::string>& overrides = {},
                                   ConfigOrigins* origins = nullptr);

/// Reads `path` and parses it as ParseConfig does.
absl::StatusOr<Config> LoadConfig(const std::string& path, const std::vector<std::string>& overrides = {},
                                  ConfigOrigins* origins = nullptr);

/// What ValidateConfig checks against the world outside the file.
struct ValidationContext {
  /// Number of ranks the job runs on; 0 = do not check the grid.
  int64_t world_size = 0;
  /// Check that the files and directories the config names exist.
  bool check_paths = true;
};

/// Checks combinations of keys: head counts divisible by tensor_parallel,
/// data_parallel x tensor_parallel == world size, batch sizes that divide,
/// named files that exist. Fills nothing in; see ResolveDerived for that.
absl::Status ValidateConfig(const Config& config, const ValidationContext& context);

/// One message per key of `model` whose value lies outside the range
/// ParseConfig allows ("model.rms_norm_eps is 0.5, outside [1e-12, 0.1]"),
/// for values that came from elsewhere (a checkpoint's config.json).
std::vector<std::string> ModelRangeProblems(const ModelConfig& model);

/// Fills the keys whose default depends on others (data_parallel = 0 means
/// world/tensor_parallel; global_batch_size = 0 means micro x data_parallel).
void ResolveDerived(Config* config, int64_t world_size);

/// Gradient-accumulation micro-steps per optimizer step (after ResolveDerived).
int64_t AccumulationSteps(const Config& config);

/// Overwrites `model`'s shape with a named preset's (kModelPresets in
/// config/model_presets.h); "custom" leaves it unchanged. Returns false for
/// unknown names.
bool ApplyModelPreset(absl::string_view preset, ModelConfig* model);

/// The effective configuration as YAML (every key, defaults included).
std::string ConfigToYaml(const Config& config);

/// A stable 64-bit hash of ConfigToYaml, used to check that all ranks agree.
uint64_t ConfigHash(const Config& config);

}  // namespace alro::config
