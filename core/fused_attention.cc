// core/fused_attention.cc: attention's scores, mask, softmax and product with
// the values as one tiled CPU kernel that skips masked keys (see
// MaskedAttention in fused_ops.h).
//
// The composite (BatchedMatmul, MaskedSoftmax, BatchedMatmul) multiplies
// every query by every key and writes the [B, KV, G*T, S] scores and
// probabilities through memory, although under a causal mask half of them
// are masked, and more under the block-diagonal masks of packed rows and the
// tree masks of shared prefixes. Here the queries of one key/value head go in
// blocks of kQueryBlock rows; a block multiplies only the keys from the first
// to the last one any of its rows attends to (its key range), less any gap
// wide enough to pay (MinKeyGap) that none of its rows attends to (a permuted
// copy's queries skip the original's suffix, between the shared prefix and
// their own branch). The kept keys form one or more runs, laid side by side
// as the block's columns. Its scores are turned into probabilities while
// they are in cache. Only the blocks' probabilities are kept for the backward
// (a ragged buffer, block after block), so memory falls with the work.
//
// Per block (rows R of one group g, kept keys K, s = 1/sqrt(D); each product
// with K is one gemm per run of K):
//   forward:   P = softmax_mask(s * Q_R K_K^T)      O_R = P V_K
//   backward:  dP = dO_R V_K^T
//              dS = P * (dP - rowsum(P * dP)) * s   (0 where masked)
//              dQ_R = dS K_K    dK_K += dS^T Q_R    dV_K += P^T dO_R
// Every product is one CBLAS gemm call on strided views (core/cblas.h).
//
// Parallel work: the forward's blocks are independent. In the backward every
// block of a key/value head accumulates into that head's dK and dV, so a
// thread takes whole heads (B * KV of them) and walks their blocks in order,
// which also makes the sums' order independent of the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include "common/status.h"
#include "core/batched_matmul.h"
#include "core/cblas.h"
#include "core/fused_math.h"
#include "core/fused_ops.h"
#include "core/tile_gemm.h"

namespace alro::core {
namespace {

/// Query rows per block. Smaller blocks skip more masked keys (under a
/// causal mask a block multiplies (t0 + block) / S of the keys, t0 its first
/// query) but call gemm more often with a thinner matrix. Measured on the
/// `small` preset (T = 256, D = 32; core_decoder_bench --profile small, one
/// thread, Sapphire Rapids): attention's forward + backward took 1.8x as
/// long unblocked (256) as at 32, 1.15x at 64 and 128, and the same at 16
/// to 48. ALRO_ATTENTION_BLOCK overrides it for measuring. Prompts of at
/// most this many tokens run as one block per head (all G groups' rows
/// together), the composite's shape.
constexpr int64_t kQueryBlock = 32;

int64_t QueryBlock() {
  static const int64_t block = [] {
    const char* env = std::getenv("ALRO_ATTENTION_BLOCK");
    const int64_t v = env != nullptr ? std::atoll(env) : 0;
    return v > 0 ? v : kQueryBlock;
  }();
  return block;
}

/// Skipping a gap in a block's key range splits each of the block's six
/// products (two forward, four backward) into one gemm per run of keys. An
/// extra gemm call costs about 1.5 us; multiplying a block's 32 rows by one
/// key costs 64 D flops, about D ns at ~60 GFLOP/s (one Sapphire Rapids
/// core). So a gap pays from about 1,400 / D keys; kMinGapElements (the
/// gap's keys times D) adds a margin of 1.5x: 32 keys at D = 64, 64 at
/// D = 32 (`small`), 128 at D = 16 (`tiny`: with 32 keys for every D, its
/// 75-key gaps in shared_prefix_bench ran no faster skipped).
constexpr int64_t kMinGapElements = 2048;

/// The narrowest gap worth skipping at head dimension d.
int64_t MinKeyGap(int64_t d) { return std::max<int64_t>(1, (kMinGapElements + d - 1) / d); }

// A run of keys [lo, hi) that a block multiplies, at columns [col, col + hi -
// lo) of the block's scores.
struct KeyRun {
  int64_t lo, hi, col;
};

// One block of query rows of a key/value head: rows [row0, row0 + rows) of
// the head's G * T rows, multiplied with the keys of runs [run0, run0 + runs)
// of its mask batch's runs, `width` keys in all. Its probabilities are
// rows x width, row-major with row stride `ld` (width rounded up to whole
// vectors, so that a dense row's softmax stores whole vectors: DenseSpanSoftmax),
// from `offset` in the head's part of the ragged buffer.
struct Block {
  int64_t row0, rows, run0, runs, width, ld, offset;
};

// The blocks of every head, for one mask batch at a time: heads of batch b
// read mask batch b (or 0 for a shared [T, S] mask). `spans` are the mask
// rows' unmasked spans (fused_math::UnmaskedSpans), `dense` whether a span
// holds no masked key (fused_math::DenseSpans).
struct BlockPlan {
  int64_t t = 0, s = 0, mask_batches = 0;
  std::vector<int64_t> spans;
  std::vector<uint8_t> dense;
  std::vector<std::vector<Block>> blocks;   // per mask batch
  std::vector<std::vector<KeyRun>> runs;    // per mask batch, the blocks' runs in order
  std::vector<int64_t> head_size;           // ragged elements per head, per mask batch

