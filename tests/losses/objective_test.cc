// tests/losses/objective_test.cc: the combined objective against the terms
// composed by hand, zero-weight terms, the permuted-copy layout, and config
// errors.
#include "losses/objective.h"

#include <ATen/core/Reduction.h>
#include <gtest/gtest.h>

#include "tests/losses/test_util.h"

namespace alro::losses {
namespace {

constexpr int64_t kLists = 3, kCopies = 2, kSlots = 4, kVocab = 11;
constexpr int64_t kRows = kLists * (1 + kCopies);

struct Batch {
  ObjectiveInputs inputs;
  at::Tensor full_logits;  // [N, m, V]
};

// Originals with random ratings, each followed by kCopies permuted copies
// whose ratings follow their presentation. `consistent` makes every copy's
// identifier logits the original's with columns permuted accordingly.
Batch MakeBatch(bool consistent, uint64_t seed = 53) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const auto dbl = at::TensorOptions().dtype(at::kDouble);
  Batch batch;
  ObjectiveInputs& in = batch.inputs;
  in.identifier_logits = at::randn({kRows, kSlots, kSlots}, gen, dbl);
  in.ratings = at::empty({kRows, kSlots}, dbl);
  in.permutations = at::empty({kRows, kSlots}, at::kLong);
  for (int64_t l = 0; l < kLists; ++l) {
    const int64_t o = l * (1 + kCopies);
    const at::Tensor ratings = at::randint(1, 6, {kSlots}, gen, dbl);
    in.ratings[o].copy_(ratings);
    in.permutations[o].copy_(at::arange(kSlots, at::kLong));
    for (int64_t c = 1; c <= kCopies; ++c) {
      const at::Tensor perm = at::randperm(kSlots, gen, at::TensorOptions().dtype(at::kLong));
      in.permutations[o + c].copy_(perm);
      in.ratings[o + c].copy_(ratings.index_select(0, perm));
      if (consistent) in.identifier_logits[o + c].copy_(in.identifier_logits[o].index_select(1, perm));
    }
  }
  in.copies_per_list = kCopies;
  batch.full_logits = at::randn({kRows, kSlots, kVocab}, gen, dbl);
  in.answer_logits = batch.full_logits;
  in.answer_targets = at::randint(0, kVocab, {kRows, kSlots}, gen, at::TensorOptions().dtype(at::kLong));
  return batch;
}

config::ObjectiveConfig Config(double lm, double sll, double psl, double single_step) {
  config::ObjectiveConfig c;
  c.lm_weight = lm;
  c.sll_weight = sll;
  c.psl_weight = psl;
  c.single_step_weight = single_step;
  c.sll_gamma = 5.0;
  c.sll_top_k = 3;
  c.psl_copies = kCopies;
  return c;
}

TEST(Objective, TermsEqualTheLossesComposedByHand) {
  const Batch batch = MakeBatch(/*consistent=*/false);
  const ObjectiveInputs& in = batch.inputs;
  auto tp = dist::Communicator::CreateLocal();
  const config::ObjectiveConfig c = Config(1.0, 0.7, 0.5, 0.3);
  const Objective objective = *Objective::Create(c);
  const ObjectiveTerms terms = objective.Compute(in, *tp);

  const at::Tensor lm = at::cross_entropy_loss(batch.full_logits.reshape({-1, kVocab}), in.answer_targets.reshape(-1),
                                               {}, at::Reduction::Mean);
  const at::Tensor Y = at::softmax(in.identifier_logits, -1);
  const at::Tensor sll = SoftLambdaLossPerList(Y, in.ratings, {5.0, 1.0, 3}, in.permutations).mean();
  double psl = 0.0;
  for (int64_t l = 0; l < kLists; ++l) {
    const int64_t o = l * (1 + kCopies);
    for (int64_t c = 1; c <= kCopies; ++c) {
      const at::Tensor mapped = MapColumnsToItems(Y.narrow(0, o + c, 1), in.permutations.narrow(0, o + c, 1));
      psl += PermutationConsistencyLoss(Y.narrow(0, o, 1), mapped, {}).item<double>() / (kLists * kCopies);
    }
  }
  const at::Tensor lambda = LambdaLoss(in.identifier_logits.select(1, 0), in.ratings, {});

  EXPECT_NEAR(terms.lm.item<double>(), lm.item<double>(), 1e-12);
  EXPECT_NEAR(terms.sll.item<double>(), sll.item<double>(), 1e-12);
  EXPECT_NEAR(terms.psl.item<double>(), psl, 1e-12);
  EXPECT_GT(psl, 0.0);
  EXPECT_NEAR(terms.lambdaloss.item<double>(), lambda.item<double>(), 1e-12);
  const double total = lm.item<double>() + 0.7 * sll.item<double>() + 0.5 * psl + 0.3 * lambda.item<double>();
  EXPECT_NEAR(terms.total.item<double>(), total, 1e-12);

  const auto report = terms.Report();
  ASSERT_EQ(report.size(), 5u);
  EXPECT_EQ(report[0].first, "loss");
  EXPECT_NEAR(report[0].second, total, 1e-12);
}

TEST(Objective, ConsistentCopiesHaveNoPslAndCopiesShareTheTrueOrder) {
  const Batch batch = MakeBatch(/*consistent=*/true);
  auto tp = dist::Communicator::CreateLocal();
  const ObjectiveTerms terms = Objective::Create(Config(1, 1, 1, 0))->Compute(batch.inputs, *tp);
  EXPECT_NEAR(terms.psl.item<double>(), 0.0, 1e-14);
  // A perfectly consistent copy also has its original's SLL: the ties of its
  // ratings are broken by original candidate index.
  const at::Tensor per_row = SoftLambdaLossPerList(at::softmax(batch.inputs.identifier_logits, -1),
                                                   batch.inputs.ratings, {5.0, 1.0, 3}, batch.inputs.permutations);
  for (int64_t r = 0; r < kRows; ++r) {
    EXPECT_NEAR(per_row[r].item<double>(), per_row[r - r % (1 + kCopies)].item<double>(), 1e-12) << "row " << r;
  }
}

TEST(Objective, GradientReachesOriginalsAndCopies) {
  Batch batch = MakeBatch(/*consistent=*/false);
  auto tp = dist::Communicator::CreateLocal();
  // PSL alone: every row (original or copy) must receive a gradient.
  const Objective objective = *Objective::Create(Config(0, 0, 1, 0));
  batch.inputs.identifier_logits.set_requires_grad(true);
  const ObjectiveTerms terms = objective.Compute(batch.inputs, *tp);
  terms.total.backward();
  const at::Tensor per_row = batch.inputs.identifier_logits.grad().abs().sum({1, 2});
  for (int64_t r = 0; r < kRows; ++r) EXPECT_GT(per_row[r].item<double>(), 0.0) << "row " << r;
  // Zero-weight terms are reported without a graph.
  EXPECT_FALSE(terms.lm.requires_grad());
  EXPECT_FALSE(terms.sll.requires_grad());
  EXPECT_GT(terms.sll.item<double>(), 0.0);
}

TEST(Objective, TotalGradientMatchesFiniteDifferences) {
  const Batch batch = MakeBatch(/*consistent=*/false, /*seed=*/59);
  auto tp = dist::Communicator::CreateLocal();
  const Objective objective = *Objective::Create(Config(1.0, 1.0, 0.5, 0.2));
  testing::ExpectGradientMatchesFiniteDifferences(
      [&](const at::Tensor& x) {
        ObjectiveInputs in = batch.inputs;
        in.identifier_logits = x;
        return objective.Compute(in, *tp).total;
      },
      batch.inputs.identifier_logits);
}

TEST(Objective, RowWeightsAndBaseline) {
  Batch batch = MakeBatch(/*consistent=*/false);
  auto tp = dist::Communicator::CreateLocal();
  // The plain fine-tuning baseline: only the LM term counts.
  const ObjectiveTerms baseline = Objective::Create(Config(1, 0, 0, 0))->Compute(batch.inputs, *tp);
  EXPECT_NEAR(baseline.total.item<double>(), baseline.lm.item<double>(), 1e-15);
  // Weight only the first list: the terms become that list's.
  at::Tensor weights = at::zeros({kRows}, at::kDouble);
  weights.narrow(0, 0, 1 + kCopies).fill_(2.0);
  batch.inputs.row_weights = weights;
  const ObjectiveTerms weighted = Objective::Create(Config(1, 1, 1, 0))->Compute(batch.inputs, *tp);
  const at::Tensor sll = SoftLambdaLossPerList(at::softmax(batch.inputs.identifier_logits, -1), batch.inputs.ratings,
                                               {5.0, 1.0, 3}, batch.inputs.permutations);
  EXPECT_NEAR(weighted.sll.item<double>(), sll.narrow(0, 0, 1 + kCopies).mean().item<double>(), 1e-12);
}

TEST(Objective, RejectsUnknownNames) {
  config::ObjectiveConfig c;
  c.psl_divergence = "hellinger";
  const absl::StatusOr<Objective> bad = Objective::Create(c);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("objective.psl_divergence"), std::string::npos);
  c.psl_divergence = "js";
  c.lambdaloss_weighting = "listnet";
  EXPECT_FALSE(Objective::Create(c).ok());
}

}  // namespace
}  // namespace alro::losses
