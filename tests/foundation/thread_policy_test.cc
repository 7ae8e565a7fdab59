// tests/foundation/thread_policy_test.cc: the thread-count rule and the
// ranks-per-node variables of launch/thread_policy.h (the re-exec itself is
// tested through the `alro` binary: cli_train_thread_policy_* in
// CMakeLists.txt).
#include "launch/thread_policy.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace alro::launch {
namespace {

TEST(ThreadPolicy, UnboundRanksShareTheNodesCores) {
  EXPECT_EQ(ThreadsPerRank(/*online=*/16, /*affinity=*/16, /*local=*/1), 16);
  EXPECT_EQ(ThreadsPerRank(16, 16, 4), 4);
  EXPECT_EQ(ThreadsPerRank(16, 16, 3), 5);  // rounded down: no rank oversubscribes its share
  EXPECT_EQ(ThreadsPerRank(2, 2, 2), 1);
  EXPECT_EQ(ThreadsPerRank(2, 2, 4), 1);    // more ranks than cores: at least one thread
  EXPECT_EQ(ThreadsPerRank(2, 0, 2), 1);    // affinity unknown
  EXPECT_EQ(ThreadsPerRank(0, 0, 0), 1);    // nothing known
}

TEST(ThreadPolicy, BoundRanksUseTheirCores) {
  // mpirun --bind-to core / srun --cpu-bind: the launcher already split the
  // node; dividing again by the ranks per node would halve each rank.
  EXPECT_EQ(ThreadsPerRank(16, 4, 4), 4);
  EXPECT_EQ(ThreadsPerRank(16, 1, 8), 1);
  EXPECT_EQ(ThreadsPerRank(2, 1, 2), 1);
}

TEST(ThreadPolicy, LocalRanksFollowTheLaunchersVariables) {
  const char* names[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"};
  for (const char* n : names) unsetenv(n);
  EXPECT_EQ(LocalRanksFromEnvironment(), 1);
  setenv("SLURM_NTASKS_PER_NODE", "8(x2)", 1);  // Slurm's compressed form: 8 tasks on each of 2 nodes
  EXPECT_EQ(LocalRanksFromEnvironment(), 8);
  setenv("MPI_LOCALNRANKS", "junk", 1);  // unreadable: the next variable decides
  EXPECT_EQ(LocalRanksFromEnvironment(), 8);
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "3", 1);  // Open MPI's comes first
  EXPECT_EQ(LocalRanksFromEnvironment(), 3);
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "0", 1);
  EXPECT_EQ(LocalRanksFromEnvironment(), 8);
  for (const char* n : names) unsetenv(n);
}

}  // namespace
}  // namespace alro::launch
