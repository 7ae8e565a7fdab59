// train/trainer.h: the synchronized training loop of `alro train`.
//
// One optimizer step, identical on every rank of the job:
//   for each of the A accumulation micro-steps (A = global batch /
//   (micro batch x dp)):
//     the loader's micro-batch (each list followed by its P permuted copies)
//     -> Decoder::Forward -> LM-head logits at the m answer slots
//     -> identifier logits [N, m, m] (the Y matrices after a softmax)
//     -> losses::Objective (LM + SLL + PSL, each term reported)
//     -> backward of loss / A (gradients accumulate)
//   data-parallel gradient averaging (dist::GradientSynchronizer)
//   NaN/Inf check of every term on every rank (one all-reduce): stop the run
//     or skip the step (logging.on_nan), naming the step, term and ranks
//   clip by the global gradient norm (train/grad_clip.h)
//   AdamW with the warmup + cosine learning rate
// Every data-parallel rank gets a batch at every step by construction of the
// loader, so every rank takes the same number of steps and collectives.
//
// Around it: periodic log lines and metrics.jsonl (train/metrics_log.h),
// validation (train/evaluator.h), sharded checkpoints with retention and
// resume at any (dp, tp) shape (train/checkpoint.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "config/config.h"
#include "core/decoder.h"
#include "data/eval_reader.h"
#include "data/loader.h"
#include "distributed/grad_sync.h"
#include "distributed/process_grid.h"
#include "losses/objective.h"
#include "train/metrics_log.h"
#include "train/optimizer.h"
#include "train/shared_prefix_layout.h"
#include "train/step_profiler.h"

namespace alro::train {

/// The numbers of one optimizer step, identical on every rank.
struct StepStats {
  int64_t step = 0;  ///< 1-based: the step just completed
  /// ("loss", total), ("lm", ...), ("sll", ...), ("psl", ...), ("lambdaloss", ...),
  /// averaged over micro-steps and data-parallel ranks.
  std::vector<std::pair<std::string, double>> terms;
  double lr = 0.0;
  double grad_norm = 0.0;  ///< before clipping
  int64_t tokens = 0;      ///< tokens in the global batch (copies included)
  int64_t lists = 0;       ///< original lists in the global batch
  double seconds = 0.0;
  bool skipped = false;    ///< a non-finite term with logging.on_nan=skip

  /// The value of term `name` (0 when absent).
  double Term(const std::string& name) const;
};

/// Knobs that are not part of the YAML configuration.
struct TrainerOptions {
  /// Peak FLOP/s of one rank for the model-FLOPs utilisation estimate;
  /// 0 = measure a float32 matrix multiply at start (CPU) or assume an
  /// A100's bf16 peak (CUDA).
  double peak_flops_per_rank = 0.0;
  /// Write no console lines (tests).
  bool quiet = false;
  /// This rank's node-local rank (dist::MpiRuntime::local_rank()): with
  /// parallel.device=cuda it picks the GPU (distributed/device.h).
  int local_rank = 0;
  /// Steps whose operator profile is written to logging.dir
  /// (train/step_profiler.h; `alro train --profile-steps`).
  ProfileWindow profile_steps;
};

/// One training job on one rank. Create() on every rank with the same
/// configuration; then Train(), or Step() by step (tests).
class Trainer {
 public:
  /// Builds the model (random, pretrained or from checkpoint.resume), the
  /// optimizer, the loader and the objective, checks that every rank runs the
  /// same job, and restores the checkpoint when resuming. `config` must be
  /// validated and resolved (config::ResolveDerived) for grid.world_size().
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(const config::Config& config, dist::ProcessGrid& grid,
                                                          const TrainerOptions& options = {});
  ~Trainer();

  /// Runs to schedule.steps: steps, logs, validates, checkpoints (and a final
  /// checkpoint and validation). Returns the error that stopped the run, the
  /// same on every rank (a non-finite loss under on_nan=stop included).
  absl::Status Train();

  /// One optimizer step (see the file comment). A non-finite term under
  /// on_nan=stop returns kAborted on every rank, naming step, term and ranks.
  absl::StatusOr<StepStats> Step();

  /// Validation on data.eval_split (logging.eval_lists lists); every rank
  /// returns the same summary. Also appended to metrics.jsonl.
  absl::StatusOr<nlohmann::ordered_json> Validate();

  /// Writes a checkpoint of the current step under checkpoint.dir.
  absl::StatusOr<std::string> SaveCheckpointNow();

  /// Estimated model-FLOPs utilisation at `tokens_per_s` (whole job): the
  /// training FLOPs of those tokens (config/model_size.h at the mean sequence
  /// length seen so far, with the LM head counted only at the answer slots,
  /// where the trainer applies it) over the peak FLOP/s of all ranks.
  double EstimatedMfu(double tokens_per_s) const;

  /// Optimizer steps completed (including those before a resume).
  int64_t step() const { return step_; }
  /// The checkpoint this run resumed from, if any.
  const std::optional<std::string>& resumed_from() const { return resumed_from_; }
  core::Decoder& model() { return *model_; }
  const config::Config& config() const { return config_; }
  /// Every StepStats of this process's run, in order.
  const std::vector<StepStats>& history() const { return history_; }

 private:
  Trainer(const config::Config& config, dist::ProcessGrid& grid, const TrainerOptions& options);
  absl::Status Initialize();
  absl::Status Restore(const std::string& dir);
  // Forward and backward of one micro-batch; adds its terms to `sums`.
  absl::Status MicroStep(int64_t micro, int64_t accumulation, std::vector<double>* sums, int64_t* tokens,
                         int64_t* lists);
  void LogStep(const StepStats& stats);

  config::Config config_;
  dist::ProcessGrid& grid_;
  TrainerOptions options_;
  std::shared_ptr<core::Decoder> model_;
  std::vector<core::ShardedParameter> trainable_;
  std::unique_ptr<AdamW> optimizer_;
  std::unique_ptr<dist::GradientSynchronizer> grad_sync_;
  std::optional<losses::Objective> objective_;
  std::shared_ptr<const data::PromptRenderer> renderer_;
  std::unique_ptr<data::Loader> loader_;
  std::unique_ptr<data::EvalReader> eval_reader_;
  MetricsLog metrics_;
  int64_t step_ = 0;
  int64_t accumulation_ = 1;
  int64_t pad_id_ = 0;
  LayoutOptions layout_;  // objective.shared_prefix and pack_lists, parsed once
  double peak_flops_ = 0.0;
  double step_seconds_ema_ = 0.0;
  std::string data_hash_;
  std::optional<std::string> resumed_from_;
  std::vector<StepStats> history_;
  int64_t answer_slots_ = 0;  // m of the latest batch (for the MFU estimate)
};

}  // namespace alro::train
