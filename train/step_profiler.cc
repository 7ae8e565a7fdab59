// train/step_profiler.cc: the profile of a window of training steps (see
// step_profiler.h), on LibTorch's legacy profiler (present in 1.13 and 2.x).
#include "train/step_profiler.h"

#include <ATen/record_function.h>
#include <sys/resource.h>
#include <unistd.h>
#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/status.h"

namespace alro::train {
namespace {

namespace legacy = torch::autograd::profiler;

// The rows printed on rank 0's console; the file has all of them.
constexpr size_t kConsoleRows = 15;

// The process's minor page faults so far (every thread's).
int64_t MinorFaults() {
  rusage usage{};
  return getrusage(RUSAGE_SELF, &usage) == 0 ? static_cast<int64_t>(usage.ru_minflt) : 0;
}

double NowUs() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// One thread's legacy events as begin/end pairs by name. Pops carry no name
// in the legacy profiler; their handle names the push they close.
std::vector<ProfileEvent> ToProfileEvents(const std::vector<legacy::LegacyEvent>& events) {
  std::unordered_map<uint64_t, std::string> open;
  std::vector<ProfileEvent> out;
  for (const legacy::LegacyEvent& e : events) {
    if (e.kind() == legacy::EventKind::PushRange) {
      open[e.handle()] = e.name();
      out.push_back({e.name(), true, e.cpuUs()});
    } else if (e.kind() == legacy::EventKind::PopRange) {
      auto it = open.find(e.handle());
      if (it == open.end()) continue;
      out.push_back({std::move(it->second), false, e.cpuUs()});
      open.erase(it);
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<ProfileWindow> ParseProfileWindow(const std::string& text) {
  if (text.empty()) return ProfileWindow{};
  const std::vector<std::string> parts = absl::StrSplit(text, ':');
  ProfileWindow window;
  const bool parsed = parts.size() <= 2 && absl::SimpleAtoi(parts[0], &window.first) &&
                      absl::SimpleAtoi(parts.back(), &window.last);
  if (!parsed || window.first < 1 || window.last < window.first) {
    return UserError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("--profile-steps: \"", text, "\" is not a step range"),
                     "give FIRST:LAST (1-based, inclusive), e.g. --profile-steps 100:110, or one step, e.g. 100");
  }
  return window;
}

std::vector<ProfileRow> SummarizeProfile(const std::vector<ProfileEvent>& events) {
  struct Open {
    std::string name;
    double start_us;
    double child_us;
  };
  std::map<std::string, ProfileRow> rows;
  std::vector<Open> stack;
  std::map<std::string, int> depth;  // open calls per name: total counts the outermost only
  for (const ProfileEvent& e : events) {
    if (e.begin) {
      stack.push_back({e.name, e.time_us, 0.0});
      ++depth[e.name];
      continue;
    }
    if (stack.empty() || stack.back().name != e.name) continue;  // began before the profiler
    const Open call = std::move(stack.back());
    stack.pop_back();
    const double elapsed = e.time_us - call.start_us;
    ProfileRow& row = rows[call.name];
    row.name = call.name;
    ++row.calls;
    row.self_us += elapsed - call.child_us;
    if (--depth[call.name] == 0) row.total_us += elapsed;
    if (!stack.empty()) stack.back().child_us += elapsed;
  }
  std::vector<ProfileRow> sorted;
  for (auto& [name, row] : rows) sorted.push_back(std::move(row));
  std::sort(sorted.begin(), sorted.end(),
            [](const ProfileRow& a, const ProfileRow& b) { return a.self_us > b.self_us; });
  return sorted;
}

std::string FormatProfile(const std::vector<ProfileRow>& rows, double wall_us, int64_t steps, size_t top,
                          int64_t minor_faults) {
  double self_sum = 0.0;
  for (const ProfileRow& row : rows) self_sum += row.self_us;
  std::string text = absl::StrFormat(
      "profiled %d step(s): %.1f ms wall, %.1f ms per step; %.1f%% of it inside profiled operators and phases\n",
      steps, wall_us / 1e3, wall_us / 1e3 / static_cast<double>(std::max<int64_t>(1, steps)),
      wall_us > 0 ? 100.0 * self_sum / wall_us : 0.0);
  if (minor_faults >= 0) {
    const int64_t per_step = minor_faults / std::max<int64_t>(1, steps);
    absl::StrAppendFormat(&text, "minor page faults: %d per step\n", per_step);
    if (per_step > kDistortingFaultsPerStep) {
      // Measured on core_decoder_bench's `small` step: 4,800-8,500 faults
      // per profiled step against ~10 unprofiled, 1.7x the step time, and
      // SwiGLU's backward at 12-16% of the profile against ~1-2% in perf.
      absl::StrAppendFormat(
          &text,
          "warning: the profiled steps touched %.0f MB of fresh pages each: the profiler's own records push the "
          "heap onto new pages, so operators that write fresh tensors look slower than they are.\n"
          "HINT: read their share from `perf record` of unprofiled steps (docs/performance.md, \"Profiling a "
          "training run\").\n",
          static_cast<double>(per_step) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1e6);
    }
  }
  absl::StrAppendFormat(&text, "%7s %9s %11s %11s  %s\n", "self%", "calls", "self ms", "total ms", "operator or phase");
  for (size_t i = 0; i < rows.size() && i < top; ++i) {
    const ProfileRow& r = rows[i];
    absl::StrAppendFormat(&text, "%6.2f%% %9d %11.2f %11.2f  %s\n", wall_us > 0 ? 100.0 * r.self_us / wall_us : 0.0,
                          r.calls, r.self_us / 1e3, r.total_us / 1e3, r.name);
  }
  return text;
}

struct ProfilePhase::Guard {
  at::RecordFunction function{at::RecordScope::USER_SCOPE};
};

ProfilePhase::ProfilePhase(const char* name) {
  // RecordFunction is inactive unless a profiler (or another observer) runs.
  auto guard = std::make_unique<Guard>();
  if (!guard->function.isActive()) return;
  guard->function.before(name);
  guard_ = std::move(guard);
}

ProfilePhase::~ProfilePhase() = default;

OperatorProfile::OperatorProfile() {
  legacy::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
  start_us_ = NowUs();
  start_minor_faults_ = MinorFaults();
}

OperatorProfile::~OperatorProfile() {
  if (running_) legacy::disableProfilerLegacy();
}

ProfileResult OperatorProfile::Finish() {
  ProfileResult result;
  if (!running_) return result;
  result.wall_us = NowUs() - start_us_;
  result.minor_faults = MinorFaults() - start_minor_faults_;
  legacy::thread_event_lists lists = legacy::disableProfilerLegacy();
  running_ = false;
  std::vector<ProfileEvent> events;
  std::vector<legacy::LegacyEvent*> all;
  for (std::vector<legacy::LegacyEvent>& list : lists) {
    for (ProfileEvent& e : ToProfileEvents(list)) events.push_back(std::move(e));
    for (legacy::LegacyEvent& e : list) all.push_back(&e);
  }
  result.rows = SummarizeProfile(events);
  std::ostringstream trace;
  legacy::writeProfilerEventsToStream(trace, all);
  result.chrome_trace = trace.str();
  return result;
}

StepProfiler::StepProfiler(ProfileWindow window, std::string dir, int rank)
    : window_(window), dir_(std::move(dir)), rank_(rank) {}

StepProfiler::~StepProfiler() = default;

void StepProfiler::BeforeStep(int64_t step) {
  if (window_.empty() || step != window_.first || profile_) return;
  profile_ = std::make_unique<OperatorProfile>();
}

absl::Status StepProfiler::AfterStep(int64_t step) {
  if (!profile_ || step != window_.last) return absl::OkStatus();
  const ProfileResult result = profile_->Finish();
  profile_.reset();
  const int64_t steps = window_.last - window_.first + 1;
  const std::string base = absl::StrCat(dir_.empty() ? "." : dir_, "/profile.rank", rank_);
  ALRO_RETURN_IF_ERROR(MakeDirectories(dir_.empty() ? "." : dir_));
  ALRO_RETURN_IF_ERROR(
      WriteFileAtomically(base + ".txt", FormatProfile(result.rows, result.wall_us, steps, result.rows.size(), result.minor_faults)));
  ALRO_RETURN_IF_ERROR(WriteFileAtomically(base + ".json", result.chrome_trace));
  if (rank_ == 0) {
    ALRO_LOG(INFO) << "profile of steps " << window_.first << "-" << window_.last << " (rank 0; all ranks wrote "
                   << base.substr(0, base.size() - 1) << "<R>.txt and .json):\n"
                   << FormatProfile(result.rows, result.wall_us, steps, kConsoleRows, result.minor_faults);
  }
  return absl::OkStatus();
}

}  // namespace alro::train
