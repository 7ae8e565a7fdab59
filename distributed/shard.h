// distributed/shard.h: how a dimension of n rows is split over `parts` ranks.
//
// Convention (used by ReduceScatter and available to any module that shards
// unevenly): the first n % parts shards get one extra row, so shard sizes
// differ by at most one and shard `index` starts at
//   index * (n / parts) + min(index, n % parts).
// Tensor-parallel layers split evenly (n divisible by parts), where this is
// simply [index * n/parts, (index+1) * n/parts).
#pragma once

#include <algorithm>
#include <cstdint>

namespace alro::dist {

/// One contiguous slice [begin, begin + size) of a dimension.
struct Shard {
  int64_t begin = 0;
  int64_t size = 0;
};

/// The slice of `n` rows that rank `index` of `parts` owns (see above).
inline Shard ShardOf(int64_t n, int64_t parts, int64_t index) {
  const int64_t base = n / parts;
  const int64_t extra = n % parts;
  return Shard{index * base + std::min(index, extra), base + (index < extra ? 1 : 0)};
}

}  // namespace alro::dist
