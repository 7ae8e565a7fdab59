// tests/losses/lm_loss_test.cc: the vocab-parallel cross-entropy against
// at::cross_entropy_loss on the full logits, alone (finite differences too)
// and under mpirun with the tensor-parallel group = the whole world
// (tests named Mpi* run with 1, 2 and 4 ranks).
#include "losses/lm_loss.h"

#include <ATen/core/Reduction.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include "distributed/communicator.h"
#include "tests/losses/test_util.h"

namespace alro::losses {
namespace {

// Vocabulary size that no tested group size divides, so shards are uneven.
constexpr int64_t kVocab = 37;

// [first id, size) of rank r's shard of a vocabulary of v ids over n ranks:
// the first (v % n) ranks get one id more.
std::pair<int64_t, int64_t> Shard(int64_t v, int64_t n, int64_t r) {
  const int64_t base = v / n, extra = v % n;
  return {r * base + std::min(r, extra), base + (r < extra ? 1 : 0)};
}

// Logits and targets every rank builds identically: targets cover both ends
// of the vocabulary (shard boundaries) and an ignored row.
struct Problem {
  at::Tensor logits;   // [N, V]
  at::Tensor targets;  // [N]
  at::Tensor upstream; // [N] gradient weights of the per-row losses
};

Problem MakeProblem(at::ScalarType dtype) {
  at::Generator gen = at::detail::createCPUGenerator(47);
  const int64_t rows = 12;
  Problem p;
  p.logits = (at::randn({rows, kVocab}, gen, at::TensorOptions().dtype(at::kDouble)) * 3.0).to(dtype);
  p.targets = at::randint(0, kVocab, {rows}, gen, at::TensorOptions().dtype(at::kLong));
  p.targets[0] = 0;
  p.targets[1] = kVocab - 1;
  p.targets[2] = kIgnoreTarget;
  p.upstream = at::rand({rows}, gen, at::TensorOptions().dtype(at::kDouble)).to(dtype);
  return p;
}

// Loss and gradient with respect to the full logits, from ATen's own kernel.
std::pair<at::Tensor, at::Tensor> FullReference(const Problem& p) {
  const at::Tensor x = p.logits.detach().clone().set_requires_grad(true);
  const at::Tensor loss =
      at::cross_entropy_loss(x, p.targets, {}, at::Reduction::None, kIgnoreTarget);
  (loss * p.upstream).sum().backward();
  return {loss.detach(), x.grad()};
}

void ExpectMatchesFullVocabulary(dist::Communicator& tp, at::ScalarType dtype, double tolerance) {
  const Problem p = MakeProblem(dtype);
  const auto [start, size] = Shard(kVocab, tp.size(), tp.rank());
  const at::Tensor local = p.logits.narrow(1, start, size).clone().set_requires_grad(true);
  const at::Tensor loss = VocabParallelCrossEntropy(local, p.targets, start, tp);
  (loss * p.upstream).sum().backward();
  const auto [ref_loss, ref_grad] = FullReference(p);
  EXPECT_EQ(loss.scalar_type(), dtype);
  EXPECT_TRUE(at::allclose(loss.to(at::kDouble), ref_loss.to(at::kDouble), tolerance, tolerance))
      << "rank " << tp.rank() << " of " << tp.size() << "\n" << loss << "\n" << ref_loss;
  EXPECT_TRUE(at::allclose(local.grad().to(at::kDouble), ref_grad.narrow(1, start, size).to(at::kDouble), tolerance,
                           tolerance))
      << "rank " << tp.rank() << " of " << tp.size();
  EXPECT_EQ(loss[2].item<double>(), 0.0);  // ignored row
  EXPECT_EQ(local.grad()[2].abs().sum().item<double>(), 0.0);
}

TEST(VocabParallelCrossEntropy, SingleRankMatchesCrossEntropy) {
  auto local = dist::Communicator::CreateLocal();
  ExpectMatchesFullVocabulary(*local, at::kDouble, 1e-12);
  ExpectMatchesFullVocabulary(*local, at::kFloat, 1e-5);
}

TEST(VocabParallelCrossEntropy, GradientMatchesFiniteDifferences) {
  auto local = dist::Communicator::CreateLocal();
  const Problem p = MakeProblem(at::kDouble);
  testing::ExpectGradientMatchesFiniteDifferences(
      [&](const at::Tensor& x) {
        return (VocabParallelCrossEntropy(x, p.targets.narrow(0, 0, 4), 0, *local) * p.upstream.narrow(0, 0, 4)).sum();
      },
      p.logits.narrow(0, 0, 4).contiguous());
}

TEST(VocabParallelCrossEntropy, KeepsLeadingShape) {
  auto local = dist::Communicator::CreateLocal();
  const Problem p = MakeProblem(at::kDouble);
  const at::Tensor loss = VocabParallelCrossEntropy(p.logits.view({3, 4, kVocab}), p.targets.view({3, 4}), 0, *local);
  EXPECT_EQ(loss.sizes(), (at::IntArrayRef{3, 4}));
}

// The composition this function computed before its passes were merged
// (max, subtract, exp, divide; backward: clone, scatter_add of -1 at the
// target, scale): loss and gradient must be the same bit for bit in float32,
// at the objective's size (answer rows x a vocabulary with a vector tail).
TEST(VocabParallelCrossEntropy, EqualsThePreviousCompositionBitForBit) {
  auto local = dist::Communicator::CreateLocal();
  at::Generator gen = at::detail::createCPUGenerator(5);
  const int64_t rows = 64, vocab = 1029;
  const at::Tensor logits = at::randn({rows, vocab}, gen) * 4.0;
  at::Tensor targets = at::randint(0, vocab, {rows}, gen, at::TensorOptions().dtype(at::kLong));
  targets[3] = kIgnoreTarget;
  targets[4] = vocab - 1;
  const at::Tensor upstream = at::rand({rows}, gen) - 0.3;  // negative weights too

  const at::Tensor x = logits.clone().set_requires_grad(true);
  const at::Tensor loss = VocabParallelCrossEntropy(x, targets, 0, *local);
  (loss * upstream).sum().backward();

  const at::Tensor valid = targets >= 0;
  const at::Tensor safe = targets.masked_fill(~valid, 0).unsqueeze(1);
  const at::Tensor shifted = logits - std::get<0>(logits.max(1)).unsqueeze(1);
  const at::Tensor target_logit = shifted.gather(1, safe).squeeze(1).masked_fill(~valid, 0.0);
  const at::Tensor e = shifted.exp();
  const at::Tensor sum_exp = e.sum(1);
  const at::Tensor ref_loss = (at::log(sum_exp) - target_logit).masked_fill(~valid, 0.0);
  const at::Tensor softmax = e.div(sum_exp.unsqueeze(1));
  at::Tensor ref_grad = softmax.clone();
  ref_grad.scatter_add_(1, safe, -valid.to(at::kFloat).unsqueeze(1));
  ref_grad.mul_((upstream * valid.to(at::kFloat)).unsqueeze(1));

  EXPECT_TRUE(at::equal(loss, ref_loss));
  EXPECT_TRUE(at::equal(x.grad(), ref_grad)) << "max diff " << (x.grad() - ref_grad).abs().max().item<double>();
}

TEST(MpiVocabParallelCrossEntropy, ShardsMatchTheFullVocabulary) {
  auto world = dist::Communicator::Create(MPI_COMM_WORLD, "tp");
  ExpectMatchesFullVocabulary(*world, at::kDouble, 1e-12);
  ExpectMatchesFullVocabulary(*world, at::kFloat, 1e-5);
}

}  // namespace
}  // namespace alro::losses
