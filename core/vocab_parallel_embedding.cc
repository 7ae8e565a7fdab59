// core/vocab_parallel_embedding.cc: masked local lookup plus one all-reduce.
#include "core/vocab_parallel_embedding.h"

#include "common/status.h"
#include "core/compute_weight.h"
#include "distributed/tensor_parallel.h"

namespace alro::core {

int64_t PaddedVocabSize(int64_t vocab_size, int64_t tp_size) {
  return (vocab_size + tp_size - 1) / tp_size * tp_size;
}

VocabParallelEmbedding::VocabParallelEmbedding(int64_t vocab_size, int64_t hidden_size, dist::Communicator& tp,
                                               c10::Device device)
    : vocab_(vocab_size),
      hidden_(hidden_size),
      shard_(PaddedVocabSize(vocab_size, tp.size()) / tp.size()),
      start_(shard_ * tp.rank()),
      tp_(tp) {
  weight_ = register_parameter("weight", at::zeros({shard_, hidden_}, at::TensorOptions().device(device)));
}

at::Tensor VocabParallelEmbedding::Forward(const at::Tensor& tokens, at::ScalarType dtype) {
  const at::Tensor w = ComputeWeight(weight_, dtype);
  if (tp_.size() == 1) return at::embedding(w, tokens);
  const at::Tensor in_shard = (tokens >= start_).logical_and(tokens < start_ + shard_);
  // Out-of-shard ids look up row 0 and are zeroed; their gradient is zero too.
  const at::Tensor local_ids = at::where(in_shard, tokens - start_, at::zeros_like(tokens));
  const at::Tensor partial = at::embedding(w, local_ids) * in_shard.unsqueeze(-1).to(dtype);
  return dist::ReduceFromTensorParallelRegion(partial, tp_);
}

void VocabParallelEmbedding::AppendShardedParameters(const std::string& prefix,
                                                     std::vector<ShardedParameter>* out) const {
  out->push_back({prefix + "weight", weight_, 0, {vocab_, hidden_}, start_, weight_.requires_grad(), false});
}

}  // namespace alro::core
