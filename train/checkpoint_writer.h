// train/checkpoint_writer.h: the write protocol of sharded checkpoints
// (format: train/checkpoint_format.h, docs/checkpoint-format.md).
//
// Every rank writes its own file in parallel. Tensors that are replicated
// (across data-parallel replicas, or across tensor-parallel ranks for norms)
// are written once: shards of a split tensor by the tensor-parallel ranks of
// data-parallel replica (i mod dp), a replicated tensor by one rank chosen the
// same way, so the bytes are spread over all ranks. After a barrier rank 0
// reads the rank files' shard tables and writes manifest.json.
//
// Atomicity: everything is written under root/step_00000050.tmp, every file
// fsynced, then the directory is renamed to its final name and root fsynced.
// A crash at any moment therefore leaves the previous checkpoint as the
// newest complete one, and the stale .tmp directory is removed by the next
// successful save.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/sharded_parameter.h"
#include "distributed/process_grid.h"
#include "nlohmann/json.hpp"
#include "train/checkpoint_dirs.h"

namespace alro::train {

/// What one rank contributes to a checkpoint. Every rank passes the same
/// tensor names in the same order (its own slices), the same step and config.
struct CheckpointContents {
  int64_t step = 0;                      ///< optimizer steps completed
  /// Weights and optimizer moments: this rank's slice of each global tensor
  /// (AdamW moments reuse their parameter's layout under AdamW::ExpAvgName
  /// names). Vocabulary-padding rows past global_shape are not saved.
  std::vector<core::ShardedParameter> tensors;
  std::map<std::string, std::string> rank_state;  ///< per-rank blobs: "rng", "loader", ...
  std::string config_yaml;               ///< config::ConfigToYaml of the run
  uint64_t config_hash = 0;
  std::string data_manifest_hash;        ///< DataManifestHash(data.dir)
  /// The tokenizer the run renders prompts with: {"name", "bytes", "crc32c"}
  /// (TokenizerIdentity); empty = not recorded.
  nlohmann::json tokenizer = nlohmann::json::object();
  nlohmann::json extra = nlohmann::json::object();  ///< anything else for the manifest ("metrics", ...)
};

/// Writes a checkpoint of `contents` under `root` (created if needed) and
/// applies `retention`. Collective over grid.world(): every rank must call it.
/// Returns the final directory. If any rank fails to write, every rank gets an
/// error and no complete checkpoint appears for this step.
absl::StatusOr<std::string> SaveCheckpoint(const std::string& root, const CheckpointContents& contents,
                                           const RetentionPolicy& retention, dist::ProcessGrid& grid);

/// The protocol's steps one at a time, for a single process that writes
/// every rank's file itself (ReshardCheckpoint).
///
/// Writes world rank `world_rank`'s file of a job laid out as `layout` into
/// `tmp_dir`: its share of `contents.tensors`, its state blobs and its shard table.
absl::Status WriteRankFile(const std::string& tmp_dir, const CheckpointContents& contents,
                           const dist::GridLayout& layout, int world_rank);
/// After every rank file is in `tmp_dir`: writes the manifest and the
/// configuration, renames `tmp_dir` to `final_dir` (replacing one of the
/// same step) and applies `retention` under `root`.
absl::Status PublishCheckpoint(const std::string& root, const std::string& tmp_dir, const std::string& final_dir,
                               const CheckpointContents& contents, const RetentionPolicy& retention,
                               const dist::GridLayout& layout);

}  // namespace alro::train
