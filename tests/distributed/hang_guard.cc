// tests/distributed/hang_guard.cc: keeps a failing multi-rank test from
// hanging the job. When an assertion or exception ends a test early on one
// rank, the other ranks would wait forever in the test's next collective; a
// Watchdog around every Mpi* test turns that into a prompt MPI_Abort with a
// message naming the rank and the collective.
#include <gtest/gtest.h>

#include <mpi.h>

#include <memory>

#include "absl/strings/match.h"
#include "common/status.h"
#include "distributed/runtime.h"
#include "distributed/watchdog.h"

namespace alro::dist {
namespace {

// Generous: the slowest Mpi* test takes about a second with 4 ranks on 2 cores.
constexpr double kTestTimeoutSeconds = 60.0;

class HangGuard : public ::testing::EmptyTestEventListener {
 public:
  void OnTestStart(const ::testing::TestInfo& info) override {
    if (!absl::StrContains(info.test_suite_name(), "Mpi")) return;
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    watchdog_ = std::make_unique<Watchdog>(WatchdogOptions{.timeout_s = kTestTimeoutSeconds, .rank = rank});
  }
  void OnTestEnd(const ::testing::TestInfo&) override { watchdog_.reset(); }

 private:
  std::unique_ptr<Watchdog> watchdog_;
};

class HangGuardEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    SetFatalHandler(&AbortJob);
    ::testing::UnitTest::GetInstance()->listeners().Append(new HangGuard());
  }
};

const auto* const kRegistered = ::testing::AddGlobalTestEnvironment(new HangGuardEnvironment());

}  // namespace
}  // namespace alro::dist
