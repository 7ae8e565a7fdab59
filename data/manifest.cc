// data/manifest.cc: manifest.json reading, checking and writing.
#include "data/manifest.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/json_util.h"
#include "common/status.h"
#include "data/record_format.h"

namespace alro::data {
namespace {

constexpr char kManifestHint[] =
    "the manifest is written by `alro convert`; re-run the conversion, or restore the directory";

absl::Status ManifestError(const std::string& path, absl::string_view what) {
  return UserError(absl::StatusCode::kDataLoss, absl::StrCat("manifest ", path, ": ", what), kManifestHint);
}

// Eight hex digits, as ManifestToJson writes a CRC.
bool ParseHex32(const std::string& text, uint32_t* out) {
  constexpr size_t kDigits = 8;
  if (text.size() != kDigits || text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) return false;
  *out = static_cast<uint32_t>(std::strtoul(text.c_str(), nullptr, 16));
  return true;
}

}  // namespace

const SplitInfo* Manifest::FindSplit(const std::string& name) const {
  for (const SplitInfo& s : splits) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string ManifestToJson(const Manifest& manifest) {
  // nlohmann::ordered_json keeps insertion order so the file reads top-down
  // and is byte-identical for identical inputs.
  nlohmann::ordered_json j;
  j["format"] = manifest.format;
  j["schema_version"] = manifest.schema_version;
  j["record_framing"] = "tfrecord: uint64 length | masked crc32c(length) | payload | masked crc32c(payload)";
  j["tokenizer"] = manifest.tokenizer;
  if (manifest.tokenizer_crc32c) {
    j["tokenizer_bytes"] = manifest.tokenizer_bytes;
    j["tokenizer_crc32c"] = absl::StrFormat("%08x", *manifest.tokenizer_crc32c);
  }
  nlohmann::ordered_json splits = nlohmann::ordered_json::array();
  for (const SplitInfo& s : manifest.splits) {
    nlohmann::ordered_json js;
    js["name"] = s.name;
    js["records"] = s.records;
    nlohmann::ordered_json shards = nlohmann::ordered_json::array();
    for (const ShardInfo& sh : s.shards) {
      nlohmann::ordered_json jsh;
      jsh["file"] = sh.file;
      jsh["index"] = sh.file + kIndexSuffix;
      jsh["records"] = sh.records;
      jsh["bytes"] = sh.bytes;
      jsh["crc32c"] = absl::StrFormat("%08x", sh.crc32c);
      shards.push_back(std::move(jsh));
    }
    js["shards"] = std::move(shards);
    splits.push_back(std::move(js));
  }
  j["splits"] = std::move(splits);
  j["created_by"] = nlohmann::ordered_json::parse(manifest.created_by.dump());
  j["stats"] = nlohmann::ordered_json::parse(manifest.stats.dump());
  if (!manifest.item_tokens.empty()) j["item_tokens"] = manifest.item_tokens;
  return j.dump(2) + "\n";
}

absl::StatusOr<Manifest> ParseManifest(const std::string& text, const std::string& path) {
  ALRO_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(text, path));
  Manifest m;
  if (!j.is_object()) return ManifestError(path, "is not a JSON object");
  if (!j.contains("format") || !j["format"].is_string() || j["format"] != kManifestFormat) {
    return ManifestError(path, absl::StrCat("key 'format' must be \"", kManifestFormat, "\""));
  }
  m.format = j["format"];
  if (!j.contains("schema_version") || !j["schema_version"].is_number_unsigned()) {
    return ManifestError(path, "key 'schema_version' is missing or not a non-negative integer");
  }
  m.schema_version = j["schema_version"];
  if (m.schema_version > kSchemaVersion) {
    return UserError(absl::StatusCode::kFailedPrecondition,
                     absl::StrCat("manifest ", path, ": schema_version ", m.schema_version,
                                  " is newer than this alro's (", kSchemaVersion, ")"),
                     "use the alro version that wrote the data set, or re-convert with this one");
  }
  if (j.contains("tokenizer") && j["tokenizer"].is_string()) m.tokenizer = j["tokenizer"];
  if (j.contains("tokenizer_crc32c") || j.contains("tokenizer_bytes")) {
    uint32_t crc = 0;
    if (!j.contains("tokenizer_bytes") || !j["tokenizer_bytes"].is_number_unsigned() ||
        !j.contains("tokenizer_crc32c") || !j["tokenizer_crc32c"].is_string() ||
        !ParseHex32(j["tokenizer_crc32c"].get<std::string>(), &crc)) {
      return ManifestError(path, "'tokenizer_bytes' (a non-negative integer) and 'tokenizer_crc32c' (8 hex digits) "
                                 "go together");
    }
    m.tokenizer_bytes = j["tokenizer_bytes"];
    m.tokenizer_crc32c = crc;
  }
  if (j.contains("item_tokens")) {
    const nlohmann::json& items = j["item_tokens"];
    if (!items.is_array() ||
        !std::all_of(items.begin(), items.end(), [](const nlohmann::json& x) { return x.is_string(); })) {
      return ManifestError(path, "'item_tokens' must be an array of item ids (strings)");
    }
    for (const nlohmann::json& x : items) m.item_tokens.push_back(x.get<std::string>());
  }
  if (j.contains("created_by")) m.created_by = j["created_by"];
  if (j.contains("stats")) m.stats = j["stats"];
  if (!j.contains("splits") || !j["splits"].is_array()) return ManifestError(path, "key 'splits' must be an array");
  for (size_t si = 0; si < j["splits"].size(); ++si) {
    const nlohmann::json& js = j["splits"][si];
    const std::string where = absl::StrCat("splits[", si, "]");
    if (!js.is_object() || !js.contains("name") || !js["name"].is_string() || !js.contains("records") ||
        !js["records"].is_number_integer() || !js.contains("shards") || !js["shards"].is_array()) {
      return ManifestError(path, absl::StrCat(where, " needs 'name', 'records' and 'shards'"));
    }
    SplitInfo split;
    split.name = js["name"];
    split.records = js["records"];
    int64_t sum = 0;
    for (size_t k = 0; k < js["shards"].size(); ++k) {
      const nlohmann::json& jsh = js["shards"][k];
      const std::string shard_where = absl::StrCat(where, ".shards[", k, "]");
      if (!jsh.is_object() || !jsh.contains("file") || !jsh["file"].is_string() || !jsh.contains("records") ||
          !jsh["records"].is_number_integer() || !jsh.contains("bytes") || !jsh["bytes"].is_number_unsigned() ||
          !jsh.contains("crc32c") || !jsh["crc32c"].is_string()) {
        return ManifestError(path, absl::StrCat(shard_where, " needs 'file', 'records', 'bytes' and 'crc32c'"));
      }
      ShardInfo sh;
      sh.file = jsh["file"];
      sh.records = jsh["records"];
      sh.bytes = jsh["bytes"];
      if (!ParseHex32(jsh["crc32c"].get<std::string>(), &sh.crc32c)) {
        return ManifestError(path, absl::StrCat(shard_where, ".crc32c is not 8 hex digits"));
      }
      if (sh.records < 0) return ManifestError(path, absl::StrCat(shard_where, ".records is negative"));
      sum += sh.records;
      split.shards.push_back(std::move(sh));
    }
    if (sum != split.records) {
      return ManifestError(path, absl::StrCat(where, " (", split.name, ") says ", split.records,
                                              " records but its shards add up to ", sum));
    }
    m.splits.push_back(std::move(split));
  }
  return m;
}

absl::StatusOr<Manifest> ReadManifest(const std::string& dir) {
  const std::string path = JoinPath(dir, kManifestName);
  if (!PathExists(path)) {
    return UserError(absl::StatusCode::kNotFound, absl::StrCat("data set ", dir, " has no ", kManifestName),
                     "convert a data set into it with `alro convert`, or fix data.dir");
  }
  ALRO_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseManifest(text, path);
}

absl::StatusOr<bool> CheckTokenizerBytes(const Manifest& manifest, const std::string& manifest_path,
                                         const std::string& path, absl::string_view bytes) {
  if (!manifest.tokenizer_crc32c) return false;
  const uint32_t crc = crc32c::Value(bytes);
  if (bytes.size() == manifest.tokenizer_bytes && crc == *manifest.tokenizer_crc32c) return true;
  return UserError(absl::StatusCode::kDataLoss,
                   absl::StrFormat("tokenizer %s has %d bytes with CRC32C %08x, but %s records %d bytes with "
                                   "CRC32C %08x: the file was changed or damaged after conversion",
                                   path, bytes.size(), crc, manifest_path, manifest.tokenizer_bytes,
                                   *manifest.tokenizer_crc32c),
                   "restore the data set's tokenizer.model from its source (or re-run `alro convert`); a model "
                   "trained with the converted tokenizer needs exactly that file");
}

absl::Status WriteManifest(const std::string& dir, const Manifest& manifest) {
  return WriteFileAtomically(JoinPath(dir, kManifestName), ManifestToJson(manifest));
}

}  // namespace alro::data
