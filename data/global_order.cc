// data/global_order.cc: shard-order shuffle plus a simulated shuffle buffer.
#include "data/global_order.h"

#include <numeric>

#include "common/status.h"
#include "data/random.h"

namespace alro::data {
namespace {

// Domain separator so that epoch orders never reuse another stream's seeds.
constexpr uint64_t kOrderStream = 0x6f72646572ull;  // "order"

}  // namespace

std::vector<int64_t> EpochOrder(const std::vector<int64_t>& shard_records, uint64_t seed, int64_t epoch,
                                int64_t shuffle_buffer) {
  ALRO_CHECK(shuffle_buffer >= 1, "shuffle_buffer ", shuffle_buffer);
  Rng rng(HashCombine(HashCombine(seed, kOrderStream), static_cast<uint64_t>(epoch)));
  std::vector<int64_t> first(shard_records.size());
  int64_t total = 0;
  for (size_t s = 0; s < shard_records.size(); ++s) {
    first[s] = total;
    total += shard_records[s];
  }
  std::vector<size_t> shard_order(shard_records.size());
  std::iota(shard_order.begin(), shard_order.end(), 0);
  rng.Shuffle(&shard_order);

  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(total));
  std::vector<int64_t> buffer;
  buffer.reserve(static_cast<size_t>(std::min<int64_t>(shuffle_buffer, total)));
  for (size_t s : shard_order) {
    for (int64_t r = 0; r < shard_records[s]; ++r) {
      const int64_t incoming = first[s] + r;
      if (static_cast<int64_t>(buffer.size()) < shuffle_buffer) {
        buffer.push_back(incoming);
        continue;
      }
      const size_t pick = static_cast<size_t>(rng.Uniform(buffer.size()));
      out.push_back(buffer[pick]);
      buffer[pick] = incoming;
    }
  }
  while (!buffer.empty()) {
    const size_t pick = static_cast<size_t>(rng.Uniform(buffer.size()));
    out.push_back(buffer[pick]);
    buffer[pick] = buffer.back();
    buffer.pop_back();
  }
  return out;
}

}  // namespace alro::data
