// launch/cmd_train.cc: `alro train`: validates the configuration, prints the
// plan (grid, model size, data, objective, schedule), then trains under MPI
// (train/trainer.h). Every rank runs this same command.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <ATen/Parallel.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/allocator.h"
#include "common/logging.h"
#include "common/status.h"
#include "config/config_io.h"
#include "config/model_size.h"
#include "core/cblas.h"
#include "core/pretrained_shape.h"
#include "distributed/process_grid.h"
#include "distributed/runtime.h"
#include "distributed/watchdog.h"
#include "launch/blas_info.h"
#include "launch/command_util.h"
#include "launch/commands.h"
#include "launch/thread_policy.h"
#include "train/trainer.h"
#include "train/vocab_growth.h"

namespace alro::launch {
namespace {

// The number of ranks as the launcher announces it (mpirun, srun); 1 when the
// command runs outside a launcher.
int64_t LauncherWorldSize() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"}) {
    int64_t n;
    if (const char* value = std::getenv(var); value != nullptr && absl::SimpleAtoi(value, &n) && n > 0) return n;
  }
  return 1;
}

std::string HumanCount(double n) {
  if (n >= 1e9) return absl::StrFormat("%.2fB", n / 1e9);
  if (n >= 1e6) return absl::StrFormat("%.2fM", n / 1e6);
  if (n >= 1e3) return absl::StrFormat("%.1fK", n / 1e3);
  return absl::StrFormat("%.0f", n);
}

// `origins` (config::LoadConfig's) tells where model.dtype came from, and
// what "auto" chose on this machine.
void PrintPlan(const config::Config& c, int64_t world_size, const std::vector<core::ShapeValue>& shape,
               const config::ConfigOrigins& origins) {
  const config::ModelConfig& m = c.model;
  const auto dtype_origin = origins.find("model.dtype");
  const std::string dtype = dtype_origin != origins.end() && absl::StrContains(dtype_origin->second, "(auto: ")
                                ? absl::StrCat(m.dtype, " ", dtype_origin->second.substr(
                                                                 dtype_origin->second.find("(auto: ")))
                                : m.dtype;
  std::printf("plan:\n");
  std::printf("  grid:      %lld ranks = data_parallel %lld x tensor_parallel %lld (device %s, backend %s)\n",
              (long long)world_size, (long long)c.parallel.data_parallel, (long long)c.parallel.tensor_parallel,
              c.parallel.device.c_str(), c.parallel.backend.c_str());
  std::printf("  model:     %s: %lld layers, hidden %lld, heads %lld (kv %lld), mlp %lld, vocab %lld, %s\n",
              m.preset.c_str(), (long long)m.num_layers, (long long)m.hidden_size, (long long)m.num_heads,
              (long long)m.num_kv_heads, (long long)m.intermediate_size, (long long)m.vocab_size, dtype.c_str());
  // Where each shape value came from: the file, --set, a preset, the
  // checkpoint's config.json or the default.
  for (const core::ShapeValue& v : shape) {
    std::printf("    %-24s %-12s %s\n", v.key.c_str(), v.value.c_str(), v.source.c_str());
  }
  const int64_t params = config::ParameterCount(m);
  std::printf("  params:    %s total, %s per tensor-parallel rank (approx.)%s\n", HumanCount(params).c_str(),
              HumanCount(double(params) / c.parallel.tensor_parallel).c_str(),
              m.lora.enabled ? absl::StrFormat(", LoRA r=%d trains %s", m.lora.rank,
                                               HumanCount(config::LoraParameterCount(m)))
                                   .c_str()
                             : "");
  std::printf("  weights:   %s\n", m.pretrained.empty() ? "random initialisation" : m.pretrained.c_str());
  std::printf("  data:      %s (train split '%s', eval split '%s')\n",
              c.data.dir.empty() ? "(data.dir not set)" : c.data.dir.c_str(), c.data.train_split.c_str(),
              c.data.eval_split.c_str());
  std::printf("  objective: %.3g*LM + %.3g*SLL(gamma %.3g, sigma %.3g) + %.3g*PSL(%s, %lld cop%s)%s\n",
              c.objective.lm_weight, c.objective.sll_weight, c.objective.sll_gamma, c.objective.sll_sigma,
              c.objective.psl_weight, c.objective.psl_divergence.c_str(), (long long)c.objective.psl_copies,
              c.objective.psl_copies == 1 ? "y" : "ies",
              c.objective.single_step_weight > 0
                  ? absl::StrFormat(" + %.3g*LambdaLoss(first slot, %s)", c.objective.single_step_weight,
                                    c.objective.lambdaloss_weighting)
                        .c_str()
                  : "");
  std::printf("  schedule:  %lld steps, global batch %lld lists = micro %lld x dp %lld x accumulation %lld, "
              "lr %.3g (warmup %lld, cosine to %.3g x)\n",
              (long long)c.schedule.steps, (long long)c.schedule.global_batch_size,
              (long long)c.schedule.micro_batch_size, (long long)c.parallel.data_parallel,
              (long long)config::AccumulationSteps(c), c.optimizer.lr, (long long)c.schedule.warmup_steps,
              c.schedule.min_lr_ratio);
  std::printf("  checkpoints: %s\n", c.checkpoint.dir.empty() ? "off" : c.checkpoint.dir.c_str());
  std::printf("  allocator: %s\n", AllocatorSummary().c_str());
  std::printf("  threads:   %d per rank (LibTorch intra-op); %s\n", at::get_num_threads(),
              ThreadPolicySummary().c_str());
  std::printf("  BLAS:      %s\n", BlasSummary().c_str());
  if (const std::string advice = BlasCoreAdviceHere(); !advice.empty()) std::printf("  BLAS hint: %s\n", advice.c_str());
  std::printf("  gemm:      %s\n", core::cblas::FloatLibrarySummary().c_str());
}

}  // namespace

