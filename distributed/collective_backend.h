// distributed/collective_backend.h: the interface between Communicator and a
// transport (MPI for CPU tensors, NCCL for CUDA tensors).
//
// Backends see only contiguous tensors and flat element counts; Communicator
// (communicator.cc) has already dealt with layouts, dimensions and shards.
// Internal to distributed/: other modules use Communicator.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/ATen.h>

#include "distributed/communicator.h"

namespace alro::dist {

/// One transport over a fixed group of ranks.
class CollectiveBackend {
 public:
  virtual ~CollectiveBackend() = default;

  /// "mpi" or "nccl".
  virtual const char* name() const = 0;

  /// In-place all-reduce of contiguous `t` (kAverage included).
  virtual void AllReduce(at::Tensor& t, ReduceOp op) = 0;

  /// Starts an in-place all-reduce of contiguous `t`.
  virtual std::unique_ptr<PendingWork> AllReduceAsync(at::Tensor& t, ReduceOp op) = 0;

  /// In-place broadcast of contiguous `t` from `root`.
  virtual void Broadcast(at::Tensor& t, int root) = 0;

  /// Gathers contiguous `in` from every rank into contiguous `out` of
  /// size() * in.numel() elements, rank r's part at offset r * in.numel().
  virtual void AllGather(const at::Tensor& in, at::Tensor& out) = 0;

  /// Reduces contiguous `in` and leaves rank r's part (counts[r] elements,
  /// starting at the sum of the earlier counts) in contiguous `out`.
  virtual void ReduceScatter(const at::Tensor& in, at::Tensor& out,
                             const std::vector<int64_t>& counts, ReduceOp op) = 0;

  /// Waits for every rank of the group.
  virtual void Barrier() = 0;
};

/// MPI transport over `comm` (not owned). Always available.
std::unique_ptr<CollectiveBackend> MakeMpiBackend(MPI_Comm comm);

/// NCCL transport over the ranks of `comm` on CUDA device `device_index`,
/// bootstrapped by broadcasting an ncclUniqueId over `comm`. Collective over
/// `comm`. Fatal when alro was built without NCCL.
std::unique_ptr<CollectiveBackend> MakeNcclBackend(MPI_Comm comm, int device_index);

}  // namespace alro::dist
