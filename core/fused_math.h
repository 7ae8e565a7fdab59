// core/fused_math.h: helpers of the fused CPU kernels (core/fused_*.cc),
// written so that GCC and Clang vectorise the loops that call them without
// -ffast-math (core/CMakeLists.txt compiles those files with -O3
// -fno-trapping-math): the per-ISA clones of the row kernels
// (ALRO_VECTOR_CLONES), a branch-free float exp (std::exp is a libm call and
// keeps a loop scalar), a branch-free rounding to bf16 (RoundTo: c10's has
// a NaN branch), multi-accumulator sums, a vectorisable max, the parallel
// grain of the kernels, and what the softmax and the tiled
// attention share: a mask's unmasked spans and the masked softmax of a span
// with its backward, and the softmax of a dense span (no masked key inside)
// on whole vectors with its backward.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include <c10/util/BFloat16.h>

/// Compiles the function it precedes three times, for baseline x86-64
/// (SSE2), x86-64-v3 (AVX2 + FMA) and x86-64-v4 (AVX-512), and lets the
/// dynamic loader pick one for the CPU (an ifunc, resolved once at load
/// time). alro builds without -march, so that one binary runs on every node
/// of a cluster; without the clones GCC vectorises with SSE2 only, 4 floats
/// wide and without FMA.
///
/// Expands to nothing where the clones are not available: on compilers other
/// than GCC >= 11 (the first with the x86-64-v3/v4 names; Clang 14 rejects
/// target_clones on function templates, and every kernel is one), off
/// x86-64, and off ELF (ifuncs are an ELF feature: macOS and Windows lack
/// them), or when ALRO_NO_VECTOR_CLONES is defined. The kernels are then the
/// same code at the build's ISA.
///
/// Numerics: each clone is deterministic, but the clones round differently
/// from one another (FMA contraction in v3 and v4, and a different order of
/// the interleaved sums' final additions), so results differ between CPUs
/// by float rounding (a few ulp), not between runs on one CPU.
#if !defined(ALRO_NO_VECTOR_CLONES) && defined(__x86_64__) && defined(__ELF__) && !defined(__clang__) && \
    defined(__GNUC__) && __GNUC__ >= 11
#define ALRO_VECTOR_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define ALRO_VECTOR_CLONES
#endif

/// Forces a helper below into its caller. A cloned kernel runs its ISA only
/// in its own body: a helper left out of line is compiled once, for the
/// build's baseline ISA (GCC inlines a baseline function into an AVX2 clone,
/// but at -O3 it declined for the larger helpers).
#if defined(__GNUC__) || defined(__clang__)
#define ALRO_FUSED_INLINE inline __attribute__((always_inline))
#define ALRO_FUSED_LAMBDA_INLINE __attribute__((always_inline))
#else
#define ALRO_FUSED_INLINE inline
#define ALRO_FUSED_LAMBDA_INLINE
#endif

