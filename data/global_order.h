// data/global_order.h: the order in which one epoch visits a split's
// records, a function of (seed, epoch, shard record counts, buffer size)
// only, so every rank computes the same order without talking.
//
// It simulates what a streaming reader with a bounded shuffle buffer does:
// visit the shards in a shuffled order, stream each shard's records in
// file order into a buffer of `shuffle_buffer` slots, and once the buffer
// is full emit a uniformly chosen slot for every record that comes in;
// drain it at the end. Because it only shuffles indices, the loader then
// reads exactly the records it needs with indexed access.
#pragma once

#include <cstdint>
#include <vector>

namespace alro::data {

/// Record indices (into the split, 0..sum(shard_records)-1) in the order of
/// epoch `epoch`: a permutation.
std::vector<int64_t> EpochOrder(const std::vector<int64_t>& shard_records, uint64_t seed, int64_t epoch,
                                int64_t shuffle_buffer);

}  // namespace alro::data