  /// The mask batch that batch row b reads.
  int64_t MaskBatchOf(int64_t b) const { return mask_batches == 1 ? 0 : b; }
  /// The runs of block `blk` of mask batch `mb`.
  const KeyRun* RunsOf(int64_t mb, const Block& blk) const { return runs[mb].data() + blk.run0; }
};

// Appends to `runs` the runs of keys in [lo, hi) that any of mask rows
// [t0, t1) attends to, gaps narrower than min_gap kept; returns their total
// width. `bytes` is the mask batch's [T, S].
int64_t AppendKeyRuns(const uint8_t* bytes, int64_t s, int64_t t0, int64_t t1, int64_t lo, int64_t hi,
                      int64_t min_gap, std::vector<KeyRun>* runs) {
  if (hi <= lo) return 0;
  // A gap can only be as wide as min_gap when the range is wider.
  if (hi - lo < 2 + min_gap) {
    runs->push_back({lo, hi, 0});
    return hi - lo;
  }
  std::vector<uint8_t> live(static_cast<size_t>(hi - lo), 0);
  for (int64_t t = t0; t < t1; ++t) {
    const uint8_t* m = bytes + t * s + lo;
    for (int64_t j = 0; j < hi - lo; ++j) live[j] |= static_cast<uint8_t>(m[j] == 0);
  }
  int64_t run_lo = lo, col = 0;
  for (int64_t j = lo; j < hi;) {
    if (live[j - lo]) {
      ++j;
      continue;
    }
    int64_t gap_end = j;
    while (gap_end < hi && !live[gap_end - lo]) ++gap_end;
    if (gap_end - j >= min_gap) {
      runs->push_back({run_lo, j, col});
      col += j - run_lo;
      run_lo = gap_end;
    }
    j = gap_end;
  }
  runs->push_back({run_lo, hi, col});
  return col + (hi - run_lo);
}

BlockPlan PlanBlocks(const at::Tensor& mask, int64_t groups, int64_t head_dim) {
  BlockPlan plan;
  plan.t = mask.size(-2);
  plan.s = mask.size(-1);
  plan.mask_batches = mask.dim() == 3 ? mask.size(0) : 1;
  plan.spans = fused_math::UnmaskedSpans(mask.data_ptr<bool>(), plan.mask_batches * plan.t, plan.s);
  plan.dense = fused_math::DenseSpans(mask.data_ptr<bool>(), plan.spans, plan.s);
  const int64_t block = QueryBlock(), min_gap = MinKeyGap(head_dim);
  // Short prompts: one block of all G * T rows (row r reads mask row r % T).
  const bool whole = plan.t <= block;
  for (int64_t mb = 0; mb < plan.mask_batches; ++mb) {
    const int64_t* spans = plan.spans.data() + 2 * mb * plan.t;
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(mask.data_ptr<bool>()) + mb * plan.t * plan.s;
    std::vector<Block> blocks;
    std::vector<KeyRun> runs;
    int64_t offset = 0;
    const auto add = [&](int64_t row0, int64_t rows, int64_t t0, int64_t t1) {
      int64_t lo = plan.s, hi = 0;
      for (int64_t t = t0; t < t1; ++t) {
        if (spans[2 * t] == spans[2 * t + 1]) continue;  // fully masked row
        lo = std::min(lo, spans[2 * t]);
        hi = std::max(hi, spans[2 * t + 1]);
      }
      const int64_t run0 = static_cast<int64_t>(runs.size());
      const int64_t width = AppendKeyRuns(bytes, plan.s, t0, t1, lo, hi, min_gap, &runs);
      const int64_t ld = fused_math::PaddedWidth(width);
      blocks.push_back({row0, rows, run0, static_cast<int64_t>(runs.size()) - run0, width, ld, offset});
      offset += rows * ld;
    };
    if (whole) {
      add(0, groups * plan.t, 0, plan.t);
    } else {
      for (int64_t g = 0; g < groups; ++g) {
        for (int64_t t0 = 0; t0 < plan.t; t0 += block) {
          const int64_t t1 = std::min(t0 + block, plan.t);
          add(g * plan.t + t0, t1 - t0, t0, t1);
        }
      }
    }
    plan.blocks.push_back(std::move(blocks));
    plan.runs.push_back(std::move(runs));
    plan.head_size.push_back(offset);
  }
  return plan;
}

// The mask bytes and unmasked spans of one mask batch.
struct MaskBatch {
  const uint8_t* bytes;   // [T, S], true = masked
  const int64_t* spans;   // lo, hi per mask row
  const uint8_t* dense;   // per mask row
};

MaskBatch MaskBatchOf(const BlockPlan& plan, const at::Tensor& mask, int64_t mb) {
  return {reinterpret_cast<const uint8_t*>(mask.data_ptr<bool>()) + mb * plan.t * plan.s,
          plan.spans.data() + 2 * mb * plan.t, plan.dense.data() + mb * plan.t};
}

// A head's matrix: its first element and row stride (elements between rows).
// q and the output are [B, KV, G*T, D], k and v [B, KV, S, D], each with
// unit stride in D.
template <typename scalar_t>
struct HeadMatrix {
  scalar_t* data;
  int64_t ld;
  scalar_t* Row(int64_t r) const { return data + r * ld; }
};

template <typename scalar_t>
HeadMatrix<scalar_t> Head(const at::Tensor& x, int64_t b, int64_t kv) {
  return {x.data_ptr<scalar_t>() + b * x.stride(0) + kv * x.stride(1), x.stride(2)};
}

// A head stored as bf16 or half, read into or written from float rows with
// row stride D: the conversion is exact one way, and rounds once the other
// (fused_math::RoundTo, as ATen's cast rounds). Rows stored back to back
// (ld = D: q, k and the gradients; v is a transposed view) go as one span,
// which at D = 16 leaves the vector loop fewer remainders.
template <typename storage_t, typename compute_t>
ALRO_VECTOR_CLONES void ReadRows(const storage_t* src, int64_t ld, int64_t rows, int64_t d, compute_t* dst) {
  if (ld == d) d *= std::exchange(rows, 1);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < d; ++j) dst[r * d + j] = static_cast<compute_t>(src[r * ld + j]);
  }
}

