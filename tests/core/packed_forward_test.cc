// tests/core/packed_forward_test.cc: the decoder's packed-rows form
// (explicit positions and a [B, T, T] mask) against its causal form: RoPE at
// per-token positions equals RoPE at a contiguous offset, and a causal mask
// with positions 0..T-1 gives the causal forward's hidden states and
// gradients (with and without activation checkpointing). The packed layout
// itself is tested against unshared rows in tests/train/shared_prefix_test.cc.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/attention.h"
#include "core/decoder.h"
#include "core/rotary_embedding.h"
#include "tests/core/core_test_util.h"

namespace alro::core {
namespace {

using testing::MaxAbsDiff;
using testing::RandomTokens;
using testing::SmallTestModel;

TEST(PackedForward, RopeAtExplicitPositionsEqualsContiguousPositions) {
  const RotaryEmbedding rope(16, 64, 10000.0, c10::Device(c10::kCPU));
  at::manual_seed(3);
  const at::Tensor x = at::randn({2, 5, 3, 16});
  const int64_t start = 7;
  const at::Tensor positions = at::arange(start, start + 5, at::kLong).unsqueeze(0).expand({2, 5}).contiguous();
  EXPECT_TRUE(at::equal(rope.Apply(x, positions), rope.Apply(x, start)));
  // Row 1 at other positions: each token is rotated by its own position.
  at::Tensor mixed = positions.clone();
  mixed[1].copy_(at::tensor({0, 30, 2, 9, 63}, at::kLong));
  const at::Tensor got = rope.Apply(x, mixed);
  for (int64_t t = 0; t < 5; ++t) {
    const int64_t p = mixed[1][t].item<int64_t>();
    // Heads first: [B, heads, T, D].
    EXPECT_TRUE(at::equal(got[1].select(1, t), rope.Apply(x.narrow(0, 1, 1).narrow(1, t, 1), p)[0].select(1, 0)))
        << "token " << t;
  }
}

TEST(PackedForward, CausalLayoutEqualsTheCausalForward) {
  for (bool checkpoint : {false, true}) {
    SCOPED_TRACE(checkpoint ? "checkpointed" : "plain");
    config::ModelConfig m = SmallTestModel();
    m.activation_checkpointing = checkpoint;
    dist::ProcessGrid single = dist::ProcessGrid::CreateSingleProcess();
    Decoder a(m, single), b(m, single);
    const int64_t batch = 2, length = 9;
    const at::Tensor tokens = RandomTokens(batch, length, m.vocab_size, 8);
    const at::Tensor positions = at::arange(length, at::kLong).unsqueeze(0).expand({batch, length}).contiguous();
    const at::Tensor mask = CausalMask(length, 0, c10::Device(c10::kCPU)).unsqueeze(0).expand({batch, length, length});
    at::manual_seed(5);
    const at::Tensor weights = at::randn({batch, length, m.hidden_size});
    const at::Tensor want = a.Forward(tokens);
    const at::Tensor got = b.Forward(tokens, positions, mask);
    EXPECT_LT(MaxAbsDiff(got, want), 1e-6);
    (want * weights).sum().backward();
    (got * weights).sum().backward();
    std::map<std::string, at::Tensor> grads;
    for (const ShardedParameter& p : a.ShardedParameters()) grads[p.name] = p.tensor.grad();
    for (const ShardedParameter& p : b.ShardedParameters()) {
      // The LM head is not part of Forward: no gradient on either side.
      ASSERT_EQ(p.tensor.grad().defined(), grads.at(p.name).defined()) << p.name;
      if (!p.tensor.grad().defined()) continue;
      const double scale = std::max(1.0, grads.at(p.name).abs().max().item<double>());
      EXPECT_LT(MaxAbsDiff(p.tensor.grad(), grads.at(p.name)) / scale, 1e-6) << p.name;
    }
  }
}

}  // namespace
}  // namespace alro::core