namespace alro::core::fused_math {

/// Lanes of a padded row: 16 floats fill one AVX-512 register, two AVX2 and
/// four SSE registers, so loops over whole blocks of kLanes have no scalar
/// tail at any of the clones' widths.
constexpr int64_t kLanes = 16;

/// n rounded up to a multiple of kLanes.
inline int64_t PaddedWidth(int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

/// Elements a thread must get before a kernel's parallel_for splits: below
/// this, waking a second OpenMP thread (a futex wake-up under alro's
/// OMP_WAIT_POLICY=PASSIVE) costs more than the thread saves. Measured with
/// core_fused_ops_bench (docs/performance.md, "Where the time goes").
constexpr int64_t kMinElementsPerThread = 32768;

/// The parallel_for grain, in rows, for rows of `width` elements.
inline int64_t RowGrain(int64_t width) {
  return std::max<int64_t>(1, kMinElementsPerThread / std::max<int64_t>(1, width));
}

/// exp(x) for float within 2 ulp over the float range (Cephes' expf:
/// x = n ln2 + r, |r| <= ln2/2, a degree-6 polynomial in r, then 2^n);
/// returns 0 below -87.3365 (no denormals; also for x = -inf) and +inf
/// above 88.3763 (where 2^n would overflow; exp there is within a factor 1.5
/// of FLT_MAX).
ALRO_FUSED_INLINE float Exp(float x) {
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
ALRO_FUSED_INLINE double Exp(double x) { return std::exp(x); }

/// acc[0] + ... + acc[kLanes - 1], added pairwise (lanes k and k + 8, then
/// k and k + 4, ...): four dependent additions, where a sequential sum
/// chains fifteen. On rows of a few vectors (attention's softmax rows are
/// 16-64 keys) that chain was a visible share of each row. Clobbers acc.
/// Each level's trip count is a constant (one function per level): GCC kept
/// a single loop over the levels as a loop of scalar additions on the stack.
template <int64_t kHalf = kLanes / 2, typename A>
ALRO_FUSED_INLINE A LaneSum(A* acc) {
  for (int64_t k = 0; k < kHalf; ++k) acc[k] += acc[k + kHalf];
  if constexpr (kHalf > 1) {
    return LaneSum<kHalf / 2>(acc);
  } else {
    return acc[0];
  }
}

/// sum over j in [0, n) of term(j), in the accumulation type A, with kLanes
/// interleaved accumulators so that the loop vectorises at every clone's
/// width (the order of additions differs from a sequential sum by rounding
/// only). The reductions below are this loop with their own term.
template <typename A, typename Term>
ALRO_FUSED_INLINE A InterleavedSum(int64_t n, Term term) {
  A acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int64_t k = 0; k < kLanes; ++k) acc[k] += term(j + k);
  }
  A s = 0;
  for (; j < n; ++j) s += term(j);
  return s + LaneSum(acc);
}

/// sum of a[j] * b[j].
template <typename T>
ALRO_FUSED_INLINE T Dot(const T* a, const T* b, int64_t n) {
  return InterleavedSum<T>(n, [=](int64_t j) ALRO_FUSED_LAMBDA_INLINE { return a[j] * b[j]; });
}

/// sum of a[j]^2 in the accumulation type A (a may be narrower than A, e.g.
/// bf16).
template <typename A, typename T>
ALRO_FUSED_INLINE A SumSquares(const T* a, int64_t n) {
  return InterleavedSum<A>(n, [=](int64_t j) ALRO_FUSED_LAMBDA_INLINE {
    const A v = static_cast<A>(a[j]);
    return v * v;
  });
}

/// sum of a[j] * w[j] * b[j] in the accumulation type A (w already in A).
template <typename A, typename T>
ALRO_FUSED_INLINE A Dot3(const T* a, const A* w, const T* b, int64_t n) {
  return InterleavedSum<A>(n, [=](int64_t j) ALRO_FUSED_LAMBDA_INLINE {
    return static_cast<A>(a[j]) * w[j] * static_cast<A>(b[j]);
  });
}

/// x rounded to the kernel's storage type scalar_t: static_cast, except for
/// bf16, where it is c10::BFloat16's own rounding (to nearest even, every NaN
/// to 0x7FC0) without c10's NaN branch. With the branch GCC may keep a loop
/// that stores bf16 scalar (it did for the bf16 rotation: a NaN test and a
/// jump per element); the select below vectorises in every such loop.
template <typename scalar_t, typename A>
ALRO_FUSED_INLINE scalar_t RoundTo(A x) {
  if constexpr (std::is_same_v<scalar_t, c10::BFloat16>) {
    const float f = static_cast<float>(x);
    uint32_t u;
    std::memcpy(&u, &f, sizeof(u));
    const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    const bool is_nan = (u & 0x7FFFFFFFu) > 0x7F800000u;
    return c10::BFloat16(static_cast<uint16_t>(is_nan ? 0x7FC0u : rounded), c10::BFloat16::from_bits());
  } else {
    return static_cast<scalar_t>(x);
  }
}

/// The float's bits as an int32 that orders as the float does (negative
/// floats' magnitude bits flipped): an integer max vectorises, while GCC
/// keeps a float max reduction scalar unless -ffinite-math-only.
ALRO_FUSED_INLINE int32_t OrderedBits(float x) {
  int32_t i;
  std::memcpy(&i, &x, sizeof(i));
  return i ^ ((i >> 31) & 0x7fffffff);
}

/// The inverse of OrderedBits.
ALRO_FUSED_INLINE float FromOrderedBits(int32_t i) {
  i ^= (i >> 31) & 0x7fffffff;
  float x;
  std::memcpy(&x, &i, sizeof(x));
  return x;
}

/// max of a[0..n), n a multiple of kLanes; -inf for n = 0. A NaN of either
/// sign in a can give NaN or be skipped (the callers then compute NaN from
/// it anyway).
ALRO_FUSED_INLINE float MaxPadded(const float* a, int64_t n) {
  int32_t acc[kLanes];
  for (int64_t k = 0; k < kLanes; ++k) acc[k] = OrderedBits(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < n; j += kLanes) {
    for (int64_t k = 0; k < kLanes; ++k) {
      const int32_t v = OrderedBits(a[j + k]);
      acc[k] = acc[k] < v ? v : acc[k];
    }
  }
  int32_t m = acc[0];
  for (int64_t k = 1; k < kLanes; ++k) m = m < acc[k] ? acc[k] : m;
  return FromOrderedBits(m);
}

/// max of a[0..n) in double (tests only: no need to vectorise).
ALRO_FUSED_INLINE double MaxPadded(const double* a, int64_t n) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < n; ++j) m = std::max(m, a[j]);
  return m;
}

