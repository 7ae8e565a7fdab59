// fuzz/fuzz_manifest.cc: the data set manifest. A manifest that parses must
// survive a write/parse round trip unchanged.
#include <cstdint>

#include "data/manifest.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace alro;
  absl::StatusOr<data::Manifest> m = data::ParseManifest(fuzz::AsString(data, size), "fuzz/manifest.json");
  if (!m.ok()) return 0;
  const std::string text = data::ManifestToJson(*m);
  absl::StatusOr<data::Manifest> again = data::ParseManifest(text, "round-trip");
  fuzz::Expect(again.ok(), "a written manifest does not parse: " + std::string(again.status().message()));
  fuzz::Expect(data::ManifestToJson(*again) == text, "manifest round trip changed it");
  return 0;
}
