// tests/distributed/test_util.h: helpers shared by the distributed tests.
#pragma once

#include <mpi.h>

#include <memory>

#include <ATen/ATen.h>

#include "distributed/communicator.h"

namespace alro::dist::testing {

/// A communicator over every rank of the test job.
inline std::unique_ptr<Communicator> WorldComm() { return Communicator::Create(MPI_COMM_WORLD, "world"); }

/// Largest absolute difference between two tensors, compared in double
/// (0 for empty tensors).
inline double MaxAbsDiff(const at::Tensor& a, const at::Tensor& b) {
  if (a.numel() == 0 && b.numel() == 0) return 0.0;
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace alro::dist::testing
