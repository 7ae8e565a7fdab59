// launch/blas_info.h: which BLAS the process runs on, for plans and logs.
//
// Why: OpenBLAS picks its kernels by detecting the CPU at load time, and it
// has picked Prescott or Haswell kernels on AVX-512 machines it did not
// know, which runs matrix products several times slower with no error. The
// plan names the core OpenBLAS chose so that a user can see it and override
// it with OPENBLAS_CORETYPE (docs/performance.md).
#pragma once

#include <set>
#include <string>

namespace alro::launch {

/// The AVX-512 instructions OpenBLAS's SkylakeX kernels use; a CPU with all
/// of them can run OPENBLAS_CORETYPE=SkylakeX.
inline constexpr const char* kSkylakeXFlags[] = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"};

/// A one-line hint for the plan when OpenBLAS runs kernels older than the
/// CPU: `core` (openblas_get_corename) is not an AVX-512 kernel set
/// (SkylakeX, Cooperlake, SapphireRapids) while `cpu_flags` (CpuFlags())
/// has every kSkylakeXFlags instruction. "" otherwise, and when `core` is
/// empty (not OpenBLAS).
std::string BlasCoreAdvice(const std::string& core, const std::set<std::string>& cpu_flags);

/// BlasCoreAdvice for the OpenBLAS loaded in this process and this CPU.
std::string BlasCoreAdviceHere();

/// "OpenBLAS 0.3.21 ..., core Haswell (detected; OPENBLAS_CORETYPE overrides)"
/// when OpenBLAS is loaded in this process, else a line saying the BLAS is
/// not OpenBLAS (or unknown).
std::string BlasSummary();

}  // namespace alro::launch
