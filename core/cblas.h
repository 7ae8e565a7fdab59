// core/cblas.h: the process's CBLAS gemm, found at run time, for the kernels
// that multiply raw strided matrices (BatchedMatmul, the tiled attention).
//
// Why at run time: nothing in alro links against a particular BLAS. Under
// Debian's LibTorch the process has OpenBLAS loaded; a LibTorch 2.x wheel
// brings its own. dlsym(RTLD_DEFAULT) finds whichever CBLAS is loaded, and a
// caller without one falls back to ATen's matmul.
#pragma once

#include <cstdint>

namespace alro::core::cblas {

/// True when the process has a CBLAS sgemm and dgemm (looked up once).
bool Available();

/// Row-major C = alpha * op(A) @ op(B) + beta * C, op = transpose where
/// `trans_*` is set: A is m x k after op, B is k x n, C is m x n, each with
/// its leading dimension (elements between rows as stored). Requires
/// Available(); float and double.
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

}  // namespace alro::core::cblas
