// common/allocator.h: the glibc allocator settings every `alro` process
// starts with, and the benchmarks too, so that they time the step as the
// trainer runs it.
//
// Why: a training step allocates and frees tensors of a few to tens of MB
// (attention probabilities, activations). glibc serves blocks above its mmap
// threshold with mmap and returns them with munmap, so every step faults in
// and zeroes those pages again: on a 2-core machine the tiny demo spent 45%
// of its time in the kernel and trained 1.7 lists/s instead of 22. Keeping
// freed memory in the heap (no mmap, no trimming) removes that cost; the
// process's memory stays at its high-water mark, as with the caching
// allocators of large trainers.
#pragma once

#include <string>

namespace alro {

/// Applies the settings (mallopt: M_MMAP_MAX 0, M_TRIM_THRESHOLD and
/// M_TOP_PAD large) unless the user set any MALLOC_* tuning variable or
/// GLIBC_TUNABLES, or ALRO_SYSTEM_MALLOC=1. Call first thing in main() (the
/// `alro` binary and every benchmark do).
void ConfigureAllocator();

/// One line for logs and plans: what ConfigureAllocator did and how to
/// change it.
std::string AllocatorSummary();

}  // namespace alro