/// a[j] = exp(a[j] - shift) over a[0..n), n a multiple of kLanes, and their
/// sum (interleaved as InterleavedSum). Whole blocks only, so short rows pay no scalar
/// exp tail: pad a row with -inf, which exponentiates to exactly 0.
template <typename T>
ALRO_FUSED_INLINE T ExpShiftedSumPadded(T* a, int64_t n, T shift) {
  T acc[kLanes] = {};
  for (int64_t j = 0; j < n; j += kLanes) {
    for (int64_t k = 0; k < kLanes; ++k) {
      const T e = Exp(a[j + k] - shift);
      a[j + k] = e;
      acc[k] += e;
    }
  }
  return LaneSum(acc);
}

/// The masked softmax of one row's span of w keys: y[j] = exp(x[j] * scale -
/// max) / sum where m[j] == 0 (max and sum over those keys), 0 where
/// m[j] != 0. buf is scratch of PaddedWidth(w); x and y may be the same row.
/// The span must hold an unmasked key (the callers handle a fully masked row).
/// The keys are masked and scaled into buf, padded with -inf to whole
/// vectors, so the max and the exp have no scalar tail.
template <typename T>
ALRO_FUSED_INLINE void MaskedSoftmaxSpan(const T* x, const uint8_t* __restrict m, int64_t w, T scale,
                                         T* __restrict buf, T* y) {
  const T neg_inf = -std::numeric_limits<T>::infinity();
  const int64_t padded = PaddedWidth(w);
  for (int64_t j = 0; j < w; ++j) buf[j] = m[j] != 0 ? neg_inf : x[j] * scale;
  for (int64_t j = w; j < padded; ++j) buf[j] = neg_inf;
  const T max = MaxPadded(buf, padded);
  const T inv = T(1) / ExpShiftedSumPadded(buf, padded, max);
  for (int64_t j = 0; j < w; ++j) y[j] = buf[j] * inv;
}

/// Whether index j lies in [first, end).
ALRO_FUSED_INLINE bool InSpan(int64_t j, int64_t first, int64_t end) { return j >= first && j < end; }

/// The first index of the whole vectors (kLanes aligned to the row's start)
/// that cover a span starting at `first`; PaddedWidth(end) is one past the
/// last.
ALRO_FUSED_INLINE int64_t VectorsBegin(int64_t first) { return first / kLanes * kLanes; }

/// Zeros row[0, VectorsBegin(first)) and row[PaddedWidth(end), width): a
/// dense span's row outside the vectors that cover the span.
template <typename T>
ALRO_FUSED_INLINE void ZeroOutsideSpanVectors(T* row, int64_t first, int64_t end, int64_t width) {
  for (int64_t j = 0; j < VectorsBegin(first); ++j) row[j] = 0;
  for (int64_t j = PaddedWidth(end); j < width; ++j) row[j] = 0;
}

/// The softmax, in place, of row[first, end) of a score row of `width`
/// elements (already scaled) whose keys in [first, end) are all unmasked;
/// every other element of [0, width) becomes 0. It computes on the whole
/// vectors covering the span, [VectorsBegin(first), PaddedWidth(end)), so
/// the row must have room for PaddedWidth(width) elements (the tiled
/// attention pads its rows' stride to whole vectors); what those vectors
/// held outside the span (unwritten memory included) is not read as a
/// number. Against MaskedSoftmaxSpan it reads no mask, needs no scratch row
/// and has no scalar tails: on a causal mask's short rows those were most
/// of the cost.
template <typename T>
ALRO_FUSED_INLINE void DenseSpanSoftmax(T* row, int64_t first, int64_t end, int64_t width) {
  const int64_t v0 = VectorsBegin(first), v1 = PaddedWidth(end);
  const T neg_inf = -std::numeric_limits<T>::infinity();
  ZeroOutsideSpanVectors(row, first, end, width);
  for (int64_t j = v0; j < v1; ++j) row[j] = InSpan(j, first, end) ? row[j] : neg_inf;
  const T max = MaxPadded(row + v0, v1 - v0);
  const T inv = T(1) / ExpShiftedSumPadded(row + v0, v1 - v0, max);
  for (int64_t j = v0; j < v1; ++j) row[j] *= inv;
}

