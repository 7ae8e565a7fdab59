// train/checkpoint_identity.cc: code version, data-manifest hash and
// tokenizer identity recorded in checkpoint manifests.
#include "train/checkpoint_identity.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "data/record_format.h"

#ifndef ALRO_GIT_COMMIT
#define ALRO_GIT_COMMIT "unknown"
#endif
#ifndef ALRO_VERSION
#define ALRO_VERSION "0.0.0"
#endif

namespace alro::train {

std::string DataManifestHash(const std::string& data_dir) {
  absl::StatusOr<std::string> bytes = ReadFileToString(JoinPath(data_dir, data::kManifestName));
  if (!bytes.ok()) return "";
  return absl::StrFormat("crc32c:%08x", crc32c::Value(*bytes));
}

nlohmann::json TokenizerIdentity(const std::string& name, uint64_t bytes, uint32_t crc32c) {
  return nlohmann::json{{"name", name}, {"bytes", bytes}, {"crc32c", absl::StrFormat("%08x", crc32c)}};
}

std::string CodeVersion() { return absl::StrCat(ALRO_VERSION, "+", ALRO_GIT_COMMIT); }

}  // namespace alro::train
