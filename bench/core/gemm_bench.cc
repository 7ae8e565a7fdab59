// bench/core/gemm_bench.cc: the two float32 gemm libraries a process under
// Debian's LibTorch has loaded (core/cblas.h: OpenBLAS through CBLAS, and
// oneDNN's sgemm), on the products a training step makes.
//
// Shapes: the demo's (configs/tiny.yaml: 32 lists x 2 copies x 55 tokens =
// 3,520 rows per rank, hidden 64, MLP 176, the LM head's 640 answer rows x
// 1,024 vocabulary) and `small`'s (4 x 256 rows, hidden 256, MLP 688), each
// forward (x W^T), input gradient (dY W) and weight gradient (dY^T x); the
// attention's per-head tiles (~55 x 55 x 16); and the 512^3 square product
// that core_decoder_bench's `fraction` divides by. Each is timed on both
// libraries, interleaved within each of --rounds rounds (a shared machine's
// speed drifts); the table gives the median GFLOP/s of each and the median
// of the per-round ratios, and the library cblas::FloatLibrary picks at that
// size. Run it at 1 and 2 threads (OMP_NUM_THREADS).
//
//   OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE build/bench/core/core_gemm_bench [--rounds 5]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "bench/bench_timing.h"
#include "common/allocator.h"
#include "core/cblas.h"

namespace alro::core {
namespace {

using bench::Median;
using bench::MedianSeconds;

// C [m, n] = op(A) op(B): trans_a/trans_b as the step's products store them.
struct Shape {
  const char* name;
  bool trans_a, trans_b;
  int64_t m, n, k;
};

const Shape kShapes[] = {
    {"tiny q_proj x W^T", false, true, 3520, 64, 64},
    {"tiny k_proj x W^T", false, true, 3520, 32, 64},
    {"tiny up_proj x W^T", false, true, 3520, 176, 64},
    {"tiny down_proj x W^T", false, true, 3520, 64, 176},
    {"tiny up_proj dY W", false, false, 3520, 64, 176},
    {"tiny up_proj dY^T x", true, false, 176, 64, 3520},
    {"tiny lm_head x W^T", false, true, 640, 1024, 64},
    {"tiny lm_head dY W", false, false, 640, 64, 1024},
    {"tiny lm_head dY^T x", true, false, 1024, 64, 640},
    {"tiny attention QK^T", false, true, 55, 55, 16},
    {"tiny attention PV", false, false, 55, 16, 55},
    {"small q_proj x W^T", false, true, 1024, 256, 256},
    {"small up_proj x W^T", false, true, 1024, 688, 256},
    {"small up_proj dY^T x", true, false, 688, 256, 1024},
    {"square 512", false, false, 512, 512, 512},
};

// Seconds per product of `shape` on `library`, median of `iters` calls.
double Time(const Shape& s, cblas::Library library, const at::Tensor& a, const at::Tensor& b, at::Tensor& c,
            int iters) {
  const int64_t lda = a.size(1), ldb = b.size(1), ldc = c.size(1);
  return MedianSeconds(iters, [&] {
    cblas::GemmWith(library, s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, a.data_ptr<float>(), lda,
                    b.data_ptr<float>(), ldb, 0.0f, c.data_ptr<float>(), ldc);
  });
}

int Run(int rounds) {
  if (!cblas::Available() || !cblas::OneDnnAvailable()) {
    std::fprintf(stderr, "core_gemm_bench: needs both a CBLAS sgemm and oneDNN's dnnl_sgemm loaded (found: CBLAS %s, "
                         "oneDNN %s)\n  HINT: run it under Debian's LibTorch, which loads both\n",
                 cblas::Available() ? "yes" : "no", cblas::OneDnnAvailable() ? "yes" : "no");
    return 1;
  }
  std::printf("float32 gemm, %d thread(s), %d rounds (interleaved)\n", at::get_num_threads(), rounds);
  std::printf("%-22s %6s %6s %6s %12s %12s %16s %8s\n", "product", "m", "n", "k", "CBLAS GF/s", "oneDNN GF/s",
              "oneDNN/CBLAS", "picked");
  for (const Shape& s : kShapes) {
    at::manual_seed(1);
    const at::Tensor a = s.trans_a ? at::randn({s.k, s.m}) : at::randn({s.m, s.k});
    const at::Tensor b = s.trans_b ? at::randn({s.n, s.k}) : at::randn({s.k, s.n});
    at::Tensor c = at::empty({s.m, s.n});
    const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
    // ~50 ms of products per library and round.
    const int iters = std::max(5, static_cast<int>(2.5e9 / flops));
    std::vector<double> cblas_gflops, onednn_gflops, ratio;
    for (int r = 0; r < rounds; ++r) {
      const double t_cblas = Time(s, cblas::Library::kCblas, a, b, c, iters);
      const double t_onednn = Time(s, cblas::Library::kOneDnn, a, b, c, iters);
      cblas_gflops.push_back(flops / t_cblas / 1e9);
      onednn_gflops.push_back(flops / t_onednn / 1e9);
      ratio.push_back(t_cblas / t_onednn);
    }
    const auto [lo, hi] = std::minmax_element(ratio.begin(), ratio.end());
    std::printf("%-22s %6lld %6lld %6lld %12.1f %12.1f %6.2f (%.2f-%.2f) %8s\n", s.name,
                static_cast<long long>(s.m), static_cast<long long>(s.n), static_cast<long long>(s.k),
                Median(cblas_gflops), Median(onednn_gflops), Median(ratio), *lo, *hi,
                cblas::FloatLibrary(s.m, s.n, s.k) == cblas::Library::kOneDnn ? "oneDNN" : "CBLAS");
  }
  return 0;
}

}  // namespace
}  // namespace alro::core

int main(int argc, char** argv) {
  alro::ConfigureAllocator();  // as the `alro` binary runs: common/allocator.h
  int rounds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  return alro::core::Run(rounds);
}
