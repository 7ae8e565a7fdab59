// tests/distributed/process_grid_test.cc: the grid's rank arithmetic as a
// pure function for several shapes, and the communicators a real grid builds
// under mpirun.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>

#include "distributed/process_grid.h"
#include "distributed/runtime.h"

namespace alro::dist {
namespace {

TEST(GridLayout, ArithmeticForSeveralShapes) {
  for (int world : {1, 2, 4, 6, 8, 12, 16}) {
    for (int tp = 1; tp <= world; ++tp) {
      if (world % tp != 0) continue;
      const GridLayout layout = *MakeGridLayout(world, tp);
      EXPECT_EQ(layout.dp_size() * layout.tp_size, world);
      std::set<int> seen;
      for (int r = 0; r < world; ++r) {
        const GridPosition pos = layout.Locate(r);
        EXPECT_EQ(pos.tp_rank, r % tp);
        EXPECT_EQ(pos.dp_rank, r / tp);
        EXPECT_EQ(layout.WorldRank(pos.dp_rank, pos.tp_rank), r);
        seen.insert(r);
        // tp groups are consecutive ranks; dp groups stride by tp.
        const std::vector<int> tp_group = layout.TensorParallelGroup(pos.dp_rank);
        ASSERT_EQ(tp_group.size(), static_cast<size_t>(tp));
        for (int t = 0; t < tp; ++t) EXPECT_EQ(tp_group[t], tp_group[0] + t);
        EXPECT_EQ(tp_group[pos.tp_rank], r);
        const std::vector<int> dp_group = layout.DataParallelGroup(pos.tp_rank);
        ASSERT_EQ(dp_group.size(), static_cast<size_t>(world / tp));
        for (int d = 0; d < world / tp; ++d) EXPECT_EQ(dp_group[d], pos.tp_rank + d * tp);
        EXPECT_EQ(dp_group[pos.dp_rank], r);
      }
      EXPECT_EQ(seen.size(), static_cast<size_t>(world));
    }
  }
}

TEST(GridLayout, DocumentedExample) {
  const GridLayout layout = *MakeGridLayout(8, 2);
  EXPECT_EQ(layout.TensorParallelGroup(2), (std::vector<int>{4, 5}));
  EXPECT_EQ(layout.DataParallelGroup(1), (std::vector<int>{1, 3, 5, 7}));
}

TEST(GridLayout, RejectsTensorParallelThatDoesNotDivide) {
  auto bad = MakeGridLayout(6, 4);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("parallel.tensor_parallel"), std::string::npos);
  EXPECT_NE(bad.status().message().find("HINT"), std::string::npos);
  EXPECT_FALSE(MakeGridLayout(4, 0).ok());
}

TEST(SingleProcessGrid, IsOneRankWithoutMpi) {
  ProcessGrid grid = ProcessGrid::CreateSingleProcess();
  EXPECT_EQ(grid.world_size(), 1);
  EXPECT_EQ(grid.tp_size(), 1);
  EXPECT_EQ(grid.dp_size(), 1);
  EXPECT_EQ(grid.world().mpi_comm(), MPI_COMM_NULL);
  ProcessGrid moved = std::move(grid);
  EXPECT_EQ(moved.tp().name(), "tp");
}

TEST(MpiProcessGrid, CommunicatorsMatchTheLayout) {
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  for (int tp = 1; tp <= world; tp *= 2) {
    auto grid = ProcessGrid::Create(MPI_COMM_WORLD, tp);
    ASSERT_TRUE(grid.ok()) << grid.status();
    const GridPosition pos = grid->layout().Locate(grid->world_rank());
    EXPECT_EQ(grid->tp_rank(), pos.tp_rank);
    EXPECT_EQ(grid->dp_rank(), pos.dp_rank);
    EXPECT_EQ(grid->tp_size(), tp);
    EXPECT_EQ(grid->dp_size(), world / tp);
    // Summing world ranks over each group tells which ranks are in it.
    at::Tensor r = at::full({1}, static_cast<double>(grid->world_rank()), at::kDouble);
    at::Tensor tp_sum = r.clone(), dp_sum = r.clone();
    grid->tp().AllReduce(tp_sum, ReduceOp::kSum);
    grid->dp().AllReduce(dp_sum, ReduceOp::kSum);
    double expect_tp = 0, expect_dp = 0;
    for (int x : grid->layout().TensorParallelGroup(pos.dp_rank)) expect_tp += x;
    for (int x : grid->layout().DataParallelGroup(pos.tp_rank)) expect_dp += x;
    EXPECT_EQ(tp_sum.item<double>(), expect_tp) << "tp " << tp;
    EXPECT_EQ(dp_sum.item<double>(), expect_dp) << "tp " << tp;
  }
  if (world % 3 != 0) EXPECT_FALSE(ProcessGrid::Create(MPI_COMM_WORLD, 3).ok());
}

[[noreturn]] void SentinelHandler(const std::string&) { std::abort(); }

TEST(MpiRuntime, ReusesInitializedMpiAndInstallsAbortHandler) {
  int world_rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  const FatalHandler outer = SetFatalHandler(&SentinelHandler);
  {
    MpiRuntime runtime;
    EXPECT_FALSE(runtime.owns_mpi()) << "the test main initialised MPI";
    EXPECT_EQ(runtime.world_rank(), world_rank);
    EXPECT_GE(runtime.local_rank(), 0);
    EXPECT_LT(runtime.local_rank(), runtime.local_size());
    // One node: the launcher's local rank (if any) agrees with the shared-memory split.
    if (runtime.launcher_local_rank() >= 0) EXPECT_EQ(runtime.launcher_local_rank(), runtime.local_rank());
    const FatalHandler installed = SetFatalHandler(&SentinelHandler);
    EXPECT_EQ(installed, &AbortJob);
    SetFatalHandler(installed);
  }
  EXPECT_EQ(SetFatalHandler(outer), &SentinelHandler) << "the previous handler is restored";
}

}  // namespace
}  // namespace alro::dist