template <typename storage_t, typename compute_t>
ALRO_VECTOR_CLONES void WriteRows(const compute_t* src, int64_t rows, int64_t d, storage_t* dst, int64_t ld) {
  if (ld == d) d *= std::exchange(rows, 1);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < d; ++j) dst[r * ld + j] = fused_math::RoundTo<storage_t>(src[r * d + j]);
  }
}

// Calls fn(storage_t{}) for a bf16 or half tensor.
template <typename Fn>
void WithNarrowType(const at::Tensor& x, Fn fn) {
  if (x.scalar_type() == at::kBFloat16) return fn(c10::BFloat16());
  TORCH_CHECK(x.scalar_type() == at::kHalf, "MaskedAttention: unexpected dtype ", x.scalar_type());
  fn(c10::Half());
}

// A head (b, kv) of a [B, KV, rows, D] tensor (unit stride in D) in the
// kernel's compute type scalar_t: in place when the tensor has that type.
// A bf16 or half head is converted into this per-thread buffer, and a
// written one rounded back once, so the kernel computes as it would on
// float32 copies of the tensors, without the copies' passes, allocations and
// autograd nodes.
template <typename scalar_t>
class StagedHead {
 public:
  /// The head to read.
  HeadMatrix<scalar_t> Read(const at::Tensor& x, int64_t b, int64_t kv) {
    if (InPlace(x)) return Head<scalar_t>(x, b, kv);
    const int64_t rows = x.size(2), d = x.size(3);
    buf_.resize(static_cast<size_t>(rows * d));
    WithNarrowType(x, [&](auto narrow) {
      using storage_t = decltype(narrow);
      const HeadMatrix<storage_t> head = Head<storage_t>(x, b, kv);
      ReadRows(head.data, head.ld, rows, d, buf_.data());
    });
    return {buf_.data(), d};
  }

  /// The head to write, zeroed when `zero` (else its contents are undefined
  /// until written). A buffered head reaches x through Store.
  HeadMatrix<scalar_t> Write(const at::Tensor& x, int64_t b, int64_t kv, bool zero) {
    const int64_t rows = x.size(2), d = x.size(3);
    if (InPlace(x)) {
      const HeadMatrix<scalar_t> head = Head<scalar_t>(x, b, kv);
      if (zero) {
        for (int64_t r = 0; r < rows; ++r) std::fill_n(head.Row(r), d, scalar_t(0));
      }
      return head;
    }
    buf_.resize(static_cast<size_t>(rows * d));
    if (zero) std::fill(buf_.begin(), buf_.end(), scalar_t(0));
    return {buf_.data(), d};
  }

