// tests/core/decoder_parallel_test.cc: the decoder at tensor-parallel size =
// world size (1, 2, 4 under mpirun) gives the same logits and the same
// gradient for every parameter as an unsharded copy with the same weights
// built on each rank, within 1e-5 in float32. Variants cover tied embeddings,
// LoRA on every projection, activation checkpointing and a padded vocabulary.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/decoder.h"
#include "core/identifier_logits.h"
#include "tests/core/core_test_util.h"

namespace alro::core {
namespace {

using testing::FullLogits;
using testing::EnableLoraOnEveryProjection;
using testing::MaxAbsDiff;
using testing::RandomTokens;
using testing::SmallTestModel;
using testing::WorldGrid;
using testing::WorldSize;

constexpr double kTolerance = 1e-5;
constexpr int64_t kBatch = 2, kLength = 10, kSlots = 4;

// A loss touching every logit (fixed random weights R over the full
// vocabulary) plus identifier logits at a few slots, so the test covers the
// LM head, the vocabulary shards and IdentifierLogits' backward.
at::Tensor Loss(Decoder& model, const at::Tensor& tokens) {
  const config::ModelConfig& m = model.config();
  const at::Tensor hidden = model.Forward(tokens);
  const at::Tensor local = model.LocalLogits(hidden);
  const int64_t valid = std::min<int64_t>(model.vocab_shard_size(), m.vocab_size - model.vocab_start());
  at::manual_seed(99);
  const at::Tensor r = at::randn({kBatch, kLength, m.vocab_size}) / 16.0;
  at::Tensor loss = (local.narrow(-1, 0, valid) * r.narrow(-1, model.vocab_start(), valid)).sum();
  const at::Tensor positions = at::tensor({3, 5, 6, 9, 2, 4, 7, 8}, at::kLong).view({kBatch, kSlots});
  const at::Tensor ids = at::tensor({0, 100, 200, 250, 17, 130, 126, 3}, at::kLong).view({kBatch, kSlots});
  const at::Tensor y = SlotIdentifierLogits(model, hidden, positions, ids);
  return loss + (y.softmax(-1) * at::arange(kSlots * kSlots, at::kFloat).view({1, kSlots, kSlots})).sum();
}

struct Variant {
  const char* name;
  bool tie, lora, checkpoint;
};

class MpiDecoderParallelTest : public ::testing::TestWithParam<Variant> {};

TEST_P(MpiDecoderParallelTest, MatchesUnshardedLogitsAndGradients) {
  const Variant v = GetParam();
  config::ModelConfig m = SmallTestModel();
  m.tie_embeddings = v.tie;
  if (v.lora) EnableLoraOnEveryProjection(&m);
  dist::ProcessGrid single = dist::ProcessGrid::CreateSingleProcess();
  dist::ProcessGrid grid = WorldGrid(WorldSize());
  Decoder reference(m, single);
  config::ModelConfig sharded_config = m;
  sharded_config.activation_checkpointing = v.checkpoint;
  Decoder sharded(sharded_config, grid);
  if (v.lora) {  // B starts at zero; make the adapters matter
    testing::RandomizeParameters(reference, "lora_B", 0.1, 5);
    testing::RandomizeParameters(sharded, "lora_B", 0.1, 5);
  }
  const at::Tensor tokens = RandomTokens(kBatch, kLength, m.vocab_size, 42);

  // Logits.
  {
    at::NoGradGuard no_grad;
    const at::Tensor expected = FullLogits(reference, reference.Forward(tokens));
    const at::Tensor got = FullLogits(sharded, sharded.Forward(tokens));
    ASSERT_EQ(got.sizes(), expected.sizes());
    EXPECT_LT(MaxAbsDiff(got, expected), kTolerance);
  }

  // Gradients of every parameter.
  Loss(reference, tokens).backward();
  Loss(sharded, tokens).backward();
  std::map<std::string, ShardedParameter> by_name;
  for (ShardedParameter& p : reference.ShardedParameters()) by_name[p.name] = p;
  int compared = 0;
  for (const ShardedParameter& p : sharded.ShardedParameters()) {
    const ShardedParameter& ref = by_name.at(p.name);
    EXPECT_EQ(p.global_shape, ref.global_shape) << p.name;
    EXPECT_EQ(p.trainable, ref.trainable) << p.name;
    if (!p.trainable) {
      EXPECT_FALSE(p.tensor.grad().defined()) << p.name << " is frozen but got a gradient";
      continue;
    }
    ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
    at::Tensor expected = ref.tensor.grad();
    at::Tensor got = p.tensor.grad();
    if (p.split_dim >= 0) {
      const int64_t n = p.valid_length();
      expected = expected.narrow(p.split_dim, p.offset, n);
      got = got.narrow(p.split_dim, 0, n);
    }
    const double scale = std::max(1.0, expected.abs().max().item<double>());
    EXPECT_LT(MaxAbsDiff(got, expected) / scale, kTolerance) << p.name;
    EXPECT_GT(expected.abs().max().item<double>(), 0.0) << p.name << " has an all-zero gradient";
    ++compared;
  }
  EXPECT_GT(compared, 0);
}

INSTANTIATE_TEST_SUITE_P(Variants, MpiDecoderParallelTest,
                         ::testing::Values(Variant{"untied", false, false, false},
                                           Variant{"tied_checkpointed", true, false, true},
                                           Variant{"lora_all_targets", false, true, false},
                                           Variant{"lora_checkpointed", true, true, true}),
                         [](const ::testing::TestParamInfo<Variant>& info) { return info.param.name; });

TEST(MpiDecoderParallel, ShardedParametersDescribeTheLayout) {
  config::ModelConfig m = SmallTestModel();
  dist::ProcessGrid grid = WorldGrid(WorldSize());
  Decoder model(m, grid);
  const int tp = grid.tp_size();
  std::map<std::string, ShardedParameter> by_name;
  for (ShardedParameter& p : model.ShardedParameters()) by_name[p.name] = p;
  const ShardedParameter& q = by_name.at("model.layers.1.self_attn.q_proj.weight");
  EXPECT_EQ(q.split_dim, 0);
  EXPECT_EQ(q.global_shape, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(q.tensor.size(0), 64 / tp);
  EXPECT_EQ(q.offset, grid.tp_rank() * 64 / tp);
  const ShardedParameter& down = by_name.at("model.layers.0.mlp.down_proj.weight");
  EXPECT_EQ(down.split_dim, 1);
  EXPECT_EQ(down.tensor.size(1), 96 / tp);
  const ShardedParameter& norm = by_name.at("model.norm.weight");
  EXPECT_EQ(norm.split_dim, -1);
  EXPECT_TRUE(norm.no_decay);
  const ShardedParameter& embed = by_name.at("model.embed_tokens.weight");
  EXPECT_EQ(embed.global_shape, (std::vector<int64_t>{251, 64}));
  EXPECT_EQ(embed.tensor.size(0) * tp, (251 + tp - 1) / tp * tp);
  EXPECT_EQ(model.vocab_start(), embed.offset);
  // Named parameters use the Hugging Face names and match the list.
  size_t named = 0;
  for (const auto& p : model.named_parameters()) {
    EXPECT_EQ(by_name.count(p.key()), 1u) << p.key();
    ++named;
  }
  EXPECT_EQ(named, by_name.size());
  EXPECT_EQ(by_name.count("lm_head.weight"), 1u);
}

TEST(DecoderTest, Bfloat16ComputeKeepsFloat32MasterWeights) {
  config::ModelConfig m = SmallTestModel();
  dist::ProcessGrid single = dist::ProcessGrid::CreateSingleProcess();
  Decoder f32(m, single);
  m.dtype = "bfloat16";
  Decoder bf16(m, single);
  const at::Tensor tokens = RandomTokens(kBatch, kLength, m.vocab_size, 42);
  const at::Tensor hidden = bf16.Forward(tokens);
  EXPECT_EQ(hidden.scalar_type(), at::kBFloat16);
  const at::Tensor logits = bf16.LocalLogits(hidden);
  EXPECT_EQ(logits.scalar_type(), at::kFloat);
  at::Tensor expected;
  {
    at::NoGradGuard no_grad;
    expected = f32.LocalLogits(f32.Forward(tokens));
  }
  // bf16 keeps ~3 significant digits; the logits are O(1).
  EXPECT_LT(MaxAbsDiff(logits, expected), 0.1 * std::max(1.0, expected.abs().max().item<double>()));
  logits.sum().backward();
  for (const ShardedParameter& p : bf16.ShardedParameters()) {
    EXPECT_EQ(p.tensor.scalar_type(), at::kFloat) << p.name;
    ASSERT_TRUE(p.tensor.grad().defined()) << p.name;
    EXPECT_EQ(p.tensor.grad().scalar_type(), at::kFloat) << p.name;
  }
}

TEST(DecoderTest, InitializationDependsOnSeedOnly) {
  config::ModelConfig m = SmallTestModel();
  dist::ProcessGrid single = dist::ProcessGrid::CreateSingleProcess();
  Decoder a(m, single), b(m, single);
  m.seed += 1;
  Decoder c(m, single);
  const auto pa = a.ShardedParameters(), pb = b.ShardedParameters(), pc = c.ShardedParameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(at::equal(pa[i].tensor, pb[i].tensor)) << pa[i].name;
    if (pa[i].name.find("norm") == std::string::npos) {
      EXPECT_FALSE(at::equal(pa[i].tensor, pc[i].tensor)) << pa[i].name;
    }
  }
}

}  // namespace
}  // namespace alro::core
