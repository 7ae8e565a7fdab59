// train/checkpoint_format.h: the on-disk names and numbers of alro's sharded
// checkpoints, in one place. docs/checkpoint-format.md explains the format;
// this header is the single source of its constants.
//
// Layout of one checkpoint (root = config key checkpoint.dir):
//
//   root/step_00000050/
//     rank_00000.safetensors   this rank's shards of model weights and AdamW
//     rank_00001.safetensors   moments, plus its per-rank state blobs (RNG,
//     ...                      loader, PSL permutation generator) as U8 tensors
//     config.yaml              the effective configuration
//     manifest.json            written LAST by rank 0
//
// Each rank file's safetensors "__metadata__" holds its shard table
// (kShardTableKey: name, dim, offset, length, global shape of every shard)
// and its grid position (kRankKey). manifest.json merges those tables: for
// every tensor its global shape, dtype and the slice each file holds; then
// the step, configuration hash, data-manifest hash, tokenizer identity and
// code version. A checkpoint is complete iff its final-named directory has a
// manifest.json with "complete": true.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"

namespace alro::train {

/// Manifest format name and version (manifest.json "format", "format_version").
inline constexpr const char* kCheckpointFormat = "alro-checkpoint";
inline constexpr int kCheckpointFormatVersion = 1;

/// A checkpoint directory is kStepPrefix + the step in kStepDigits digits.
inline constexpr char kStepPrefix[] = "step_";
inline constexpr int kStepDigits = 8;
/// Suffix of a checkpoint directory still being written.
inline constexpr char kTmpSuffix[] = ".tmp";
/// The manifest: written last; its presence with "complete": true makes a
/// checkpoint complete.
inline constexpr char kManifestFile[] = "manifest.json";
/// The effective configuration of the run (manifest "config_file").
inline constexpr char kConfigFile[] = "config.yaml";
/// safetensors "__metadata__" keys of a rank file: its shard table and its
/// grid position and state keys.
inline constexpr char kShardTableKey[] = "alro.shards";
inline constexpr char kRankKey[] = "alro.rank";
/// Per-rank state blobs are stored as U8 tensors named kStatePrefix + key.
inline constexpr char kStatePrefix[] = "__state__.";

/// "rank_00003.safetensors": the file world rank `world_rank` writes.
inline std::string RankFileName(int world_rank) { return absl::StrFormat("rank_%05d.safetensors", world_rank); }

}  // namespace alro::train
