// common/allocator.cc: glibc malloc settings (see allocator.h).
#include "common/allocator.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

extern char** environ;

namespace alro {
namespace {

// Heap growth per sbrk and the trim threshold: freed memory below this stays.
constexpr int kTopPadBytes = 256 << 20;
constexpr int kTrimThresholdBytes = 1 << 30;

// What ConfigureAllocator decided, for AllocatorSummary.
const char* g_summary = "glibc malloc defaults";

// True when the user tunes glibc malloc themselves.
bool UserTunesMalloc() {
  if (const char* v = std::getenv("ALRO_SYSTEM_MALLOC"); v != nullptr && std::strcmp(v, "1") == 0) return true;
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return true;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "MALLOC_", 7) == 0) return true;
  }
  return false;
}

}  // namespace

void ConfigureAllocator() {
  if (UserTunesMalloc()) {
    g_summary = "glibc malloc as the environment sets it (MALLOC_* / GLIBC_TUNABLES / ALRO_SYSTEM_MALLOC)";
    return;
  }
  const bool ok = mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes) == 1 &&
                  mallopt(M_TOP_PAD, kTopPadBytes) == 1;
  g_summary = ok ? "glibc malloc without mmap or trimming (freed tensors stay in the heap; ALRO_SYSTEM_MALLOC=1 = "
                   "defaults)"
                 : "glibc malloc defaults (mallopt refused the settings)";
}

std::string AllocatorSummary() { return g_summary; }

}  // namespace alro
