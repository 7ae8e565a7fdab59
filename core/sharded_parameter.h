// core/sharded_parameter.h: how one parameter of the decoder is laid over
// the tensor-parallel ranks. Checkpoints, the Hugging Face export and the
// optimizer read these records instead of guessing from names.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

namespace alro::core {

/// One parameter as this rank holds it.
///
/// `tensor` is this rank's shard: the slice [offset, offset + tensor.size(split_dim))
/// of dimension `split_dim` of a logical tensor of `global_shape`, or the
/// whole tensor when split_dim == -1 (replicated on every tensor-parallel
/// rank). The vocabulary dimension is padded to a multiple of the
/// tensor-parallel size, so the last shard of embed_tokens / lm_head may hold
/// rows past global_shape[split_dim]; those padding rows are zero, never
/// trained, and never saved (see valid_length()).
struct ShardedParameter {
  std::string name;  ///< Hugging Face name, e.g. model.layers.0.self_attn.q_proj.weight
  at::Tensor tensor;
  int split_dim = -1;  ///< -1 = replicated
  std::vector<int64_t> global_shape;
  int64_t offset = 0;  ///< start of this shard along split_dim
  bool trainable = true;
  bool no_decay = false;  ///< norms: no weight decay

  /// Rows of `tensor` along split_dim that belong to the logical tensor
  /// (the rest is vocabulary padding); the full size when replicated.
  int64_t valid_length() const {
    if (split_dim < 0) return tensor.dim() == 0 ? 1 : tensor.size(0);
    const int64_t local = tensor.size(split_dim);
    return std::max<int64_t>(0, std::min<int64_t>(local, global_shape[split_dim] - offset));
  }
};

}  // namespace alro::core
