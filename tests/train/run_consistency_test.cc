// tests/train/run_consistency_test.cc: the start-up check that every rank
// runs the same job names the rank and the value that differ.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

#include "distributed/communicator.h"
#include "train/run_consistency.h"

namespace alro::train {
namespace {

std::unique_ptr<dist::Communicator> WorldComm() { return dist::Communicator::Create(MPI_COMM_WORLD, "world"); }

// A few parameters of different shapes and dtypes.
std::vector<at::Tensor> MakeParams() {
  return {at::zeros({4, 3}), at::zeros({7}), at::zeros({2, 5}, at::kBFloat16), at::zeros({6}), at::zeros({1})};
}

TEST(MpiRunConsistency, AgreeingRanksPass) {
  auto comm = WorldComm();
  const std::vector<at::Tensor> params = MakeParams();
  EXPECT_TRUE(CheckRunConsistency(*comm, 0xabcdefu, params, 42u).ok());
}

TEST(MpiRunConsistency, ConfigMismatchNamesTheRank) {
  auto comm = WorldComm();
  if (comm->size() == 1) GTEST_SKIP() << "needs two ranks";
  const std::vector<at::Tensor> params = MakeParams();
  const int odd_one = comm->size() - 1;
  const absl::Status status =
      CheckRunConsistency(*comm, comm->rank() == odd_one ? 0x2222u : 0x1111u, params, 42u);
  ASSERT_FALSE(status.ok()) << "every rank must see the failure";
  const std::string message(status.message());
  EXPECT_NE(message.find("rank " + std::to_string(odd_one) + " has configuration hash 0x0000000000002222"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("HINT"), std::string::npos);
  EXPECT_EQ(message.find("data manifest"), std::string::npos) << message;
}

TEST(MpiRunConsistency, ShapeAndManifestMismatchNameTheRank) {
  auto comm = WorldComm();
  if (comm->size() == 1) GTEST_SKIP() << "needs two ranks";
  std::vector<at::Tensor> params = MakeParams();
  if (comm->rank() == 1) params[3] = at::zeros({2, 2});
  const absl::Status status = CheckRunConsistency(*comm, 7u, params, comm->rank() == 1 ? 9u : 8u);
  ASSERT_FALSE(status.ok());
  const std::string message(status.message());
  EXPECT_NE(message.find("rank 1 has parameter shapes"), std::string::npos) << message;
  EXPECT_NE(message.find("rank 1 has data manifest hash"), std::string::npos) << message;
}

TEST(MpiRunConsistency, ShapeGroupsMayDiffer) {
  auto comm = WorldComm();
  // Tensor-parallel ranks hold different shards: shapes are compared only
  // within a group (here: ranks of equal parity).
  const int group = comm->rank() % 2;
  const std::vector<at::Tensor> params = {at::zeros({group + 1, 3})};
  EXPECT_TRUE(CheckRunConsistency(*comm, 1u, params, 2u, group).ok());
}

}  // namespace
}  // namespace alro::train
