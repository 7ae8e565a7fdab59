// common/json_util.h: JSON parsing at I/O boundaries without exceptions
// escaping into callers. nlohmann::json is the one JSON library alro uses
// (safetensors headers, manifests, metrics JSONL, rank requests).
#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace alro {

/// Parses `text`; on failure the error names `where` (a file, or file:line)
/// and the byte offset of the problem.
absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text, absl::string_view where);

/// Reads and parses a JSON file.
absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path);

}  // namespace alro
