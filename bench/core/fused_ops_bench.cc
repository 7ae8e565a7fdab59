// bench/core/fused_ops_bench.cc: the fused CPU kernels of core/fused_ops.h
// against their composite ATen forms, op by op.
//
// For each op (masked softmax, RMSNorm, the residual step around it,
// q/k/v as one node against three linears, SwiGLU) at the demo's shapes
// (configs/tiny.yaml: 64 lists x 55 tokens, the tiny preset) and the small
// preset's (4 x 256 tokens), and the answer slots' readout of the logits
// (core/fused_answer_readout.h against the cross-entropy of losses/ and
// core::IdentifierLogits) at the demo's, float32, 1 and 2 threads, it times the fused
// and the composite form (called directly, whatever ALRO_FUSED_KERNELS says),
// forward alone and forward+backward, in ns per element of the op's output.
// The configurations are interleaved within each of --rounds rounds (a
// shared machine's speed drifts); the summary gives medians over rounds and
// the median of the per-round ratios composite / fused.
//
// It also prints which ISA clone of the kernels this CPU runs
// (ALRO_VECTOR_CLONES, core/fused_math.h) and the parallel_for fork-join
// cost at 2 threads, from which the kernels' grain follows: a split pays
// when each thread's share of work takes longer than the fork.
//
//   OMP_WAIT_POLICY=PASSIVE build/bench/core/core_fused_ops_bench [--rounds 5] [--iters 20] [--only NAME]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include "bench/bench_timing.h"
#include "common/allocator.h"
#include "core/batched_matmul.h"
#include "core/fused_answer_readout.h"
#include "core/fused_ops.h"
#include "core/identifier_logits.h"
#include "losses/lm_loss.h"

