// tests/core/compute_weight_test.cc: the cast-once bf16 weights
// (core/compute_weight.h).
//
//  * A bf16 step of two micro-batches with the cached copies gives the loss
//    and the float32 master gradients of the per-use cast (caching off, i.e.
//    `master.to(bf16)` in every matmul as autocast does), bit for bit: full
//    fine-tuning with tied embeddings, LoRA, activation checkpointing, at
//    tp = world size (1, 2, 4).
//  * Each weight is cast once per step, however many micro-batches and
//    recomputes use it; an in-place update (the optimizer's) and a checkpoint
//    load both invalidate the copy, and the next forward equals that of a
//    model built fresh from the new weights.
//  * float32 casts nothing and hands out the master itself.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "core/compute_weight.h"
#include "core/decoder.h"
#include "core/hf_checkpoint.h"
#include "tests/core/core_test_util.h"

namespace alro::core {
namespace {

using testing::EnableLoraOnEveryProjection;
using testing::MaxAbsDiff;
using testing::RandomTokens;
using testing::SmallTestModel;
using testing::WorldGrid;
using testing::WorldRank;
using testing::WorldSize;

// What one step produced: the loss of each micro-batch and every trainable
// master's accumulated gradient.
struct StepResult {
  std::vector<double> losses;
  std::map<std::string, at::Tensor> grads;
};

// Two micro-batches (forward + backward each, gradients accumulating), with
// a token-level cross-entropy over this rank's full logits.
StepResult TwoMicroBatches(Decoder& model) {
  StepResult r;
  for (uint64_t micro = 0; micro < 2; ++micro) {
    const at::Tensor tokens = RandomTokens(2, 12, 251, 100 + micro);
    const at::Tensor logits = model.LocalLogits(model.Forward(tokens));
    const at::Tensor targets = RandomTokens(2, 12, 251, 200 + micro).view({-1});
    // Loss on this rank's shard only: enough for gradients to reach every
    // weight, and identical arithmetic on both paths.
    const at::Tensor shard_targets = targets.remainder(model.vocab_shard_size());
    const at::Tensor loss =
        at::nll_loss(at::log_softmax(logits.view({-1, model.vocab_shard_size()}), -1), shard_targets);
    loss.backward();
    r.losses.push_back(loss.item<double>());
  }
  for (const ShardedParameter& p : model.ShardedParameters()) {
    if (p.tensor.grad().defined()) r.grads[p.name] = p.tensor.grad().clone();
  }
  return r;
}

struct Variant {
  const char* name;
  bool lora;
  bool checkpointing;
  bool tied;
};

class MpiComputeWeight : public ::testing::TestWithParam<Variant> {};

TEST_P(MpiComputeWeight, CachedStepEqualsPerUseCast) {
  const Variant v = GetParam();
  config::ModelConfig m = SmallTestModel();
  m.dtype = "bfloat16";
  m.activation_checkpointing = v.checkpointing;
  m.tie_embeddings = v.tied;
  if (v.lora) EnableLoraOnEveryProjection(&m);
  dist::ProcessGrid grid = WorldGrid(WorldSize());
  StepResult result[2];
  for (int cached = 0; cached < 2; ++cached) {
    SetComputeWeightCaching(cached == 1);
    Decoder model(m, grid);
    model.train();
    if (v.lora) testing::RandomizeParameters(model, "lora_B", 0.1, 5);
    result[cached] = TwoMicroBatches(model);
  }
  SetComputeWeightCaching(true);
  ASSERT_EQ(result[0].losses.size(), result[1].losses.size());
  for (size_t i = 0; i < result[0].losses.size(); ++i) EXPECT_EQ(result[1].losses[i], result[0].losses[i]) << i;
  ASSERT_EQ(result[0].grads.size(), result[1].grads.size());
  ASSERT_FALSE(result[0].grads.empty());
  for (const auto& [name, g] : result[0].grads) {
    ASSERT_EQ(result[1].grads.count(name), 1u) << name;
    const at::Tensor& cached = result[1].grads.at(name);
    EXPECT_EQ(cached.scalar_type(), at::kFloat) << name;
    EXPECT_EQ(MaxAbsDiff(cached, g), 0.0) << name;
    EXPECT_GT(g.abs().max().item<double>(), 0.0) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, MpiComputeWeight,
                         ::testing::Values(Variant{"full", false, false, false},
                                           Variant{"full_checkpointed_tied", false, true, true},
                                           Variant{"lora_checkpointed", true, true, false}),
                         [](const ::testing::TestParamInfo<Variant>& info) { return info.param.name; });

// The number of master weights a bf16 forward casts: every parameter but
// the norms (which stay float32 and multiply in RMSNorm).
int64_t CastWeights(const Decoder& model) {
  int64_t n = 0;
  for (const ShardedParameter& p : model.ShardedParameters()) n += p.name.find("norm") == std::string::npos;
  return n;
}

// One micro-batch: forward and backward of a sum over the logits.
void MicroBatch(Decoder& model, uint64_t seed) {
  model.LocalLogits(model.Forward(RandomTokens(2, 10, 251, seed))).sum().backward();
}

// Logits of the same tokens with caching off: what the weights as they are
// now give, independent of any cached copy.
at::Tensor UncachedLogits(Decoder& model, const at::Tensor& tokens) {
  SetComputeWeightCaching(false);
  at::NoGradGuard no_grad;
  at::Tensor out = model.LocalLogits(model.Forward(tokens));
  SetComputeWeightCaching(true);
  return out;
}

TEST(ComputeWeightTest, CastsOncePerStepAndAfterEveryUpdate) {
  config::ModelConfig m = SmallTestModel();
  m.dtype = "bfloat16";
  m.activation_checkpointing = true;  // every layer's weights are used twice
  m.tie_embeddings = true;            // the embedding is used twice more
  dist::ProcessGrid single = dist::ProcessGrid::CreateSingleProcess();
  Decoder model(m, single);
  model.train();
  const int64_t n = CastWeights(model);
  ASSERT_GT(n, 0);

  int64_t before = ComputeWeightCasts();
  MicroBatch(model, 1);
  EXPECT_EQ(ComputeWeightCasts() - before, n) << "first micro-batch: one cast per weight";
  before = ComputeWeightCasts();
  MicroBatch(model, 2);
  {
    at::NoGradGuard no_grad;  // an evaluation pass between micro-batches
    (void)model.LocalLogits(model.Forward(RandomTokens(1, 5, 251, 3)));
  }
  EXPECT_EQ(ComputeWeightCasts() - before, 0) << "second micro-batch and evaluation reuse the copies";

  // The per-use path casts at every use: the count the cache saves.
  SetComputeWeightCaching(false);
  before = ComputeWeightCasts();
  MicroBatch(model, 2);
  SetComputeWeightCaching(true);
  EXPECT_GT(ComputeWeightCasts() - before, n) << "per-use casting casts more than once per weight";

  // An optimizer-style in-place update: the next forward recasts everything
  // and computes with the new weights.
  const at::Tensor tokens = RandomTokens(2, 10, 251, 4);
  {
    at::NoGradGuard no_grad;
    for (const ShardedParameter& p : model.ShardedParameters()) p.tensor.add_(p.tensor.grad(), -0.05);
  }
  before = ComputeWeightCasts();
  at::Tensor after_update;
  {
    at::NoGradGuard no_grad;
    after_update = model.LocalLogits(model.Forward(tokens));
  }
  EXPECT_EQ(ComputeWeightCasts() - before, n) << "an in-place update invalidates every copy";
  EXPECT_EQ(MaxAbsDiff(after_update, UncachedLogits(model, tokens)), 0.0);

  // Loading a checkpoint into the used model: its forward must be that of the
  // loaded weights, not of the cached copies.
  const std::string dir = testing::SharedTempDir();
  {
    config::ModelConfig other = m;
    other.seed = 99;
    Decoder source(other, single);
    ASSERT_TRUE(SaveHfCheckpoint(dir, source).ok());
  }
  ASSERT_TRUE(LoadHfCheckpoint(dir, model).ok());
  at::Tensor after_load;
  {
    at::NoGradGuard no_grad;
    after_load = model.LocalLogits(model.Forward(tokens));
  }
  EXPECT_GT(MaxAbsDiff(after_load, after_update), 1e-3) << "the load changed the model";
  EXPECT_EQ(MaxAbsDiff(after_load, UncachedLogits(model, tokens)), 0.0);
  (void)RemoveAll(dir);
}

TEST(ComputeWeightTest, CopyIsSharedUntilTheMasterChanges) {
  at::Tensor master = at::randn({8, 4}).requires_grad_(true);
  const at::Tensor a = ComputeWeight(master, at::kBFloat16);
  const at::Tensor b = ComputeWeight(master, at::kBFloat16);
  EXPECT_EQ(a.scalar_type(), at::kBFloat16);
  EXPECT_EQ(a.data_ptr(), b.data_ptr()) << "the second use reuses the copy";
  EXPECT_TRUE(a.equal(master.detach().to(at::kBFloat16)));
  // Gradients of both uses reach the float32 master exactly as through
  // autograd's own cast, `master.to(bf16)` at each use.
  const at::Tensor x = at::randn({3, 4}).to(at::kBFloat16);
  (at::matmul(x, a.t()).sum() + 2 * at::matmul(x, b.t()).sum()).backward();
  const at::Tensor reference = master.detach().clone().requires_grad_(true);
  (at::matmul(x, reference.to(at::kBFloat16).t()).sum() + 2 * at::matmul(x, reference.to(at::kBFloat16).t()).sum())
      .backward();
  ASSERT_TRUE(master.grad().defined());
  EXPECT_EQ(master.grad().scalar_type(), at::kFloat);
  EXPECT_TRUE(master.grad().equal(reference.grad()));
  EXPECT_GT(master.grad().abs().max().item<double>(), 0.0);
  {
    at::NoGradGuard no_grad;
    master.mul_(2.0);
  }
  const at::Tensor c = ComputeWeight(master, at::kBFloat16);
  EXPECT_NE(c.data_ptr(), a.data_ptr()) << "an in-place update makes a new copy";
  EXPECT_TRUE(c.equal(master.detach().to(at::kBFloat16)));
  EXPECT_TRUE(a.equal(b)) << "the old copy, still held by old graphs, is untouched";
  // Another master (a second model) has its own copy.
  const at::Tensor other = master.detach().clone();
  EXPECT_NE(ComputeWeight(other, at::kBFloat16).data_ptr(), c.data_ptr());
  // float32: the master itself, nothing cast.
  const int64_t before = ComputeWeightCasts();
  EXPECT_TRUE(ComputeWeight(master, at::kFloat).is_same(master));
  EXPECT_EQ(ComputeWeightCasts(), before);
}

}  // namespace
}  // namespace alro::core
