// train/metrics_log.cc: the JSONL metrics file (see metrics_log.h).
#include "train/metrics_log.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status.h"

namespace alro::train {

absl::StatusOr<MetricsLog> MetricsLog::Open(const std::string& path, int64_t resume_step) {
  ALRO_RETURN_IF_ERROR(MakeDirectories(DirName(path)));
  if (PathExists(path)) {
    ALRO_ASSIGN_OR_RETURN(std::string old, ReadFileToString(path));
    std::string kept;
    for (absl::string_view line : absl::StrSplit(old, '\n', absl::SkipEmpty())) {
      const nlohmann::json row = nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
      // A torn last line (crash mid-write) is dropped with the lost steps.
      if (row.is_discarded() || !row.is_object()) continue;
      if (row.value("step", int64_t{0}) > resume_step) continue;
      absl::StrAppend(&kept, line, "\n");
    }
    ALRO_RETURN_IF_ERROR(WriteFileAtomically(path, kept));
  }
  MetricsLog log;
  log.path_ = path;
  log.file_ = std::fopen(path.c_str(), "a");
  if (log.file_ == nullptr) {
    return UserError(absl::StatusCode::kPermissionDenied, absl::StrCat("cannot open ", path, " for appending"),
                     "check that logging.dir is writable");
  }
  return log;
}

MetricsLog::MetricsLog(MetricsLog&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)), path_(std::move(other.path_)) {}

MetricsLog& MetricsLog::operator=(MetricsLog&& other) noexcept {
  if (this != &other) {
    if (file_ != nullptr) std::fclose(file_);
    file_ = std::exchange(other.file_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

MetricsLog::~MetricsLog() {
  if (file_ != nullptr) std::fclose(file_);
}

void MetricsLog::Append(const nlohmann::ordered_json& line) {
  if (file_ == nullptr) return;
  const std::string text = line.dump() + "\n";
  std::fwrite(text.data(), 1, text.size(), file_);
  std::fflush(file_);
}

}  // namespace alro::train
