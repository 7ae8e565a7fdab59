// tests/core/tile_gemm_test.cc: the attention's tile products
// (core/tile_gemm.h) against a double-precision brute force, for every head
// dimension they take, sizes that are and are not multiples of their tiles,
// padded leading dimensions (the entries between rows must stay as they
// were), overwrite and accumulate.
#include "core/tile_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace alro::core::tile_gemm {
namespace {

// A rows x cols matrix stored with `ld` >= cols floats per row; the padding
// holds a sentinel that no product may touch.
struct Matrix {
  int64_t rows, cols, ld;
  std::vector<float> data;

  Matrix(int64_t r, int64_t c, int64_t pad, std::mt19937* rng) : rows(r), cols(c), ld(c + pad) {
    std::normal_distribution<float> normal;
    data.assign(static_cast<size_t>(rows * ld), kSentinel);
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) At(i, j) = normal(*rng);
    }
  }
  float& At(int64_t i, int64_t j) { return data[static_cast<size_t>(i * ld + j)]; }
  float At(int64_t i, int64_t j) const { return data[static_cast<size_t>(i * ld + j)]; }

  static constexpr float kSentinel = 1234.5f;
};

// Checks c against the double sums `ref` (with their magnitudes `mag`, the
// sums of |terms|: float32's rounding is relative to them) and the padding
// for the sentinel.
void ExpectMatches(const Matrix& c, const std::vector<double>& ref, const std::vector<double>& mag,
                   const std::string& what) {
  int64_t bad = 0;
  for (int64_t i = 0; i < c.rows; ++i) {
    for (int64_t j = 0; j < c.cols; ++j) {
      const size_t k = static_cast<size_t>(i * c.cols + j);
      if (std::abs(c.At(i, j) - ref[k]) > 1e-6 * (mag[k] + 1.0) && bad++ < 5) {
        ADD_FAILURE() << what << ": C[" << i << ", " << j << "] = " << c.At(i, j) << ", expected " << ref[k];
      }
    }
    for (int64_t j = c.cols; j < c.ld; ++j) {
      if (c.At(i, j) != Matrix::kSentinel && bad++ < 5) ADD_FAILURE() << what << ": wrote padding of row " << i;
    }
  }
  EXPECT_EQ(bad, 0) << what;
}

constexpr int64_t kDims[] = {16, 32, 48, 64};
// Around the tiles' edges: scores tiles are 8 rows by 16 keys; the other two
// products' tiles are 128 / d rows (8, 4, 2, 2).
constexpr int64_t kSizes[] = {1, 2, 7, 8, 9, 17, 33, 55};

TEST(TileGemm, HandlesMultiplesOfSixteenUpToTheMaximum) {
  for (int64_t d : {16, 32, 48, 64}) EXPECT_TRUE(Handles(d)) << d;
  for (int64_t d : {0, 1, 8, 12, 24, 80, 128}) EXPECT_FALSE(Handles(d)) << d;
  EXPECT_EQ(TransposedKeysStride(55), 64 + 16);
}

TEST(TileGemm, RowsByKeysMatchesBruteForce) {
  std::mt19937 rng(1);
  for (int64_t d : kDims) {
    for (int64_t m : kSizes) {
      for (int64_t n : kSizes) {
        // The product reads a run of n keys from the transposed keys of a
        // head with `lo` keys before the run and 3 after it.
        const int64_t lo = (m + n) % 5, keys = lo + n + 3;
        const Matrix a(m, d, 3, &rng), b(keys, d, 5, &rng);
        Matrix c(m, n, 2, &rng);
        const int64_t ldbt = TransposedKeysStride(keys);
        std::vector<float> bt(static_cast<size_t>(d * ldbt), -7.0f);
        TransposeKeys(keys, d, b.data.data(), b.ld, bt.data());
        const float alpha = 0.25f;
        RowsByKeys(m, n, d, alpha, a.data.data(), a.ld, bt.data() + lo, ldbt, c.data.data(), c.ld);
        std::vector<double> ref(static_cast<size_t>(m * n)), mag(ref.size());
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            for (int64_t x = 0; x < d; ++x) {
              const double term = alpha * static_cast<double>(a.At(i, x)) * b.At(lo + j, x);
              ref[i * n + j] += term;
              mag[i * n + j] += std::abs(term);
            }
          }
        }
        ExpectMatches(c, ref, mag, "RowsByKeys d " + std::to_string(d) + " m " + std::to_string(m) + " n " +
                                       std::to_string(n));
      }
    }
  }
}

TEST(TileGemm, RowsByValuesMatchesBruteForce) {
  std::mt19937 rng(2);
  for (int64_t d : kDims) {
    for (int64_t m : kSizes) {
      for (int64_t n : {0, 1, 16, 55}) {
        for (bool accumulate : {false, true}) {
          const Matrix a(m, n, 3, &rng), b(n, d, 4, &rng);
          Matrix c(m, d, 2, &rng);
          std::vector<double> ref(static_cast<size_t>(m * d)), mag(ref.size());
          for (int64_t i = 0; i < m; ++i) {
            for (int64_t x = 0; x < d; ++x) {
              if (accumulate) ref[i * d + x] = c.At(i, x), mag[i * d + x] = std::abs(c.At(i, x));
              for (int64_t j = 0; j < n; ++j) {
                const double term = static_cast<double>(a.At(i, j)) * b.At(j, x);
                ref[i * d + x] += term;
                mag[i * d + x] += std::abs(term);
              }
            }
          }
          RowsByValues(m, n, d, a.data.data(), a.ld, b.data.data(), b.ld, accumulate, c.data.data(), c.ld);
          ExpectMatches(c, ref, mag, "RowsByValues d " + std::to_string(d) + " m " + std::to_string(m) + " n " +
                                         std::to_string(n) + (accumulate ? " accumulate" : ""));
        }
      }
    }
  }
}

TEST(TileGemm, ColumnsByRowsMatchesBruteForce) {
  std::mt19937 rng(3);
  for (int64_t d : kDims) {
    for (int64_t m : {0, 1, 8, 33}) {
      for (int64_t n : kSizes) {
        const Matrix a(m, n, 3, &rng), b(m, d, 1, &rng);
        Matrix c(n, d, 2, &rng);
        std::vector<double> ref(static_cast<size_t>(n * d)), mag(ref.size());
        for (int64_t j = 0; j < n; ++j) {
          for (int64_t x = 0; x < d; ++x) {
            ref[j * d + x] = c.At(j, x);
            mag[j * d + x] = std::abs(c.At(j, x));
            for (int64_t i = 0; i < m; ++i) {
              const double term = static_cast<double>(a.At(i, j)) * b.At(i, x);
              ref[j * d + x] += term;
              mag[j * d + x] += std::abs(term);
            }
          }
        }
        ColumnsByRows(m, n, d, a.data.data(), a.ld, b.data.data(), b.ld, c.data.data(), c.ld);
        ExpectMatches(c, ref, mag, "ColumnsByRows d " + std::to_string(d) + " m " + std::to_string(m) + " n " +
                                       std::to_string(n));
      }
    }
  }
}

}  // namespace
}  // namespace alro::core::tile_gemm
