// tests/train/step_profiler_test.cc: the profile's arithmetic (self and total
// time of nested operators, against sums worked out by hand) and the
// --profile-steps parser. The trainer writing a real profile is tested in
// trainer_test.cc (MpiTrainer.ProfileStepsWritesTheOperatorTable).
#include "train/step_profiler.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace alro::train {
namespace {

std::map<std::string, ProfileRow> ByName(const std::vector<ProfileRow>& rows) {
  std::map<std::string, ProfileRow> out;
  for (const ProfileRow& r : rows) out[r.name] = r;
  return out;
}

TEST(StepProfiler, SelfTimeExcludesNestedCallsAndTotalsCountOutermostCalls) {
  // phase [0, 100): mm [10, 40) holding copy [20, 25); add [50, 60); then a
  // recursive call: wrap [60, 90) holding wrap [70, 80).
  const std::vector<ProfileEvent> events = {
      {"phase", true, 0},  {"mm", true, 10},    {"copy", true, 20},  {"copy", false, 25},
      {"mm", false, 40},   {"add", true, 50},   {"add", false, 60},  {"wrap", true, 60},
      {"wrap", true, 70},  {"wrap", false, 80}, {"wrap", false, 90}, {"phase", false, 100},
  };
  const std::vector<ProfileRow> rows = SummarizeProfile(events);
  const std::map<std::string, ProfileRow> by = ByName(rows);
  ASSERT_EQ(by.size(), 5u);
  EXPECT_DOUBLE_EQ(by.at("phase").self_us, 100 - 30 - 10 - 30);
  EXPECT_DOUBLE_EQ(by.at("phase").total_us, 100);
  EXPECT_DOUBLE_EQ(by.at("mm").self_us, 25);
  EXPECT_DOUBLE_EQ(by.at("mm").total_us, 30);
  EXPECT_DOUBLE_EQ(by.at("copy").self_us, 5);
  EXPECT_EQ(by.at("wrap").calls, 2);
  EXPECT_DOUBLE_EQ(by.at("wrap").self_us, 30);   // 20 outer + 10 inner
  EXPECT_DOUBLE_EQ(by.at("wrap").total_us, 30);  // the outer call only
  double self = 0;
  for (const ProfileRow& r : rows) self += r.self_us;
  EXPECT_DOUBLE_EQ(self, 100);  // self times partition the outermost span
  EXPECT_EQ(rows.front().name, "phase");  // sorted by self time: 30, 30, 25, ...
}

TEST(StepProfiler, EndsOfCallsThatBeganBeforeTheProfilerAreIgnored) {
  const std::vector<ProfileEvent> events = {{"outer", false, 5}, {"mm", true, 10}, {"mm", false, 12}};
  const std::vector<ProfileRow> rows = SummarizeProfile(events);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].name, "mm");
  EXPECT_DOUBLE_EQ(rows[0].self_us, 2);
}

TEST(StepProfiler, FormatNamesStepsAndShares) {
  const std::string text = FormatProfile({{"aten::mm", 4, 500, 600}, {"aten::add", 2, 100, 100}}, 1000, 2, 1);
  EXPECT_NE(text.find("profiled 2 step(s)"), std::string::npos) << text;
  EXPECT_NE(text.find("60.0% of it inside"), std::string::npos) << text;
  EXPECT_NE(text.find("50.00%"), std::string::npos) << text;
  EXPECT_EQ(text.find("aten::add"), std::string::npos) << "top = 1 row:\n" << text;
}

TEST(StepProfiler, FormatWarnsWhenPageFaultsDistortTheProfile) {
  const std::vector<ProfileRow> rows = {{"aten::mm", 4, 500, 600}};
  const std::string quiet = FormatProfile(rows, 1000, 2, 1, 2 * 10);
  EXPECT_NE(quiet.find("minor page faults: 10 per step"), std::string::npos) << quiet;
  EXPECT_EQ(quiet.find("warning"), std::string::npos) << quiet;
  const std::string faulting = FormatProfile(rows, 1000, 2, 1, 2 * (kDistortingFaultsPerStep + 1));
  EXPECT_NE(faulting.find("warning: the profiled steps touched"), std::string::npos) << faulting;
  EXPECT_NE(faulting.find("HINT: "), std::string::npos) << faulting;
  EXPECT_EQ(FormatProfile(rows, 1000, 2, 1).find("page faults"), std::string::npos) << "no count, no line";
}

TEST(StepProfiler, ParsesWindows) {
  absl::StatusOr<ProfileWindow> w = ParseProfileWindow("100:110");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->first, 100);
  EXPECT_EQ(w->last, 110);
  w = ParseProfileWindow("7");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->first, 7);
  EXPECT_EQ(w->last, 7);
  EXPECT_TRUE(ParseProfileWindow("")->empty());
  for (const char* bad : {"0:3", "5:4", "a:b", "1:2:3", "3:", "-1"}) {
    const absl::StatusOr<ProfileWindow> r = ParseProfileWindow(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("--profile-steps"), std::string::npos) << r.status();
  }
}

}  // namespace
}  // namespace alro::train