/// The backward of DenseSpanSoftmax in place of dy (a row of `width`, room
/// for PaddedWidth(width)): dx[j] = y[j] * (dy[j] - sum(y * dy)) * scale
/// over [first, end), 0 elsewhere (whatever dy held there). y is
/// DenseSpanSoftmax's output for the same span, so it is 0 outside the span
/// on the vectors covering it.
template <typename T>
ALRO_FUSED_INLINE void DenseSpanSoftmaxBackward(T* dy, const T* __restrict y, int64_t first, int64_t end,
                                                int64_t width, T scale) {
  const int64_t v0 = VectorsBegin(first), v1 = PaddedWidth(end);
  // dy is zeroed outside the span first, so that the dot product runs
  // without a select: GCC vectorised the selecting sum across 16 rows'
  // worth of vectors and ran rows shorter than that in scalar code.
  for (int64_t j = v0; j < v1; ++j) dy[j] = InSpan(j, first, end) ? dy[j] : T(0);
  T acc[kLanes] = {};
  for (int64_t j = v0; j < v1; j += kLanes) {
    for (int64_t k = 0; k < kLanes; ++k) acc[k] += y[j + k] * dy[j + k];
  }
  const T dot = LaneSum(acc);
  ZeroOutsideSpanVectors(dy, first, end, width);
  for (int64_t j = v0; j < v1; ++j) {
    const T dx = y[j] * (dy[j] - dot) * scale;
    dy[j] = InSpan(j, first, end) ? dx : T(0);
  }
}

/// The backward of MaskedSoftmaxSpan over n keys: dx[j] = 0 where m[j] != 0
/// (whatever dy holds there), else y[j] * (dy[j] - sum(y * dy)) * scale. dx
/// may be dy's row.
template <typename T>
ALRO_FUSED_INLINE void MaskedSoftmaxBackwardSpan(const T* dy, const T* __restrict y, const uint8_t* __restrict m,
                                                 int64_t n, T scale, T* dx) {
  const T dot = Dot(y, dy, n);
  for (int64_t j = 0; j < n; ++j) dx[j] = m[j] != 0 ? T(0) : y[j] * (dy[j] - dot) * scale;
}

/// The span [lo, hi) of each of mask_rows mask rows of s keys (true =
/// masked) from its first to its last unmasked key, as lo, hi pairs; lo = hi
/// when the whole row is masked. Under a causal mask query i's span is
/// [0, i + 1). Keys outside a row's span get probability 0 without being
/// exponentiated or multiplied.
inline std::vector<int64_t> UnmaskedSpans(const bool* mask, int64_t mask_rows, int64_t s) {
  std::vector<int64_t> spans(static_cast<size_t>(2 * mask_rows));
  for (int64_t i = 0; i < mask_rows; ++i) {
    const bool* m = mask + i * s;
    int64_t lo = 0, hi = s;
    while (lo < s && m[lo]) ++lo;
    while (hi > lo && m[hi - 1]) --hi;
    spans[2 * i] = lo;
    spans[2 * i + 1] = hi;
  }
  return spans;
}

/// Whether each mask row's span (UnmaskedSpans) is dense: no masked key
/// between its first and last unmasked key, as under causal, packed
/// (block-diagonal) and prefix-only masks. Dense rows take
/// DenseSpanSoftmax.
inline std::vector<uint8_t> DenseSpans(const bool* mask, const std::vector<int64_t>& spans, int64_t s) {
  const int64_t rows = static_cast<int64_t>(spans.size()) / 2;
  std::vector<uint8_t> dense(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t lo = spans[2 * i], hi = spans[2 * i + 1];
    dense[i] = std::memchr(mask + i * s + lo, 1, static_cast<size_t>(hi - lo)) == nullptr;
  }
  return dense;
}

}  // namespace alro::core::fused_math
