// tests/data/rating_runs_test.cc: the external sort's run buffer (one
// sorted run per partition) and intermediate merge passes (ReduceRuns)
// against a brute-force sort of every row, and the merge
// fan-in that the open-file limit and the memory budget allow.
#include "data/converters/rating_runs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "data/random.h"
#include "tests/data/test_util.h"

namespace alro::data {
namespace {

using testing::TempDir;

// A row as plain values (RatingRow only views its buffer).
using Row = std::tuple<std::string, int64_t, int64_t, std::string, float>;  // user, time, sequence, item, rating

Row Own(const RatingRow& r) {
  return {std::string(r.user), r.timestamp, r.sequence, std::string(r.item), r.rating};
}

// Writes `runs` sorted run files of 1..12 random rows each into `dir` and
// returns their paths; `all` gets every row.
std::vector<std::string> WriteRuns(const std::string& dir, int runs, std::vector<Row>* all) {
  Rng rng(11);
  std::vector<std::string> paths;
  int64_t sequence = 0;
  for (int k = 0; k < runs; ++k) {
    RunBuffer buffer(/*partitions=*/1, /*arena_bytes=*/64);  // rows past 64 bytes grow it
    const int rows = 1 + static_cast<int>(rng.Next() % 12);
    for (int i = 0; i < rows; ++i) {
      const std::string user = absl::StrCat("u", rng.Next() % 9);
      const std::string item = absl::StrCat("item", rng.Next() % 50);
      const float rating = 0.5f * static_cast<float>(1 + rng.Next() % 10);
      const auto timestamp = static_cast<int64_t>(rng.Next() % 5);  // ties, broken by sequence
      buffer.Add(0, user, item, rating, timestamp, sequence);
      all->emplace_back(user, timestamp, sequence, item, rating);
      ++sequence;
    }
    paths.push_back(JoinPath(dir, absl::StrCat("run", k)));
    auto spilled = buffer.SpillSorted([&](int64_t) { return paths.back(); });
    EXPECT_TRUE(spilled.ok()) << spilled.status();
    EXPECT_EQ(spilled.ok() ? spilled->size() : 0u, 1u);
  }
  std::sort(all->begin(), all->end());
  return paths;
}

std::vector<Row> MergeAll(const std::vector<std::string>& paths) {
  auto merger = RunMerger::Open(paths, 64);  // a tiny buffer: rows straddle refills
  EXPECT_TRUE(merger.ok()) << merger.status();
  std::vector<Row> rows;
  RatingRow row;
  while (merger.ok()) {
    auto more = (*merger)->Next(&row);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    rows.push_back(Own(row));
  }
  return rows;
}

TEST(RatingRuns, IntermediatePassesKeepEveryRowInOrder) {
  constexpr int kRuns = 60;
  for (size_t fan_in : {2, 3, 7, 59, 60, 1000}) {
    const std::string dir = TempDir(absl::StrCat("reduce", fan_in));
    std::vector<Row> expected;
    const std::vector<std::string> inputs = WriteRuns(dir, kRuns, &expected);
    int64_t written = 0;
    auto left = ReduceRuns(
        inputs, fan_in, 64, [&](int64_t k) { return JoinPath(dir, absl::StrCat("merged", k)); }, &written);
    ASSERT_TRUE(left.ok()) << left.status();
    EXPECT_EQ(left->size(), std::min<size_t>(kRuns, fan_in)) << "fan-in " << fan_in;
    // Each step merges as few runs as reach the fan-in: ceil((n - F) / (F - 1)) steps.
    const int64_t steps = kRuns > static_cast<int>(fan_in)
                              ? (kRuns - static_cast<int64_t>(fan_in) + static_cast<int64_t>(fan_in) - 2) /
                                    (static_cast<int64_t>(fan_in) - 1)
                              : 0;
    EXPECT_EQ(written, steps) << "fan-in " << fan_in;
    EXPECT_EQ(MergeAll(*left), expected) << "fan-in " << fan_in;
    // The merged inputs are gone; what is left is all there is.
    const std::set<std::string> kept(left->begin(), left->end());
    for (const std::string& input : inputs) EXPECT_EQ(PathExists(input), kept.count(input) == 1) << input;
    auto names = ListDirectory(dir);
    ASSERT_TRUE(names.ok());
    EXPECT_EQ(names->size(), kept.size());
  }
}

TEST(RatingRuns, OneBufferSpillsEachPartitionToItsOwnSortedRun) {
  const std::string dir = TempDir("partitions");
  constexpr int64_t kPartitions = 5;
  Rng rng(3);
  RunBuffer buffer(kPartitions, 1 << 16);
  std::vector<std::vector<Row>> expected(kPartitions);
  size_t row_bytes = 0;
  for (int i = 0; i < 400; ++i) {
    const std::string user = absl::StrCat("user", rng.Next() % 40);
    const std::string item = absl::StrCat("i", rng.Next() % 30);
    const int64_t p = static_cast<int64_t>(rng.Next() % (kPartitions - 1));  // the last stays empty
    const auto timestamp = static_cast<int64_t>(rng.Next() % 7);
    buffer.Add(p, user, item, 1.5f, timestamp, i);
    expected[static_cast<size_t>(p)].emplace_back(user, timestamp, i, item, 1.5f);
    row_bytes += kRunRowHeaderBytes + user.size() + item.size();
  }
  // What it holds: the rows, and their offsets (4 bytes each, up to doubled).
  EXPECT_GE(buffer.bytes(), row_bytes + 400 * sizeof(uint32_t));
  EXPECT_LE(buffer.bytes(), row_bytes + 2 * 400 * sizeof(uint32_t) + kPartitions * 4 * sizeof(uint32_t));
  auto spilled = buffer.SpillSorted([&](int64_t p) { return JoinPath(dir, absl::StrCat("p", p)); });
  ASSERT_TRUE(spilled.ok()) << spilled.status();
  ASSERT_EQ(spilled->size(), static_cast<size_t>(kPartitions - 1));
  EXPECT_TRUE(buffer.empty());
  for (int64_t p = 0; p + 1 < kPartitions; ++p) {
    EXPECT_EQ((*spilled)[static_cast<size_t>(p)].first, p);
    std::sort(expected[static_cast<size_t>(p)].begin(), expected[static_cast<size_t>(p)].end());
    EXPECT_EQ(MergeAll({(*spilled)[static_cast<size_t>(p)].second}), expected[static_cast<size_t>(p)]) << p;
  }
  EXPECT_FALSE(PathExists(JoinPath(dir, absl::StrCat("p", kPartitions - 1))));
}

TEST(RatingRuns, FanInFollowsTheOpenFileLimitAndMemory) {
  constexpr size_t kBuffer = 64 << 10;
  constexpr int64_t kPlenty = int64_t{1} << 40;
  // Files: the reserve, then per merger its own writers and its runs.
  EXPECT_EQ(MergeFanIn(1024, 2, kPlenty, kBuffer, 0), static_cast<size_t>((1024 - kReservedOpenFiles) / 2 -
                                                                          kOpenFilesPerMerger));
  EXPECT_EQ(MergeFanIn(1024, 1, kPlenty, kBuffer, 0), static_cast<size_t>(1024 - kReservedOpenFiles -
                                                                          kOpenFilesPerMerger));
  // Memory: every merger's runs at the smallest read buffer.
  EXPECT_EQ(MergeFanIn(INT64_MAX, 2, 20 * static_cast<int64_t>(kBuffer), kBuffer, 0), 10u);
  EXPECT_EQ(MergeFanIn(INT64_MAX, 1, kPlenty, kBuffer, 0), kMaxMergeFanIn);
  EXPECT_EQ(MergeFanIn(INT64_MAX, 1, kPlenty, kBuffer, 5), 5u);
  // Never below 2, however little is left (the open then says what to raise).
  EXPECT_EQ(MergeFanIn(70, 4, kPlenty, kBuffer, 0), 2u);
  EXPECT_EQ(MergeFanIn(INT64_MAX, 1, 0, kBuffer, 0), 2u);
}

}  // namespace
}  // namespace alro::data
