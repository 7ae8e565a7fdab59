// data/inspect.h: what `alro data inspect` and `alro data verify` report
// about a converted data set.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"

namespace alro::data {

/// The outcome of VerifyDataset.
struct VerifyResult {
  int64_t records_checked = 0;
  int64_t shards_checked = 0;
  /// Every problem found, each naming the file, record and byte offset.
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
  /// "OK: N records in S shards" or the list of problems.
  std::string Summary() const;
};

/// Checks a data set end to end: the manifest; for each shard its size and
/// whole-file CRC against the manifest, its index, every frame read
/// sequentially (offsets must match the index) and by index (both CRCs),
/// and that every payload parses as a ListExample of the right split; the
/// tokenizer file loads. Reports all problems, not only the first. An error
/// status only when the manifest itself cannot be read.
absl::StatusOr<VerifyResult> VerifyDataset(const std::string& dir);

/// A human-readable description: lists and shards per split, candidate
/// rating histogram, list length statistics, conversion statistics, and the
/// first training list rendered with `prompt` (when the data set has a
/// tokenizer, its token count too).
absl::StatusOr<std::string> InspectDataset(const std::string& dir, const config::PromptConfig& prompt);

}  // namespace alro::data
