// tests/train/trainer_test.cc: the training loop under mpirun.
//
//  * every (dp x tp) shape that fits in the job gives the losses of a
//    single-process run (1x1), step by step, within 1e-5, for full
//    fine-tuning, for LoRA on every projection, and with the gradient
//    reduction overlapped with backward;
//  * N steps + checkpoint + resume + N steps == 2N uninterrupted steps, also
//    when the checkpoint was saved at tensor-parallel 2 and resumed at 1, and
//    with LoRA dropout (its generator is checkpointed);
//  * a NaN injected into one rank's loss stops every rank with a report
//    naming the step and the term (and skips the step under on_nan=skip);
//  * evaluation returns permutations and metrics; the Hugging Face export
//    loads back with the same logits;
//  * PSL copies packed around their shared prefix train like unshared ones;
//  * --profile-steps writes each rank's operator table and trace;
//  * bf16 (float32 masters, cast-once bf16 weights, two micro-batches,
//    activation checkpointing) tracks the float32 loss curve for 20 steps.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "config/config_io.h"
#include "core/batched_matmul.h"
#include "core/fused_ops.h"
#include "core/hf_checkpoint.h"
#include "distributed/process_grid.h"
#include "tests/support/mpi_world.h"
#include "tests/train/synthetic_data.h"
#include "tests/train/test_util.h"
#include "train/checkpoint.h"
#include "train/evaluator.h"
#include "train/trainer.h"

