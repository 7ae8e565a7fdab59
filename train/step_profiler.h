// train/step_profiler.h: the operator-level profile of a window of training
// steps (`alro train --profile-steps A:B`).
//
// LibTorch's profiler records every ATen operator the rank runs in steps A
// to B (1-based, inclusive), forward and backward, plus the trainer's own
// phases (ProfilePhase scopes: loader, forward+loss, backward, gradient
// sync, optimizer). After step B each rank writes, into logging.dir,
//   profile.rank<R>.txt   the phases and the operators by self time
//   profile.rank<R>.json  a Chrome trace (chrome://tracing, ui.perfetto.dev)
// and rank 0 prints the top of its table. Self time is an operator's time
// minus the operators it called, so the column sums to the profiled time
// and says where the step really goes; a phase's self time is the time in
// that phase outside any operator (MPI waits, C++ bookkeeping).
//
//   StepProfiler profiler(*ParseProfileWindow("100:110"), dir, rank);
//   (or, around any code: OperatorProfile p; ...; ProfileResult r = p.Finish();)
//   profiler.BeforeStep(step_ + 1);  ...step...  profiler.AfterStep(step_);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace alro::train {

/// The steps to profile, 1-based and inclusive; empty when last < first.
struct ProfileWindow {
  int64_t first = 0;
  int64_t last = -1;
  bool empty() const { return last < first; }
};

/// "A:B" (steps A to B) or "A" (step A alone) as a window; "" is the empty
/// window. Anything else is a user error naming the flag.
absl::StatusOr<ProfileWindow> ParseProfileWindow(const std::string& text);

/// One row of a profile: an operator (or trainer phase) and its time.
struct ProfileRow {
  std::string name;
  int64_t calls = 0;
  double self_us = 0.0;   ///< time in this operator, not in the ones it called
  double total_us = 0.0;  ///< time from entry to exit, nested calls included (once per outermost call)
};

/// Per-name rows from one thread's begin/end events (`begin` true for an
/// operator's entry), in time order, sorted by self time, largest first.
/// Unmatched ends (the profiler started inside an operator) are ignored.
struct ProfileEvent {
  std::string name;
  bool begin = false;
  double time_us = 0.0;
};
std::vector<ProfileRow> SummarizeProfile(const std::vector<ProfileEvent>& events);

/// Minor page faults per profiled step above which the report warns that the
/// profile is distorted (2 MB of fresh pages per step; an unprofiled `small`
/// step of core_decoder_bench takes about 10).
constexpr int64_t kDistortingFaultsPerStep = 512;

/// The text report: the profiled wall time, then up to `top` rows with calls,
/// self and total milliseconds and self share of `wall_us`. With
/// `minor_faults` >= 0 (the process's minor page faults during the profile)
/// it also prints the faults per step, and a warning with a HINT when they
/// exceed kDistortingFaultsPerStep.
std::string FormatProfile(const std::vector<ProfileRow>& rows, double wall_us, int64_t steps, size_t top,
                          int64_t minor_faults = -1);

/// What an OperatorProfile recorded.
struct ProfileResult {
  std::vector<ProfileRow> rows;  ///< every operator and phase, by self time
  double wall_us = 0.0;          ///< from Start to Finish
  std::string chrome_trace;      ///< chrome://tracing JSON of every call
  int64_t minor_faults = 0;      ///< the process's minor page faults from Start to Finish
};

/// LibTorch's profiler over the operators this thread (and the threads it
/// hands work to) runs between construction and Finish(); the building
/// block of StepProfiler and of core_decoder_bench --profile. One at a time.
class OperatorProfile {
 public:
  OperatorProfile();
  ~OperatorProfile();  ///< stops the profiler if Finish() was not called
  OperatorProfile(const OperatorProfile&) = delete;
  OperatorProfile& operator=(const OperatorProfile&) = delete;

  /// Stops recording and summarises. Call once.
  ProfileResult Finish();

 private:
  bool running_ = true;
  double start_us_ = 0.0;
  int64_t start_minor_faults_ = 0;
};

/// Scoped name of a trainer phase in the profile (a user scope of LibTorch's
/// RecordFunction); costs nothing when no profiler runs.
class ProfilePhase {
 public:
  explicit ProfilePhase(const char* name);
  ~ProfilePhase();
  ProfilePhase(const ProfilePhase&) = delete;
  ProfilePhase& operator=(const ProfilePhase&) = delete;

 private:
  struct Guard;
  std::unique_ptr<Guard> guard_;
};

/// Starts LibTorch's profiler before the window's first step and writes the
/// reports after its last. One per rank; a no-op for an empty window.
class StepProfiler {
 public:
  StepProfiler(ProfileWindow window, std::string dir, int rank);
  ~StepProfiler();

  /// Call before running step `step` (1-based).
  void BeforeStep(int64_t step);
  /// Call after step `step` completed; writes the reports after the last
  /// step of the window (an I/O error names the file).
  absl::Status AfterStep(int64_t step);

 private:
  ProfileWindow window_;
  std::string dir_;
  int rank_;
  std::unique_ptr<OperatorProfile> profile_;  ///< set while the window runs
};

}  // namespace alro::train
