// core/tile_gemm.h: the tiled attention's products for narrow heads, with
// the head dimension fixed at compile time and no BLAS call.
//
// Why not CBLAS: the attention of a small model multiplies tiles like
// [32 x 16] by [16 x 55]. A BLAS gemm packs both operands into its own
// layout before multiplying; at these sizes the packing and the call cost
// about as much as the multiply-adds (perf of the bf16 demo, Zen 5: OpenBLAS
// 15% of the step, a third of it in its copy routines). Here each product
// keeps a tile of its output in registers while it walks the shared
// dimension, and reads the operands where they lie. Only the scores'
// product rearranges an operand: the keys, transposed once into scratch.
//
// The three shapes of the attention's products (row-major, a leading
// dimension per matrix, d the head dimension, a multiple of 16 up to
// kMaxHeadDim):
//   RowsByKeys:    C[m, n]  = alpha * A[m, d] B[n, d]^T   scores, dP = dO V^T
//                  (B given transposed)
//   RowsByValues:  C[m, d] (+)= A[m, n] B[n, d]           O = P V, dQ = dS K
//   ColumnsByRows: C[n, d] += A[m, n]^T B[m, d]           dK, dV
// Each is equal to the CBLAS product within float rounding (the order of the
// sum over the shared dimension differs); tests/core/tile_gemm_test.cc
// compares them with a double-precision brute force.
#pragma once

#include <cstdint>

namespace alro::core::tile_gemm {

/// The widest head the kernels take. Wider heads multiply enough per call
/// for BLAS's packing to pay.
inline constexpr int64_t kMaxHeadDim = 64;

/// False when ALRO_TILE_GEMM=0 (read once): the attention then multiplies
/// on CBLAS, as before these kernels, for measuring one against the other.
bool Enabled();

/// True when the kernels take head dimension d: a multiple of 16 up to
/// kMaxHeadDim.
bool Handles(int64_t d);

/// Row stride of n keys transposed by TransposeKeys: room for a run of keys
/// that starts at any column to be read in whole vectors of 16.
int64_t TransposedKeysStride(int64_t n);

/// bt[x, j] = B[j, x] for the n keys B[n, d], bt with TransposedKeysStride(n)
/// floats per row (d rows), zero past column n. Transpose a head's keys once
/// and multiply any run of them with RowsByKeys.
void TransposeKeys(int64_t n, int64_t d, const float* b, int64_t ldb, float* bt);

/// C[m, n] = alpha * A[m, d] B[n, d]^T, where bt is B's transpose (a
/// TransposeKeys matrix at the run's first key) with row stride ldbt.
/// Requires Handles(d).
void RowsByKeys(int64_t m, int64_t n, int64_t d, float alpha, const float* a, int64_t lda, const float* bt,
                int64_t ldbt, float* c, int64_t ldc);

/// C[m, d] = A[m, n] B[n, d], or C += A B where `accumulate`. Requires
/// Handles(d).
void RowsByValues(int64_t m, int64_t n, int64_t d, const float* a, int64_t lda, const float* b, int64_t ldb,
                  bool accumulate, float* c, int64_t ldc);

/// C[n, d] += A[m, n]^T B[m, d]. Requires Handles(d).
void ColumnsByRows(int64_t m, int64_t n, int64_t d, const float* a, int64_t lda, const float* b, int64_t ldb,
                   float* c, int64_t ldc);

}  // namespace alro::core::tile_gemm
