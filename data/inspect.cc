// data/inspect.cc: data set verification and description.
#include "data/inspect.h"

#include <algorithm>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/status.h"
#include "data/dataset.h"
#include "data/manifest.h"
#include "data/prompt.h"
#include "data/record_format.h"
#include "data/record_reader.h"
#include "data/tokenizer.h"

namespace alro::data {
namespace {

// Problems listed per shard before the rest are only counted.
constexpr size_t kMaxProblemsPerShard = 20;

proto::Split SplitFromName(const std::string& name) {
  if (name == "train") return proto::SPLIT_TRAIN;
  if (name == "valid") return proto::SPLIT_VALID;
  if (name == "test") return proto::SPLIT_TEST;
  return proto::SPLIT_UNSPECIFIED;
}

void VerifyShard(const std::string& dir, const std::string& split, const ShardInfo& sh,
                 const std::string& manifest_path, VerifyResult* result) {
  const std::string path = JoinPath(dir, sh.file);
  std::vector<std::string> problems;
  const auto finish = [&] {
    const size_t extra = problems.size() > kMaxProblemsPerShard ? problems.size() - kMaxProblemsPerShard : 0;
    if (extra > 0) problems.resize(kMaxProblemsPerShard);
    for (std::string& p : problems) result->problems.push_back(std::move(p));
    if (extra > 0) result->problems.push_back(absl::StrCat(path, ": ... and ", extra, " more problems"));
    ++result->shards_checked;
  };
  if (!PathExists(path)) {
    problems.push_back(absl::StrCat("record shard ", path, " is missing (", sh.records, " records)"));
    return finish();
  }
  absl::StatusOr<MappedFile> file = MappedFile::Open(path);
  if (!file.ok()) {
    problems.push_back(std::string(file.status().message()));
    return finish();
  }
  if (file->size() != sh.bytes) {
    problems.push_back(absl::StrCat("record shard ", path, " is ", file->size(), " bytes but ", manifest_path,
                                    " says ", sh.bytes, file->size() < sh.bytes ? " (truncated)" : ""));
  } else if (const uint32_t crc = crc32c::Value(file->data(), file->size()); crc != sh.crc32c) {
    problems.push_back(absl::StrFormat("record shard %s: whole-file CRC32C %08x differs from the manifest's %08x",
                                       path, crc, sh.crc32c));
  }
  absl::StatusOr<ShardReader> reader = ShardReader::Open(path);
  if (!reader.ok()) {
    problems.push_back(std::string(reader.status().message()));
    return finish();
  }
  if (absl::Status s = reader->CheckAgainst(sh, manifest_path); !s.ok()) problems.push_back(std::string(s.message()));
  // Sequential framing, as a foreign TFRecord reader sees it.
  absl::StatusOr<SequentialRecordReader> seq = SequentialRecordReader::Open(path);
  if (seq.ok()) {
    absl::string_view payload;
    while (true) {
      const int64_t k = seq->record();
      const uint64_t offset = seq->offset();
      absl::StatusOr<bool> more = seq->Next(&payload);
      if (!more.ok()) {
        problems.push_back(absl::StrCat(more.status().message(), " (sequential scan stopped here)"));
        break;
      }
      if (!*more) break;
      if (k >= reader->num_records() || reader->offset(k) != offset) {
        problems.push_back(absl::StrCat("record shard ", path, ": record ", k, " at byte offset ", offset,
                                        " is not where the index puts it"));
        break;
      }
    }
  }
  // Every record by index: both CRCs, the payload, the split.
  const proto::Split expected_split = SplitFromName(split);
  proto::ListExample example;
  for (int64_t i = 0; i < reader->num_records(); ++i) {
    ++result->records_checked;
    absl::StatusOr<absl::string_view> payload = reader->Read(i);
    if (!payload.ok()) {
      const std::string m(payload.status().message());
      problems.push_back(m.substr(0, m.find('\n')));
      continue;
    }
    const std::string where = absl::StrCat("record shard ", path, ": record ", i, " at byte offset ", reader->offset(i));
    if (!example.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
      problems.push_back(absl::StrCat(where, ": the payload is not a ListExample"));
    } else if (example.schema_version() > kSchemaVersion) {
      problems.push_back(absl::StrCat(where, ": schema version ", example.schema_version(), " is too new"));
    } else if (example.split() != expected_split) {
      problems.push_back(absl::StrCat(where, ": example ", example.example_id(), " is not of split ", split));
    } else if (example.candidates_size() < 2) {
      problems.push_back(absl::StrCat(where, ": example ", example.example_id(), " has fewer than 2 candidates"));
    }
  }
  finish();
}

}  // namespace

std::string VerifyResult::Summary() const {
  if (ok()) return absl::StrCat("OK: ", records_checked, " records in ", shards_checked, " shards verified");
  std::string out = absl::StrCat("FAILED: ", problems.size(), " problems (", records_checked, " records in ",
                                 shards_checked, " shards checked):");
  for (const std::string& p : problems) absl::StrAppend(&out, "\n  ", p);
  return out;
}

absl::StatusOr<VerifyResult> VerifyDataset(const std::string& dir) {
  ALRO_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(dir));
  const std::string manifest_path = JoinPath(dir, kManifestName);
  VerifyResult result;
  for (const SplitInfo& split : manifest.splits) {
    for (const ShardInfo& sh : split.shards) VerifyShard(dir, split.name, sh, manifest_path, &result);
  }
  if (!manifest.tokenizer.empty()) {
    const std::string path = JoinPath(dir, manifest.tokenizer);
    absl::StatusOr<std::string> bytes = ReadFileToString(path);
    absl::StatusOr<bool> checked = bytes.ok() ? CheckTokenizerBytes(manifest, manifest_path, path, *bytes)
                                              : absl::StatusOr<bool>(bytes.status());
    if (!checked.ok()) {
      result.problems.push_back(std::string(checked.status().message()));
    } else if (!*checked) {
      result.problems.push_back(absl::StrCat(manifest_path, " records no size and CRC32C of ", manifest.tokenizer,
                                             " (written by an older alro), so the tokenizer cannot be verified; "
                                             "re-convert the data set"));
    } else if (absl::StatusOr<std::shared_ptr<const Tokenizer>> t = Tokenizer::FromSerialized(*bytes, path); !t.ok()) {
      result.problems.push_back(std::string(t.status().message()));
    }
  }
  if (absl::StatusOr<std::vector<std::string>> names = ListDirectory(dir); names.ok()) {
    for (const std::string& name : *names) {
      if (absl::StrContains(name, ".tmp.")) {
        result.problems.push_back(absl::StrCat(JoinPath(dir, name), " is an unfinished temporary file"));
      }
    }
  }
  return result;
}