namespace alro::train {
namespace {

constexpr double kLossTolerance = 1e-5;
constexpr int64_t kSteps = 4;

using ::alro::testing::WorldRank;
using ::alro::testing::WorldSize;

// The data set, converted once per test binary run into a directory every
// rank sees.
const std::string& DataDir() {
  static const std::string dir = [] {
    const std::string root = testing_util::SharedTempDir("synthetic");
    int ok = 1;
    if (WorldRank() == 0) {
      const absl::Status s = testing_util::WriteSyntheticDataset(root);
      if (!s.ok()) {
        ADD_FAILURE() << s;
        ok = 0;
      }
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return ok ? JoinPath(root, "data") : std::string();
  }();
  return dir;
}

// Runs `fn(grid)` on the first dp*tp world ranks with that grid; the other
// ranks skip it. Collective over MPI_COMM_WORLD.
template <typename Fn>
void OnSubgrid(int dp, int tp, Fn fn) {
  const int size = dp * tp;
  MPI_Comm sub = MPI_COMM_NULL;
  MPI_Comm_split(MPI_COMM_WORLD, WorldRank() < size ? 0 : MPI_UNDEFINED, WorldRank(), &sub);
  if (sub != MPI_COMM_NULL) {
    absl::StatusOr<dist::ProcessGrid> grid = dist::ProcessGrid::Create(sub, tp);
    ASSERT_TRUE(grid.ok()) << grid.status();
    fn(*grid);
    MPI_Comm_free(&sub);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// What is trained: the whole model, or LoRA adapters on every projection of
// a frozen random base (with `lora_dropout` on their inputs); and whether
// gradient buckets are reduced during backward (parallel.overlap_grad_reduce).
struct ModelVariant {
  bool lora = false;
  double lora_dropout = 0.0;
  bool overlap_grad_reduce = false;
  const char* name = "full";
};

config::Config ConfigFor(int dp, int tp, ModelVariant variant = {}) {
  config::Config c = testing_util::TinyTrainConfig(DataDir());
  if (variant.lora) {
    c.model.lora.enabled = true;
    c.model.lora.rank = 4;
    c.model.lora.alpha = 8.0;
    c.model.lora.dropout = variant.lora_dropout;
    c.model.lora.targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  }
  c.parallel.overlap_grad_reduce = variant.overlap_grad_reduce;
  c.parallel.tensor_parallel = tp;
  c.parallel.data_parallel = 0;
  config::ResolveDerived(&c, dp * tp);
  return c;
}

TrainerOptions QuietOptions() {
  TrainerOptions o;
  o.quiet = true;
  o.peak_flops_per_rank = 1e9;  // skip the matmul probe
  return o;
}

// Losses (every term) of `steps` steps, flattened, broadcast from world rank 0.
std::vector<double> BroadcastFromRoot(std::vector<double> values, size_t n) {
  values.resize(n, 0.0);
  MPI_Bcast(values.data(), static_cast<int>(n), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  return values;
}

std::vector<double> Flatten(const std::vector<StepStats>& history) {
  std::vector<double> out;
  for (const StepStats& s : history) {
    for (const auto& term : s.terms) out.push_back(term.second);
    out.push_back(s.grad_norm);
  }
  return out;
}

class MpiTrainerShapes : public ::testing::TestWithParam<ModelVariant> {};

TEST_P(MpiTrainerShapes, EveryParallelShapeGivesTheSingleProcessLosses) {
  ASSERT_FALSE(DataDir().empty());
  const ModelVariant variant = GetParam();
  std::vector<double> reference;
  OnSubgrid(1, 1, [&](dist::ProcessGrid& grid) {
    config::Config c = ConfigFor(1, 1, variant);
    absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(c, grid, QuietOptions());
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    for (int64_t s = 0; s < kSteps; ++s) ASSERT_TRUE((*trainer)->Step().ok());
    reference = Flatten((*trainer)->history());
  });
  const size_t n = static_cast<size_t>(kSteps) * 6;
  reference = BroadcastFromRoot(reference, n);
  // The loss must move, or "equal losses" would prove little.
  EXPECT_NE(reference[0], reference[n - 6]);
  const std::vector<std::pair<int, int>> shapes = {{2, 1}, {1, 2}, {2, 2}};
  for (const auto& [dp, tp] : shapes) {
    if (dp * tp > WorldSize()) continue;
    SCOPED_TRACE(absl::StrCat("dp ", dp, " x tp ", tp));
    OnSubgrid(dp, tp, [&](dist::ProcessGrid& grid) {
      absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(ConfigFor(dp, tp, variant), grid, QuietOptions());
      ASSERT_TRUE(trainer.ok()) << trainer.status();
      for (int64_t s = 0; s < kSteps; ++s) ASSERT_TRUE((*trainer)->Step().ok());
      const std::vector<double> got = Flatten((*trainer)->history());
      ASSERT_EQ(got.size(), n);
      for (size_t i = 0; i < n; ++i) {
        EXPECT_NEAR(got[i], reference[i], kLossTolerance * std::max(1.0, std::abs(reference[i])))
            << "step " << i / 6 + 1 << " value " << i % 6 << " (terms, then grad norm)";
      }
    });
  }
}

// With overlap, global_batch_size 4 = micro 2 x dp 2 at dp 2, and two
// accumulation micro-steps at dp 1: the hooks must hold the reduction until
// the last micro-step.
INSTANTIATE_TEST_SUITE_P(
    Variants, MpiTrainerShapes,
    ::testing::Values(ModelVariant{}, ModelVariant{.lora = true, .name = "lora"},
                      ModelVariant{.overlap_grad_reduce = true, .name = "overlap_grad_reduce"}),
    [](const ::testing::TestParamInfo<ModelVariant>& info) { return std::string(info.param.name); });

// N steps, save, a new trainer resumes (at `resume_dp` x `resume_tp`), N more
// steps: the same losses as 2N steps in one go.
void CheckResume(int save_dp, int save_tp, int resume_dp, int resume_tp, const std::string& tag,
                 ModelVariant variant = {}) {
  const std::string ckpt = testing_util::SharedTempDir(tag);
  std::vector<double> uninterrupted;
  OnSubgrid(1, 1, [&](dist::ProcessGrid& grid) {
    absl::StatusOr<std::unique_ptr<Trainer>> trainer =
        Trainer::Create(ConfigFor(1, 1, variant), grid, QuietOptions());
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    for (int64_t s = 0; s < 2 * kSteps; ++s) ASSERT_TRUE((*trainer)->Step().ok());
    uninterrupted = Flatten((*trainer)->history());
  });
  const size_t per_step = 6;
  uninterrupted = BroadcastFromRoot(uninterrupted, 2 * kSteps * per_step);
  OnSubgrid(save_dp, save_tp, [&](dist::ProcessGrid& grid) {
    config::Config c = ConfigFor(save_dp, save_tp, variant);
    c.checkpoint.dir = ckpt;
    absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(c, grid, QuietOptions());
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    for (int64_t s = 0; s < kSteps; ++s) ASSERT_TRUE((*trainer)->Step().ok());
    ASSERT_TRUE((*trainer)->SaveCheckpointNow().ok());
  });
  OnSubgrid(resume_dp, resume_tp, [&](dist::ProcessGrid& grid) {
    config::Config c = ConfigFor(resume_dp, resume_tp, variant);
    c.checkpoint.dir = ckpt;
    c.checkpoint.resume = "auto";
    absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(c, grid, QuietOptions());
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    ASSERT_TRUE((*trainer)->resumed_from().has_value());
    EXPECT_EQ((*trainer)->step(), kSteps);
    for (int64_t s = 0; s < kSteps; ++s) ASSERT_TRUE((*trainer)->Step().ok());
    const std::vector<double> got = Flatten((*trainer)->history());
    for (size_t i = 0; i < got.size(); ++i) {
      const double want = uninterrupted[kSteps * per_step + i];
      EXPECT_NEAR(got[i], want, kLossTolerance * std::max(1.0, std::abs(want)))
          << "resumed step " << kSteps + i / per_step + 1 << " value " << i % per_step;
    }
  });
}

TEST(MpiTrainer, SaveAndResumeEqualsUninterruptedTraining) {
  ASSERT_FALSE(DataDir().empty());
  CheckResume(1, 1, 1, 1, "resume_1x1");
}

// LoRA dropout draws from a generator of its own; the checkpoint carries its
// state, so the masks after the resume are those of the uninterrupted run.
TEST(MpiTrainer, LoraDropoutResumesExactly) {
  ASSERT_FALSE(DataDir().empty());
  CheckResume(1, 1, 1, 1, "resume_lora_dropout", ModelVariant{.lora = true, .lora_dropout = 0.2});
}

TEST(MpiTrainer, TensorParallelTwoCheckpointResumesAtOne) {
  ASSERT_FALSE(DataDir().empty());
  if (WorldSize() < 2) GTEST_SKIP() << "needs 2 ranks";
  CheckResume(/*save dp*/ 1, /*save tp*/ 2, /*resume dp*/ 2, /*resume tp*/ 1, "resume_tp2_to_dp2");
  CheckResume(1, 2, 1, 1, "resume_tp2_to_1x1");
}

TEST(MpiTrainer, NanOnOneRankStopsEveryRankNamingStepAndTerm) {
  ASSERT_FALSE(DataDir().empty());
  const int bad_rank = WorldSize() - 1;
  const std::string fault = absl::StrCat("nan_loss:", bad_rank, ":2");
  setenv("ALRO_FAULT", fault.c_str(), 1);
  OnSubgrid(WorldSize(), 1, [&](dist::ProcessGrid& grid) {
    absl::StatusOr<std::unique_ptr<Trainer>> trainer =
        Trainer::Create(ConfigFor(WorldSize(), 1), grid, QuietOptions());
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    ASSERT_TRUE((*trainer)->Step().ok());
    absl::StatusOr<StepStats> second = (*trainer)->Step();
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), absl::StatusCode::kAborted);
    const std::string message(second.status().message());
    EXPECT_NE(message.find("step 2"), std::string::npos) << message;
    EXPECT_NE(message.find("loss=nan"), std::string::npos) << message;
    EXPECT_NE(message.find(absl::StrCat("rank ", bad_rank)), std::string::npos) << message;
  });
  // Under on_nan=skip the bad step is skipped on every rank and training goes on.
  OnSubgrid(WorldSize(), 1, [&](dist::ProcessGrid& grid) {
    config::Config c = ConfigFor(WorldSize(), 1);
    c.logging.on_nan = "skip";
    absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(c, grid, QuietOptions());
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    ASSERT_TRUE((*trainer)->Step().ok());
    const at::Tensor before = (*trainer)->model().ShardedParameters()[0].tensor.clone();
    absl::StatusOr<StepStats> second = (*trainer)->Step();
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_TRUE(second->skipped);
    EXPECT_TRUE(at::equal(before, (*trainer)->model().ShardedParameters()[0].tensor));
    absl::StatusOr<StepStats> third = (*trainer)->Step();
    ASSERT_TRUE(third.ok()) << third.status();
    EXPECT_FALSE(third->skipped);
    EXPECT_TRUE(std::isfinite(third->Term("loss")));
  });
  unsetenv("ALRO_FAULT");
}

// bf16 training as large trainers run it (float32 masters and AdamW state,
// one bf16 copy of each weight per step, reused by both micro-batches and by
// the activation-checkpoint recomputes) follows the float32 run for 20 steps.
// Tolerance: bf16 keeps 8 mantissa bits (relative rounding 2^-9 = 0.2% per
// value), so one forward in bf16 moves the loss by ~0.5-1% here; the float32
// masters keep the two runs' weights together, so the gap should not grow
// with the steps. A per-step bound of 3% of the float32 loss and a mean gap
// of 1.5% leave room for that and fail on a wrong gradient or a stale copy
// (a step on stale weights moves the loss by several percent at lr 3e-3).
TEST(MpiTrainer, Bfloat16LossCurveTracksFloat32) {
  ASSERT_FALSE(DataDir().empty());
  constexpr int64_t kCurveSteps = 20;
  std::vector<double> losses[2];
  for (int bf16 = 0; bf16 < 2; ++bf16) {
    OnSubgrid(WorldSize(), 1, [&](dist::ProcessGrid& grid) {
      config::Config c = ConfigFor(WorldSize(), 1);
      if (bf16) c.model.dtype = "bfloat16";
      c.model.activation_checkpointing = true;
      c.schedule.steps = kCurveSteps;
      c.schedule.global_batch_size = 2 * c.schedule.micro_batch_size * WorldSize();  // two micro-batches
      absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(c, grid, QuietOptions());
      ASSERT_TRUE(trainer.ok()) << trainer.status();
      for (int64_t s = 0; s < kCurveSteps; ++s) {
        absl::StatusOr<StepStats> stats = (*trainer)->Step();
        ASSERT_TRUE(stats.ok()) << stats.status();
        losses[bf16].push_back(stats->Term("loss"));
      }
    });
  }
  for (auto& l : losses) l = BroadcastFromRoot(l, kCurveSteps);
  double mean_gap = 0.0;
  for (int64_t i = 0; i < kCurveSteps; ++i) {
    ASSERT_TRUE(std::isfinite(losses[1][i])) << "step " << i + 1;
    const double gap = std::abs(losses[1][i] - losses[0][i]) / std::abs(losses[0][i]);
    EXPECT_LT(gap, 0.03) << "step " << i + 1 << ": bf16 " << losses[1][i] << ", float32 " << losses[0][i];
    mean_gap += gap / kCurveSteps;
  }
  EXPECT_LT(mean_gap, 0.015);
  // Both runs learn: the last five steps' mean loss is well below the first five's.
  auto mean = [](const std::vector<double>& v, size_t from) {
    double sum = 0.0;
    for (size_t i = from; i < from + 5; ++i) sum += v[i];
    return sum / 5.0;
  };
  for (int bf16 = 0; bf16 < 2; ++bf16) {
    EXPECT_LT(mean(losses[bf16], kCurveSteps - 5), 0.9 * mean(losses[bf16], 0)) << (bf16 ? "bf16" : "float32");
  }
}

// --profile-steps: every rank writes its operator table and Chrome trace for
// the window, with the trainer's phases and the decoder's matrix products.
TEST(MpiTrainer, ProfileStepsWritesTheOperatorTable) {
  ASSERT_FALSE(DataDir().empty());
  const std::string dir = testing_util::SharedTempDir("profile");
  OnSubgrid(WorldSize(), 1, [&](dist::ProcessGrid& grid) {
    config::Config c = ConfigFor(WorldSize(), 1);
    c.schedule.steps = 3;
    c.logging.dir = dir;
    c.logging.eval_lists = 2;
    TrainerOptions options = QuietOptions();
    options.profile_steps = {2, 3};
    absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(c, grid, options);
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    ASSERT_TRUE((*trainer)->Train().ok());
    const std::string base = JoinPath(dir, absl::StrCat("profile.rank", grid.world_rank()));
    absl::StatusOr<std::string> table = ReadFileToString(base + ".txt");
    ASSERT_TRUE(table.ok()) << table.status();
    EXPECT_NE(table->find("profiled 2 step(s)"), std::string::npos) << *table;
    // The linears' products: alro's own gemm call where it takes them
    // (core::LinearProduct), ATen's mm otherwise.
    const char* linear = core::FusedKernelsEnabled() && core::CblasGemmAvailable() ? "alro::linear" : "aten::mm";
    for (const char* name : {"alro::forward_and_loss", "alro::backward", "alro::grad_sync",
                             "alro::clip_and_optimizer", linear}) {
      EXPECT_NE(table->find(name), std::string::npos) << name << " missing from\n" << *table;
    }
    absl::StatusOr<std::string> trace = ReadFileToString(base + ".json");
    ASSERT_TRUE(trace.ok()) << trace.status();
    const nlohmann::json events = nlohmann::json::parse(*trace, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(events.is_array()) << trace->substr(0, 200);
    EXPECT_GT(events.size(), 100u);
  });
}

// The synthetic prompts carry an instruction and three history lines: with
// objective.shared_prefix "always" each list and its copy run as one packed
// row, with objective.pack_lists "always" lists share rows instead of
// padding, and training follows the one-row-per-rendering run (losses and
// gradient norms, step by step) at tensor-parallel 1 and 2, while the shared
// layout computes fewer tokens.
TEST(MpiTrainer, SharedPrefixLayoutTrainsLikeTheUnsharedOne) {
  ASSERT_FALSE(DataDir().empty());
  const std::pair<const char*, const char*> layouts[] = {
      {"never", "never"}, {"always", "never"}, {"never", "always"}};  // shared_prefix, pack_lists
  for (int tp : {1, 2}) {
    if (tp > WorldSize()) continue;
    SCOPED_TRACE(absl::StrCat("tp ", tp));
    OnSubgrid(1, tp, [&](dist::ProcessGrid& grid) {
      std::vector<double> values[3];
      int64_t tokens[3] = {0, 0, 0};
      for (int layout = 0; layout < 3; ++layout) {
        config::Config c = ConfigFor(1, tp);
        c.objective.shared_prefix = layouts[layout].first;
        c.objective.pack_lists = layouts[layout].second;
        absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(c, grid, QuietOptions());
        ASSERT_TRUE(trainer.ok()) << trainer.status();
        for (int64_t s = 0; s < kSteps; ++s) {
          absl::StatusOr<StepStats> stats = (*trainer)->Step();
          ASSERT_TRUE(stats.ok()) << stats.status();
          tokens[layout] += stats->tokens;
        }
        values[layout] = Flatten((*trainer)->history());
      }
      for (int layout = 1; layout < 3; ++layout) {
        SCOPED_TRACE(absl::StrCat("shared_prefix ", layouts[layout].first, ", pack_lists ", layouts[layout].second));
        ASSERT_EQ(values[0].size(), values[layout].size());
        for (size_t i = 0; i < values[0].size(); ++i) {
          EXPECT_NEAR(values[layout][i], values[0][i], kLossTolerance * std::max(1.0, std::abs(values[0][i])))
              << "step " << i / 6 + 1 << " value " << i % 6 << " (terms, then grad norm)";
        }
      }
      EXPECT_LT(tokens[1], tokens[0]) << "the shared rows computed no fewer tokens";
      EXPECT_EQ(tokens[2], tokens[0]) << "packing changed the tokens computed";
    });
  }
}

TEST(MpiTrainer, EvaluationRanksArePermutationsAndExportLoadsBack) {
  ASSERT_FALSE(DataDir().empty());
  const std::string hf = testing_util::SharedTempDir("hf_export");
  const int tp = WorldSize() >= 2 ? 2 : 1;
  OnSubgrid(WorldSize() / tp, tp, [&](dist::ProcessGrid& grid) {
    config::Config c = ConfigFor(WorldSize() / tp, tp);
    absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(c, grid, QuietOptions());
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    for (int64_t s = 0; s < 2; ++s) ASSERT_TRUE((*trainer)->Step().ok());
    absl::StatusOr<std::shared_ptr<const data::PromptRenderer>> renderer = data::OpenRenderer(c);
    ASSERT_TRUE(renderer.ok());
    absl::StatusOr<std::unique_ptr<data::EvalReader>> reader =
        data::OpenEvalReader(c, *renderer, grid.dp_rank(), grid.dp_size(), "test");
    ASSERT_TRUE(reader.ok()) << reader.status();
    for (RankMode mode : {RankMode::kDecode, RankMode::kSingleStep}) {
      EvalSettings settings;
      settings.mode = mode;
      settings.ks = {1, 3};
      settings.keep_rankings = true;
      absl::StatusOr<EvalResult> result = Evaluate((*trainer)->model(), **reader, grid, settings);
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(result->summary["lists"].get<int64_t>(), (*reader)->num_lists());
      EXPECT_EQ(static_cast<int64_t>(result->rankings.size()), (*reader)->num_lists());
      for (const RankedList& r : result->rankings) {
        std::vector<int64_t> sorted = r.order;
        std::sort(sorted.begin(), sorted.end());
        for (int64_t k = 0; k < static_cast<int64_t>(sorted.size()); ++k) ASSERT_EQ(sorted[k], k) << r.example_id;
        EXPECT_EQ(static_cast<int64_t>(r.order.size()), testing_util::kSyntheticCandidates);
      }
      const double ndcg1 = result->summary["ndcg@1"].get<double>();
      EXPECT_GE(ndcg1, 0.0);
      EXPECT_LE(ndcg1, 1.0);
      if (mode != RankMode::kDecode) continue;
      // Decoding groups the lists of a micro-batch by prompt length; one list
      // per micro-batch (groups of one) must give the same answers.
      config::Config single = c;
      single.schedule.micro_batch_size = 1;
      absl::StatusOr<std::unique_ptr<data::EvalReader>> one_by_one =
          data::OpenEvalReader(single, *renderer, grid.dp_rank(), grid.dp_size(), "test");
      ASSERT_TRUE(one_by_one.ok()) << one_by_one.status();
      absl::StatusOr<EvalResult> alone = Evaluate((*trainer)->model(), **one_by_one, grid, settings);
      ASSERT_TRUE(alone.ok()) << alone.status();
      // Rankings come back in the order the data-parallel ranks' batches
      // were gathered, which depends on the micro-batch: match by list.
      ASSERT_EQ(alone->rankings.size(), result->rankings.size());
      std::map<std::string, const RankedList*> by_id;
      for (const RankedList& r : alone->rankings) by_id[r.example_id] = &r;
      for (const RankedList& r : result->rankings) {
        ASSERT_EQ(by_id.count(r.example_id), 1u) << r.example_id;
        const RankedList& other = *by_id[r.example_id];
        EXPECT_EQ(other.order, r.order) << r.example_id;
        ASSERT_EQ(other.step_probabilities.size(), r.step_probabilities.size());
        for (size_t k = 0; k < r.step_probabilities.size(); ++k) {
          EXPECT_NEAR(other.step_probabilities[k], r.step_probabilities[k], 1e-5) << r.example_id;
        }
      }
    }
    // Export to the Hugging Face layout and load it into a fresh model: the
    // same logits.
    ASSERT_TRUE(core::SaveHfCheckpoint(hf, (*trainer)->model()).ok());
    core::Decoder fresh(c.model, grid, /*random_init=*/false);
    ASSERT_TRUE(core::LoadHfCheckpoint(hf, fresh).ok());
    const at::Tensor tokens = at::arange(24, at::kLong).remainder(200).view({2, 12});
    (*trainer)->model().eval();
    fresh.eval();
    const at::Tensor a = (*trainer)->model().LocalLogits((*trainer)->model().Forward(tokens));
    const at::Tensor b = fresh.LocalLogits(fresh.Forward(tokens));
    EXPECT_TRUE(at::allclose(a, b, 1e-6, 1e-6));
  });
}

}  // namespace
}  // namespace alro::train
