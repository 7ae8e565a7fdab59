// tests/distributed/agreement_test.cc: failure agreement (the first failed
// rank, every rank's verdict) and value comparison across ranks.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "distributed/agreement.h"
#include "tests/distributed/test_util.h"

namespace alro::dist {
namespace {

using testing::WorldComm;

TEST(MpiAgreement, FirstFailedRankIsTheLowestFailingOne) {
  auto comm = WorldComm();
  EXPECT_EQ(FirstFailedRank(*comm, false), -1);
  EXPECT_EQ(FirstFailedRank(*comm, true), 0);
  // The last rank alone, then every rank but rank 0.
  EXPECT_EQ(FirstFailedRank(*comm, comm->rank() == comm->size() - 1), comm->size() - 1);
  EXPECT_EQ(FirstFailedRank(*comm, comm->rank() > 0), comm->size() > 1 ? 1 : -1);
}

TEST(MpiAgreement, EveryRankLearnsWhichRankFailed) {
  auto comm = WorldComm();
  EXPECT_TRUE(AgreeOnStatus(*comm, absl::OkStatus(), "doing nothing").ok());
  const int odd_one = comm->size() - 1;
  const absl::Status local =
      comm->rank() == odd_one ? absl::NotFoundError("no such file") : absl::OkStatus();
  const absl::Status status = AgreeOnStatus(*comm, local, "reading its shard");
  ASSERT_FALSE(status.ok());
  if (comm->rank() == odd_one) {
    EXPECT_EQ(status, local);  // a rank's own error wins
  } else {
    EXPECT_EQ(status.code(), absl::StatusCode::kAborted);
    EXPECT_EQ(std::string(status.message()),
              "rank " + std::to_string(odd_one) + " failed while reading its shard; see its error above");
  }
}

TEST(MpiAgreement, AllGatherValuesHasOneRowPerRank) {
  auto comm = WorldComm();
  const std::vector<uint64_t> mine = {static_cast<uint64_t>(comm->rank()), ~uint64_t{0} - comm->rank(), 7};
  const std::vector<std::vector<uint64_t>> all = AllGatherValues(*comm, mine);
  ASSERT_EQ(all.size(), static_cast<size_t>(comm->size()));
  for (int r = 0; r < comm->size(); ++r) {
    EXPECT_EQ(all[r], (std::vector<uint64_t>{static_cast<uint64_t>(r), ~uint64_t{0} - r, 7})) << r;
  }
}

TEST(Agreement, DisagreementsCompareWithRankZeroOrTheFirstOfTheGroup) {
  // Columns: value, group.
  const std::vector<std::vector<uint64_t>> table = {{5, 0}, {5, 1}, {6, 0}, {9, 1}, {5, 1}};
  EXPECT_EQ(Disagreements(table, 0), (std::vector<std::pair<int, int>>{{2, 0}, {3, 0}}));
  // Groups: {0, 2} compare with 0, {1, 3, 4} with 1.
  EXPECT_EQ(Disagreements(table, 0, 1), (std::vector<std::pair<int, int>>{{2, 0}, {3, 1}}));
  const std::vector<std::vector<uint64_t>> one_rank = {{1, 0}}, no_ranks;
  EXPECT_TRUE(Disagreements(one_rank, 0).empty());
  EXPECT_TRUE(Disagreements(no_ranks, 0).empty());
}

}  // namespace
}  // namespace alro::dist
