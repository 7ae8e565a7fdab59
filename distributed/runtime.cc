// distributed/runtime.cc: MPI start-up and shut-down, the node-local rank,
// and the job-wide fatal handler.
#include "distributed/runtime.h"

#include <mpi.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace alro::dist {
namespace {

// Exit status of a job aborted through the fatal handler.
constexpr int kAbortExitCode = 1;

// The world rank printed by AbortJob (set once MPI is up).
std::atomic<int> g_world_rank{-1};

// Launchers' local-rank variables, most specific first.
constexpr const char* kLocalRankVariables[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
                                               "MPI_LOCALRANKID", "PMI_LOCAL_RANK"};

}  // namespace

bool MpiRunning() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  return initialized && !finalized;
}

void AbortJob(const std::string& message) {
  std::fprintf(stderr, "FATAL [rank %d]: %s\n", g_world_rank.load(), message.c_str());
  std::fflush(stderr);
  // MPI_Abort asks the launcher to kill every rank of the job. It is safe
  // from any thread when MPI runs with MPI_THREAD_MULTIPLE (MpiRuntime asks
  // for it) and in practice with Open MPI and MPICH otherwise.
  if (MpiRunning()) MPI_Abort(MPI_COMM_WORLD, kAbortExitCode);
  std::abort();
}

int LauncherLocalRank() {
  for (const char* name : kLocalRankVariables) {
    const char* value = std::getenv(name);
    int parsed = 0;
    if (value != nullptr && absl::SimpleAtoi(value, &parsed) && parsed >= 0) return parsed;
  }
  return -1;
}

MpiRuntime::MpiRuntime(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
    owns_mpi_ = true;
    if (provided < MPI_THREAD_MULTIPLE) {
      // Only the watchdog thread calls MPI outside the main thread, and only
      // MPI_Abort; note it, do not fail.
      ALRO_LOG(DEBUG) << "MPI provides thread level " << provided << " < MPI_THREAD_MULTIPLE";
    }
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size_);
  g_world_rank = world_rank_;
  SetLogRank(world_rank_);
  previous_handler_ = SetFatalHandler(&AbortJob);

  // Ranks that can share memory are on the same node: their order in that
  // group is the local rank, whatever the launcher is.
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank_, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &local_rank_);
  MPI_Comm_size(node, &local_size_);
  MPI_Comm_free(&node);

  launcher_local_rank_ = LauncherLocalRank();
  if (launcher_local_rank_ >= 0 && launcher_local_rank_ != local_rank_) {
    ALRO_LOG(WARNING) << "local rank from MPI_COMM_TYPE_SHARED is " << local_rank_ << " but the launcher says "
                      << launcher_local_rank_ << "; alro uses " << local_rank_
                      << " (check the launcher's rank placement if GPUs are shared)";
  }
}

MpiRuntime::~MpiRuntime() {
  SetFatalHandler(previous_handler_);
  if (owns_mpi_ && MpiRunning()) MPI_Finalize();
}

}  // namespace alro::dist
