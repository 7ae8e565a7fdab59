// distributed/watchdog.h: hang protection.
//
// A Watchdog owns a thread that looks at every open ScopedWatch a few times a
// second. When one has been open longer than its timeout (a collective whose
// peer died or diverged, a step that stopped making progress) it prints which
// rank, which operation and how long it has waited, then ends the job through
// the fatal handler (MPI_Abort under distributed/runtime.h), so every rank of
// the job exits non-zero instead of waiting forever.
//
//   dist::Watchdog watchdog({.timeout_s = cfg.parallel.timeout_s, .rank = grid.world_rank()});
//   for (...) { dist::ScopedWatch step(absl::StrCat("step ", step_index)); ... }
//
// Every Communicator collective opens a ScopedWatch by itself. Without a
// running Watchdog a ScopedWatch costs one atomic load.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace alro::dist {

/// What the watchdog does on a timeout: gets the full message (rank,
/// operation, elapsed time). The default reports it and ends the job through
/// alro::FatalError.
using WatchdogAction = void (*)(const std::string& message);

/// Settings of a Watchdog.
struct WatchdogOptions {
  /// A watch open longer than this fires (config key parallel.timeout_s).
  double timeout_s = 600.0;
  /// This process's world rank, printed in the message.
  int rank = 0;
  /// How often open watches are checked; 0 = timeout_s / 20, clamped to [0.01 s, 1 s].
  double poll_interval_s = 0.0;
  /// Replaces the default action (tests use this to observe a timeout
  /// without ending the process). nullptr = default.
  WatchdogAction action = nullptr;
};

/// Runs the checking thread while it exists. At most one Watchdog may exist
/// at a time in a process. Not copyable.
class Watchdog {
 public:
  explicit Watchdog(const WatchdogOptions& options);
  /// Stops and joins the thread.
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// True while a Watchdog exists in this process.
  static bool Active();

 private:
  void Run();
  // Returns a non-empty message when some open watch has timed out.
  std::string FindExpired(std::chrono::steady_clock::time_point now) const;

  WatchdogOptions options_;
  std::chrono::duration<double> poll_interval_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  bool fired_ = false;
  std::thread thread_;
};

/// Marks `operation` as in progress on this thread for the object's
/// lifetime; the running Watchdog fires if it stays open longer than the
/// timeout (`timeout_s` > 0 overrides the Watchdog's for this watch). Nest
/// freely (a step watch around collective watches).
class ScopedWatch {
 public:
  explicit ScopedWatch(std::string operation, double timeout_s = 0.0);
  ~ScopedWatch();
  ScopedWatch(const ScopedWatch&) = delete;
  ScopedWatch& operator=(const ScopedWatch&) = delete;

  const std::string& operation() const { return operation_; }
  std::chrono::steady_clock::time_point start() const { return start_; }
  /// The per-watch timeout, 0 when the Watchdog's applies.
  double timeout_s() const { return timeout_s_; }

 private:
  std::string operation_;
  double timeout_s_;
  std::chrono::steady_clock::time_point start_;
  bool registered_ = false;
};

}  // namespace alro::dist
