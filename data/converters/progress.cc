// data/converters/progress.cc: progress lines and peak memory.
#include "data/converters/progress.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"

namespace alro::data {
namespace {

// Seconds between progress lines.
constexpr auto kProgressInterval = std::chrono::seconds(10);
// ru_maxrss is in KiB on Linux.
constexpr int64_t kMaxRssUnitBytes = 1024;

}  // namespace

int64_t PeakResidentBytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<int64_t>(usage.ru_maxrss) * kMaxRssUnitBytes;
}

int64_t PhysicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : 0;
}

std::string HumanBytes(double bytes) {
  if (bytes >= 1024.0 * 1024 * 1024) return absl::StrFormat("%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  if (bytes >= 1024.0 * 1024) return absl::StrFormat("%.0f MiB", bytes / (1024.0 * 1024));
  return absl::StrFormat("%.0f KiB", bytes / 1024.0);
}

std::string HumanCount(double n) {
  if (n >= 1e9) return absl::StrFormat("%.2fB", n / 1e9);
  if (n >= 1e6) return absl::StrFormat("%.2fM", n / 1e6);
  if (n >= 1e3) return absl::StrFormat("%.1fK", n / 1e3);
  return absl::StrFormat("%.0f", n);
}

PhaseProgress::PhaseProgress(std::string phase, int64_t total, std::function<std::string(double)> detail)
    : phase_(std::move(phase)), total_(total), detail_(std::move(detail)), start_(std::chrono::steady_clock::now()) {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, kProgressInterval, [this] { return stop_; })) Log(false);
  });
}

PhaseProgress::~PhaseProgress() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  Log(true);
}

void PhaseProgress::Log(bool final) const {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double done = static_cast<double>(done_.load(std::memory_order_relaxed));
  const double fraction = total_ > 0 ? std::min(1.0, done / static_cast<double>(total_)) : 1.0;
  std::string line = absl::StrFormat("convert: %s %3.0f%% | %s | %.1f s", phase_, 100.0 * fraction, detail_(seconds),
                                     seconds);
  if (!final && fraction > 0.0 && fraction < 1.0) {
    absl::StrAppend(&line, absl::StrFormat(" | ETA %.0f s", seconds * (1.0 - fraction) / fraction));
  }
  if (final) absl::StrAppend(&line, " | done");
  ALRO_LOG(INFO) << line;
}

}  // namespace alro::data