  /// Rounds rows [row0, row0 + rows) of a buffered head into x's head (b,
  /// kv); nothing for a head written in place.
  void Store(const at::Tensor& x, int64_t b, int64_t kv, int64_t row0, int64_t rows) const {
    if (InPlace(x)) return;
    const int64_t d = x.size(3);
    WithNarrowType(x, [&](auto narrow) {
      using storage_t = decltype(narrow);
      const HeadMatrix<storage_t> head = Head<storage_t>(x, b, kv);
      WriteRows(buf_.data() + row0 * d, rows, d, head.Row(row0), head.ld);
    });
  }

 private:
  static bool InPlace(const at::Tensor& x) { return x.scalar_type() == c10::CppTypeToScalarType<scalar_t>::value; }

  std::vector<scalar_t> buf_;
};

// Mask row t's bytes at a block's columns: in place when the block has one
// run of keys, else gathered into `scratch` (the block's width in bytes).
const uint8_t* BlockMaskRow(const Block& blk, const KeyRun* runs, const MaskBatch& mask, int64_t s, int64_t t,
                            uint8_t* scratch) {
  const uint8_t* row = mask.bytes + t * s;
  if (blk.runs == 1) return row + runs[0].lo;
  for (int64_t r = 0; r < blk.runs; ++r) {
    std::memcpy(scratch + runs[r].col, row + runs[r].lo, static_cast<size_t>(runs[r].hi - runs[r].lo));
  }
  return scratch;
}

// The block column of key `key`, which lies in one of the block's runs (a
// row's first and last unmasked keys do: the gaps hold only keys that no row
// of the block attends to).
int64_t ColumnOf(const KeyRun* runs, int64_t n, int64_t key) {
  int64_t r = 0;
  while (r + 1 < n && key >= runs[r].hi) ++r;
  return runs[r].col + (key - runs[r].lo);
}

// Row t's span as block columns [first, end): a row's first and last
// unmasked keys lie in the block's runs. A dense span lies within one run
// (a gap between runs holds keys every row of the block masks), so its
// columns are its keys, in order.
struct ColumnSpan {
  int64_t first, end;
};

ColumnSpan ColumnSpanOf(const Block& blk, const KeyRun* runs, const MaskBatch& mask, int64_t t) {
  return {ColumnOf(runs, blk.runs, mask.spans[2 * t]), ColumnOf(runs, blk.runs, mask.spans[2 * t + 1] - 1) + 1};
}

// The softmax of a block's scores p (rows x width at stride blk.ld, already
// scaled) in place: each row over its own unmasked span, zeros outside it.
// A dense span (no masked key inside; every row of a causal or packed mask)
// runs on whole vectors without reading the mask. A row whose keys are all
// masked gets zeros here; the caller writes its NaN output.
template <typename scalar_t>
ALRO_VECTOR_CLONES void SoftmaxBlockRows(const Block& blk, const KeyRun* runs, const BlockPlan& plan,
                                         const MaskBatch& mask, scalar_t* p, scalar_t* scratch,
                                         uint8_t* mask_scratch) {
  const int64_t w = blk.width;
  for (int64_t i = 0; i < blk.rows; ++i) {
    const int64_t t = (blk.row0 + i) % plan.t;
    scalar_t* row = p + i * blk.ld;
    if (mask.spans[2 * t] == mask.spans[2 * t + 1]) {
      for (int64_t j = 0; j < w; ++j) row[j] = 0;
      continue;
    }
    const ColumnSpan span = ColumnSpanOf(blk, runs, mask, t);
    if (mask.dense[t]) {
      fused_math::DenseSpanSoftmax(row, span.first, span.end, w);
      continue;
    }
    const uint8_t* m = BlockMaskRow(blk, runs, mask, plan.s, t, mask_scratch);
    for (int64_t j = 0; j < span.first; ++j) row[j] = 0;
    fused_math::MaskedSoftmaxSpan(row + span.first, m + span.first, span.end - span.first, scalar_t(1), scratch,
                                  row + span.first);
    for (int64_t j = span.end; j < w; ++j) row[j] = 0;
  }
}

// The scores' gradient dS of a block in place of dP (rows x width), from
// its probabilities p: softmax's backward through the scale, 0 at masked keys.
template <typename scalar_t>
ALRO_VECTOR_CLONES void ScoreGradBlockRows(const Block& blk, const KeyRun* runs, const BlockPlan& plan,
                                           const MaskBatch& mask, const scalar_t* p, scalar_t scale, scalar_t* dp,
                                           uint8_t* mask_scratch) {
  const int64_t w = blk.width;
  for (int64_t i = 0; i < blk.rows; ++i) {
    const int64_t t = (blk.row0 + i) % plan.t;
    scalar_t* row = dp + i * blk.ld;
    if (mask.spans[2 * t] != mask.spans[2 * t + 1] && mask.dense[t]) {
      const ColumnSpan span = ColumnSpanOf(blk, runs, mask, t);
      fused_math::DenseSpanSoftmaxBackward(row, p + i * blk.ld, span.first, span.end, w, scale);
      continue;
    }
    const uint8_t* m = BlockMaskRow(blk, runs, mask, plan.s, t, mask_scratch);
    fused_math::MaskedSoftmaxBackwardSpan(row, p + i * blk.ld, m, w, scale, row);
  }
}

