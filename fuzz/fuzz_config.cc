// fuzz/fuzz_config.cc: the YAML job configuration. The first line of the
// input, when it starts with "#set ", is a --set override (so overrides are
// fuzzed too). A configuration that parses is validated (without touching
// the file system) and must survive ConfigToYaml -> ParseConfig with the
// same hash.
#include <cstdint>

#include "absl/strings/match.h"
#include "config/config_io.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace alro;
  const std::string text = fuzz::AsString(data, size);
  std::vector<std::string> overrides;
  if (absl::StartsWith(text, "#set ")) overrides.push_back(text.substr(5, text.find('\n') - 5));
  config::ConfigOrigins origins;
  absl::StatusOr<config::Config> cfg = config::ParseConfig(text, "fuzz.yaml", overrides, &origins);
  if (!cfg.ok()) return 0;
  (void)config::ValidateConfig(*cfg, {.world_size = 8, .check_paths = false});
  const std::string yaml = config::ConfigToYaml(*cfg);
  absl::StatusOr<config::Config> again = config::ParseConfig(yaml, "round-trip");
  fuzz::Expect(again.ok(), "ConfigToYaml output does not parse: " + std::string(again.status().message()));
  fuzz::Expect(config::ConfigHash(*again) == config::ConfigHash(*cfg), "config round trip changed the hash");
  return 0;
}
