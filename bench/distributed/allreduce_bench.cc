// bench/distributed/allreduce_bench.cc: all-reduce bus bandwidth of the MPI
// communicator, 1 KiB to 256 MiB, as a ratio to memcpy bandwidth measured in
// the same run.
//
//   mpirun -np 2 --mca mpi_yield_when_idle 1 build/bench/distributed/allreduce_bench \
//       [--dtype float|bfloat16] [--max-mib 256]
//
// mpi_yield_when_idle makes waiting ranks yield the CPU instead of spinning;
// without it, on a machine with as many or fewer free cores than ranks,
// small messages measure the scheduler time slice (tens of ms), not MPI.
//
// Bus bandwidth follows nccl-tests: busbw = bytes / time * 2 (p - 1) / p, the
// rate each rank's link must sustain in a ring all-reduce, so it is
// comparable across rank counts. The baseline is memcpy of the same number
// of bytes, run on every rank at once (the same memory-bus contention the
// all-reduce sees on one node); ratio = busbw / memcpy bandwidth. Times are
// the slowest rank's, best of kRepeats timed loops.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "common/allocator.h"
#include "distributed/communicator.h"
#include "distributed/runtime.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kMinBytes = int64_t{1} << 10;
constexpr int kSizeStepShift = 2;         // x4 per row
constexpr double kTargetSeconds = 0.15;   // per timed loop
constexpr int kRepeats = 3;
constexpr int kMaxIterations = 1000000;  // small messages: long loops average out scheduling noise

// Seconds for `iterations` calls of `body` on the slowest rank.
template <typename Body>
double TimeLoop(Body& body, int iterations) {
  MPI_Barrier(MPI_COMM_WORLD);
  const auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) body();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return seconds;  // identical on every rank, so every rank makes the same decisions
}

// Seconds per call of `body` on the slowest rank: the loop length is grown
// until one loop lasts about kTargetSeconds (short loops on a shared machine
// measure the scheduler, not the operation), then the best of kRepeats loops.
template <typename Body>
double TimePerCall(Body body) {
  body();  // warm-up: page faults, MPI connection set-up
  int iterations = 1;
  double seconds = TimeLoop(body, iterations);
  while (seconds < kTargetSeconds && iterations < kMaxIterations) {
    const double grow = std::clamp(kTargetSeconds / std::max(seconds, 1e-9), 2.0, 100.0);
    iterations = static_cast<int>(std::min<double>(iterations * grow, kMaxIterations));
    seconds = TimeLoop(body, iterations);
  }
  double best = seconds / iterations;
  for (int repeat = 1; repeat < kRepeats; ++repeat) best = std::min(best, TimeLoop(body, iterations) / iterations);
  return best;
}

std::string FormatBytes(int64_t bytes) {
  char text[32];
  if (bytes >= (int64_t{1} << 20)) {
    std::snprintf(text, sizeof(text), "%lld MiB", static_cast<long long>(bytes >> 20));
  } else {
    std::snprintf(text, sizeof(text), "%lld KiB", static_cast<long long>(bytes >> 10));
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  alro::ConfigureAllocator();  // as the `alro` binary runs: common/allocator.h
  alro::dist::MpiRuntime mpi(&argc, &argv);
  at::ScalarType dtype = at::kFloat;
  int64_t max_bytes = int64_t{256} << 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--dtype") dtype = (value == "bfloat16") ? at::kBFloat16 : at::kFloat;
    if (flag == "--max-mib") max_bytes = std::atoll(value.c_str()) << 20;
  }
  auto comm = alro::dist::Communicator::Create(MPI_COMM_WORLD, "world");
  const int p = comm->size();
  const double bus_factor = p > 1 ? 2.0 * (p - 1) / p : 1.0;
  if (comm->rank() == 0) {
    std::printf("all-reduce (sum, %s) over MPI, %d ranks; busbw = bytes/time * 2(p-1)/p; "
                "baseline: concurrent memcpy on every rank\n",
                c10::toString(dtype), p);
    std::printf("%10s %12s %12s %12s %14s %8s\n", "size", "time_us", "algbw_GB/s", "busbw_GB/s", "memcpy_GB/s",
                "ratio");
  }
  for (int64_t bytes = kMinBytes; bytes <= max_bytes; bytes <<= kSizeStepShift) {
    const int64_t numel = bytes / at::elementSize(dtype);
    at::Tensor buffer = at::zeros({numel}, dtype);  // stays finite over many sums
    std::vector<char> src(bytes, 1), dst(bytes);
    const double copy_s = TimePerCall([&] { std::memcpy(dst.data(), src.data(), bytes); });
    const double reduce_s = TimePerCall([&] { comm->AllReduce(buffer, alro::dist::ReduceOp::kSum); });
    if (comm->rank() == 0) {
      const double algbw = bytes / reduce_s / 1e9;
      const double busbw = algbw * bus_factor;
      const double copybw = bytes / copy_s / 1e9;
      std::printf("%10s %12.1f %12.3f %12.3f %14.3f %8.3f\n", FormatBytes(bytes).c_str(), reduce_s * 1e6, algbw,
                  busbw, copybw, busbw / copybw);
      std::fflush(stdout);
    }
  }
  return 0;
}
