// train/checkpoint.h: sharded checkpoints on shared storage, with resume and
// resharding.
//
// Layout of one checkpoint (root = config key checkpoint.dir):
//
//   root/step_00000050/
//     rank_00000.safetensors   this rank's shards of model weights and AdamW
//     rank_00001.safetensors   moments, plus its per-rank state blobs (RNG,
//     ...                      loader, PSL permutation generator) as U8 tensors
//     config.yaml              the effective configuration
//     manifest.json            written LAST by rank 0 (see below)
//
// Every rank writes its own file in parallel. Tensors that are replicated
// (across data-parallel replicas, or across tensor-parallel ranks for norms)
// are written once: shards of a split tensor by the tensor-parallel ranks of
// data-parallel replica (i mod dp), a replicated tensor by one rank chosen the
// same way, so the bytes are spread over all ranks. Each file's
// "__metadata__" holds its shard table (name, dim, offset, length, global
// shape); after a barrier rank 0 reads those headers and writes manifest.json
// with, for every tensor, its global shape and the slice (dim, offset,
// length) each file holds; then the step, configuration hash, data-manifest
// hash and code version.
//
// Atomicity: everything is written under root/step_00000050.tmp, every file
// fsynced, then the directory is renamed to its final name and root fsynced.
// A checkpoint is complete iff its final-named directory has a manifest.json
// with "complete": true; a crash at any moment therefore leaves the previous
// checkpoint as the newest complete one, and the stale .tmp directory is
// removed by the next successful save.
//
// Resharding: a reader narrows every stored slice to the slice the current
// rank needs (LoadInto), so a checkpoint saved at any (dp, tp) loads at any
// other; rows past the stored extent along the split dimension (vocabulary
// padding that differs between tensor-parallel sizes) are zero-filled.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/safetensors.h"
#include "core/sharded_parameter.h"
#include "distributed/process_grid.h"
#include "nlohmann/json.hpp"

namespace alro::train {

/// Manifest format name and version (manifest.json "format", "format_version").
inline constexpr const char* kCheckpointFormat = "alro-checkpoint";
inline constexpr int kCheckpointFormatVersion = 1;

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

/// Retention policy (config keys checkpoint.keep_last, checkpoint.keep_every).
struct RetentionPolicy {
  int64_t keep_last = 2;
  int64_t keep_every = 0;  ///< 0 = none
};

/// "root/step_00000050".
std::string CheckpointPath(const std::string& root, int64_t step);

/// Writes a checkpoint of `contents` under `root` (created if needed) and
/// applies `retention`. Collective over grid.world(): every rank must call it.
/// Returns the final directory. If any rank fails to write, every rank gets an
/// error and no complete checkpoint appears for this step.
absl::StatusOr<std::string> SaveCheckpoint(const std::string& root, const CheckpointContents& contents,
                                           const RetentionPolicy& retention, dist::ProcessGrid& grid);

/// Steps of the complete checkpoints under `root`, ascending (empty when the
/// directory does not exist). Incomplete (.tmp or manifest-less) ones are skipped.
std::vector<int64_t> ListCompleteCheckpoints(const std::string& root);

/// Resolves config key checkpoint.resume: "none" -> nullopt; "auto" -> the
/// newest complete checkpoint under `root` (nullopt when there is none yet);
/// anything else is a checkpoint directory that must be complete.
absl::StatusOr<std::optional<std::string>> ResolveResume(const std::string& resume, const std::string& root);

/// Removes complete checkpoints that `retention` does not keep, and stale
/// .tmp directories, under `root`. Called by rank 0 after each save.
absl::Status ApplyRetention(const std::string& root, const RetentionPolicy& retention);

/// A hash of data.dir/manifest.json's bytes ("crc32c:xxxxxxxx"), recorded in
/// checkpoints so that a resume on different data is noticed. Empty when the
/// directory has no manifest.
std::string DataManifestHash(const std::string& data_dir);

/// What a checkpoint records of a tokenizer (name, bytes, CRC32C as 8 hex
/// digits), so that `alro eval`, `alro rank` and a resume can refuse another.
nlohmann::json TokenizerIdentity(const std::string& name, uint64_t bytes, uint32_t crc32c);

/// The version of alro that wrote a checkpoint: "0.1.0+<git commit>".
std::string CodeVersion();

class CheckpointReader;

/// Writes checkpoint `src` again under `dst_root` laid out as a job of
/// data_parallel x tensor_parallel ranks would save it (`alro ckpt reshard`;
/// single process, one target rank in memory at a time). A split tensor is
/// cut into tensor_parallel slices of ceil(n / tensor_parallel) rows, the
/// decoder's layout (vocabulary padding included); target rank r's state
/// blobs are saved rank r's (rank 0's when the source had fewer ranks).
absl::StatusOr<std::string> ReshardCheckpoint(const CheckpointReader& src, const std::string& dst_root,
                                              int data_parallel, int tensor_parallel);

/// A complete checkpoint opened for reading (any rank, any grid shape).
class CheckpointReader {
 public:
  /// Reads and validates `dir`/manifest.json. Errors name the file and key.
  static absl::StatusOr<CheckpointReader> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const nlohmann::json& manifest() const { return manifest_; }
  int64_t step() const { return step_; }
  /// The configuration the checkpoint was written with (config.yaml).
  absl::StatusOr<std::string> ConfigYaml() const;

  /// True when the checkpoint stores a tensor called `name`.
  bool Has(const std::string& name) const;
  /// Global shape of `name` as stored.
  absl::StatusOr<std::vector<int64_t>> GlobalShape(const std::string& name) const;
  /// Names of every stored tensor, sorted.
  std::vector<std::string> TensorNames() const;
  /// The dimension `name` was split along when saved (-1 = replicated).
  int SplitDim(const std::string& name) const;
  /// Keys of the per-rank state blobs of saved world rank `world_rank`.
  std::vector<std::string> RankStateKeys(int world_rank) const;

  /// Fills `shard.tensor` (in place, converting the dtype) with the slice
  /// [offset, offset + shard.tensor.size(split_dim)) of the stored global
  /// tensor, assembled from whichever stored shards overlap it. Errors name
  /// the tensor: missing, shape mismatch, or a part no stored shard covers.
  absl::Status LoadInto(const core::ShardedParameter& shard) const;

  /// The whole tensor `name` assembled from its shards (for export/inspect).
  absl::StatusOr<at::Tensor> ReadFull(const std::string& name) const;

  /// The per-rank blob `key` saved by world rank `world_rank`. When the
  /// checkpoint was written by fewer ranks, rank 0's blob is returned.
  absl::StatusOr<std::string> RankState(const std::string& key, int world_rank) const;

  /// Number of ranks that wrote the checkpoint.
  int saved_world_size() const { return saved_world_size_; }

 private:
  struct StoredShard {
    std::string file;
    int dim = -1;
    int64_t offset = 0;
    int64_t length = 0;
  };
  struct StoredTensor {
    std::vector<int64_t> shape;
    std::vector<StoredShard> shards;
  };
  // The reader of `file` (opened on first use and cached).
  absl::StatusOr<const core::SafetensorsReader*> File(const std::string& file) const;

  std::string dir_;
  nlohmann::json manifest_;
  int64_t step_ = 0;
  int saved_world_size_ = 0;
  std::map<std::string, StoredTensor> tensors_;
  std::vector<std::string> rank_files_;  // by world rank
  mutable std::map<std::string, std::shared_ptr<core::SafetensorsReader>> files_;
};

}  // namespace alro::train
