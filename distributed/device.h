// distributed/device.h: which device a rank computes on.
//
// parallel.device = cpu: every rank uses the CPU.
// parallel.device = cuda: rank with node-local rank L uses GPU L, the usual
// one-rank-per-GPU layout of mpirun --map-by ppr:G:node and of Slurm's
// --ntasks-per-node=G. Local ranks come from dist::MpiRuntime::local_rank()
// (a shared-memory split of MPI_COMM_WORLD), so they are right whatever the
// launcher. With CUDA_VISIBLE_DEVICES restricted to one GPU per rank, every
// rank sees a single device 0 and L is taken modulo the visible count.
#pragma once

#include <ATen/core/TensorBody.h>
#include <c10/core/Device.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace alro::dist {

/// The device for `device_name` ("cpu" or "cuda", config key
/// parallel.device) on the rank with node-local rank `local_rank`; for CUDA
/// it also becomes the current device of this process. A user error when
/// this LibTorch has no CUDA or the node has no GPU for this rank.
absl::StatusOr<c10::Device> SelectDevice(absl::string_view device_name, int local_rank);

}  // namespace alro::dist