namespace alro::core {
namespace {

using bench::Median;
using bench::MedianSeconds;

// One op at one shape: builds its output from the inputs, in either form.
struct Case {
  std::string name;
  std::vector<at::Tensor> inputs;  // floating inputs get gradients
  std::function<at::Tensor(const std::vector<at::Tensor>&)> fused, composite;
};

at::Tensor Causal(int64_t t) { return at::arange(t).unsqueeze(0) > at::arange(t).unsqueeze(1); }

std::vector<Case> Cases() {
  std::vector<Case> cases;
  // {name, batch, tokens, hidden, intermediate, kv heads, query groups, head_dim}
  struct Shape {
    const char* name;
    int64_t b, t, hidden, inter, kv, groups, head_dim;
  };
  for (const Shape& s : {Shape{"demo", 64, 55, 64, 176, 2, 2, 16}, Shape{"small", 4, 256, 256, 704, 4, 2, 32}}) {
    const int64_t d = s.head_dim;
    cases.push_back({std::string("softmax ") + s.name,
                     {at::randn({s.b, s.kv, s.groups * s.t, s.t}) * 4, Causal(s.t)},
                     [d](const auto& in) { return MaskedSoftmaxFused(in[0], in[1], d); },
                     [d](const auto& in) { return MaskedSoftmaxComposite(in[0], in[1], d); }});
    cases.push_back({std::string("rms_norm ") + s.name,
                     {at::randn({s.b, s.t, s.hidden}), at::randn({s.hidden})},
                     [](const auto& in) { return RmsNormFused(in[0], in[1], 1e-5); },
                     [](const auto& in) { return RmsNormComposite(in[0], in[1], 1e-5); }});
    // The residual step: both outputs as one, so that both get a gradient
    // (as in the layer: the stream goes on, the normalised value into the
    // next sublayer).
    cases.push_back({std::string("residual_norm ") + s.name,
                     {at::randn({s.b, s.t, s.hidden}), at::randn({s.hidden}), at::randn({s.b, s.t, s.hidden})},
                     [](const auto& in) {
                       const ResidualNormed r = ResidualRmsNormFused(in[0], in[2], in[1], 1e-5);
                       return at::cat({r.sum, r.normed}, -1);
                     },
                     [](const auto& in) {
                       const ResidualNormed r = ResidualRmsNormComposite(in[0], in[2], in[1], 1e-5);
                       return at::cat({r.sum, r.normed}, -1);
                     }});
    // q, k and v from one input: one node (x's gradient summed by the gemm)
    // against three LinearProducts (summed by autograd).
    const int64_t q_out = s.kv * s.groups * s.head_dim, kv_out = s.kv * s.head_dim;
    cases.push_back({std::string("qkv_linears ") + s.name,
                     {at::randn({s.b, s.t, s.hidden}), at::randn({q_out, s.hidden}), at::randn({kv_out, s.hidden}),
                      at::randn({kv_out, s.hidden})},
                     [](const auto& in) { return at::cat(LinearProducts(in[0], {in[1], in[2], in[3]}), -1); },
                     [](const auto& in) {
                       return at::cat({LinearProduct(in[0], in[1]), LinearProduct(in[0], in[2]),
                                       LinearProduct(in[0], in[3])},
                                      -1);
                     }});
    cases.push_back({std::string("swiglu ") + s.name,
                     {at::randn({s.b, s.t, s.inter}) * 3, at::randn({s.b, s.t, s.inter})},
                     [](const auto& in) { return SwiGluFused(in[0], in[1]); },
                     [](const auto& in) { return SwiGluComposite(in[0], in[1]); }});
  }
  // The answer slots' logits (core/fused_answer_readout.h) at the demo's
  // shape: 64 rows x 10 slots over a vocabulary of 1024, both readings
  // (per-token cross-entropy, identifier logits) as one [640, 11] output.
  static std::unique_ptr<dist::Communicator> local = dist::Communicator::CreateLocal();
  const int64_t rows = 640, vocab = 1024, m = 10;
  cases.push_back(
      {"readout demo",
       {at::randn({rows, vocab}) * 3, at::randint(0, vocab, {rows}, at::TensorOptions().dtype(at::kLong)),
        at::randint(0, vocab, {rows, m}, at::TensorOptions().dtype(at::kLong))},
       [](const auto& in) {
         const AnswerReadout r = FusedAnswerReadout(in[0], in[1], in[2], 0, *local);
         return at::cat({r.target_nll.unsqueeze(1), r.identifier_logits}, 1);
       },
       [](const auto& in) {
         return at::cat({losses::VocabParallelCrossEntropy(in[0], in[1], 0, *local).unsqueeze(1),
                         IdentifierLogits(in[0], in[2], 0, *local)},
                        1);
       }});
  return cases;
}

// Seconds of one forward (no autograd) or forward+backward.
double Time(const Case& c, bool fused, bool backward, int iters) {
  const auto& op = fused ? c.fused : c.composite;
  if (!backward) {
    at::NoGradGuard no_grad;
    return MedianSeconds(iters, [&] { (void)op(c.inputs); });
  }
  std::vector<at::Tensor> leaves, diff;
  for (const at::Tensor& t : c.inputs) {
    leaves.push_back(t.is_floating_point() ? t.detach().requires_grad_(true) : t);
    if (t.is_floating_point()) diff.push_back(leaves.back());
  }
  const at::Tensor probe = at::randn(c.fused(c.inputs).sizes());
  return MedianSeconds(iters, [&] {
    const at::Tensor out = op(leaves);
    (void)torch::autograd::grad({out}, diff, {probe});
  });
}

// Seconds of a parallel_for that splits into two near-empty tasks: the
// fork-join cost a kernel pays when it splits.
double ForkSeconds(int iters) {
  return MedianSeconds(iters * 50, [] {
    at::parallel_for(0, 2, 1, [](int64_t begin, int64_t end) {
      volatile int64_t sink = begin + end;
      (void)sink;
    });
  });
}

const char* Clone() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (__builtin_cpu_supports("avx512f")) return "x86-64-v4 (AVX-512), if the build has clones";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "x86-64-v3 (AVX2+FMA), if the build has clones";
  return "default (SSE2)";
#else
  return "the build's ISA (no clones on this platform)";
#endif
}

double LoadAverage() {
  double load = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1;
    std::fclose(f);
  }
  return load;
}

