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
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"

namespace alro::config {

/// Parses YAML text (named `source` in messages, e.g. the file path) and then
/// applies `overrides`, each "a.b.c=value" as given to --set. Checks keys,
/// types and ranges; does not look at the file system or the world size.
absl::StatusOr<Config> ParseConfig(absl::string_view yaml_text, absl::string_view source,
                                   const std::vector<std::string>& overrides = {});

/// Reads `path` and parses it as ParseConfig does.
absl::StatusOr<Config> LoadConfig(const std::string& path,
                                  const std::vector<std::string>& overrides = {});

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

/// Fills the keys whose default depends on others (data_parallel = 0 means
/// world/tensor_parallel; global_batch_size = 0 means micro x data_parallel).
void ResolveDerived(Config* config, int64_t world_size);

/// Gradient-accumulation micro-steps per optimizer step (after ResolveDerived).
int64_t AccumulationSteps(const Config& config);

/// Overwrites `model`'s shape with a named preset's (tiny, small, llama2-7b,
/// llama3-8b); "custom" leaves it unchanged. Returns false for unknown names.
bool ApplyModelPreset(absl::string_view preset, ModelConfig* model);

/// The effective configuration as YAML (every key, defaults included).
std::string ConfigToYaml(const Config& config);

/// A stable 64-bit hash of ConfigToYaml, used to check that all ranks agree.
uint64_t ConfigHash(const Config& config);

}  // namespace alro::config
