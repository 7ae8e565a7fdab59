// launch/cmd_train.cc: `alro train`: validates the configuration, prints the
// plan (grid, model size, data, objective, schedule), then trains.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "config/config_io.h"
#include "config/model_size.h"
#include "launch/command_util.h"
#include "launch/commands.h"

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

void PrintPlan(const config::Config& c, int64_t world_size) {
  const config::ModelConfig& m = c.model;
  std::printf("plan:\n");
  std::printf("  grid:      %lld ranks = data_parallel %lld x tensor_parallel %lld (device %s, backend %s)\n",
              (long long)world_size, (long long)c.parallel.data_parallel, (long long)c.parallel.tensor_parallel,
              c.parallel.device.c_str(), c.parallel.backend.c_str());
  std::printf("  model:     %s: %lld layers, hidden %lld, heads %lld (kv %lld), mlp %lld, vocab %lld, %s\n",
              m.preset.c_str(), (long long)m.num_layers, (long long)m.hidden_size, (long long)m.num_heads,
              (long long)m.num_kv_heads, (long long)m.intermediate_size, (long long)m.vocab_size, m.dtype.c_str());
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
  std::printf("  objective: %.3g*LM + %.3g*SLL(gamma %.3g, sigma %.3g) + %.3g*PSL(%s, %lld cop%s)\n",
              c.objective.lm_weight, c.objective.sll_weight, c.objective.sll_gamma, c.objective.sll_sigma,
              c.objective.psl_weight, c.objective.psl_divergence.c_str(), (long long)c.objective.psl_copies,
              c.objective.psl_copies == 1 ? "y" : "ies");
  std::printf("  schedule:  %lld steps, global batch %lld lists = micro %lld x dp %lld x accumulation %lld, "
              "lr %.3g (warmup %lld, cosine to %.3g x)\n",
              (long long)c.schedule.steps, (long long)c.schedule.global_batch_size,
              (long long)c.schedule.micro_batch_size, (long long)c.parallel.data_parallel,
              (long long)config::AccumulationSteps(c), c.optimizer.lr, (long long)c.schedule.warmup_steps,
              c.schedule.min_lr_ratio);
  std::printf("  checkpoints: %s\n", c.checkpoint.dir.empty() ? "off" : c.checkpoint.dir.c_str());
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
      .Switch("no-path-check", "do not check that the files named in the configuration exist");
  if (int code = ParseOrExit(command_line, argc, argv); code >= 0) return code;
  if (command_line.Get("config").empty()) {
    return ReportStatus("train", InvalidArgument("--config is required", "e.g. alro train --config configs/tiny.yaml"));
  }
  int64_t world_size = LauncherWorldSize();
  if (command_line.Has("world")) {
    absl::StatusOr<int64_t> world = command_line.GetInt("world");
    if (!world.ok()) return ReportStatus("train", world.status());
    world_size = *world;
  }
  absl::StatusOr<config::Config> cfg = config::LoadConfig(command_line.Get("config"), command_line.GetAll("set"));
  if (!cfg.ok()) return ReportStatus("train", cfg.status());
  const absl::Status valid =
      config::ValidateConfig(*cfg, {.world_size = world_size, .check_paths = !command_line.GetSwitch("no-path-check")});
  if (!valid.ok()) return ReportStatus("train", valid);
  config::ResolveDerived(&*cfg, world_size);
  PrintPlan(*cfg, world_size);
  if (command_line.GetSwitch("dry-run")) return kExitOk;
  return NotImplemented("train (use --dry-run to validate and print the plan)");
}

}  // namespace alro::launch
