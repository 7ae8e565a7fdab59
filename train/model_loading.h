// train/model_loading.h: a model and its configuration from a checkpoint, at
// whatever parallel shape the current job has (`alro eval`, `alro rank`,
// `alro ckpt export`).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "core/decoder.h"
#include "data/tokenizer.h"
#include "distributed/process_grid.h"
#include "train/checkpoint.h"

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

/// Checks that `tokenizer` is the one the checkpoint records (its size and
/// CRC32C, TokenizerIdentity); a different one is a user error naming both.
/// A checkpoint that records none (written by an older alro) passes with a
/// warning. `alro eval`, `alro rank` and a resumed run call it.
absl::Status CheckCheckpointTokenizer(const CheckpointReader& reader, const data::Tokenizer& tokenizer);

}  // namespace alro::train
