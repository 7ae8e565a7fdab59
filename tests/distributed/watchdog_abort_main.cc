// tests/distributed/watchdog_abort_main.cc: a small MPI program that must END
// THE WHOLE JOB with a non-zero status, quickly, when one rank misbehaves.
// tests/distributed/expect_abort.sh runs it under mpirun and checks the exit
// status, the elapsed time and the message.
//
//   watchdog_abort_main stall TIMEOUT  rank 1 stalls (sleeps) outside any
//       collective; the other ranks wait in a barrier and their watchdog fires.
//   watchdog_abort_main step TIMEOUT   rank 1 stalls inside a watched step;
//       its own watchdog fires.
//   watchdog_abort_main fatal          rank 1 fails an ALRO_CHECK while the
//       others wait in a barrier without a watchdog: MPI_Abort ends them.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "common/status.h"
#include "distributed/communicator.h"
#include "distributed/runtime.h"
#include "distributed/watchdog.h"

namespace {

// Far longer than any test timeout: if this rank is not killed, the test fails.
constexpr auto kStall = std::chrono::seconds(120);
constexpr int kStalledRank = 1;
constexpr int kUsageExitCode = 2;

}  // namespace

int main(int argc, char** argv) {
  using namespace alro::dist;
  MpiRuntime mpi(&argc, &argv);
  if (argc < 2 || mpi.world_size() < 2) {
    std::fprintf(stderr, "usage: mpirun -np N>=2 %s stall|step|fatal [timeout_s]\n", argv[0]);
    return kUsageExitCode;
  }
  const std::string mode = argv[1];
  const double timeout_s = argc > 2 ? std::atof(argv[2]) : 2.0;
  auto world = Communicator::Create(MPI_COMM_WORLD, "world");
  world->Barrier();  // everyone is up before the misbehaviour starts

  const bool stalled = (mpi.world_rank() == kStalledRank);
  if (mode == "stall") {
    Watchdog watchdog({.timeout_s = timeout_s, .rank = mpi.world_rank()});
    if (stalled) std::this_thread::sleep_for(kStall);
    world->Barrier();
  } else if (mode == "step") {
    Watchdog watchdog({.timeout_s = timeout_s, .rank = mpi.world_rank()});
    ScopedWatch step("step 3");
    if (stalled) std::this_thread::sleep_for(kStall);
    world->Barrier();
  } else if (mode == "fatal") {
    if (stalled) ALRO_CHECK(mode == "no such mode", "deliberate failure on rank ", kStalledRank);
    world->Barrier();
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return kUsageExitCode;
  }
  std::fprintf(stderr, "rank %d: reached the end, which a misbehaving job must not\n", mpi.world_rank());
  return 0;
}
