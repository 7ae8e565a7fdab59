// core/parallel_linear.h: Megatron-LM's ColumnParallelLinear and
// RowParallelLinear (no bias, as in LLaMA), with optional LoRA adapters
// sharded consistently with the base weight.
//
// Column-parallel: W [out, in] is split by output rows; rank r holds
//   W_r = W[r*out/tp : (r+1)*out/tp, :] and computes y_r = Copy(x) W_r^T,
//   its slice of the output features (no gather: the next row-parallel layer
//   consumes the slice). LoRA: A [rank, in] replicated, B split by rows like W.
//   A enters the parallel region through Copy, so its gradient is summed over
//   the ranks' partial contributions.
// Row-parallel: W [out, in] is split by input columns; rank r holds
//   W_r = W[:, r*in/tp : (r+1)*in/tp] and computes y = Reduce(x_r W_r^T).
//   LoRA: A split by columns like W, B [out, rank] replicated; A x_r is
//   reduced together with the main output in one all-reduce, and B is applied
//   to the reduced (replicated) result.
//
// Weights are float32 master weights; the matmuls run in the dtype of the
// input (float32 or bf16) on core/compute_weight.h's cast-once copies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "core/lora.h"
#include "core/sharded_parameter.h"
#include "distributed/communicator.h"

namespace alro::core {

/// Output-feature-parallel linear layer (see the file comment).
class ColumnParallelLinear : public torch::nn::Module {
 public:
  /// `out_features` must divide by tp.size(). The weights are created (as
  /// zeros) on `device`. `valid_out` (default out_features) is the logical
  /// output size when the last rows are padding (the vocabulary-parallel LM
  /// head).
  ColumnParallelLinear(int64_t in_features, int64_t out_features, dist::Communicator& tp, const LoraSpec& lora,
                       at::Generator dropout_rng, c10::Device device, int64_t valid_out = -1);

  /// y_local = Copy(x) W_r^T (+ LoRA): this rank's output features.
  at::Tensor Forward(const at::Tensor& x);
  /// The same for an `x` that has already passed CopyToTensorParallelRegion
  /// (q/k/v and gate/up share one copy of their input, so their input
  /// gradients are all-reduced once).
  at::Tensor ForwardCopied(const at::Tensor& x_copied);
  /// ForwardCopied of each of `layers` on the same x_copied, in order. Where
  /// none has an adapter, one node computes them all (LinearProducts), so
  /// x's gradient is summed in place rather than by autograd.
  static std::vector<at::Tensor> ForwardCopiedGroup(const at::Tensor& x_copied,
                                                    const std::vector<ColumnParallelLinear*>& layers);

  /// This rank's weight shard [out/tp, in].
  const at::Tensor& weight() const { return weight_; }
  /// W_r + scale B_r A: the shard with the adapter folded in (a copy; W_r
  /// itself when there is no adapter).
  at::Tensor MergedWeight() const;
  /// Appends this layer's parameters, named `prefix` + "weight", ... .
  void AppendShardedParameters(const std::string& prefix, std::vector<ShardedParameter>* out) const;

  int64_t local_out_features() const { return local_out_; }
  int64_t out_offset() const { return offset_; }

 private:
  int64_t in_, out_, valid_out_, local_out_, offset_;
  dist::Communicator& tp_;
  LoraSpec lora_;
  at::Generator rng_;
  at::Tensor weight_, lora_a_, lora_b_;
};

/// Input-feature-parallel linear layer (see the file comment); the input is
/// already split (input_is_parallel in Megatron's terms).
class RowParallelLinear : public torch::nn::Module {
 public:
  /// `in_features` must divide by tp.size(). The weights are created (as
  /// zeros) on `device`.
  RowParallelLinear(int64_t in_features, int64_t out_features, dist::Communicator& tp, const LoraSpec& lora,
                    at::Generator dropout_rng, c10::Device device);

  /// y = Reduce(x_r W_r^T) (+ LoRA), replicated on every rank.
  at::Tensor Forward(const at::Tensor& x_local);

  const at::Tensor& weight() const { return weight_; }
  /// W_r + scale B A_r (a copy; W_r itself when there is no adapter).
  at::Tensor MergedWeight() const;
  void AppendShardedParameters(const std::string& prefix, std::vector<ShardedParameter>* out) const;

 private:
  int64_t in_, out_, local_in_, offset_;
  dist::Communicator& tp_;
  LoraSpec lora_;
  at::Generator rng_;
  at::Tensor weight_, lora_a_, lora_b_;
};

}  // namespace alro::core
