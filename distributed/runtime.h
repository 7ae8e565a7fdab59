// distributed/runtime.h: the process's MPI lifetime and its place in the job.
//
//   int main(int argc, char** argv) {
//     alro::dist::MpiRuntime mpi(&argc, &argv);
//     ... mpi.world_rank(), mpi.local_rank() (selects the GPU) ...
//   }
//
// One scoped object initialises MPI (MPI_THREAD_MULTIPLE requested: the
// watchdog thread may call MPI_Abort while the main thread is inside a
// collective) and finalises it when it goes out of scope. If MPI is already
// initialised (the test main does that) it neither initialises nor finalises.
//
// It also installs the fatal handler (common/status.h): ALRO_CHECK failures,
// failed collectives and watchdog timeouts on ANY rank print the message with
// the rank and call MPI_Abort(MPI_COMM_WORLD, 1), which ends every rank of the
// job, so no rank is left waiting forever in a collective.
#pragma once

#include <string>

#include "common/status.h"

namespace alro::dist {

/// True between MPI_Init and MPI_Finalize: MPI calls are allowed (for
/// destructors and fatal handlers that may run before or after).
bool MpiRunning();

/// Scoped MPI initialisation plus the job-wide fatal handler. Create exactly
/// one, first thing in main(). Not copyable.
class MpiRuntime {
 public:
  /// Initialises MPI unless it already is, installs the MPI_Abort fatal
  /// handler and tells the logger this rank. `argc`/`argv` may be null.
  MpiRuntime(int* argc = nullptr, char*** argv = nullptr);
  /// Restores the previous fatal handler and finalises MPI if this object
  /// initialised it.
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  /// Rank in MPI_COMM_WORLD.
  int world_rank() const { return world_rank_; }
  /// Size of MPI_COMM_WORLD.
  int world_size() const { return world_size_; }
  /// Rank among the processes on this node (MPI_COMM_TYPE_SHARED split);
  /// use it to choose the GPU.
  int local_rank() const { return local_rank_; }
  /// Number of processes on this node.
  int local_size() const { return local_size_; }
  /// The launcher's idea of the local rank (OMPI_COMM_WORLD_LOCAL_RANK,
  /// SLURM_LOCALID, MPI_LOCALRANKID or PMI_LOCAL_RANK), -1 when none is set.
  /// A disagreement with local_rank() is logged as a warning at start.
  int launcher_local_rank() const { return launcher_local_rank_; }
  /// True when this object initialised MPI (and will finalise it).
  bool owns_mpi() const { return owns_mpi_; }

 private:
  bool owns_mpi_ = false;
  int world_rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  int launcher_local_rank_ = -1;
  FatalHandler previous_handler_ = nullptr;
};

/// The fatal handler MpiRuntime installs: prints "FATAL [rank r]: message"
/// and calls MPI_Abort(MPI_COMM_WORLD, 1) (std::abort() when MPI is not
/// running). Exposed for binaries that manage MPI themselves.
[[noreturn]] void AbortJob(const std::string& message);

/// Reads the launcher's local-rank environment variables (see
/// MpiRuntime::launcher_local_rank); -1 when none is set or parsable.
int LauncherLocalRank();

}  // namespace alro::dist
