// tests/train/test_util.h: scratch directories for the training tests.
#pragma once

#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <string>

#include "common/file_util.h"

namespace alro::train::testing_util {

/// Root of this run's shared scratch directories (rank 0's pid makes it
/// unique per run). Collective on first use.
inline const std::string& SharedTempRoot() {
  static const std::string root = [] {
    long pid = static_cast<long>(getpid());
    MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    return "/tmp/alro_train_tests_" + std::to_string(pid);
  }();
  return root;
}

/// Root of this process's private scratch directories.
inline std::string LocalTempRoot() {
  return "/tmp/alro_train_tests_local_" + std::to_string(static_cast<long>(getpid()));
}

/// Removes the scratch directories when the test program ends (registered
/// once by the test binary with testing::AddGlobalTestEnvironment).
class TempDirCleanup : public ::testing::Environment {
 public:
  void SetUp() override { (void)SharedTempRoot(); }  // every rank agrees on the name up front
  void TearDown() override {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) (void)RemoveAll(SharedTempRoot());
    (void)RemoveAll(LocalTempRoot());
  }
};

/// A fresh, empty directory named after `tag` that every rank of
/// MPI_COMM_WORLD sees. Collective.
inline std::string SharedTempDir(const std::string& tag) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const std::string dir = SharedTempRoot() + "/" + tag;
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
  const std::string dir = LocalTempRoot() + "/" + tag;
  (void)RemoveAll(dir);
  (void)MakeDirectories(dir);
  return dir;
}

}  // namespace alro::train::testing_util
