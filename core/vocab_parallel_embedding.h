// core/vocab_parallel_embedding.h: Megatron-LM's VocabParallelEmbedding.
//
// The vocabulary is padded to a multiple of the tensor-parallel size and
// split into equal contiguous shards; rank r holds rows
// [r*shard, (r+1)*shard). Each rank looks up the tokens that fall in its
// shard (zeros for the others) and one all-reduce assembles the embeddings.
// Padding rows (ids >= vocab_size) exist only on the last shard; they are
// zero and never looked up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "core/sharded_parameter.h"
#include "distributed/communicator.h"

namespace alro::core {

/// The vocabulary size rounded up to a multiple of `tp_size`.
int64_t PaddedVocabSize(int64_t vocab_size, int64_t tp_size);

/// Token embedding split over the vocabulary (see the file comment).
class VocabParallelEmbedding : public torch::nn::Module {
 public:
  VocabParallelEmbedding(int64_t vocab_size, int64_t hidden_size, dist::Communicator& tp, c10::Device device);

  /// tokens [...] int64 global ids in [0, vocab_size) -> [..., hidden] in `dtype`.
  at::Tensor Forward(const at::Tensor& tokens, at::ScalarType dtype);

  /// This rank's shard [shard_size, hidden].
  const at::Tensor& weight() const { return weight_; }
  int64_t vocab_start() const { return start_; }
  int64_t shard_size() const { return shard_; }
  void AppendShardedParameters(const std::string& prefix, std::vector<ShardedParameter>* out) const;

 private:
  int64_t vocab_, hidden_, shard_, start_;
  dist::Communicator& tp_;
  at::Tensor weight_;
};

}  // namespace alro::core
