// bench/core/decoder_bench.cc: forward+backward throughput of the decoder.
//
// For each preset (tiny, small), thread count (1, 2) and dtype (float32,
// bfloat16) it reports, all measured in this run on this machine:
//   - tokens/s and achieved GFLOP/s of one training step (full-vocabulary
//     cross-entropy; FLOPs from config::TrainingFlopsPerToken),
//   - that GFLOP/s as a fraction of a plain float32 matmul's GFLOP/s
//     (the ceiling the step's matmuls could reach), timed in short bursts
//     between the timed steps so that both see the same machine speed,
//   - the same step written in Python with python3-torch
//     (bench/core/python_step.py; under torch.autocast for bfloat16, the way
//     a PyTorch user trains in bf16) and the ratio C++ / Python.
// bfloat16 rows run only on CPUs with native bf16 (common/cpu_features.h)
// unless --bf16 1 forces them: elsewhere both sides emulate it, 8-20x slower
// than float32, and the rows take minutes each. With bf16 rows, a
// "bf16-percast" row times alro's step with ComputeWeight's caching off (each
// use casts its weight, as autocast does: the path before the cast-once
// cache); it is compared with the Python time of the bf16 row of its round.
// Every step bumps the weights' versions, as the optimizer's update would,
// so the cast-once path pays its one cast per step.
// The whole table is measured --rounds times (rows interleaved, since a
// shared machine's speed drifts); the last table gives per-row medians and
// the median of the per-round ratios.
//
// --profile PRESET instead profiles that preset's step (train/step_profiler.h):
// the operators by self time, per step and as a share of the step, at
// --threads (default 1) for --iters steps; --trace FILE also writes a Chrome
// trace (chrome://tracing, ui.perfetto.dev).
//
//   OMP_WAIT_POLICY=PASSIVE build/bench/core/core_decoder_bench [--iters 5] [--rounds 3] [--bf16 0|1]
//       [--threads 1|2 (default both)]
//   OMP_WAIT_POLICY=PASSIVE build/bench/core/core_decoder_bench --profile small [--threads 1] [--iters 5]
//       [--top 30] [--trace small.json] [--dtype float32|bfloat16]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "absl/strings/str_cat.h"
#include "bench/bench_timing.h"
#include "common/allocator.h"
#include "common/cpu_features.h"
#include "common/file_util.h"
#include "config/config_io.h"
#include "config/model_size.h"
#include "core/batched_matmul.h"
#include "core/compute_weight.h"
#include "core/decoder.h"
#include "core/fused_answer_readout.h"
#include "core/fused_ops.h"
#include "nlohmann/json.hpp"
#include "train/step_profiler.h"

namespace alro::core {
namespace {

// Matmul baseline: square float32 matmuls of this size (the order of the
// decoder's largest projections at the small preset's batch).
constexpr int64_t kMatmulSize = 512;
using bench::Median;
using bench::MedianSeconds;

// The faster of ATen's matmul and the gemm the model's linears call
// (LinearProduct: oneDNN's sgemm where it is loaded), so the fraction is
// against the best product this process can run. `reps` products of each.
double MatmulGflops(int reps) {
  static const at::Tensor a = at::randn({kMatmulSize, kMatmulSize}), b = at::randn({kMatmulSize, kMatmulSize});
  const double aten = MedianSeconds(reps, [&] { (void)at::matmul(a, b); });
  const double linear = MedianSeconds(reps, [&] { (void)LinearProduct(a, b); });
  return 2.0 * kMatmulSize * kMatmulSize * kMatmulSize / std::min(aten, linear) / 1e9;
}

// One training step of `model` on fixed random tokens: forward, full-vocabulary
// cross-entropy (core/fused_answer_readout.h's kernel on the CPU; log_softmax
// and nll_loss with ALRO_FUSED_KERNELS=0), backward.
class CppStep {
 public:
  CppStep(const config::ModelConfig& m, int64_t batch, int64_t seq)
      : grid_(dist::ProcessGrid::CreateSingleProcess()), model_(m, grid_), batch_(batch), seq_(seq) {
    tokens_ = at::randint(m.vocab_size, {batch, seq}, at::TensorOptions().dtype(at::kLong));
    targets_ = at::randint(m.vocab_size, {batch * seq}, at::TensorOptions().dtype(at::kLong));
    no_identifiers_ = at::empty({batch * seq, 0}, at::TensorOptions().dtype(at::kLong));
    params_ = model_.parameters();
  }
  void operator()() {
    for (at::Tensor& p : params_) {
      p.mutable_grad() = at::Tensor();
      // What the optimizer's in-place update does to the version, without its
      // arithmetic: a new bf16 copy is due each step (core/compute_weight.h).
      p.unsafeGetTensorImpl()->bump_version();
    }
    const at::Tensor logits = model_.LocalLogits(model_.Forward(tokens_)).view({batch_ * seq_, -1});
    if (logits.device().is_cpu() && FusedKernelsEnabled()) {
      // alro's cross-entropy kernel, the one its training step runs on the
      // answer slots' logits (here with no identifier columns).
      FusedAnswerReadout(logits, targets_, no_identifiers_, 0, grid_.tp()).target_nll.mean().backward();
    } else {
      at::nll_loss(at::log_softmax(logits, -1), targets_).backward();
    }
  }