// The ragged buffer's start for every head (b, kv), and its total size.
std::vector<int64_t> HeadOffsets(const BlockPlan& plan, int64_t batch, int64_t kv_heads) {
  std::vector<int64_t> offsets(static_cast<size_t>(batch * kv_heads + 1), 0);
  for (int64_t h = 0; h < batch * kv_heads; ++h) {
    offsets[h + 1] = offsets[h] + plan.head_size[plan.MaskBatchOf(h / kv_heads)];
  }
  return offsets;
}

struct Shapes {
  int64_t batch, kv_heads, groups, head_dim;
};

// Everything the forward and the backward derive from q's shape and the
// mask: built the same way in both (the backward rebuilds it rather than
// keeping non-tensor state in the autograd context).
struct AttentionPlan {
  Shapes shapes;
  BlockPlan blocks;
  std::vector<int64_t> head_offsets;  // ragged buffer start per head, and its total
};

AttentionPlan PlanAttention(const at::Tensor& q, const at::Tensor& mask) {
  AttentionPlan plan;
  plan.shapes = {q.size(0), q.size(1), q.size(2) / mask.size(-2), q.size(3)};
  plan.blocks = PlanBlocks(mask, plan.shapes.groups, plan.shapes.head_dim);
  plan.head_offsets = HeadOffsets(plan.blocks, plan.shapes.batch, plan.shapes.kv_heads);
  return plan;
}

// 1 / sqrt(D), the scores' scale, in the kernel's type.
template <typename scalar_t>
scalar_t InverseSqrt(int64_t d) {
  return scalar_t(1) / static_cast<scalar_t>(std::sqrt(static_cast<double>(d)));
}

// The blocks' three kinds of product (the shapes of core/tile_gemm.h) for
// one head at a time: alro's tile kernels for float32 heads they take,
// CBLAS otherwise, or for every product when ALRO_SGEMM names a library or
// ALRO_TILE_GEMM=0. One per thread.
template <typename scalar_t>
class HeadProducts {
 public:
  HeadProducts(int64_t d, int64_t max_keys)
      : d_(d),
        tiles_(std::is_same_v<scalar_t, float> && tile_gemm::Handles(d) && tile_gemm::Enabled() &&
               !cblas::LibraryForced()) {
    if (tiles_) transposed_.resize(static_cast<size_t>(d * tile_gemm::TransposedKeysStride(max_keys)));
  }

  // The keys of the head's next RowsByKeys products: b [n, d]. The tile
  // kernels take them transposed, once per head.
  void SetKeys(const scalar_t* b, int64_t ldb, int64_t n) {
    keys_ = b;
    keys_ld_ = ldb;
    if constexpr (std::is_same_v<scalar_t, float>) {
      if (tiles_) tile_gemm::TransposeKeys(n, d_, b, ldb, transposed_.data());
    }
    transposed_ld_ = tile_gemm::TransposedKeysStride(n);
  }

  // C[m, n] = alpha * A[m, d] B[lo : lo + n]^T, B the keys of SetKeys.
  void RowsByKeys(int64_t m, int64_t lo, int64_t n, scalar_t alpha, const scalar_t* a, int64_t lda, scalar_t* c,
                  int64_t ldc) const {
    if constexpr (std::is_same_v<scalar_t, float>) {
      if (tiles_) return tile_gemm::RowsByKeys(m, n, d_, alpha, a, lda, transposed_.data() + lo, transposed_ld_, c, ldc);
    }
    cblas::Gemm(false, true, m, n, d_, alpha, a, lda, keys_ + lo * keys_ld_, keys_ld_, scalar_t(0), c, ldc);
  }

  // C[m, d] = A[m, n] B[n, d], or C += A B where `accumulate`.
  void RowsByValues(int64_t m, int64_t n, const scalar_t* a, int64_t lda, const scalar_t* b, int64_t ldb,
                    bool accumulate, scalar_t* c, int64_t ldc) const {
    if constexpr (std::is_same_v<scalar_t, float>) {
      if (tiles_) return tile_gemm::RowsByValues(m, n, d_, a, lda, b, ldb, accumulate, c, ldc);
    }
    cblas::Gemm(false, false, m, d_, n, scalar_t(1), a, lda, b, ldb, scalar_t(accumulate ? 1 : 0), c, ldc);
  }

