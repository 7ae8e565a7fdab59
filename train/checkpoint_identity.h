// train/checkpoint_identity.h: what a checkpoint records about the inputs of
// the run that wrote it (code version, data set manifest, tokenizer), so that
// a resume, `alro eval` or `alro rank` on other inputs is noticed.
#pragma once

#include <cstdint>
#include <string>

#include "nlohmann/json.hpp"

namespace alro::train {

/// A hash of data.dir/manifest.json's bytes ("crc32c:xxxxxxxx"), recorded in
/// checkpoints so that a resume on different data is noticed. Empty when the
/// directory has no manifest.
std::string DataManifestHash(const std::string& data_dir);

/// What a checkpoint records of a tokenizer (name, bytes, CRC32C as 8 hex
/// digits), so that `alro eval`, `alro rank` and a resume can refuse another.
nlohmann::json TokenizerIdentity(const std::string& name, uint64_t bytes, uint32_t crc32c);

/// The version of alro that wrote a checkpoint: "0.1.0+<git commit>".
std::string CodeVersion();

}  // namespace alro::train
