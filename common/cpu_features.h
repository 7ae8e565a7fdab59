// common/cpu_features.h: what the CPU offers that decides a compute choice.
//
// Why: bfloat16 matrix products are fast only on CPUs with native bf16 dot
// products (AVX512-BF16, AMX-BF16). Elsewhere LibTorch emulates them:
// measured on an AVX2-only AMD EPYC (core_decoder_bench, tiny preset, one
// thread), the bf16 step ran 8.5x slower than float32, in alro and in
// PyTorch's autocast alike. model.dtype "auto" asks this header.
#pragma once

#include <set>
#include <string>

namespace alro {

/// The first processor's /proc/cpuinfo flags ("avx2", "avx512f", ...), or
/// an empty set when the file cannot be read (not Linux, or not x86). Use it
/// to ask what the CPU offers; a machine's cores share one model.
std::set<std::string> CpuFlags();

/// The first /proc/cpuinfo flag among "amx_bf16" and "avx512_bf16" that this
/// machine's CPU reports, or "" when it reports neither (or the file cannot
/// be read: not Linux, or not x86).
std::string NativeBfloat16CpuFlag();

}  // namespace alro
