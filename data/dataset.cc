// data/dataset.cc: SplitReader.
#include "data/dataset.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/status.h"
#include "data/record_format.h"

namespace alro::data {

absl::StatusOr<std::shared_ptr<const SplitReader>> SplitReader::Open(const std::string& dir, const std::string& split,
                                                                     OnCorrupt on_corrupt) {
  std::shared_ptr<SplitReader> r(new SplitReader());
  r->dir_ = dir;
  r->on_corrupt_ = on_corrupt;
  ALRO_ASSIGN_OR_RETURN(r->manifest_, ReadManifest(dir));
  const SplitInfo* info = r->manifest_.FindSplit(split);
  if (info == nullptr) {
    return UserError(absl::StatusCode::kNotFound, absl::StrCat("data set ", dir, " has no split '", split, "'"),
                     "use train, valid or test (`alro data inspect DIR` lists them)");
  }
  r->info_ = *info;
  const std::string manifest_path = JoinPath(dir, kManifestName);
  int64_t first = 0;
  for (const ShardInfo& sh : info->shards) {
    r->first_record_.push_back(first);
    first += sh.records;
    absl::StatusOr<ShardReader> reader = ShardReader::Open(JoinPath(dir, sh.file));
    absl::Status problem = reader.ok() ? reader->CheckAgainst(sh, manifest_path) : reader.status();
    if (!problem.ok() && on_corrupt == OnCorrupt::kFail) return problem;
    if (!reader.ok() || (problem.ok() == false && reader->num_records() != sh.records)) {
      // Unusable shard: every one of its records is skipped.
      r->drops_.AddCount("records of an unusable shard", sh.records, problem.message());
      ALRO_LOG(WARNING) << "on_corrupt=skip: skipping all " << sh.records << " records of " << sh.file << ": "
                        << problem.message();
      r->shards_.emplace_back(std::nullopt);
      continue;
    }
    if (!problem.ok()) {
      // Usable index but a size problem (e.g. truncated): the records past the
      // end fail their reads and are reported one by one.
      ALRO_LOG(WARNING) << "on_corrupt=skip: " << problem.message();
    }
    r->shards_.emplace_back(std::move(reader).value());
  }
  return std::shared_ptr<const SplitReader>(std::move(r));
}

std::vector<int64_t> SplitReader::shard_records() const {
  std::vector<int64_t> out;
  for (const ShardInfo& sh : info_.shards) out.push_back(sh.records);
  return out;
}

void SplitReader::ReportOnce(int64_t global, const absl::Status& status) const {
  {
    std::lock_guard<std::mutex> lock(reported_mu_);
    if (!reported_.insert(global).second) return;
  }
  const std::string message(status.message());
  drops_.Add("corrupt record", absl::StrCat(info_.name, " record ", global), message.substr(0, message.find('\n')));
  ALRO_LOG(WARNING) << "on_corrupt=skip: skipping " << info_.name << " record " << global << ": "
                    << message.substr(0, message.find('\n'));
}

absl::Status SplitReader::ReadShardRecord(size_t shard, int64_t local, int64_t global,
                                          proto::ListExample* example) const {
  const std::optional<ShardReader>& reader = shards_[shard];
  if (!reader.has_value()) {
    return UserError(absl::StatusCode::kDataLoss,
                     absl::StrCat(info_.name, " record ", global, " is in unusable shard ", info_.shards[shard].file),
                     "see the warning about that shard");
  }
  ALRO_ASSIGN_OR_RETURN(absl::string_view payload, reader->Read(local));
  if (!example->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return UserError(absl::StatusCode::kDataLoss,
                     absl::StrCat("record shard ", reader->path(), ": record ", local, " at byte offset ",
                                  reader->offset(local), ": the payload is not a ListExample"),
                     "the file was not written by `alro convert`; re-run the conversion");
  }
  if (example->schema_version() > kSchemaVersion) {
    return UserError(absl::StatusCode::kFailedPrecondition,
                     absl::StrCat("record shard ", reader->path(), ": record ", local, " has schema version ",
                                  example->schema_version(), ", newer than this alro's ", kSchemaVersion),
                     "use the alro version that converted the data set");
  }
  return absl::OkStatus();
}

absl::Status SplitReader::Read(int64_t i, proto::ListExample* example) const {
  ALRO_CHECK(i >= 0 && i < info_.records, "record ", i, " of ", info_.records);
  const size_t shard = static_cast<size_t>(
      std::upper_bound(first_record_.begin(), first_record_.end(), i) - first_record_.begin() - 1);
  absl::Status status = ReadShardRecord(shard, i - first_record_[shard], i, example);
  if (!status.ok() && on_corrupt_ == OnCorrupt::kSkip && shards_[shard].has_value()) ReportOnce(i, status);
  return status;
}

}  // namespace alro::data
