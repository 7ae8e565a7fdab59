// distributed/process_grid.h: the data-parallel x tensor-parallel layout of
// the ranks of a job, and one Communicator per axis.
//
// Rank arithmetic (the one place it is defined; GridLayout below computes it):
//
//   world_rank = dp_rank * tp_size + tp_rank
//   tp_rank    = world_rank % tp_size,   dp_rank = world_rank / tp_size
//
// so a tensor-parallel group is tp_size CONSECUTIVE world ranks
// {dp_rank*tp_size, ..., dp_rank*tp_size + tp_size-1}. mpirun and srun place
// consecutive ranks on the same node by default, which keeps the chatty
// tensor-parallel traffic (two all-reduces per layer) inside a node, while
// the data-parallel groups {tp_rank, tp_rank + tp_size, ...} cut across nodes
// and exchange gradients once per step.
//
// Example, world 8, tp 2: tp groups {0,1} {2,3} {4,5} {6,7};
//                          dp groups {0,2,4,6} {1,3,5,7}.
#pragma once

#include <mpi.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "distributed/communicator.h"

namespace alro::dist {

/// Where one world rank sits in the grid.
struct GridPosition {
  int dp_rank = 0;
  int tp_rank = 0;
};

/// Pure rank arithmetic of a grid of world_size = dp_size x tp_size ranks
/// (no MPI); see the file comment.
struct GridLayout {
  int world_size = 1;
  int tp_size = 1;

  /// world_size / tp_size.
  int dp_size() const { return world_size / tp_size; }
  /// (dp_rank, tp_rank) of `world_rank`.
  GridPosition Locate(int world_rank) const;
  /// The world rank at (dp_rank, tp_rank).
  int WorldRank(int dp_rank, int tp_rank) const;
  /// World ranks of the tensor-parallel group `dp_rank` belongs to, by tp_rank.
  std::vector<int> TensorParallelGroup(int dp_rank) const;
  /// World ranks of the data-parallel group of `tp_rank`, by dp_rank.
  std::vector<int> DataParallelGroup(int tp_rank) const;
};

/// Checks that tp_size >= 1 divides world_size (a user error otherwise).
absl::StatusOr<GridLayout> MakeGridLayout(int64_t world_size, int64_t tensor_parallel);

/// The grid of one job: this rank's coordinates and the tp, dp and world
/// communicators. Not copyable; movable.
class ProcessGrid {
 public:
  /// Splits `world` into tensor-parallel groups of `tensor_parallel`
  /// consecutive ranks and the matching data-parallel groups. Collective over
  /// `world`; every rank must pass the same arguments. A user error when
  /// tensor_parallel does not divide the world size.
  static absl::StatusOr<ProcessGrid> Create(MPI_Comm world, int64_t tensor_parallel,
                                            BackendChoice backend = BackendChoice::kAuto);

  /// A world of one rank (tp 1, dp 1) that needs no MPI; for tools and tests.
  static ProcessGrid CreateSingleProcess();

  ProcessGrid(ProcessGrid&&) noexcept;
  ProcessGrid& operator=(ProcessGrid&&) noexcept;
  ~ProcessGrid();

  int world_rank() const { return world_->rank(); }
  int world_size() const { return world_->size(); }
  int tp_rank() const { return tp_->rank(); }
  int tp_size() const { return tp_->size(); }
  int dp_rank() const { return dp_->rank(); }
  int dp_size() const { return dp_->size(); }
  const GridLayout& layout() const { return layout_; }

  /// The tensor-parallel group (consecutive world ranks).
  Communicator& tp() { return *tp_; }
  /// The data-parallel group (same tp_rank, every dp_rank).
  Communicator& dp() { return *dp_; }
  /// All ranks of the job.
  Communicator& world() { return *world_; }

 private:
  ProcessGrid(GridLayout layout, std::unique_ptr<Communicator> world,
              std::unique_ptr<Communicator> tp, std::unique_ptr<Communicator> dp);

  GridLayout layout_;
  std::unique_ptr<Communicator> world_;
  std::unique_ptr<Communicator> tp_;
  std::unique_ptr<Communicator> dp_;
};

}  // namespace alro::dist
