// train/model_loading.h: a model and its configuration from a checkpoint, at
// whatever parallel shape the current job has (`alro eval`, `alro rank`,
// `alro ckpt export`), and the one start-up path of the commands that run a
// trained model (LoadTrainedModel).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/config.h"
#include "core/decoder.h"
#include "data/prompt.h"
#include "data/tokenizer.h"
#include "distributed/process_grid.h"
#include "train/checkpoint_reader.h"

namespace alro::train {

/// The configuration `reader`'s checkpoint was trained with (its
/// config.yaml), re-laid for a job of `world_size` ranks with
/// `tensor_parallel` (data_parallel = world / tensor_parallel), then
/// `overrides` ("key=value", as --set) applied. Validated without path checks.
absl::StatusOr<config::Config> ConfigFromCheckpoint(const CheckpointReader& reader, int64_t world_size,
                                                    int64_t tensor_parallel,
                                                    const std::vector<std::string>& overrides = {});

/// A decoder for `grid` on `device` holding the checkpoint's weights
/// (resharded from the shape that saved them), in eval mode. Every rank of
/// the grid calls it.
absl::StatusOr<std::shared_ptr<core::Decoder>> LoadModelFromCheckpoint(const CheckpointReader& reader,
                                                                      const config::ModelConfig& model,
                                                                      dist::ProcessGrid& grid,
                                                                      c10::Device device = c10::Device(c10::kCPU));

/// What a job that takes --set should do when its tokenizer is not the
/// checkpoint's (CheckCheckpointTokenizer's default advice).
inline constexpr char kCheckpointTokenizerHint[] =
    "use the tokenizer the model was trained with: the data set it was trained on (data.dir) or "
    "--set model.tokenizer=PATH to that exact file";

/// Checks that `tokenizer` is the one the checkpoint records (its size and
/// CRC32C, TokenizerIdentity); a different one is a user error naming both,
/// with `hint` as its advice (commands without --set pass their own).
/// A checkpoint that records none (written by an older alro) passes with a
/// warning. `alro eval`, `alro rank`, `alro ckpt export` and a resumed run
/// call it.
absl::Status CheckCheckpointTokenizer(const CheckpointReader& reader, const data::Tokenizer& tokenizer,
                                      absl::string_view hint = kCheckpointTokenizerHint);

/// What LoadTrainedModel needs to know about the job.
struct TrainedModelRequest {
  /// A checkpoint directory, or a root whose newest complete one is meant
  /// (ResolveCheckpointDir).
  std::string checkpoint;
  int64_t world_size = 1;       ///< ranks of this job
  int local_rank = 0;           ///< node-local rank (picks the GPU)
  int64_t tensor_parallel = 1;  ///< this job's tensor-parallel size
  std::vector<std::string> overrides;  ///< --set overrides of the checkpoint's configuration
  /// Called on every rank once the grid exists, before the model is built;
  /// an error stops the start-up (e.g. `alro rank` checking its output).
  std::function<absl::Status(dist::ProcessGrid&)> before_model;
};

/// A trained model ready to rank, with everything it was loaded with.
struct TrainedModel {
  CheckpointReader checkpoint;             ///< the resolved checkpoint
  config::Config config;                   ///< its configuration, re-laid for this job
  std::unique_ptr<dist::ProcessGrid> grid;  ///< over MPI_COMM_WORLD (the model keeps a reference)
  c10::Device device = c10::Device(c10::kCPU);
  std::shared_ptr<core::Decoder> model;
  /// Renders prompts with the tokenizer the checkpoint was trained with
  /// (checked: CheckCheckpointTokenizer).
  std::shared_ptr<const data::PromptRenderer> renderer;
};

/// The start-up of every command that runs a trained model, in one order on
/// every rank: checkpoint -> configuration -> grid -> device -> model ->
/// prompt renderer (its tokenizer checked against the checkpoint's).
/// Collective over MPI_COMM_WORLD (MPI must be initialised).
absl::StatusOr<TrainedModel> LoadTrainedModel(const TrainedModelRequest& request);

}  // namespace alro::train
