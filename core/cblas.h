// core/cblas.h: the process's gemm, found at run time, for the kernels that
// multiply raw strided matrices (the linears' LinearProduct, BatchedMatmul,
// the tiled attention).
//
// Why at run time: nothing in alro links against a particular BLAS. Under
// Debian's LibTorch the process has OpenBLAS (CBLAS) and oneDNN loaded; a
// LibTorch wheel brings its own BLAS and links oneDNN without exporting its
// C API, so there every float32 product goes to CBLAS.
// dlsym(RTLD_DEFAULT) finds whichever is loaded, and a caller without a
// CBLAS falls back to ATen's matmul.
//
// Which library multiplies a float32 product: oneDNN's sgemm where it is
// loaded and the product has at least kOneDnnMinWork multiply-adds, CBLAS
// otherwise. Measured on the demo's and `small`'s shapes (Sapphire Rapids,
// docs/performance.md, "oneDNN's sgemm for the linears"): oneDNN runs the
// linears' products (thousands of rows by 32-1024 columns) 1.1-1.5x faster
// than OpenBLAS at one thread and up to 2.9x at two; OpenBLAS is faster on
// the attention's per-head tiles (~55 x 16 x 55), which stay below the
// threshold. Those tiles go to neither where the head dimension is one that
// core/tile_gemm.h takes (16 to 64, in steps of 16). ALRO_SGEMM=cblas (or
// =onednn) forces one library for every float32 product, the attention's
// included; double always goes to CBLAS.
#pragma once

#include <cstdint>
#include <string>

namespace alro::core::cblas {

/// The libraries a float32 product can go to.
enum class Library { kCblas, kOneDnn };

/// Multiply-adds (m * n * k) from which a float32 product goes to oneDNN.
inline constexpr int64_t kOneDnnMinWork = int64_t{1} << 20;

/// True when the process has a CBLAS sgemm and dgemm (looked up once).
bool Available();

/// True when the process has oneDNN's dnnl_sgemm (looked up once).
bool OneDnnAvailable();

/// The library Gemm uses for a float32 m x n x k product: ALRO_SGEMM when
/// set (read once; an unknown value or a library that is not loaded is a
/// fatal error naming the variable), else the size rule above.
Library FloatLibrary(int64_t m, int64_t n, int64_t k);

/// True when ALRO_SGEMM names the library for every float32 product, so
/// that no other kernel (core/tile_gemm.h) multiplies in its place.
bool LibraryForced();

/// One line for plans: which library float32 products go to, and how to
/// change it.
std::string FloatLibrarySummary();

/// Row-major C = alpha * op(A) @ op(B) + beta * C, op = transpose where
/// `trans_*` is set: A is m x k after op, B is k x n, C is m x n, each with
/// its leading dimension (elements between rows as stored). Requires
/// Available(); float and double.
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

/// Gemm on the named library, whatever the size (tests compare the two).
/// Requires that library to be loaded.
void GemmWith(Library library, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace alro::core::cblas