  // C[n, d] += A[m, n]^T B[m, d].
  void ColumnsByRows(int64_t m, int64_t n, const scalar_t* a, int64_t lda, const scalar_t* b, int64_t ldb,
                     scalar_t* c, int64_t ldc) const {
    if constexpr (std::is_same_v<scalar_t, float>) {
      if (tiles_) return tile_gemm::ColumnsByRows(m, n, d_, a, lda, b, ldb, c, ldc);
    }
    cblas::Gemm(true, false, n, d_, m, scalar_t(1), a, lda, b, ldb, scalar_t(1), c, ldc);
  }

 private:
  int64_t d_;
  bool tiles_;
  const scalar_t* keys_ = nullptr;
  int64_t keys_ld_ = 0, transposed_ld_ = 0;
  std::vector<float> transposed_;  // the keys transposed, [d, TransposedKeysStride(n)]
};

template <typename scalar_t>
void Forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
             const AttentionPlan& attention, at::Tensor& probs, at::Tensor& out) {
  const BlockPlan& plan = attention.blocks;
  const std::vector<int64_t>& head_offsets = attention.head_offsets;
  const Shapes& sh = attention.shapes;
  const int64_t d = sh.head_dim, heads = sh.batch * sh.kv_heads;
  const scalar_t scale = InverseSqrt<scalar_t>(d);
  const int64_t blocks_per_head = static_cast<int64_t>(plan.blocks[0].size());
  scalar_t* pbuf = probs.data_ptr<scalar_t>();
  at::parallel_for(0, heads * blocks_per_head, 1, [&](int64_t begin, int64_t end) {
    std::vector<scalar_t> scratch(static_cast<size_t>(fused_math::PaddedWidth(plan.s)));
    std::vector<uint8_t> mask_scratch(static_cast<size_t>(plan.s));
    HeadProducts<scalar_t> products(d, plan.s);
    StagedHead<scalar_t> q_stage, k_stage, v_stage, out_stage;
    HeadMatrix<scalar_t> qh{}, kh{}, vh{}, oh{};
    int64_t head = -1;  // the head staged and whose keys `products` holds
    for (int64_t task = begin; task < end; ++task) {
      const int64_t h = task / blocks_per_head, b = h / sh.kv_heads, kv = h % sh.kv_heads;
      const int64_t mb = plan.MaskBatchOf(b);
      const Block& blk = plan.blocks[mb][task % blocks_per_head];
      const KeyRun* runs = plan.RunsOf(mb, blk);
      const MaskBatch mbatch = MaskBatchOf(plan, mask, mb);
      if (head != h) {
        qh = q_stage.Read(q, b, kv);
        kh = k_stage.Read(k, b, kv);
        vh = v_stage.Read(v, b, kv);
        oh = out_stage.Write(out, b, kv, /*zero=*/false);
        products.SetKeys(kh.data, kh.ld, plan.s);
        head = h;
      }
      const int64_t w = blk.width;
      scalar_t* p = pbuf + head_offsets[h] + blk.offset;
      if (w > 0) {
        for (int64_t r = 0; r < blk.runs; ++r) {
          products.RowsByKeys(blk.rows, runs[r].lo, runs[r].hi - runs[r].lo, scale, qh.Row(blk.row0), qh.ld,
                              p + runs[r].col, blk.ld);
        }
        SoftmaxBlockRows(blk, runs, plan, mbatch, p, scratch.data(), mask_scratch.data());
        for (int64_t r = 0; r < blk.runs; ++r) {
          products.RowsByValues(blk.rows, runs[r].hi - runs[r].lo, p + runs[r].col, blk.ld, vh.Row(runs[r].lo),
                                vh.ld, r > 0, oh.Row(blk.row0), oh.ld);
        }
      }
      for (int64_t i = 0; i < blk.rows; ++i) {
        const int64_t t = (blk.row0 + i) % plan.t;
        if (mbatch.spans[2 * t] != mbatch.spans[2 * t + 1]) continue;
        scalar_t* o = oh.Row(blk.row0 + i);
        for (int64_t j = 0; j < d; ++j) o[j] = std::numeric_limits<scalar_t>::quiet_NaN();
      }
      out_stage.Store(out, b, kv, blk.row0, blk.rows);
    }
  });
}

