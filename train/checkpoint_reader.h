// train/checkpoint_reader.h: a complete checkpoint opened for reading, at any
// parallel shape (format: train/checkpoint_format.h).
//
// Resharding on load: LoadInto narrows every stored slice to the slice the
// current rank needs, so a checkpoint saved at any (dp, tp) loads at any
// other; rows past the stored extent along the split dimension (vocabulary
// padding that differs between tensor-parallel sizes) are zero-filled.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/safetensors.h"
#include "core/sharded_parameter.h"
#include "nlohmann/json.hpp"

namespace alro::train {

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
