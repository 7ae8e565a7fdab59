// data/manifest.h: the data set manifest (manifest.json): which shards each
// split has, their record counts, sizes and checksums, the schema version,
// and the command and inputs that made the data set. Written last by the
// converter, so a directory with a manifest is complete.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace alro::data {

/// One shard file as the manifest records it.
struct ShardInfo {
  std::string file;      ///< name relative to the data set directory
  int64_t records = 0;   ///< frames in the shard
  uint64_t bytes = 0;    ///< size of the shard file
  uint32_t crc32c = 0;   ///< CRC32C (unmasked) of the whole shard file
};

/// The shards of one split, in order; record i of the split is record
/// (i - first record of its shard) of the shard that contains it.
struct SplitInfo {
  std::string name;  ///< train | valid | test
  int64_t records = 0;
  std::vector<ShardInfo> shards;
};

/// The parsed manifest.json.
struct Manifest {
  std::string format;
  uint32_t schema_version = 0;
  std::vector<SplitInfo> splits;
  /// Tokenizer file name in the directory ("" if none was trained).
  std::string tokenizer;
  /// Size and CRC32C (unmasked) of the tokenizer file; 0 / nullopt in
  /// manifests written before alro recorded them.
  uint64_t tokenizer_bytes = 0;
  std::optional<uint32_t> tokenizer_crc32c;
  /// Item tokens (data/item_tokens.h): entry k-1 is the item id shown as
  /// <item_k>; empty when the data set was converted without them.
  std::vector<std::string> item_tokens;
  /// How the data set was made: command line, input files with sizes and
  /// CRCs, options. Informational; never part of a timestamp.
  nlohmann::json created_by = nlohmann::json::object();
  /// Conversion statistics (users, items, ratings, dropped rows).
  nlohmann::json stats = nlohmann::json::object();

  /// The split named `name`, or nullptr.
  const SplitInfo* FindSplit(const std::string& name) const;
};

/// Serialises `manifest` as pretty JSON with a stable key order.
std::string ManifestToJson(const Manifest& manifest);

/// Parses and checks manifest text (`path` names it in errors): format,
/// schema version not newer than this reader's, well-formed shard entries
/// whose record counts add up.
absl::StatusOr<Manifest> ParseManifest(const std::string& text, const std::string& path);

/// Reads DIR/manifest.json.
absl::StatusOr<Manifest> ReadManifest(const std::string& dir);

/// Checks the bytes of the data set's tokenizer file (`path`, read by the
/// caller) against the size and CRC32C the manifest (`manifest_path`)
/// records. Returns false when the manifest records none (older data sets),
/// true when they match, a kDataLoss user error naming both files otherwise.
absl::StatusOr<bool> CheckTokenizerBytes(const Manifest& manifest, const std::string& manifest_path,
                                         const std::string& path, absl::string_view bytes);

/// Writes DIR/manifest.json atomically.
absl::Status WriteManifest(const std::string& dir, const Manifest& manifest);

}  // namespace alro::data
