// data/converters/progress.h: what a long conversion tells its user while it
// runs and when it ends: periodic progress lines for a phase (fraction done,
// counters, rate, ETA) and the process's peak resident memory.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace alro::data {

/// Peak resident memory of this process so far, in bytes (getrusage).
int64_t PeakResidentBytes();

/// Physical memory of the machine, in bytes (0 when unknown).
int64_t PhysicalMemoryBytes();

/// "1.5 GiB", "300 MiB", "12 KiB".
std::string HumanBytes(double bytes);

/// "2.4M", "31.0K", "512".
std::string HumanCount(double count);

/// Logs one phase's progress every few seconds from a background thread
/// (the logger prints rank 0's lines). The work is `total` units (bytes of
/// input, say); Add() reports units done; `detail` adds the phase's
/// counters, e.g. "1.2M ratings read, 8.1K users done".
class PhaseProgress {
 public:
  PhaseProgress(std::string phase, int64_t total, std::function<std::string(double seconds)> detail);
  /// Stops the thread and logs the phase's final line.
  ~PhaseProgress();
  PhaseProgress(const PhaseProgress&) = delete;
  PhaseProgress& operator=(const PhaseProgress&) = delete;

  void Add(int64_t units) { done_.fetch_add(units, std::memory_order_relaxed); }

 private:
  void Log(bool final) const;
  std::string phase_;
  int64_t total_;
  std::function<std::string(double)> detail_;
  std::atomic<int64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace alro::data