template <typename scalar_t>
void Backward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
              const at::Tensor& probs, const at::Tensor& dout, const AttentionPlan& attention, at::Tensor& dq,
              at::Tensor& dk, at::Tensor& dv) {
  const BlockPlan& plan = attention.blocks;
  const std::vector<int64_t>& head_offsets = attention.head_offsets;
  const Shapes& sh = attention.shapes;
  const int64_t d = sh.head_dim, heads = sh.batch * sh.kv_heads;
  const scalar_t scale = InverseSqrt<scalar_t>(d);
  const scalar_t* pbuf = probs.data_ptr<scalar_t>();
  int64_t max_block = 0;
  for (const auto& blocks : plan.blocks) {
    for (const Block& blk : blocks) max_block = std::max(max_block, blk.rows * blk.ld);
  }
  at::parallel_for(0, heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<scalar_t> dp(static_cast<size_t>(max_block));
    std::vector<uint8_t> mask_scratch(static_cast<size_t>(plan.s));
    HeadProducts<scalar_t> products(d, plan.s);
    StagedHead<scalar_t> q_stage, k_stage, v_stage, dout_stage, dq_stage, dk_stage, dv_stage;
    for (int64_t h = begin; h < end; ++h) {
      const int64_t b = h / sh.kv_heads, kv = h % sh.kv_heads;
      const int64_t mb = plan.MaskBatchOf(b);
      const MaskBatch mbatch = MaskBatchOf(plan, mask, mb);
      const HeadMatrix<scalar_t> qh = q_stage.Read(q, b, kv), kh = k_stage.Read(k, b, kv),
                                 vh = v_stage.Read(v, b, kv), doh = dout_stage.Read(dout, b, kv),
                                 dqh = dq_stage.Write(dq, b, kv, /*zero=*/false),
                                 dkh = dk_stage.Write(dk, b, kv, /*zero=*/true),
                                 dvh = dv_stage.Write(dv, b, kv, /*zero=*/true);
      products.SetKeys(vh.data, vh.ld, plan.s);  // dP = dO V^T
      for (const Block& blk : plan.blocks[mb]) {
        const int64_t w = blk.width;
        if (w == 0) {
          for (int64_t i = 0; i < blk.rows; ++i) std::fill_n(dqh.Row(blk.row0 + i), d, scalar_t(0));
          continue;
        }
        const KeyRun* runs = plan.RunsOf(mb, blk);
        const scalar_t* p = pbuf + head_offsets[h] + blk.offset;
        const scalar_t* dor = doh.Row(blk.row0);
        for (int64_t r = 0; r < blk.runs; ++r) {
          products.RowsByKeys(blk.rows, runs[r].lo, runs[r].hi - runs[r].lo, scalar_t(1), dor, doh.ld,
                              dp.data() + runs[r].col, blk.ld);
        }
        ScoreGradBlockRows(blk, runs, plan, mbatch, p, scale, dp.data(), mask_scratch.data());
        for (int64_t r = 0; r < blk.runs; ++r) {
          const int64_t n = runs[r].hi - runs[r].lo;
          const scalar_t* ds = dp.data() + runs[r].col;
          products.RowsByValues(blk.rows, n, ds, blk.ld, kh.Row(runs[r].lo), kh.ld, r > 0, dqh.Row(blk.row0),
                                dqh.ld);
          products.ColumnsByRows(blk.rows, n, ds, blk.ld, qh.Row(blk.row0), qh.ld, dkh.Row(runs[r].lo), dkh.ld);
          products.ColumnsByRows(blk.rows, n, p + runs[r].col, blk.ld, dor, doh.ld, dvh.Row(runs[r].lo), dvh.ld);
        }
      }
      dq_stage.Store(dq, b, kv, 0, dq.size(2));
      dk_stage.Store(dk, b, kv, 0, dk.size(2));
      dv_stage.Store(dv, b, kv, 0, dv.size(2));
    }
  });
}

// Inputs with a unit stride in D as they are (v is a transposed view of the
// projection's output, read in place); anything else is copied once.
at::Tensor UnitLastStride(const at::Tensor& x) { return x.stride(-1) == 1 ? x : x.contiguous(); }

void CheckShapes(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4,
              "MaskedAttention: q [B, KV, G*T, D], k and v [B, KV, S, D]");
  TORCH_CHECK(k.sizes() == v.sizes() && q.size(0) == k.size(0) && q.size(1) == k.size(1) && q.size(3) == k.size(3),
              "MaskedAttention: q ", q.sizes(), ", k ", k.sizes(), " and v ", v.sizes(), " do not match");
  TORCH_CHECK(q.scalar_type() == k.scalar_type() && q.scalar_type() == v.scalar_type(),
              "MaskedAttention: q, k and v need one dtype");
  TORCH_CHECK(mask.scalar_type() == at::kBool && (mask.dim() == 2 || mask.dim() == 3),
              "MaskedAttention: a bool mask [T, S] or [B, T, S]");
  const int64_t t = mask.size(-2);
  TORCH_CHECK(mask.size(-1) == k.size(2) && t > 0 && q.size(2) % t == 0 &&
                  (mask.dim() == 2 || mask.size(0) == q.size(0)),
              "MaskedAttention: the mask ", mask.sizes(), " does not match q ", q.sizes(), " and k ", k.sizes());
}

// The dtypes the kernel takes: float32 and double, and bf16 and half
// computed in float32.
bool KernelTakes(at::ScalarType type) {
  return type == at::kFloat || type == at::kDouble || type == at::kBFloat16 || type == at::kHalf;
}

