// bench/losses/objective_bench.cc: time of ALRO's objective (LM + SLL + PSL,
// forward and backward) for a micro-batch of 64 lists with m = 10 and m = 20
// candidates and one permuted copy each (128 rows), and its fraction of the
// model step it belongs to, measured in the same run:
//   objective  the objective alone, from the answer-slot logits (leaves) to
//              their gradients; also each term alone;
//   step       the tiny preset's step on the same rows: decoder forward over
//              the prompt, LM head at the answer positions, identifier
//              logits, the objective, backward through the whole model.
//
//   export MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296
//   OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE build/bench/losses/losses_objective_bench --iters 30
//   (other flags: --seq 256 prompt tokens, --preset tiny)
//
// The two MALLOC_ variables pin glibc's otherwise self-adjusting mmap
// threshold: without them the multi-megabyte LM temporaries are sometimes
// mmapped and page-faulted afresh on every call, which makes the figures
// depend on the order the cases run in.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "bench/bench_timing.h"
#include "common/allocator.h"
#include "config/config_io.h"
#include "core/decoder.h"
#include "core/identifier_logits.h"
#include "distributed/process_grid.h"
#include "losses/lm_loss.h"
#include "losses/objective.h"

namespace alro::losses {
namespace {

constexpr int64_t kLists = 64;
constexpr int64_t kCopies = 1;
constexpr int64_t kRows = kLists * (1 + kCopies);
using bench::MedianSeconds;

// A batch of originals and one permuted copy each, with distinct identifier
// token ids at the end of the vocabulary and answers at the prompt's end.
struct Batch {
  at::Tensor ratings, permutations, identifier_ids, answer_targets, answer_positions, tokens;
};

Batch MakeBatch(int64_t m, int64_t vocab, int64_t seq) {
  Batch b;
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  b.ratings = at::randint(1, 6, {kRows, m}, at::TensorOptions().dtype(at::kFloat));
  b.permutations = at::empty({kRows, m}, i64);
  for (int64_t r = 0; r < kRows; ++r) {
    b.permutations[r].copy_(r % (1 + kCopies) == 0 ? at::arange(m, i64) : at::randperm(m, i64));
  }
  b.identifier_ids = (at::arange(m, i64) + (vocab - m)).expand({kRows, m}).contiguous();
  b.answer_targets = b.identifier_ids.gather(1, at::argsort(b.ratings, 1, /*descending=*/true));
  b.answer_positions = (at::arange(m, i64) + (seq - m)).expand({kRows, m}).contiguous();
  b.tokens = at::randint(vocab - m, {kRows, seq}, i64);
  b.tokens.narrow(1, seq - m, m).copy_(b.answer_targets);
  return b;
}

ObjectiveInputs Inputs(const Batch& b, const at::Tensor& answer_logits, const at::Tensor& identifier_logits) {
  ObjectiveInputs in;
  in.answer_logits = answer_logits;
  in.answer_targets = b.answer_targets;
  in.identifier_logits = identifier_logits;
  in.ratings = b.ratings;
  in.permutations = b.permutations;
  in.copies_per_list = kCopies;
  return in;
}

config::ObjectiveConfig Weights(double lm, double sll, double psl) {
  config::ObjectiveConfig c;
  c.lm_weight = lm;
  c.sll_weight = sll;
  c.psl_weight = psl;
  c.psl_copies = kCopies;
  return c;
}

// Forward+backward of `loss_of(answer_logits, identifier_logits)` from leaf
// logits, for the whole objective or one term alone.
template <typename LossOf>
double ForwardBackwardSeconds(int64_t m, int64_t vocab, int iters, LossOf loss_of) {
  const at::Tensor answer_logits = at::randn({kRows, m, vocab}).set_requires_grad(true);
  const at::Tensor identifier_logits = at::randn({kRows, m, m}).set_requires_grad(true);
  return MedianSeconds(iters, [&] {
    answer_logits.mutable_grad() = at::Tensor();
    identifier_logits.mutable_grad() = at::Tensor();
    loss_of(answer_logits, identifier_logits).backward();
  });
}

// One training step of the model on the batch, objective included.
double StepSeconds(core::Decoder& model, dist::ProcessGrid& grid, const Batch& b, int64_t m, int iters) {
  const Objective objective = *Objective::Create(Weights(1, 1, 0.5));
  std::vector<at::Tensor> params = model.parameters();
  const at::Tensor hidden_index = (b.answer_positions - 1);
  return MedianSeconds(iters, [&] {
    for (at::Tensor& p : params) p.mutable_grad() = at::Tensor();
    const at::Tensor hidden = model.Forward(b.tokens);
    const at::Tensor answer_hidden =
        hidden.gather(1, hidden_index.unsqueeze(2).expand({kRows, m, hidden.size(2)}));
    const at::Tensor answer_logits = model.LocalLogits(answer_hidden);
    const at::Tensor ids = b.identifier_ids.unsqueeze(1).expand({kRows, m, m}).reshape({kRows * m, m});
    const at::Tensor identifier_logits =
        core::IdentifierLogits(answer_logits.reshape({kRows * m, -1}), ids, model.vocab_start(), grid.tp())
            .view({kRows, m, m});
    objective.Compute(Inputs(b, answer_logits, identifier_logits), grid.tp()).total.backward();
  });
}

int Main(int argc, char** argv) {
  int iters = 10;
  int64_t seq = 256;
  std::string preset = "tiny";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--iters") iters = std::atoi(argv[i + 1]);
    if (flag == "--seq") seq = std::atoll(argv[i + 1]);
    if (flag == "--preset") preset = argv[i + 1];
  }
  config::ModelConfig model_config;
  config::ApplyModelPreset(preset, &model_config);
  model_config.preset = preset;
  dist::ProcessGrid grid = dist::ProcessGrid::CreateSingleProcess();
  core::Decoder model(model_config, grid);
  const int64_t vocab = model_config.vocab_size;
  std::printf("lists %ld (+%ld copy each = %ld rows), vocab %ld, prompt %ld tokens, preset %s, threads %d\n", kLists,
              kCopies, kRows, vocab, seq, preset.c_str(), at::get_num_threads());
  std::printf("%3s %10s %10s %10s %12s %10s %10s\n", "m", "lm ms", "sll ms", "psl ms", "objective ms", "step ms",
              "fraction");
  for (int64_t m : {10, 20}) {
    const Batch b = MakeBatch(m, vocab, seq);
    dist::Communicator& tp = grid.tp();
    const Objective objective = *Objective::Create(Weights(1, 1, 0.5));
    const double all = ForwardBackwardSeconds(m, vocab, iters, [&](const at::Tensor& a, const at::Tensor& i) {
      return objective.Compute(Inputs(b, a, i), tp).total;
    });
    const double lm = ForwardBackwardSeconds(m, vocab, iters, [&](const at::Tensor& a, const at::Tensor&) {
      return VocabParallelCrossEntropy(a, b.answer_targets, 0, tp).mean();
    });
    const double sll = ForwardBackwardSeconds(m, vocab, iters, [&](const at::Tensor&, const at::Tensor& i) {
      return SoftLambdaLoss(AnswerSlotProbabilities(i), b.ratings, {});
    });
    const double psl = ForwardBackwardSeconds(m, vocab, iters, [&](const at::Tensor&, const at::Tensor& i) {
      const at::Tensor by_item = MapColumnsToItems(AnswerSlotProbabilities(i), b.permutations).view({kLists, 1 + kCopies, m, m});
      return PermutationConsistencyLoss(by_item.select(1, 0), by_item.select(1, 1), {});
    });
    const double step = StepSeconds(model, grid, b, m, std::max(1, iters / 5));
    std::printf("%3ld %10.2f %10.2f %10.2f %12.2f %10.1f %10.4f\n", m, lm * 1e3, sll * 1e3, psl * 1e3, all * 1e3,
                step * 1e3, all / step);
    std::fflush(stdout);
  }
  std::printf("(lm, sll, psl: each term alone; objective: all of them with the default weights, as\n"
              " Objective::Compute runs them; step: the tiny model's whole step, objective included)\n");
  return 0;
}

}  // namespace
}  // namespace alro::losses

int main(int argc, char** argv) {
  alro::ConfigureAllocator();  // as the `alro` binary runs: common/allocator.h
  return alro::losses::Main(argc, argv);
}
