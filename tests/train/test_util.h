// tests/train/test_util.h: scratch directories for the training tests.
#pragma once

#include <mpi.h>
#include <unistd.h>

#include <string>

#include "common/file_util.h"

namespace alro::train::testing_util {

/// A fresh, empty directory named after `tag` that every rank of
/// MPI_COMM_WORLD sees (rank 0's pid makes it unique per run). Collective.
inline std::string SharedTempDir(const std::string& tag) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  long pid = static_cast<long>(getpid());
  MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  const std::string dir = "/tmp/alro_train_tests_" + std::to_string(pid) + "/" + tag;
  if (rank == 0) {
    (void)RemoveAll(dir);
    (void)MakeDirectories(dir);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return dir;
}

/// A fresh directory private to this process (for single-process tests,
/// which run on every rank when the binary runs under mpirun).
inline std::string LocalTempDir(const std::string& tag) {
  const std::string dir = "/tmp/alro_train_tests_local_" + std::to_string(static_cast<long>(getpid())) + "/" + tag;
  (void)RemoveAll(dir);
  (void)MakeDirectories(dir);
  return dir;
}

}  // namespace alro::train::testing_util
