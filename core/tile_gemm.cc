// core/tile_gemm.cc: register-tiled products for the attention's narrow
// heads (see tile_gemm.h).
//
// Every kernel keeps an output tile of kTileVectors vectors of 16 floats in
// registers and adds one rank-1 update per step of the
// shared dimension: a row of one operand, read as a vector, times a scalar
// of the other, broadcast. The head dimension D is a template parameter so
// that the tile's loops have constant bounds and unroll into registers.
// Tiles at the edge of a matrix read a repeated row or column in place of
// the missing ones and store only the real ones, so no loop has a scalar
// tail inside the sum.
#include "core/tile_gemm.h"

#include <algorithm>
#include <cstring>

#include "common/env_switch.h"
#include "common/status.h"
#include "core/fused_math.h"

namespace alro::core::tile_gemm {
namespace {

using fused_math::kLanes;

// 16 floats as one value: one AVX-512 register, two AVX2 or four SSE
// registers, whichever clone runs (GCC's vector extension; `v * s` with a
// scalar s broadcasts it). Loads and stores go through memcpy, because rows
// are not aligned to 64 bytes.
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));

// GCC warns that a function returning a 64-byte vector has another ABI with
// and without AVX-512; these helpers are always inlined, so no call passes one.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

ALRO_FUSED_INLINE Vec Load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

ALRO_FUSED_INLINE void Store(float* p, const Vec& v) { std::memcpy(p, &v, sizeof(v)); }

// Unrolls a loop over a tile's rows or vectors completely, so that the
// tile's accumulators are registers.
#if defined(__GNUC__) && !defined(__clang__)
#define ALRO_UNROLL _Pragma("GCC unroll 16")
#elif defined(__clang__)
#define ALRO_UNROLL _Pragma("unroll")
#else
#define ALRO_UNROLL
#endif

/// Floats of one output tile: 8 vectors of 16 (8 AVX-512 registers of 32,
/// 16 AVX2 registers of 16).
constexpr int64_t kTileVectors = 8;

// Scores: a tile of kTileVectors rows by 16 keys; per step x of the head
// dimension, one vector of the transposed keys times each row's A[i, x].
// Whole vectors of bt are read up to PaddedWidth(n) (TransposedKeysStride
// leaves room); only columns below n are stored.
template <int64_t D>
ALRO_VECTOR_CLONES void RowsByKeysD(int64_t m, int64_t n, float alpha, const float* a, int64_t lda, const float* bt,
                                    int64_t ldbt, float* c, int64_t ldc) {
  constexpr int64_t kRows = kTileVectors;
  const int64_t np = fused_math::PaddedWidth(n);
  for (int64_t i0 = 0; i0 < m; i0 += kRows) {
    const int64_t rows = std::min(kRows, m - i0);
    const float* arow[kRows];
    for (int64_t r = 0; r < kRows; ++r) arow[r] = a + (i0 + std::min(r, rows - 1)) * lda;
    for (int64_t j0 = 0; j0 < np; j0 += kLanes) {
      Vec acc[kRows] = {};
      for (int64_t x = 0; x < D; ++x) {
        const Vec bv = Load(bt + x * ldbt + j0);
        ALRO_UNROLL
        for (int64_t r = 0; r < kRows; ++r) acc[r] += arow[r][x] * bv;
      }
      const int64_t cols = std::min(kLanes, n - j0);
      for (int64_t r = 0; r < rows; ++r) {
        float* crow = c + (i0 + r) * ldc + j0;
        const Vec out = alpha * acc[r];
        if (cols == kLanes) {
          Store(crow, out);
        } else {
          for (int64_t l = 0; l < cols; ++l) crow[l] = out[l];
        }
      }
    }
  }
}

