// distributed/watchdog.cc: the registry of open ScopedWatches and the thread
// that checks their age.
#include "distributed/watchdog.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"

namespace alro::dist {
namespace {

// Bounds of the automatic poll interval: often enough that a timeout fires
// within a few percent of itself, rarely enough to cost nothing.
constexpr double kMinPollSeconds = 0.01;
constexpr double kMaxPollSeconds = 1.0;
constexpr double kPollsPerTimeout = 20.0;

// Open watches of every thread. A mutex (not a lock-free list) because a
// collective costs microseconds at least and only a handful of watches are
// ever open at once.
struct Registry {
  std::mutex mutex;
  std::vector<const ScopedWatch*> open;
};
Registry& GetRegistry() {
  static Registry* registry = new Registry();  // never destroyed: used by detached code at exit
  return *registry;
}

std::atomic<bool> g_active{false};

void DefaultAction(const std::string& message) { FatalError(message); }

}  // namespace

Watchdog::Watchdog(const WatchdogOptions& options) : options_(options) {
  ALRO_CHECK(options_.timeout_s > 0, "watchdog timeout must be positive, got ", options_.timeout_s);
  ALRO_CHECK(!g_active.exchange(true), "only one Watchdog may exist at a time");
  double poll = options_.poll_interval_s;
  if (poll <= 0) poll = std::clamp(options_.timeout_s / kPollsPerTimeout, kMinPollSeconds, kMaxPollSeconds);
  poll_interval_ = std::chrono::duration<double>(poll);
  thread_ = std::thread([this] { Run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
  g_active = false;
}

bool Watchdog::Active() { return g_active.load(std::memory_order_relaxed); }

std::string Watchdog::FindExpired(std::chrono::steady_clock::time_point now) const {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  for (const ScopedWatch* watch : registry.open) {
    const double limit = watch->timeout_s() > 0 ? watch->timeout_s() : options_.timeout_s;
    const double elapsed = std::chrono::duration<double>(now - watch->start()).count();
    if (elapsed > limit) {
      return absl::StrFormat(
          "watchdog: rank %d: operation '%s' has not finished after %.1f s (timeout %.1f s); aborting the "
          "job\n  HINT: a peer rank has probably crashed, stalled or diverged (look for its error above); "
          "raise parallel.timeout_s if this operation is legitimately slow",
          options_.rank, watch->operation(), elapsed, limit);
    }
  }
  return {};
}

void Watchdog::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    stop_cv_.wait_for(lock, poll_interval_, [this] { return stop_; });
    if (stop_ || fired_) continue;
    const std::string message = FindExpired(std::chrono::steady_clock::now());
    if (message.empty()) continue;
    fired_ = true;  // fire once: a test action may return
    lock.unlock();
    // The default action's fatal handler prints the message (with the rank).
    (options_.action ? options_.action : &DefaultAction)(message);
    lock.lock();
  }
}

ScopedWatch::ScopedWatch(std::string operation, double timeout_s)
    : operation_(std::move(operation)), timeout_s_(timeout_s), start_(std::chrono::steady_clock::now()) {
  if (!Watchdog::Active()) return;
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  registry.open.push_back(this);
  registered_ = true;
}

ScopedWatch::~ScopedWatch() {
  if (!registered_) return;
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  auto it = std::find(registry.open.begin(), registry.open.end(), this);
  if (it != registry.open.end()) registry.open.erase(it);
}

}  // namespace alro::dist
