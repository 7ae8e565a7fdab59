// bench/core/op_profile.h: a per-operator profile of code run on the calling
// thread, built on at::RecordFunction callbacks (the hooks LibTorch's own
// profiler uses; the same API in LibTorch 1.13 and 2.x): self time per
// operator name (time inside the op minus time in the ops it called), so the
// rows add up to the profiled wall time, and an optional Chrome trace.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include <ATen/record_function.h>

#include "absl/status/status.h"

namespace alro::bench {

/// Records every ATen operator and autograd node that runs on this thread
/// between construction and Stop() (or destruction). One at a time per thread.
class OpProfile {
 public:
  /// `keep_events`: also keep each call's interval for WriteChromeTrace.
  explicit OpProfile(bool keep_events);
  ~OpProfile();
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;

  /// Stops recording; the wall time since construction becomes the total.
  void Stop();

  /// Prints the `top` operators by self time: calls, self ms per step, share
  /// of the profiled wall time, and the share no operator accounts for
  /// (Python-free framework overhead between ops). `steps` divides the times.
  void Print(std::FILE* out, int top, int steps) const;

  /// Writes the kept events as a chrome://tracing / Perfetto JSON file.
  absl::Status WriteChromeTrace(const std::string& path) const;

  /// Self time per operator name, in seconds (for tests and callers).
  struct OpTime {
    int64_t calls = 0;
    double self_s = 0, total_s = 0;
  };
  const std::unordered_map<std::string, OpTime>& ops() const { return ops_; }
  double wall_seconds() const { return wall_s_; }

  // Callback plumbing (public for the C-style callbacks only).
  struct Frame {
    const char* name;
    int64_t start_ns;
    int64_t child_ns;
  };
  struct Event {
    std::string name;
    int64_t start_ns, dur_ns;
  };
  void Begin(const char* name);
  void End();

 private:
  bool keep_events_;
  bool running_ = true;
  int64_t start_ns_;
  double wall_s_ = 0;
  at::CallbackHandle handle_;
  std::vector<Frame> stack_;
  std::unordered_map<std::string, OpTime> ops_;
  std::vector<Event> events_;
};

}  // namespace alro::bench
