// launch/blas_info.h: which BLAS the process runs on, for plans and logs.
//
// Why: OpenBLAS picks its kernels by detecting the CPU at load time, and it
// has picked Prescott or Haswell kernels on AVX-512 machines it did not
// know, which runs matrix products several times slower with no error. The
// plan names the core OpenBLAS chose so that a user can see it and override
// it with OPENBLAS_CORETYPE (docs/performance.md).
#pragma once

#include <string>

namespace alro::launch {

/// "OpenBLAS 0.3.21 ..., core Haswell (detected; OPENBLAS_CORETYPE overrides)"
/// when OpenBLAS is loaded in this process, else a line saying the BLAS is
/// not OpenBLAS (or unknown).
std::string BlasSummary();

}  // namespace alro::launch
