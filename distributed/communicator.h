// distributed/communicator.h: the collectives every cross-rank exchange in
// alro goes through (all-reduce, broadcast, all-gather, reduce-scatter,
// barrier), over one group of ranks.
//
// A Communicator wraps a duplicate of an MPI communicator. CPU tensors travel
// over MPI (distributed/mpi_backend.h), in place on the tensor's memory;
// CUDA tensors travel over NCCL (distributed/nccl_backend.h) when alro was
// built with NCCL, bootstrapped over the same MPI group. The choice is made
// per call from the tensor's device ("auto"), or forced with a BackendChoice.
//
// Layout work (non-contiguous inputs, the dimension to gather or scatter
// along, shard sizes that do not divide evenly) is done here once, so the
// backends only ever see flat contiguous buffers.
//
// Collectives are fatal on failure: a failing collective ends the whole job
// through alro::FatalError (MPI_Abort once distributed/runtime.h is in use),
// because the other ranks could not continue anyway. Every collective runs
// under a ScopedWatch (distributed/watchdog.h), so a stalled one is reported
// and aborts the job when a Watchdog is running.
//
// All ranks of the group must call the same collectives in the same order
// with tensors of the same dtype and (except where noted) the same shape.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace alro::dist {

/// The reduction applied by AllReduce and ReduceScatter. kAverage is the sum
/// divided by the group size (floating-point dtypes only).
enum class ReduceOp { kSum, kAverage, kMax };

/// "sum", "avg" or "max", for messages.
const char* ReduceOpName(ReduceOp op);

/// Which transport carries a collective.
enum class BackendChoice {
  kAuto,  ///< NCCL for CUDA tensors (when built with NCCL), MPI for CPU tensors
  kMpi,   ///< MPI only (CUDA tensors are rejected)
  /// NCCL for CUDA tensors, required (a build without NCCL refuses it); the
  /// job's small CPU control messages (flags, counters) still go over MPI.
  kNccl,
};

/// Parses config key parallel.backend ("auto", "mpi" or "nccl").
absl::StatusOr<BackendChoice> ParseBackendChoice(absl::string_view text);

/// True when this build contains the NCCL backend.
bool NcclAvailable();

/// A collective started by AllReduceAsync; Wait() completes it. Destroying
/// an unfinished PendingWork waits for it.
class PendingWork {
 public:
  virtual ~PendingWork() = default;
  /// Blocks until the collective has finished and the tensor holds the result
  /// (for NCCL: until the caller's compute stream is ordered after it).
  virtual void Wait() = 0;
};

class CollectiveBackend;

/// Collectives over one group of ranks. Not copyable; owned by a
/// ProcessGrid (tp(), dp(), world()) or created directly for tools.
class Communicator {
 public:
  /// Wraps a duplicate of `comm` (the caller keeps `comm`); `name` (e.g. "tp",
  /// "dp", "world") appears in watchdog and error messages. Collective over
  /// `comm`.
  static std::unique_ptr<Communicator> Create(MPI_Comm comm, std::string name,
                                              BackendChoice backend = BackendChoice::kAuto);

  /// A group of one rank that needs no MPI at all: every collective is the
  /// identity (AllGather/ReduceScatter return a copy). For single-process
  /// tools and tests.
  static std::unique_ptr<Communicator> CreateLocal(std::string name = "local");

  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  /// This process's rank in the group, in [0, size()).
  int rank() const { return rank_; }
  /// Number of ranks in the group.
  int size() const { return size_; }
  /// The name given at creation.
  const std::string& name() const { return name_; }
  /// The underlying (duplicated) MPI communicator; MPI_COMM_NULL for CreateLocal().
  MPI_Comm mpi_comm() const { return comm_; }

  /// Reduces `t` across the group, in place: afterwards every rank's `t`
  /// holds the reduction of all ranks' values. Any layout; shapes must match.
  void AllReduce(at::Tensor& t, ReduceOp op);

  /// Starts an in-place all-reduce of a contiguous `t` and returns without
  /// waiting; `t` must stay alive and untouched until Wait(). Used by the
  /// gradient synchronizer to overlap bucket reductions with backward.
  std::unique_ptr<PendingWork> AllReduceAsync(at::Tensor& t, ReduceOp op);

  /// Copies `root`'s `t` into every other rank's `t`, in place.
  void Broadcast(at::Tensor& t, int root);

  /// Concatenates every rank's `t` along `dim` in rank order. Every rank
  /// passes the same shape; the result has size()*t.size(dim) along `dim`.
  at::Tensor AllGather(const at::Tensor& t, int64_t dim = 0);

  /// Reduces `t` across the group and returns this rank's shard along `dim`:
  /// the slice ShardOf(t.size(dim), size(), rank()) (distributed/shard.h), so
  /// sizes that do not divide by size() are allowed (the first ranks get one
  /// more row).
  at::Tensor ReduceScatter(const at::Tensor& t, ReduceOp op, int64_t dim = 0);

  /// Returns when every rank of the group has called Barrier().
  void Barrier();

 private:
  Communicator(std::string name, MPI_Comm comm, int rank, int size, BackendChoice choice);
  // The backend that carries collectives on tensors of `device`.
  CollectiveBackend& BackendFor(const at::Tensor& t);
  // "AllReduce(sum) on dp [rank 1 of 4], 1024 bytes": what the watchdog prints.
  std::string Describe(absl::string_view op, const at::Tensor& t) const;

  std::string name_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
  BackendChoice choice_ = BackendChoice::kAuto;
  std::unique_ptr<CollectiveBackend> mpi_;
  std::unique_ptr<CollectiveBackend> nccl_;  // created on first CUDA collective
};

/// Every rank's `local` strings, concatenated in rank order (ranks may pass
/// different counts and lengths); the same result on every rank. For small
/// text results (example ids, JSON answers), not for bulk data.
std::vector<std::string> AllGatherStrings(Communicator& comm, const std::vector<std::string>& local);

}  // namespace alro::dist
