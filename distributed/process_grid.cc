// distributed/process_grid.cc: rank arithmetic of the data x tensor grid and
// the MPI splits that build its communicators (see process_grid.h).
#include "distributed/process_grid.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace alro::dist {

GridPosition GridLayout::Locate(int world_rank) const {
  return GridPosition{world_rank / tp_size, world_rank % tp_size};
}

int GridLayout::WorldRank(int dp_rank, int tp_rank) const { return dp_rank * tp_size + tp_rank; }

std::vector<int> GridLayout::TensorParallelGroup(int dp_rank) const {
  std::vector<int> ranks;
  for (int t = 0; t < tp_size; ++t) ranks.push_back(WorldRank(dp_rank, t));
  return ranks;
}

std::vector<int> GridLayout::DataParallelGroup(int tp_rank) const {
  std::vector<int> ranks;
  for (int d = 0; d < dp_size(); ++d) ranks.push_back(WorldRank(d, tp_rank));
  return ranks;
}

absl::StatusOr<GridLayout> MakeGridLayout(int64_t world_size, int64_t tensor_parallel) {
  if (world_size < 1) return InvalidArgument(absl::StrCat("world size ", world_size, " must be at least 1"));
  if (tensor_parallel < 1 || world_size % tensor_parallel != 0) {
    return InvalidArgument(
        absl::StrCat("parallel.tensor_parallel: ", tensor_parallel, " does not divide the world size ",
                     world_size),
        absl::StrCat("launch a multiple of ", tensor_parallel, " ranks, or set parallel.tensor_parallel to a "
                     "divisor of ", world_size));
  }
  return GridLayout{static_cast<int>(world_size), static_cast<int>(tensor_parallel)};
}

ProcessGrid::ProcessGrid(GridLayout layout, std::unique_ptr<Communicator> world, std::unique_ptr<Communicator> tp,
                         std::unique_ptr<Communicator> dp)
    : layout_(layout), world_(std::move(world)), tp_(std::move(tp)), dp_(std::move(dp)) {}

ProcessGrid::ProcessGrid(ProcessGrid&&) noexcept = default;
ProcessGrid& ProcessGrid::operator=(ProcessGrid&&) noexcept = default;
ProcessGrid::~ProcessGrid() = default;

absl::StatusOr<ProcessGrid> ProcessGrid::Create(MPI_Comm world, int64_t tensor_parallel, BackendChoice backend) {
  int world_rank = 0, world_size = 1;
  MPI_Comm_rank(world, &world_rank);
  MPI_Comm_size(world, &world_size);
  ALRO_ASSIGN_OR_RETURN(GridLayout layout, MakeGridLayout(world_size, tensor_parallel));
  const GridPosition pos = layout.Locate(world_rank);

  // Split by color = the coordinate shared by the group, key = the coordinate
  // that orders it, so group ranks equal tp_rank and dp_rank.
  MPI_Comm tp_comm = MPI_COMM_NULL, dp_comm = MPI_COMM_NULL;
  ALRO_CHECK(MPI_Comm_split(world, pos.dp_rank, pos.tp_rank, &tp_comm) == MPI_SUCCESS, "MPI_Comm_split (tp)");
  ALRO_CHECK(MPI_Comm_split(world, pos.tp_rank, pos.dp_rank, &dp_comm) == MPI_SUCCESS, "MPI_Comm_split (dp)");
  ProcessGrid grid(layout, Communicator::Create(world, "world", backend), Communicator::Create(tp_comm, "tp", backend),
                   Communicator::Create(dp_comm, "dp", backend));
  // Communicator::Create keeps duplicates; the split handles are ours to free.
  MPI_Comm_free(&tp_comm);
  MPI_Comm_free(&dp_comm);
  ALRO_CHECK(grid.tp_rank() == pos.tp_rank && grid.dp_rank() == pos.dp_rank, "grid split disagrees with layout");
  return grid;
}

ProcessGrid ProcessGrid::CreateSingleProcess() {
  return ProcessGrid(GridLayout{1, 1}, Communicator::CreateLocal("world"), Communicator::CreateLocal("tp"),
                     Communicator::CreateLocal("dp"));
}

}  // namespace alro::dist
