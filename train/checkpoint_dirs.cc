// train/checkpoint_dirs.cc: naming, listing, resolving and pruning
// checkpoint directories.
#include "train/checkpoint_dirs.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_util.h"
#include "common/json_util.h"
#include "common/logging.h"
#include "common/status.h"
#include "train/checkpoint_format.h"

namespace alro::train {
namespace {

// Parses "step_00000050" (exactly; not "step_00000050.tmp") into 50.
bool ParseStepDirName(absl::string_view name, int64_t* step) {
  if (!absl::StartsWith(name, kStepPrefix)) return false;
  name.remove_prefix(sizeof(kStepPrefix) - 1);
  if (name.empty() || name.find_first_not_of("0123456789") != absl::string_view::npos) return false;
  return absl::SimpleAtoi(name, step);
}

// True when `dir` holds a manifest that declares the checkpoint complete.
bool IsComplete(const std::string& dir) {
  absl::StatusOr<nlohmann::json> manifest = ReadJsonFile(JoinPath(dir, kManifestFile));
  return manifest.ok() && manifest->is_object() && manifest->value("complete", false);
}

}  // namespace

std::string CheckpointPath(const std::string& root, int64_t step) {
  return JoinPath(root, absl::StrFormat("%s%0*d", kStepPrefix, kStepDigits, step));
}

std::vector<int64_t> ListCompleteCheckpoints(const std::string& root) {
  std::vector<int64_t> steps;
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(root);
  if (!names.ok()) return steps;
  for (const std::string& name : *names) {
    int64_t step = 0;
    if (!ParseStepDirName(name, &step) || !IsComplete(JoinPath(root, name))) continue;
    steps.push_back(step);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

std::string ResolveCheckpointDir(const std::string& path) {
  if (PathExists(JoinPath(path, kManifestFile))) return path;
  const std::vector<int64_t> steps = ListCompleteCheckpoints(path);
  return steps.empty() ? path : CheckpointPath(path, steps.back());
}

absl::StatusOr<std::optional<std::string>> ResolveResume(const std::string& resume, const std::string& root) {
  if (resume.empty() || resume == "none") return std::optional<std::string>();
  if (resume == "auto") {
    if (root.empty()) {
      return UserError(absl::StatusCode::kInvalidArgument, "checkpoint.resume=auto but checkpoint.dir is empty",
                       "set checkpoint.dir to the run's checkpoint directory");
    }
    const std::vector<int64_t> steps = ListCompleteCheckpoints(root);
    if (steps.empty()) return std::optional<std::string>();
    return std::optional<std::string>(CheckpointPath(root, steps.back()));
  }
  if (!IsComplete(resume)) {
    return UserError(absl::StatusCode::kNotFound,
                     absl::StrCat("checkpoint.resume: ", resume, " is not a complete checkpoint (no complete ",
                                  kManifestFile, ")"),
                     "pass a step_NNNNNNNN directory, or --resume auto to pick the newest complete one");
  }
  return std::optional<std::string>(resume);
}

absl::Status ApplyRetention(const std::string& root, const RetentionPolicy& retention) {
  const std::vector<int64_t> steps = ListCompleteCheckpoints(root);
  const size_t keep_last = static_cast<size_t>(std::max<int64_t>(retention.keep_last, 1));
  for (size_t i = 0; i < steps.size(); ++i) {
    const bool recent = i + keep_last >= steps.size();
    const bool milestone = retention.keep_every > 0 && steps[i] % retention.keep_every == 0;
    if (recent || milestone) continue;
    ALRO_LOG(DEBUG) << "checkpoint: retention removes " << CheckpointPath(root, steps[i]);
    ALRO_RETURN_IF_ERROR(RemoveAll(CheckpointPath(root, steps[i])));
  }
  // Torn attempts: a save that crashed before its rename. Only rank 0 calls
  // this, after its own rename, so no save is in progress.
  ALRO_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(root));
  for (const std::string& name : names) {
    int64_t step = 0;
    if (absl::EndsWith(name, kTmpSuffix) &&
        ParseStepDirName(absl::string_view(name).substr(0, name.size() - (sizeof(kTmpSuffix) - 1)), &step)) {
      ALRO_LOG(INFO) << "checkpoint: removing incomplete " << JoinPath(root, name);
      ALRO_RETURN_IF_ERROR(RemoveAll(JoinPath(root, name)));
    }
  }
  return absl::OkStatus();
}

}  // namespace alro::train
