// tests/core/answer_readout_test.cc: core::FusedAnswerReadout against an
// independent reference on the full vocabulary in double (ATen's
// cross_entropy_loss and a gather, gradients by autograd): alone in double,
// float32 and bf16, against central finite differences, and under mpirun
// with the vocabulary split over the whole world (Mpi*: 1, 2 and 4 ranks,
// uneven shards, a row whose last shard is all -inf).
#include <gtest/gtest.h>

#include <ATen/core/Reduction.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/fused_answer_readout.h"
#include "distributed/communicator.h"
#include "distributed/shard.h"
#include "tests/core/core_test_util.h"

namespace alro::core {
namespace {

// No tested world size divides it, so shards are uneven (4 ranks: 10, 9, 9, 9).
constexpr int64_t kVocab = 37;
constexpr int64_t kRows = 12, kIdentifiers = 5;
// Row kPaddedRow has -inf logits from column kPaddingFrom on: at 4 ranks the
// last rank's whole shard of that row (as vocabulary padding columns are).
constexpr int64_t kPaddedRow = 5, kPaddingFrom = 28;

struct Problem {
  at::Tensor logits;        // [R, V] double
  at::Tensor targets;       // [R]: both ends of the vocabulary, an ignored row
  at::Tensor ids;           // [R, m]: distinct ids across every shard
  at::Tensor upstream_nll;  // [R] weights of the per-row losses
  at::Tensor upstream_ids;  // [R, m] weights of the identifier logits
};

Problem MakeProblem() {
  at::Generator gen = at::detail::createCPUGenerator(31);
  const at::TensorOptions f64 = at::TensorOptions().dtype(at::kDouble);
  Problem p;
  p.logits = at::randn({kRows, kVocab}, gen, f64) * 3.0;
  p.logits[kPaddedRow].narrow(0, kPaddingFrom, kVocab - kPaddingFrom).fill_(-std::numeric_limits<double>::infinity());
  p.targets = at::randint(0, kPaddingFrom, {kRows}, gen, at::TensorOptions().dtype(at::kLong));
  p.targets[0] = 0;
  p.targets[1] = kVocab - 1;
  p.targets[2] = -100;
  p.ids = at::empty({kRows, kIdentifiers}, at::kLong);
  for (int64_t r = 0; r < kRows; ++r) {
    // A random choice of distinct ids; the padded row's from its finite columns.
    const int64_t span = r == kPaddedRow ? kPaddingFrom : kVocab;
    p.ids[r] = at::randperm(span, gen, at::TensorOptions().dtype(at::kLong)).narrow(0, 0, kIdentifiers);
  }
  p.upstream_nll = at::rand({kRows}, gen, f64) - 0.3;
  p.upstream_ids = at::randn({kRows, kIdentifiers}, gen, f64);
  return p;
}

// sum(nll * upstream_nll) + sum(identifier_logits * upstream_ids).
at::Tensor Objective(const at::Tensor& nll, const at::Tensor& ident, const Problem& p) {
  return (nll.to(at::kDouble) * p.upstream_nll).sum() + (ident.to(at::kDouble) * p.upstream_ids).sum();
}

// The reference on the full vocabulary in double: values and the gradient.
struct Reference {
  at::Tensor nll, ident, grad;
};

Reference FullVocabularyReference(const at::Tensor& logits, const Problem& p) {
  const at::Tensor x = logits.to(at::kDouble).detach().requires_grad_(true);
  const at::Tensor nll = at::cross_entropy_loss(x, p.targets, {}, at::Reduction::None, -100);
  const at::Tensor ident = x.gather(1, p.ids);
  const at::Tensor grad = torch::autograd::grad({Objective(nll, ident, p)}, {x})[0];
  return {nll.detach(), ident.detach(), grad};
}

// max of |a - b| / max(1, |b|) over finite entries, with -inf matched
// exactly.
double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor ad = a.to(at::kDouble), bd = b.to(at::kDouble);
  EXPECT_TRUE(at::equal(at::isinf(ad), at::isinf(bd)));
  EXPECT_FALSE(at::isnan(ad).any().item<bool>());
  const at::Tensor finite = at::isfinite(bd);
  return ((ad - bd) / bd.abs().clamp_min(1.0)).masked_fill(~finite, 0.0).abs().max().item<double>();
}

// This rank's shard of the logits through the fused readout, against the
// full-vocabulary reference of the same (dtype-rounded) logits.
void ExpectMatchesReference(dist::Communicator& tp, at::ScalarType dtype, double tolerance) {
  const Problem p = MakeProblem();
  const at::Tensor logits = p.logits.to(dtype);
  const dist::Shard shard = dist::ShardOf(kVocab, tp.size(), tp.rank());
  const at::Tensor local = logits.narrow(1, shard.begin, shard.size).contiguous().requires_grad_(true);
  const AnswerReadout out = FusedAnswerReadout(local, p.targets, p.ids, shard.begin, tp);
  const at::Tensor grad = torch::autograd::grad({Objective(out.target_nll, out.identifier_logits, p)}, {local})[0];
  const Reference ref = FullVocabularyReference(logits, p);

  const at::ScalarType acc = dtype == at::kDouble ? at::kDouble : at::kFloat;
  EXPECT_EQ(out.target_nll.scalar_type(), acc);
  EXPECT_EQ(out.identifier_logits.scalar_type(), dtype);
  EXPECT_EQ(grad.scalar_type(), dtype);
  const std::string where = "rank " + std::to_string(tp.rank()) + " of " + std::to_string(tp.size()) + ", " +
                            std::string(c10::toString(dtype));
  EXPECT_LE(MaxDiff(out.target_nll, ref.nll), tolerance) << where << ": nll";
  // The identifier logits are copies of logits: exact at every dtype.
  EXPECT_EQ(MaxDiff(out.identifier_logits, ref.ident), 0.0) << where << ": identifier logits";
  EXPECT_LE(MaxDiff(grad, ref.grad.narrow(1, shard.begin, shard.size)), tolerance) << where << ": gradient";
  EXPECT_EQ(out.target_nll[2].item<double>(), 0.0) << where << ": ignored target";
}

TEST(FusedAnswerReadout, MatchesTheFullVocabularyReference) {
  auto local = dist::Communicator::CreateLocal();
  ExpectMatchesReference(*local, at::kDouble, 1e-12);
  ExpectMatchesReference(*local, at::kFloat, 1e-5);
  // bf16 logits are exact in double. The identifier logits are bf16, so
  // their upstream gradient reaches the kernel rounded to bf16 (2^-9
  // relative, up to |upstream| ~ 3), and the gradient is rounded once more.
  ExpectMatchesReference(*local, at::kBFloat16, 1.0 / 128);
}

TEST(FusedAnswerReadout, GradientMatchesFiniteDifferences) {
  auto local = dist::Communicator::CreateLocal();
  Problem p = MakeProblem();
  p.logits[kPaddedRow].narrow(0, kPaddingFrom, kVocab - kPaddingFrom).fill_(-4.0);  // finite differences need finite x
  const at::Tensor x = p.logits.narrow(0, 0, 4).contiguous();
  Problem rows = p;  // the first four rows only
  for (at::Tensor* t : {&rows.targets, &rows.ids, &rows.upstream_nll, &rows.upstream_ids}) *t = t->narrow(0, 0, 4);
  const auto g = [&](const at::Tensor& xi) {
    const AnswerReadout out = FusedAnswerReadout(xi, rows.targets, rows.ids, 0, *local);
    return Objective(out.target_nll, out.identifier_logits, rows);
  };
  const at::Tensor leaf = x.clone().requires_grad_(true);
  const at::Tensor analytic = torch::autograd::grad({g(leaf)}, {leaf})[0];
  constexpr double kStep = 1e-6;
  for (int64_t e = 0; e < x.numel(); ++e) {
    at::Tensor up = x.clone(), down = x.clone();
    up.view({-1})[e] += kStep;
    down.view({-1})[e] -= kStep;
    const double numeric = (g(up).item<double>() - g(down).item<double>()) / (2 * kStep);
    EXPECT_NEAR(analytic.view({-1})[e].item<double>(), numeric, 1e-6 * std::max(1.0, std::abs(numeric)))
        << "entry " << e;
  }
}

TEST(FusedAnswerReadout, UnusedOutputGetsNoGradient) {
  // Only the identifier logits feed the objective (an lm_weight of 0): the
  // gradient is the identifier columns' upstream weights and nothing else.
  auto local = dist::Communicator::CreateLocal();
  const Problem p = MakeProblem();
  const at::Tensor x = p.logits.clone().requires_grad_(true);
  const AnswerReadout out = FusedAnswerReadout(x, p.targets, p.ids, 0, *local);
  const at::Tensor grad = torch::autograd::grad({(out.identifier_logits * p.upstream_ids).sum()}, {x})[0];
  const at::Tensor expected = at::zeros_like(p.logits).scatter_add_(1, p.ids, p.upstream_ids);
  EXPECT_TRUE(at::equal(grad, expected));
}

TEST(MpiFusedAnswerReadout, EveryShardMatchesTheFullVocabulary) {
  dist::ProcessGrid grid = testing::WorldGrid(testing::WorldSize());
  ExpectMatchesReference(grid.tp(), at::kDouble, 1e-12);
  ExpectMatchesReference(grid.tp(), at::kFloat, 1e-5);
}

}  // namespace
}  // namespace alro::core
