// tests/support/mpi_world.h: this process's place in MPI_COMM_WORLD, for
// tests that run under mpirun (tests/support/mpi_test_main.cc initialises MPI).
#pragma once

#include <mpi.h>

namespace alro::testing {

/// Number of ranks in MPI_COMM_WORLD.
inline int WorldSize() {
  int n = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  return n;
}

/// This process's rank in MPI_COMM_WORLD.
inline int WorldRank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

}  // namespace alro::testing
