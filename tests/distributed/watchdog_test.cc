// tests/distributed/watchdog_test.cc: the watchdog's detection in one
// process, with an action that records instead of aborting. The abort path
// itself (a stalled rank ends the whole mpirun job) is tested by
// watchdog_abort_main.cc under expect_abort.sh.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include "distributed/watchdog.h"

namespace alro::dist {
namespace {

std::mutex g_mutex;
std::string g_message;
int g_fired = 0;

void Record(const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_message = message;
  ++g_fired;
}

int Fired(std::string* message = nullptr) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (message) *message = g_message;
  return g_fired;
}

void Reset() {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_message.clear();
  g_fired = 0;
}

constexpr double kTimeout = 0.2;
const auto kLongerThanTimeout = std::chrono::milliseconds(600);
const auto kShorterThanTimeout = std::chrono::milliseconds(50);

TEST(Watchdog, FiresOnAStalledOperationNamingRankAndOperation) {
  Reset();
  Watchdog watchdog({.timeout_s = kTimeout, .rank = 7, .action = &Record});
  EXPECT_TRUE(Watchdog::Active());
  {
    ScopedWatch outer("step 12");
    ScopedWatch watch("AllReduce(sum) on dp");
    std::this_thread::sleep_for(kLongerThanTimeout);
  }
  std::string message;
  ASSERT_EQ(Fired(&message), 1) << "fires once";
  EXPECT_NE(message.find("rank 7"), std::string::npos) << message;
  EXPECT_NE(message.find("step 12"), std::string::npos) << "the oldest open watch is reported: " << message;
  EXPECT_NE(message.find("timeout 0.2 s"), std::string::npos) << message;
  EXPECT_NE(message.find("after 0."), std::string::npos) << message;
  EXPECT_NE(message.find("HINT"), std::string::npos);
}

TEST(Watchdog, QuietWhenOperationsFinishInTime) {
  Reset();
  {
    Watchdog watchdog({.timeout_s = kTimeout, .rank = 0, .action = &Record});
    for (int i = 0; i < 8; ++i) {
      ScopedWatch watch("fast op");
      std::this_thread::sleep_for(kShorterThanTimeout);
    }
  }
  EXPECT_EQ(Fired(), 0);
  EXPECT_FALSE(Watchdog::Active());
}

TEST(Watchdog, PerWatchTimeoutOverridesAndInactiveWatchesCostNothing) {
  Reset();
  {
    ScopedWatch before("opened before the watchdog");  // never registered
    Watchdog watchdog({.timeout_s = 30.0, .rank = 1, .poll_interval_s = 0.02, .action = &Record});
    ScopedWatch step("long step", /*timeout_s=*/kTimeout);
    std::this_thread::sleep_for(kLongerThanTimeout);
  }
  std::string message;
  ASSERT_EQ(Fired(&message), 1);
  EXPECT_NE(message.find("long step"), std::string::npos) << message;
}

}  // namespace
}  // namespace alro::dist
