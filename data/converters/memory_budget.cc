// data/converters/memory_budget.cc: resident memory, the allocator's
// settings and the conversion's memory arithmetic.
#include "data/converters/memory_budget.h"

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace alro::data {
namespace {

// Buffers at least this large are mapped and unmapped on their own.
constexpr int kMmapThresholdBytes = 256 << 10;
// Free memory at the top of the heap beyond this goes back at once.
constexpr int kTrimThresholdBytes = 1 << 20;
// glibc's defaults: mapped buffers allowed, 128 KiB of padding per sbrk.
constexpr int kMmapMax = 65536;
constexpr int kTopPadBytes = 128 << 10;

}  // namespace

int64_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  long long kib = 0;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) {
      std::sscanf(line + 6, "%lld", &kib);
      break;
    }
  }
  std::fclose(f);
  return static_cast<int64_t>(kib) * 1024;
}

void ReturnLargeFreesToTheSystem() {
  // `alro` turns mapped buffers and trimming off for training (common/
  // allocator.h); a conversion wants them back. Setting the thresholds
  // also fixes them: glibc stops raising the mmap threshold to the largest
  // buffer freed, which would keep later frees of that size resident.
  mallopt(M_MMAP_MAX, kMmapMax);
  mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
  mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes);
  mallopt(M_TOP_PAD, kTopPadBytes);
}

int64_t MemoryBudget::Reserve() const { return kMemoryReserveBytes + kMemoryReservePerThread * threads; }

int64_t MemoryBudget::TallyBytes() const { return items * kTallyBytesPerItem * (threads + kTallyExchangeCopies); }

int64_t MemoryBudget::ParseThreadFixed() const { return chunk_bytes + kParseThreadExtraBytes; }

int64_t MemoryBudget::SpillBytes() const {
  return (Left(held) - TallyBytes() - ParseThreadFixed() * threads) / std::max(1, threads);
}

int64_t MemoryBudget::ParseMinimum() const {
  return held + Reserve() + TallyBytes() + (ParseThreadFixed() + kMinSpillBytes) * threads;
}

int64_t MemoryBudget::Left(int64_t resident) const { return limit - resident - Reserve(); }

int64_t TokenizerBytes(int64_t sentences, int64_t text_bytes) {
  return kTokenizerFixedBytes + kTokenizerBytesPerSentence * sentences + kTokenizerBytesPerTextByte * text_bytes;
}

}  // namespace alro::data
