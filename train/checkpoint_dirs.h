// train/checkpoint_dirs.h: the directory policy of checkpoints under a root
// (checkpoint.dir): naming, which ones are complete, which one to resume or
// load, and which ones retention removes. Names: train/checkpoint_format.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace alro::train {

/// Retention policy (config keys checkpoint.keep_last, checkpoint.keep_every).
struct RetentionPolicy {
  int64_t keep_last = 2;
  int64_t keep_every = 0;  ///< 0 = none
};

/// "root/step_00000050".
std::string CheckpointPath(const std::string& root, int64_t step);

/// Steps of the complete checkpoints under `root`, ascending (empty when the
/// directory does not exist). Incomplete (.tmp or manifest-less) ones are skipped.
std::vector<int64_t> ListCompleteCheckpoints(const std::string& root);

/// What a command's --checkpoint names: `path` itself when it holds a
/// manifest, else the newest complete checkpoint under `path` as a root;
/// `path` unchanged when there is none (opening it then says why).
std::string ResolveCheckpointDir(const std::string& path);

/// Resolves config key checkpoint.resume: "none" -> nullopt; "auto" -> the
/// newest complete checkpoint under `root` (nullopt when there is none yet);
/// anything else is a checkpoint directory that must be complete.
absl::StatusOr<std::optional<std::string>> ResolveResume(const std::string& resume, const std::string& root);

/// Removes complete checkpoints that `retention` does not keep, and stale
/// .tmp directories, under `root`. Called by rank 0 after each save.
absl::Status ApplyRetention(const std::string& root, const RetentionPolicy& retention);

}  // namespace alro::train
