// core/kv_cache.h: the key/value cache of incremental decoding. Each rank
// caches only its own key/value heads (num_kv_heads / tp), in the compute
// dtype, for a batch of sequences that advance together.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

namespace alro::core {

/// Keys and values of every layer for the positions seen so far.
struct KVCache {
  /// Per layer: [B, local_kv_heads, capacity, head_dim].
  std::vector<at::Tensor> keys, values;
  /// Positions filled so far (the next token goes to position `length`).
  int64_t length = 0;
  /// Maximum number of positions.
  int64_t capacity() const { return keys.empty() ? 0 : keys[0].size(2); }
  /// Batch size the cache was made for.
  int64_t batch() const { return keys.empty() ? 0 : keys[0].size(0); }
};

}  // namespace alro::core