absl::StatusOr<std::string> InspectDataset(const std::string& dir, const config::PromptConfig& prompt) {
  ALRO_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(dir));
  std::string out = absl::StrCat("data set ", dir, " (schema version ", manifest.schema_version, ")\n");
  if (manifest.created_by.contains("command")) {
    absl::StrAppend(&out, "made by: ", manifest.created_by["command"].get<std::string>(), "\n");
  }
  std::map<std::string, int64_t> histogram;
  proto::ListExample first_train;
  bool have_first = false;
  for (const SplitInfo& info : manifest.splits) {
    ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const SplitReader> split,
                          SplitReader::Open(dir, info.name, OnCorrupt::kFail));
    uint64_t bytes = 0;
    for (const ShardInfo& sh : info.shards) bytes += sh.bytes;
    int64_t min_c = INT64_MAX, max_c = 0, sum_c = 0, min_h = INT64_MAX, max_h = 0, sum_h = 0;
    std::map<std::string, bool> users;
    proto::ListExample ex;
    for (int64_t i = 0; i < split->size(); ++i) {
      ALRO_RETURN_IF_ERROR(split->Read(i, &ex));
      const int64_t c = ex.candidates_size(), h = ex.history_size();
      min_c = std::min(min_c, c), max_c = std::max(max_c, c), sum_c += c;
      min_h = std::min(min_h, h), max_h = std::max(max_h, h), sum_h += h;
      users[ex.user_id()] = true;
      for (const proto::Interaction& it : ex.candidates()) ++histogram[FormatRating(it.rating())];
      if (!have_first && info.name == "train") {
        first_train = ex;
        have_first = true;
      }
    }
    absl::StrAppendFormat(&out, "split %-5s  %7d lists  %5d users  %2d shards  %9d bytes", info.name, info.records,
                          users.size(), info.shards.size(), bytes);
    if (split->size() > 0) {
      absl::StrAppendFormat(&out, "  candidates %d..%d (mean %.1f)  history %d..%d (mean %.1f)", min_c, max_c,
                            double(sum_c) / split->size(), min_h, max_h, double(sum_h) / split->size());
    }
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, "candidate ratings (all splits):\n");
  int64_t max_count = 1;
  for (const auto& [r, n] : histogram) max_count = std::max(max_count, n);
  std::vector<std::pair<double, std::string>> sorted;
  for (const auto& [r, n] : histogram) sorted.emplace_back(std::stod(r), r);
  std::sort(sorted.begin(), sorted.end());
  constexpr int kBarWidth = 40;
  for (const auto& [value, r] : sorted) {
    const int64_t n = histogram[r];
    absl::StrAppendFormat(&out, "  %4s %8d %s\n", r, n, std::string(static_cast<size_t>(kBarWidth * n / max_count), '#'));
  }
  if (!manifest.stats.empty()) absl::StrAppend(&out, "conversion stats: ", manifest.stats.dump(), "\n");
  if (have_first) {
    absl::StrAppend(&out, "\nfirst training list (", first_train.example_id(), "), as rendered:\n");
    if (!manifest.tokenizer.empty()) {
      ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const Tokenizer> tokenizer,
                            Tokenizer::Load(JoinPath(dir, manifest.tokenizer)));
      RenderOptions render;
      if (PromptUsesItemTokens(prompt)) {
        ALRO_ASSIGN_OR_RETURN(render.item_tokens,
                              ItemTokenTable::Create(manifest.item_tokens, *tokenizer, JoinPath(dir, kManifestName)));
      }
      ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const PromptRenderer> renderer,
                            PromptRenderer::Create(prompt, tokenizer, render));
      absl::StrAppend(&out, RenderPromptText(prompt, first_train));
      ALRO_ASSIGN_OR_RETURN(RenderedExample rendered, renderer->Render(first_train));
      absl::StrAppend(&out, "(", rendered.tokens.size(), " tokens with ", manifest.tokenizer, " of ",
                      tokenizer->vocab_size(), " pieces; answer at positions");
      for (int32_t p : rendered.answer_positions) absl::StrAppend(&out, " ", p);
      absl::StrAppend(&out, ")\n");
    } else {
      absl::StrAppend(&out, RenderPromptText(prompt, first_train), "(no tokenizer in the data set)\n");
    }
  }
  return out;
}

}  // namespace alro::data
