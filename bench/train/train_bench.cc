// bench/train/train_bench.cc: training throughput and checkpoint speed.
//
//   mpirun -np 2 --bind-to none -x OMP_NUM_THREADS=1 build/bench/train/train_bench
//
// For the tiny and small presets at dp x tp = 1x1, 2x1 and 1x2 (shapes that
// fit in the job): step time, tokens/s, estimated model-FLOPs utilisation
// (against a float32 matmul measured in the same run), and scaling
// efficiency = tokens/s of the shape / tokens/s of 1x1. Then, at the job's
// full dp shape: checkpoint save and load MB/s, each as a ratio to a raw
// write (with fsync) and read of the same number of bytes in the same run,
// and the time from --resume auto to the end of the first step.
// Prints a table on rank 0; asserts nothing.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/allocator.h"
#include "common/file_util.h"
#include "config/config_io.h"
#include "distributed/process_grid.h"
#include "distributed/runtime.h"
#include "tests/train/synthetic_data.h"
#include "train/trainer.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kWarmupSteps = 1;
constexpr int kTimedSteps = 3;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

alro::config::Config BenchConfig(const std::string& data_dir, const std::string& preset, int dp, int tp) {
  alro::config::Config c = alro::train::testing_util::TinyTrainConfig(data_dir);
  alro::config::ApplyModelPreset(preset, &c.model);
  c.model.preset = preset;
  c.model.max_seq_len = 256;
  c.schedule.steps = 1000;
  c.schedule.micro_batch_size = 4;
  c.schedule.global_batch_size = 8;
  c.parallel.tensor_parallel = tp;
  alro::config::ResolveDerived(&c, dp * tp);
  return c;
}

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t total = 0;
  auto names = alro::ListDirectory(dir);
  if (!names.ok()) return 0;
  for (const std::string& n : *names) {
    auto size = alro::FileSize(alro::JoinPath(dir, n));
    if (size.ok()) total += *size;
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  alro::ConfigureAllocator();  // as the `alro` binary runs: common/allocator.h
  alro::dist::MpiRuntime mpi(&argc, &argv);
  const int rank = mpi.world_rank(), world = mpi.world_size();
  const std::string root = "/tmp/alro_train_bench";
  if (rank == 0) {
    (void)alro::RemoveAll(root);
    const absl::Status s = alro::train::testing_util::WriteSyntheticDataset(root);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const std::string data = alro::JoinPath(root, "data");
  if (rank == 0) {
    std::printf("%-6s %-6s %10s %10s %9s %8s\n", "model", "dp x tp", "step s", "tokens/s", "MFU %", "scaling");
  }
  for (const std::string preset : {"tiny", "small"}) {
    double base_tokens_per_s = 0.0;
    for (const auto& [dp, tp] : std::vector<std::pair<int, int>>{{1, 1}, {2, 1}, {1, 2}}) {
      if (dp * tp > world) continue;
      MPI_Comm sub = MPI_COMM_NULL;
      MPI_Comm_split(MPI_COMM_WORLD, rank < dp * tp ? 0 : MPI_UNDEFINED, rank, &sub);
      double stats[3] = {0, 0, 0};  // seconds per step, tokens/s, MFU
      if (sub != MPI_COMM_NULL) {
        auto grid = alro::dist::ProcessGrid::Create(sub, tp);
        alro::train::TrainerOptions options;
        options.quiet = true;
        auto trainer = alro::train::Trainer::Create(BenchConfig(data, preset, dp, tp), *grid, options);
        if (!trainer.ok()) {
          std::fprintf(stderr, "%s\n", std::string(trainer.status().message()).c_str());
          MPI_Abort(MPI_COMM_WORLD, 1);
        }
        for (int s = 0; s < kWarmupSteps; ++s) (void)(*trainer)->Step();
        double seconds = 0, tokens = 0;
        for (int s = 0; s < kTimedSteps; ++s) {
          auto st = (*trainer)->Step();
          seconds += st->seconds;
          tokens += st->tokens;
        }
        stats[0] = seconds / kTimedSteps;
        stats[1] = tokens / seconds;
        stats[2] = (*trainer)->EstimatedMfu(stats[1]);
        MPI_Comm_free(&sub);
      }
      MPI_Bcast(stats, 3, MPI_DOUBLE, 0, MPI_COMM_WORLD);
      if (dp * tp == 1) base_tokens_per_s = stats[1];
      if (rank == 0) {
        std::printf("%-6s %dx%-4d %10.3f %10.0f %9.2f %8.2f\n", preset.c_str(), dp, tp, stats[0], stats[1],
                    100.0 * stats[2], base_tokens_per_s > 0 ? stats[1] / base_tokens_per_s : 0.0);
      }
    }
  }

  // Checkpoints at the full data-parallel shape, small preset.
  auto grid = alro::dist::ProcessGrid::Create(MPI_COMM_WORLD, 1);
  alro::config::Config c = BenchConfig(data, "small", world, 1);
  c.checkpoint.dir = alro::JoinPath(root, "ckpt");
  alro::train::TrainerOptions options;
  options.quiet = true;
  auto trainer = alro::train::Trainer::Create(c, *grid, options);
  (void)(*trainer)->Step();
  MPI_Barrier(MPI_COMM_WORLD);
  auto start = Clock::now();
  auto dir = (*trainer)->SaveCheckpointNow();
  const double save_s = Since(start);
  const uint64_t bytes = rank == 0 ? DirectoryBytes(*dir) : 0;
  // Raw baseline: the same bytes, written (fsynced) and read back by rank 0.
  double raw_write_s = 0, raw_read_s = 0;
  if (rank == 0) {
    const std::string raw = alro::JoinPath(root, "raw.bin");
    const std::string block(1 << 20, 'x');
    start = Clock::now();
    auto w = alro::SequentialFileWriter::Create(raw);
    for (uint64_t done = 0; done < bytes; done += block.size())
      (void)w->Append(absl::string_view(block).substr(0, std::min<uint64_t>(block.size(), bytes - done)));
    (void)w->Close();
    raw_write_s = Since(start);
    start = Clock::now();
    auto read = alro::ReadFileToString(raw);
    raw_read_s = Since(start);
  }
  trainer->reset();
  c.checkpoint.resume = "auto";
  MPI_Barrier(MPI_COMM_WORLD);
  start = Clock::now();
  auto resumed = alro::train::Trainer::Create(c, *grid, options);
  const double load_s = Since(start);
  (void)(*resumed)->Step();
  const double resume_to_first_step_s = Since(start);
  if (rank == 0) {
    const double mb = bytes / 1e6;
    std::printf("\ncheckpoint (small, dp %d): %.1f MB\n", world, mb);
    std::printf("  save  %.1f MB/s   raw write+fsync %.1f MB/s   ratio %.2f\n", mb / save_s, mb / raw_write_s,
                raw_write_s / save_s);
    std::printf("  load  %.1f MB/s   raw read %.1f MB/s   ratio %.2f (load = whole trainer start with resume)\n",
                mb / load_s, mb / raw_read_s, raw_read_s / load_s);
    std::printf("  --resume auto to the end of the first step: %.2f s\n", resume_to_first_step_s);
  }
  return 0;
}