 private:
  dist::ProcessGrid grid_;
  Decoder model_;
  int64_t batch_, seq_;
  at::Tensor tokens_, targets_, no_identifiers_;
  std::vector<at::Tensor> params_;
};

// A step's median seconds and the matmul ceiling, measured interleaved:
// after each timed step, a short burst of the ceiling's products. The
// machine's speed drifts within seconds; a ceiling timed once, before the
// step, moved the fraction by 0.1-0.3 between runs of the same binary.
struct StepAndCeiling {
  double step_seconds;
  double matmul_gflops;  // median over the bursts
};

StepAndCeiling CppStepAndCeiling(const config::ModelConfig& m, int64_t batch, int64_t seq, int iters) {
  CppStep step(m, batch, seq);
  for (int i = 0; i < bench::kWarmupCalls; ++i) step();
  std::vector<double> steps, ceilings;
  for (int i = 0; i < iters; ++i) {
    const auto start = std::chrono::steady_clock::now();
    step();
    steps.push_back(bench::SecondsSince(start));
    ceilings.push_back(MatmulGflops(4));
  }
  return {Median(steps), Median(ceilings)};
}

double PythonStepSeconds(const config::ModelConfig& m, int64_t batch, int64_t seq, int threads, int iters,
                         bool bf16) {
  const std::string command = absl::StrCat(
      "OMP_NUM_THREADS=", threads, " /usr/bin/python3 ", ALRO_SOURCE_DIR, "/bench/core/python_step.py",
      " --vocab ", m.vocab_size, " --hidden ", m.hidden_size, " --intermediate ", m.intermediate_size, " --layers ",
      m.num_layers, " --heads ", m.num_heads, " --kv_heads ", m.num_kv_heads, " --batch ", batch, " --seq ", seq,
      " --threads ", threads, " --iters ", iters, " --warmup ", bench::kWarmupCalls, " --bf16 ", bf16 ? 1 : 0);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return -1.0;
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof(buf), pipe.get()) != nullptr) out += buf;
  const nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.contains("seconds_per_step")) return -1.0;
  return j["seconds_per_step"].get<double>();
}

struct Case {
  const char* preset;
  int64_t batch, seq;
};
constexpr Case kCases[] = {{"tiny", 8, 128}, {"small", 4, 256}};

// --profile: the operator table of `iters` steps after warm-up.
int Profile(const std::string& preset, const std::string& dtype, int threads, int iters, int top,
            const std::string& trace) {
  const Case* c = nullptr;
  for (const Case& k : kCases) {
    if (preset == k.preset) c = &k;
  }
  if (c == nullptr) {
    std::fprintf(stderr, "--profile %s: unknown preset. HINT: tiny or small\n", preset.c_str());
    return 2;
  }
  config::ModelConfig m;
  config::ApplyModelPreset(c->preset, &m);
  m.preset = c->preset;
  m.dtype = dtype;
  at::set_num_threads(threads);
  CppStep step(m, c->batch, c->seq);
  for (int i = 0; i < bench::kWarmupCalls; ++i) step();
  train::OperatorProfile profile;
  for (int i = 0; i < iters; ++i) step();
  const train::ProfileResult result = profile.Finish();
  std::printf("allocator: %s\n", AllocatorSummary().c_str());
  std::printf("profile: %s %s, batch %ld x seq %ld, %d thread(s); self time per operator\n", c->preset,
              dtype.c_str(), c->batch, c->seq, threads);
  std::fputs(train::FormatProfile(result.rows, result.wall_us, iters, static_cast<size_t>(top), result.minor_faults).c_str(), stdout);
  if (!trace.empty()) {
    const absl::Status written = WriteFileAtomically(trace, result.chrome_trace);
    if (!written.ok()) {
      std::fprintf(stderr, "%s\n", std::string(written.message()).c_str());
      return 1;
    }
    std::printf("chrome trace: %s\n", trace.c_str());
  }
  return 0;
}