// O = P V: a tile of kTileVectors / (D / 16) rows by all D columns; per key
// j, the row B[j] times each row's A[i, j].
template <int64_t D>
ALRO_VECTOR_CLONES void RowsByValuesD(int64_t m, int64_t n, const float* a, int64_t lda, const float* b,
                                      int64_t ldb, bool accumulate, float* c, int64_t ldc) {
  constexpr int64_t kV = D / kLanes, kRows = std::max<int64_t>(1, kTileVectors / kV);
  for (int64_t i0 = 0; i0 < m; i0 += kRows) {
    const int64_t rows = std::min(kRows, m - i0);
    const float* arow[kRows];
    for (int64_t r = 0; r < kRows; ++r) arow[r] = a + (i0 + std::min(r, rows - 1)) * lda;
    Vec acc[kRows][kV] = {};
    for (int64_t j = 0; j < n; ++j) {
      Vec bv[kV];
      ALRO_UNROLL
      for (int64_t v = 0; v < kV; ++v) bv[v] = Load(b + j * ldb + v * kLanes);
      ALRO_UNROLL
      for (int64_t r = 0; r < kRows; ++r) {
        const float ar = arow[r][j];
        ALRO_UNROLL
        for (int64_t v = 0; v < kV; ++v) acc[r][v] += ar * bv[v];
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      float* crow = c + (i0 + r) * ldc;
      for (int64_t v = 0; v < kV; ++v) {
        Store(crow + v * kLanes, accumulate ? Load(crow + v * kLanes) + acc[r][v] : acc[r][v]);
      }
    }
  }
}

// dK, dV: a tile of kTileVectors / (D / 16) output rows (columns j of A) by
// all D columns; per row i, the row B[i] times each column's A[i, j].
template <int64_t D>
ALRO_VECTOR_CLONES void ColumnsByRowsD(int64_t m, int64_t n, const float* a, int64_t lda, const float* b,
                                       int64_t ldb, float* c, int64_t ldc) {
  constexpr int64_t kV = D / kLanes, kCols = std::max<int64_t>(1, kTileVectors / kV);
  for (int64_t j0 = 0; j0 < n; j0 += kCols) {
    const int64_t cols = std::min(kCols, n - j0);
    int64_t col[kCols];
    for (int64_t r = 0; r < kCols; ++r) col[r] = j0 + std::min(r, cols - 1);
    Vec acc[kCols][kV] = {};
    for (int64_t i = 0; i < m; ++i) {
      const float* arow = a + i * lda;
      Vec bv[kV];
      ALRO_UNROLL
      for (int64_t v = 0; v < kV; ++v) bv[v] = Load(b + i * ldb + v * kLanes);
      ALRO_UNROLL
      for (int64_t r = 0; r < kCols; ++r) {
        const float ar = arow[col[r]];
        ALRO_UNROLL
        for (int64_t v = 0; v < kV; ++v) acc[r][v] += ar * bv[v];
      }
    }
    for (int64_t r = 0; r < cols; ++r) {
      float* crow = c + (j0 + r) * ldc;
      for (int64_t v = 0; v < kV; ++v) Store(crow + v * kLanes, Load(crow + v * kLanes) + acc[r][v]);
    }
  }
}

// Calls kernel<D>(args...) for the runtime head dimension d.
#define ALRO_TILE_GEMM_DISPATCH(d, kernel, ...)                                      \
  switch (d) {                                                                       \
    case 16: return kernel<16>(__VA_ARGS__);                                         \
    case 32: return kernel<32>(__VA_ARGS__);                                         \
    case 48: return kernel<48>(__VA_ARGS__);                                         \
    case 64: return kernel<64>(__VA_ARGS__);                                         \
    default: ALRO_CHECK(false, "tile_gemm: head dimension ", d, " is not taken (Handles)"); \
  }

}  // namespace

bool Enabled() {
  static const bool enabled = EnvSwitchOn("ALRO_TILE_GEMM");
  return enabled;
}

bool Handles(int64_t d) { return d > 0 && d % kLanes == 0 && d <= kMaxHeadDim; }

int64_t TransposedKeysStride(int64_t n) { return fused_math::PaddedWidth(n) + kLanes; }

void TransposeKeys(int64_t n, int64_t d, const float* b, int64_t ldb, float* bt) {
  const int64_t ld = TransposedKeysStride(n);
  for (int64_t j = 0; j < n; ++j) {
    const float* row = b + j * ldb;
    for (int64_t x = 0; x < d; ++x) bt[x * ld + j] = row[x];
  }
  for (int64_t x = 0; x < d; ++x) std::fill(bt + x * ld + n, bt + (x + 1) * ld, 0.0f);
}

void RowsByKeys(int64_t m, int64_t n, int64_t d, float alpha, const float* a, int64_t lda, const float* bt,
                int64_t ldbt, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  ALRO_TILE_GEMM_DISPATCH(d, RowsByKeysD, m, n, alpha, a, lda, bt, ldbt, c, ldc);
}

void RowsByValues(int64_t m, int64_t n, int64_t d, const float* a, int64_t lda, const float* b, int64_t ldb,
                  bool accumulate, float* c, int64_t ldc) {
  if (m <= 0) return;
  ALRO_TILE_GEMM_DISPATCH(d, RowsByValuesD, m, n, a, lda, b, ldb, accumulate, c, ldc);
}

void ColumnsByRows(int64_t m, int64_t n, int64_t d, const float* a, int64_t lda, const float* b, int64_t ldb,
                   float* c, int64_t ldc) {
  if (n <= 0) return;
  ALRO_TILE_GEMM_DISPATCH(d, ColumnsByRowsD, m, n, a, lda, b, ldb, c, ldc);
}

}  // namespace alro::core::tile_gemm
