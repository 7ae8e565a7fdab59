// bench/bench_timing.h: the timing loop every benchmark shares: median of
// repeated calls after warm-up calls, so one slow run on a shared machine
// does not decide a figure.
#pragma once

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

namespace alro::bench {

/// Calls before timing starts (caches, allocator, thread pools).
constexpr int kWarmupCalls = 2;

/// Seconds since `start`.
inline double SecondsSince(const std::chrono::steady_clock::time_point& start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// The median of `v` (the upper one for an even count; 0 when empty): what
/// every table row reports over rounds.
inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

/// Median seconds of `iters` calls of fn after kWarmupCalls untimed calls.
template <typename Fn>
double MedianSeconds(int iters, Fn fn) {
  for (int i = 0; i < kWarmupCalls; ++i) fn();
  std::vector<double> times;
  for (int i = 0; i < iters; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    times.push_back(SecondsSince(start));
  }
  return Median(std::move(times));
}

}  // namespace alro::bench
