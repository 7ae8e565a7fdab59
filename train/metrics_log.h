// train/metrics_log.h: the run's metrics file (logging.dir/metrics.jsonl),
// one JSON object per line, appended by rank 0 and flushed per line so a
// crash loses nothing already logged. scripts/plot_metrics.py reads it.
//
// Lines: {"kind": "train", "step": 10, "loss": ..., "lm": ..., "lr": ...,
// "grad_norm": ..., "tokens_per_s": ..., "lists_per_s": ..., "mfu": ...,
// "eta_s": ...} and {"kind": "eval", "step": 50, "split": "valid",
// "ndcg@1": ..., ...}.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace alro::train {

/// An append-only JSONL file.
class MetricsLog {
 public:
  /// Opens (creating the directory) `path` for appending. Lines of an earlier
  /// attempt with "step" > `resume_step` are dropped first, so a run resumed
  /// from a checkpoint does not log the lost steps twice.
  static absl::StatusOr<MetricsLog> Open(const std::string& path, int64_t resume_step);

  MetricsLog() = default;
  MetricsLog(MetricsLog&& other) noexcept;
  MetricsLog& operator=(MetricsLog&& other) noexcept;
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  ~MetricsLog();

  /// Writes one line and flushes it. A closed log ignores the call.
  void Append(const nlohmann::ordered_json& line);
  const std::string& path() const { return path_; }

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
};

}  // namespace alro::train
