// core/fused_math.h: scalar helpers of the fused CPU kernels
// (core/fused_*.cc) written so that GCC and Clang vectorise the loops that
// call them without -ffast-math (core/CMakeLists.txt compiles those files
// with -O3 -fno-trapping-math): a branch-free float exp (std::exp is a libm
// call and keeps a loop scalar) and multi-accumulator sums.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace alro::core::fused_math {

/// exp(x) for float within 2 ulp over the float range (Cephes' expf:
/// x = n ln2 + r, |r| <= ln2/2, a degree-6 polynomial in r, then 2^n);
/// returns 0 below -87.3365 (no denormals) and +inf above 88.3763 (where
/// 2^n would overflow; exp there is within a factor 1.5 of FLT_MAX).
inline float Exp(float x) {
  const bool under = x < -87.3365f, over = x > 88.3762626f;
  x = std::min(std::max(x, -87.3365f), 88.3762626f);
  // Round x / ln2 to the nearest integer: adding 1.5 * 2^23 rounds in the FPU.
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  const float y = e * scale;
  return under ? 0.0f : (over ? std::numeric_limits<float>::infinity() : y);
}

/// exp in double: std::exp (double runs only in tests).
inline double Exp(double x) { return std::exp(x); }

/// sum of a[0..n) with eight interleaved accumulators, so the loop vectorises
/// (the order of additions differs from a sequential sum by rounding only).
template <typename T>
T Sum(const T* a, int64_t n) {
  T acc[8] = {};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[j + k];
  }
  T s = 0;
  for (; j < n; ++j) s += a[j];
  for (int k = 0; k < 8; ++k) s += acc[k];
  return s;
}

/// sum of a[j] * b[j], vectorised as Sum.
template <typename T>
T Dot(const T* a, const T* b, int64_t n) {
  T acc[8] = {};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int k = 0; k < 8; ++k) acc[k] += a[j + k] * b[j + k];
  }
  T s = 0;
  for (; j < n; ++j) s += a[j] * b[j];
  for (int k = 0; k < 8; ++k) s += acc[k];
  return s;
}

}  // namespace alro::core::fused_math