int Main(int argc, char** argv) {
  int rounds = 5, iters = 20;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
    if (std::string(argv[i]) == "--iters") iters = std::max(1, std::atoi(argv[i + 1]));
    if (std::string(argv[i]) == "--only") only = argv[i + 1];
  }
  at::manual_seed(1);
  std::vector<Case> cases = Cases();
  // --only TEXT: the cases whose name contains TEXT (for perf or a quick look).
  cases.erase(std::remove_if(cases.begin(), cases.end(),
                             [&](const Case& c) { return c.name.find(only) == std::string::npos; }),
              cases.end());
  std::printf("clone selected: %s (avx2 %d, fma %d, avx512f %d)\n", Clone(), __builtin_cpu_supports("avx2") ? 1 : 0,
              __builtin_cpu_supports("fma") ? 1 : 0, __builtin_cpu_supports("avx512f") ? 1 : 0);
  std::printf("load average at start: %.2f\n", LoadAverage());

  // results[case][threads - 1][backward][fused] = ns/element per round.
  std::vector<std::vector<double>> ns(cases.size() * 8);
  auto slot = [](size_t c, int threads, bool backward, bool fused) {
    return c * 8 + (threads - 1) * 4 + (backward ? 2 : 0) + (fused ? 1 : 0);
  };
  std::vector<double> fork_us;
  for (int round = 0; round < rounds; ++round) {
    for (int threads : {1, 2}) {
      at::set_num_threads(threads);
      if (threads == 2) fork_us.push_back(ForkSeconds(iters) * 1e6);
      for (size_t c = 0; c < cases.size(); ++c) {
        const double elements = static_cast<double>(cases[c].fused(cases[c].inputs).numel());
        for (bool backward : {false, true}) {
          for (bool fused : {true, false}) {
            ns[slot(c, threads, backward, fused)].push_back(Time(cases[c], fused, backward, iters) * 1e9 / elements);
          }
        }
      }
    }
    std::printf("round %d done, load average %.2f\n", round + 1, LoadAverage());
    std::fflush(stdout);
  }

  std::printf("\nparallel_for fork-join at 2 threads: %.1f us (median of rounds)\n", Median(fork_us));
  std::printf("\nns per output element, median of %d rounds; ratio = median over rounds of composite / fused\n",
              rounds);
  std::printf("%-16s %3s %-8s %9s %9s %7s %13s\n", "op", "thr", "pass", "fused", "composite", "ratio",
              "ratio range");
  for (size_t c = 0; c < cases.size(); ++c) {
    for (int threads : {1, 2}) {
      for (bool backward : {false, true}) {
        const auto& f = ns[slot(c, threads, backward, true)];
        const auto& k = ns[slot(c, threads, backward, false)];
        std::vector<double> ratio;
        for (size_t r = 0; r < f.size(); ++r) ratio.push_back(k[r] / f[r]);
        std::printf("%-16s %3d %-8s %9.3f %9.3f %7.2f %6.2f-%-6.2f\n", cases[c].name.c_str(), threads,
                    backward ? "fwd+bwd" : "fwd", Median(f), Median(k), Median(ratio),
                    *std::min_element(ratio.begin(), ratio.end()), *std::max_element(ratio.begin(), ratio.end()));
      }
    }
  }
  // A split into two halves pays when half the work outlasts the fork:
  // elements per thread > fork time / (ns per element at 1 thread).
  std::printf("\nbreak-even elements per thread (fork-join / fused ns per element at 1 thread):\n");
  for (size_t c = 0; c < cases.size(); ++c) {
    for (bool backward : {false, true}) {
      std::printf("  %-16s %-8s %8.0f\n", cases[c].name.c_str(), backward ? "fwd+bwd" : "fwd",
                  Median(fork_us) * 1e3 / Median(ns[slot(c, 1, backward, true)]));
    }
  }
  std::printf("\nload average at end: %.2f\n", LoadAverage());
  return 0;
}

}  // namespace
}  // namespace alro::core

int main(int argc, char** argv) {
  alro::ConfigureAllocator();  // as the `alro` binary runs: common/allocator.h
  return alro::core::Main(argc, argv);
}