int Main(int argc, char** argv) {
  int iters = 5, rounds = 3, only_threads = 0, top = 30;
  bool bf16_rows = !NativeBfloat16CpuFlag().empty();
  std::string profile, trace, dtype = "float32";
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--iters") iters = std::max(1, std::atoi(argv[i + 1]));
    if (std::string(argv[i]) == "--rounds") rounds = std::max(1, std::atoi(argv[i + 1]));
    if (std::string(argv[i]) == "--bf16") bf16_rows = std::atoi(argv[i + 1]) != 0;
    if (std::string(argv[i]) == "--profile") profile = argv[i + 1];
    if (std::string(argv[i]) == "--threads") only_threads = std::max(0, std::atoi(argv[i + 1]));
    if (std::string(argv[i]) == "--top") top = std::max(1, std::atoi(argv[i + 1]));
    if (std::string(argv[i]) == "--trace") trace = argv[i + 1];
    if (std::string(argv[i]) == "--dtype") dtype = argv[i + 1];
  }
  if (!profile.empty()) return Profile(profile, dtype, std::max(1, only_threads), iters, top, trace);
  std::printf("allocator: %s\n", AllocatorSummary().c_str());
  std::printf("CPU bf16: %s; bfloat16 rows %s\n",
              NativeBfloat16CpuFlag().empty() ? "emulated (no avx512_bf16 or amx_bf16)" : NativeBfloat16CpuFlag().c_str(),
              bf16_rows ? "on" : "off (--bf16 1 forces them)");
  std::vector<const char*> dtypes = {"float32"};
  if (bf16_rows) {
    dtypes.push_back("bfloat16");
    dtypes.push_back("bf16-percast");
  }
  struct Row {
    std::string name;
    std::vector<double> tokens_per_s, fraction, py_tokens_per_s, ratio;
  };
  std::vector<Row> rows;
  const char* header = "%-6s %3s %-8s %5s %5s %11s %9s %11s %9s %11s %8s\n";
  for (int round = 1; round <= rounds; ++round) {
    std::printf("round %d of %d\n", round, rounds);
    std::printf(header, "preset", "thr", "dtype", "batch", "seq", "tokens/s", "GFLOP/s", "matmul GF/s", "fraction",
                "py tokens/s", "cpp/py");
    size_t row = 0;
    for (const Case& c : kCases) {
      config::ModelConfig m;
      config::ApplyModelPreset(c.preset, &m);
      m.preset = c.preset;
      const double flops_per_token = config::TrainingFlopsPerToken(m, c.seq);
      for (int threads : {1, 2}) {
        if (only_threads != 0 && threads != only_threads) continue;
        double bf16_py = -1.0;  // the bf16 row's Python time, for the percast row
        for (const char* dtype : dtypes) {
          const bool percast = std::string(dtype) == "bf16-percast";
          m.dtype = percast ? "bfloat16" : dtype;
          const bool bf16 = m.dtype == "bfloat16";
          at::set_num_threads(threads);
          // The ceiling is float32 GEMM in both rows: MFU is quoted against it.
          SetComputeWeightCaching(!percast);
          const StepAndCeiling measured = CppStepAndCeiling(m, c.batch, c.seq, iters);
          SetComputeWeightCaching(true);
          const double cpp = measured.step_seconds, matmul = measured.matmul_gflops;
          const double py = percast ? bf16_py : PythonStepSeconds(m, c.batch, c.seq, threads, iters, bf16);
          if (bf16 && !percast) bf16_py = py;
          const double tokens = static_cast<double>(c.batch * c.seq);
          const double gflops = flops_per_token * tokens / cpp / 1e9;
          std::printf("%-6s %3d %-8s %5ld %5ld %11.0f %9.2f %11.2f %9.3f %11.0f %8.2f\n", c.preset, threads, dtype,
                      c.batch, c.seq, tokens / cpp, gflops, matmul, gflops / matmul, py > 0 ? tokens / py : 0.0,
                      py > 0 ? py / cpp : 0.0);
          std::fflush(stdout);
          if (rows.size() <= row) rows.push_back({absl::StrCat(c.preset, " ", threads, " ", dtype), {}, {}, {}, {}});
          Row& r = rows[row++];
          r.tokens_per_s.push_back(tokens / cpp);
          r.fraction.push_back(gflops / matmul);
          r.py_tokens_per_s.push_back(py > 0 ? tokens / py : 0.0);
          r.ratio.push_back(py > 0 ? py / cpp : 0.0);
        }
      }
    }
  }
  std::printf("\nmedians over %d round(s) (cpp/py: median of the per-round ratios)\n", rounds);
  std::printf("%-22s %11s %9s %11s %8s\n", "row", "tokens/s", "fraction", "py tokens/s", "cpp/py");
  for (const Row& r : rows) {
    std::printf("%-22s %11.0f %9.3f %11.0f %8.2f\n", r.name.c_str(), Median(r.tokens_per_s), Median(r.fraction),
                Median(r.py_tokens_per_s), Median(r.ratio));
  }
  return 0;
}

}  // namespace
}  // namespace alro::core

int main(int argc, char** argv) {
  alro::ConfigureAllocator();  // as the `alro` binary runs: common/allocator.h
  return alro::core::Main(argc, argv);
}
