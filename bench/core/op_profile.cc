// bench/core/op_profile.cc: RecordFunction callbacks that keep a per-thread
// stack of open operators and charge each one its self time.
#include "bench/core/op_profile.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>

#include "nlohmann/json.hpp"

namespace alro::bench {
namespace {

thread_local OpProfile* current = nullptr;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<at::ObserverContext> OnStart(const at::RecordFunction& fn) {
  if (current != nullptr) current->Begin(fn.name());
  return nullptr;
}

void OnEnd(const at::RecordFunction& /*fn*/, at::ObserverContext* /*ctx*/) {
  if (current != nullptr) current->End();
}

}  // namespace

OpProfile::OpProfile(bool keep_events) : keep_events_(keep_events), start_ns_(NowNs()) {
  current = this;
  // Operators and autograd nodes; TorchScript and user scopes do not occur
  // in alro's step.
  handle_ = at::addThreadLocalCallback(
      at::RecordFunctionCallback(&OnStart, &OnEnd)
          .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION}));
}

OpProfile::~OpProfile() { Stop(); }

void OpProfile::Stop() {
  if (!running_) return;
  running_ = false;
  at::removeCallback(handle_);
  current = nullptr;
  wall_s_ = static_cast<double>(NowNs() - start_ns_) * 1e-9;
}

void OpProfile::Begin(const char* name) { stack_.push_back({name, NowNs(), 0}); }

void OpProfile::End() {
  if (stack_.empty()) return;  // an op that started before the profile
  const Frame f = stack_.back();
  stack_.pop_back();
  const int64_t dur = NowNs() - f.start_ns;
  OpTime& t = ops_[f.name];
  ++t.calls;
  t.total_s += static_cast<double>(dur) * 1e-9;
  t.self_s += static_cast<double>(dur - f.child_ns) * 1e-9;
  if (!stack_.empty()) stack_.back().child_ns += dur;
  if (keep_events_) events_.push_back({f.name, f.start_ns - start_ns_, dur});
}

void OpProfile::Print(std::FILE* out, int top, int steps) const {
  std::vector<std::pair<std::string, OpTime>> rows(ops_.begin(), ops_.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.self_s > b.second.self_s; });
  double accounted = 0;
  for (const auto& r : rows) accounted += r.second.self_s;
  const double per = 1.0 / std::max(1, steps);
  std::fprintf(out, "%-64s %7s %10s %7s %7s\n", "operator (self time)", "calls", "ms/step", "%step", "cum%");
  double cum = 0;
  for (int i = 0; i < std::min<int>(top, static_cast<int>(rows.size())); ++i) {
    const auto& [name, t] = rows[i];
    cum += t.self_s;
    std::fprintf(out, "%-64.64s %7.0f %10.3f %7.1f %7.1f\n", name.c_str(), t.calls * per, t.self_s * per * 1e3,
                 100.0 * t.self_s / wall_s_, 100.0 * cum / wall_s_);
  }
  std::fprintf(out, "%-64s %7s %10.3f %7.1f\n", "(other operators)", "", (accounted - cum) * per * 1e3,
               100.0 * (accounted - cum) / wall_s_);
  std::fprintf(out, "%-64s %7s %10.3f %7.1f\n", "(outside any operator)", "", (wall_s_ - accounted) * per * 1e3,
               100.0 * (wall_s_ - accounted) / wall_s_);
  std::fprintf(out, "%-64s %7s %10.3f %7.1f\n", "step (wall)", "", wall_s_ * per * 1e3, 100.0);
}

absl::Status OpProfile::WriteChromeTrace(const std::string& path) const {
  nlohmann::json events = nlohmann::json::array();
  for (const Event& e : events_) {
    events.push_back({{"name", e.name},
                      {"ph", "X"},
                      {"ts", static_cast<double>(e.start_ns) * 1e-3},
                      {"dur", static_cast<double>(e.dur_ns) * 1e-3},
                      {"pid", 0},
                      {"tid", 0}});
  }
  std::ofstream file(path);
  if (!file) {
    return absl::UnavailableError(path + ": cannot open the trace file for writing. HINT: check the directory exists");
  }
  file << nlohmann::json{{"traceEvents", events}}.dump() << "\n";
  if (!file) return absl::DataLossError(path + ": writing the trace failed. HINT: check free disk space");
  return absl::OkStatus();
}

}  // namespace alro::bench