int RunTrain(int argc, char** argv) {
  cli::CommandLine command_line("alro train --config X.yaml [--set key=value ...] [--dry-run]",
                                "Fine-tunes a model into a list-wise ranker. Run it under mpirun or srun; "
                                "every rank runs the same command.");
  command_line.Flag("config", "", "YAML configuration file (see configs/)")
      .Repeated("set", "override one key, e.g. --set model.num_layers=4")
      .Switch("dry-run", "validate the configuration, print the plan and exit")
      .Flag("world", "", "number of ranks to plan for (default: from mpirun/srun, else 1)")
      .Switch("no-path-check", "do not check that the files named in the configuration exist")
      .Flag("resume", "", "none | auto | a checkpoint directory (overrides checkpoint.resume); auto = newest "
                          "complete checkpoint under checkpoint.dir, or a fresh start when there is none")
      .Flag("peak-tflops", "0", "peak TFLOP/s of one rank for the MFU estimate (0 = measure a CPU matmul)")
      .Flag("profile-steps", "", "FIRST:LAST: profile these steps' operators; each rank writes "
                                 "logging.dir/profile.rank<R>.{txt,json} (docs/performance.md)");
  if (int code = ParseOrExit(command_line, argc, argv); code >= 0) return code;
  if (command_line.Get("config").empty()) {
    return ReportStatus("train", InvalidArgument("--config is required", "e.g. alro train --config configs/tiny.yaml"));
  }
  std::vector<std::string> overrides = command_line.GetAll("set");
  if (command_line.Has("resume")) overrides.push_back("checkpoint.resume=" + command_line.Get("resume"));
  absl::StatusOr<double> peak_tflops = command_line.GetDouble("peak-tflops");
  if (!peak_tflops.ok()) return ReportStatus("train", peak_tflops.status());
  absl::StatusOr<train::ProfileWindow> profile_steps = train::ParseProfileWindow(command_line.Get("profile-steps"));
  if (!profile_steps.ok()) return ReportStatus("train", profile_steps.status());
  config::ConfigOrigins origins;
  absl::StatusOr<config::Config> cfg = config::LoadConfig(command_line.Get("config"), overrides, &origins);
  if (!cfg.ok()) return ReportStatus("train", cfg.status());
  const bool check_paths = !command_line.GetSwitch("no-path-check");
  // With model.pretrained the checkpoint's config.json defines the shape
  // (every rank reads it; --no-path-check leaves it unread).
  absl::StatusOr<std::vector<core::ShapeValue>> shape =
      core::ResolveModelShape(origins, /*read_checkpoint=*/check_paths, &cfg->model);
  if (!shape.ok()) return ReportStatus("train", shape.status());
  if (check_paths) {
    // A data set with item tokens for this checkpoint grows its vocabulary.
    absl::StatusOr<std::optional<train::VocabGrowthPlan>> growth = train::ResolveVocabGrowth(&*cfg);
    if (!growth.ok()) return ReportStatus("train", growth.status());
    for (core::ShapeValue& v : *shape) {
      if (*growth && v.key == "model.vocab_size") {
        v.value = absl::StrCat(cfg->model.vocab_size);
        v.source = (*growth)->reason;
      }
    }
  }
  if (command_line.GetSwitch("dry-run")) {
    // Planning only: no MPI, the world size comes from the launcher or --world.
    int64_t world_size = LauncherWorldSize();
    if (command_line.Has("world")) {
      absl::StatusOr<int64_t> world = command_line.GetInt("world");
      if (!world.ok()) return ReportStatus("train", world.status());
      world_size = *world;
    }
    const absl::Status valid = config::ValidateConfig(*cfg, {.world_size = world_size, .check_paths = check_paths});
    if (!valid.ok()) return ReportStatus("train", valid);
    config::ResolveDerived(&*cfg, world_size);
    PrintPlan(*cfg, world_size, *shape, origins);
    return kExitOk;
  }

  dist::MpiRuntime mpi(&argc, &argv);
  const int rank = mpi.world_rank();
  LogLevel level;
  if (ParseLogLevel(cfg->logging.level, &level)) SetLogLevel(level);
  SetLogAllRanks(cfg->logging.all_ranks);
  // Errors that every rank finds alike are printed by rank 0 only.
  auto report = [&](const absl::Status& status) -> int {
    if (status.ok()) return kExitOk;
    if (rank == 0 || status.code() != absl::StatusCode::kAborted) return ReportStatus("train", status);
    return kExitFailure;
  };
  const absl::Status valid =
      config::ValidateConfig(*cfg, {.world_size = mpi.world_size(), .check_paths = check_paths});
  if (!valid.ok()) return rank == 0 ? ReportStatus("train", valid) : kExitUsage;
  config::ResolveDerived(&*cfg, mpi.world_size());
  if (rank == 0) {
    PrintPlan(*cfg, mpi.world_size(), *shape, origins);
    std::fflush(stdout);
  }
  absl::StatusOr<dist::BackendChoice> backend = dist::ParseBackendChoice(cfg->parallel.backend);
  if (!backend.ok()) return report(backend.status());
  absl::StatusOr<dist::ProcessGrid> grid =
      dist::ProcessGrid::Create(MPI_COMM_WORLD, cfg->parallel.tensor_parallel, *backend);
  if (!grid.ok()) return report(grid.status());
  dist::Watchdog watchdog({.timeout_s = cfg->parallel.timeout_s, .rank = rank});
  train::TrainerOptions options;
  options.peak_flops_per_rank = *peak_tflops * 1e12;
  options.local_rank = mpi.local_rank();
  options.profile_steps = *profile_steps;
  absl::StatusOr<std::unique_ptr<train::Trainer>> trainer = train::Trainer::Create(*cfg, *grid, options);
  if (!trainer.ok()) return report(trainer.status());
  return report((*trainer)->Train());
}

}  // namespace alro::launch
