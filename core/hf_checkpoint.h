// core/hf_checkpoint.h: pretrained weights in Hugging Face layout.
//
// A model directory holds config.json and either model.safetensors or shards
// listed in model.safetensors.index.json ({"weight_map": {tensor: file}}).
// Loading maps every file (core/safetensors.h) and each rank copies only its
// own slice of each tensor (ShardedParameter offset/split_dim), so a rank
// pages in about 1/tp of the weights. Saving gathers each tensor over the
// tensor-parallel group, merges LoRA adapters into their base weights, and
// writes the same layout, so standard tools (transformers, vLLM) serve the
// result.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "core/decoder.h"

namespace alro::core {

/// Copies the weights of the Hugging Face checkpoint in `dir` into `model`
/// (this rank's slices only). The model's shape must match the checkpoint
/// (ApplyHfConfig gives it). Every expected tensor must be present with the
/// global shape and a floating-point dtype, and the checkpoint may hold no
/// other tensors (rotary_emb.inv_freq buffers of old exports are ignored, as
/// is lm_head.weight of a tied model); errors name the tensor and the file.
/// LoRA adapters keep their values. Every rank calls it; no communication.
absl::Status LoadHfCheckpoint(const std::string& dir, Decoder& model);

/// How SaveHfCheckpoint writes.
struct HfSaveOptions {
  /// Stored dtype of the weights (float32, bfloat16 or float16).
  at::ScalarType dtype = at::kFloat;
  /// Above this many bytes the weights are split into
  /// model-0000k-of-0000n.safetensors files plus an index (transformers'
  /// default shard size is 5 GB).
  uint64_t max_shard_bytes = 5'000'000'000ull;
  /// Copied into the directory as tokenizer.model when not empty.
  std::string tokenizer_model;
};

/// Writes `model` to `dir` as a Hugging Face checkpoint (config.json plus
/// safetensors), merging tensor-parallel shards and LoRA adapters. Collective
/// over the whole world: the ranks of data-parallel group 0 gather, world
/// rank 0 writes, and every rank returns rank 0's verdict (its message on
/// rank 0, a pointer to it elsewhere).
absl::Status SaveHfCheckpoint(const std::string& dir, Decoder& model, const HfSaveOptions& options = {});

}  // namespace alro::core