// The type the kernel computes in: double for double, float32 for float32,
// bf16 and half.
at::ScalarType ComputeType(const at::Tensor& q) { return q.scalar_type() == at::kDouble ? at::kDouble : at::kFloat; }

class MaskedAttentionFunction : public torch::autograd::Function<MaskedAttentionFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& q_in, const at::Tensor& k_in,
                            const at::Tensor& v_in, const at::Tensor& mask_in) {
    // Named in profiles (the forward of a custom Function is no operator).
    RECORD_FUNCTION("alro::masked_attention_fused", c10::ArrayRef<const c10::IValue>{});
    CheckShapes(q_in, k_in, v_in, mask_in);
    const at::Tensor q = UnitLastStride(q_in), k = UnitLastStride(k_in), v = UnitLastStride(v_in);
    const at::Tensor mask = mask_in.contiguous();
    const AttentionPlan plan = PlanAttention(q, mask);
    at::Tensor probs = at::empty({plan.head_offsets.back()}, q.options().dtype(ComputeType(q)));
    at::Tensor out = at::empty(q.sizes(), q.options());
    if (ComputeType(q) == at::kDouble) {
      Forward<double>(q, k, v, mask, plan, probs, out);
    } else {
      Forward<float>(q, k, v, mask, plan, probs, out);
    }
    ctx->save_for_backward({q, k, v, mask, probs});
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    RECORD_FUNCTION("alro::masked_attention_fused_backward", c10::ArrayRef<const c10::IValue>{});
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &mask = saved[3], &probs = saved[4];
    const at::Tensor dout = grads[0].contiguous();
    const AttentionPlan plan = PlanAttention(q, mask);
    at::Tensor dq = at::empty(q.sizes(), q.options());
    at::Tensor dk = at::empty(k.sizes(), k.options());
    at::Tensor dv = at::empty(v.sizes(), v.options());
    if (ComputeType(q) == at::kDouble) {
      Backward<double>(q, k, v, mask, probs, dout, plan, dq, dk, dv);
    } else {
      Backward<float>(q, k, v, mask, probs, dout, plan, dq, dk, dv);
    }
    return {dq, dk, dv, at::Tensor()};
  }
};

}  // namespace

at::Tensor MaskedAttentionComposite(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                    const at::Tensor& mask) {
  // The softmax in float32 for bf16 and half, in double for double.
  const at::Tensor scores = BatchedMatmul(q, k.transpose(-1, -2)).to(at::promote_types(q.scalar_type(), at::kFloat));
  const at::Tensor probs = MaskedSoftmax(scores, mask, q.size(-1)).to(q.scalar_type());
  return BatchedMatmul(probs, v);
}

at::Tensor MaskedAttentionFused(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                const at::Tensor& mask) {
  ALRO_CHECK(cblas::Available(), "MaskedAttentionFused: no CBLAS gemm is loaded in this process");
  const at::ScalarType type = q.scalar_type();
  ALRO_CHECK(q.device().is_cpu() && KernelTakes(type),
             "MaskedAttentionFused: CPU float32, double, bf16 or half only, got ", c10::str(type), " on ",
             q.device().str());
  return MaskedAttentionFunction::apply(q, k, v, mask);
}

int64_t MaskedAttentionScoreEntries(const at::Tensor& mask, int64_t groups, int64_t head_dim) {
  TORCH_CHECK(mask.scalar_type() == at::kBool && (mask.dim() == 2 || mask.dim() == 3) && groups > 0 && head_dim > 0,
              "MaskedAttentionScoreEntries: a bool mask [T, S] or [B, T, S], groups > 0 and head_dim > 0");
  const BlockPlan plan = PlanBlocks(mask.contiguous(), groups, head_dim);
  int64_t entries = 0;
  for (const std::vector<Block>& blocks : plan.blocks) {
    for (const Block& blk : blocks) entries += blk.rows * blk.width;
  }
  return entries;
}

at::Tensor MaskedAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) {
  const at::ScalarType type = q.scalar_type();
  const bool kernel = FusedKernelsEnabled() && q.device().is_cpu() && mask.device().is_cpu() &&
                      KernelTakes(type) && k.scalar_type() == type && v.scalar_type() == type && cblas::Available();
  if (!kernel) return MaskedAttentionComposite(q, k, v, mask);
  // bf16 and half as flash attention treats them: the kernel computes in
  // float32 on each head converted as it is read, so the scores,
  // probabilities and products are float32 and the output and gradients are
  // rounded once (StagedHead). The composite rounds the scores and the
  // probabilities to bf16, and its casts and softmax over the whole
  // [B, KV, G * T, S] scores made the bf16 demo 1.15x slower; same ranking
  // over three seeds (docs/performance.md, "bf16 attention through the
  // kernel").
  return MaskedAttentionFused(q, k, v, mask);
}

}  // namespace alro::core
