// tests/losses/psl_loss_test.cc: the permuted-copy consistency loss and the
// mapping of a copy's columns back to the original items.
#include "losses/psl_loss.h"

#include <gtest/gtest.h>

#include "tests/losses/reference.h"
#include "tests/losses/test_util.h"

namespace alro::losses {
namespace {

using testing::RandomY;
using testing::ToMatrix;

constexpr PslDivergence kDivergences[] = {PslDivergence::kJensenShannon, PslDivergence::kSymmetricKl,
                                          PslDivergence::kExpectedPositionMse};

// The copy's Y as the model would produce it if it were perfectly consistent:
// slot j of the copy shows original item perm[j], so its column j is the
// original's column perm[j].
at::Tensor ConsistentCopy(const at::Tensor& Y, const at::Tensor& perm) {
  at::Tensor copy = at::empty_like(Y);
  for (int64_t b = 0; b < Y.size(0); ++b) {
    for (int64_t j = 0; j < Y.size(2); ++j) copy[b].select(1, j).copy_(Y[b].select(1, perm[b][j].item<int64_t>()));
  }
  return copy;
}

at::Tensor RandomPermutations(int64_t B, int64_t m, at::Generator& gen) {
  std::vector<at::Tensor> rows;
  for (int64_t b = 0; b < B; ++b) rows.push_back(at::randperm(m, gen, at::TensorOptions().dtype(at::kLong)));
  return at::stack(rows);
}

TEST(PermutationConsistency, MapColumnsToItemsInvertsThePresentation) {
  at::Generator gen = at::detail::createCPUGenerator(31);
  const at::Tensor Y = RandomY(3, 5, gen);
  const at::Tensor perm = RandomPermutations(3, 5, gen);
  EXPECT_TRUE(at::equal(MapColumnsToItems(ConsistentCopy(Y, perm), perm), Y));
  const at::Tensor identity = at::arange(5, at::kLong).expand({3, 5});
  EXPECT_TRUE(at::equal(MapColumnsToItems(Y, identity), Y));
}

TEST(PermutationConsistency, ZeroWhenTheCopyMapsOntoTheOriginal) {
  at::Generator gen = at::detail::createCPUGenerator(37);
  for (int64_t m : {1, 2, 6}) {
    const at::Tensor Y = RandomY(4, m, gen);
    const at::Tensor perm = RandomPermutations(4, m, gen);
    const at::Tensor mapped = MapColumnsToItems(ConsistentCopy(Y, perm), perm);
    for (PslDivergence d : kDivergences) {
      EXPECT_NEAR(PermutationConsistencyLoss(Y, mapped, {d, 10.0}).item<double>(), 0.0, 1e-15);
    }
  }
}

TEST(PermutationConsistency, MatchesReferenceAndIsPositiveOtherwise) {
  at::Generator gen = at::detail::createCPUGenerator(41);
  for (int64_t m : {2, 5, 10}) {
    const at::Tensor Y = RandomY(3, m, gen), Yc = RandomY(3, m, gen);
    for (int d = 0; d < 3; ++d) {
      const at::Tensor per_list = PermutationConsistencyLossPerList(Y, Yc, {kDivergences[d], 4.0});
      for (int64_t b = 0; b < 3; ++b) {
        const double ref = reference::Consistency(ToMatrix(Y, b), ToMatrix(Yc, b), d, 4.0);
        EXPECT_NEAR(per_list[b].item<double>(), ref, 1e-12 * (1 + ref)) << "m=" << m << " divergence " << d;
        EXPECT_GT(per_list[b].item<double>(), 0.0);
      }
    }
  }
}

TEST(PermutationConsistency, GradientFlowsToBothAndMatchesFiniteDifferences) {
  at::Generator gen = at::detail::createCPUGenerator(43);
  const at::Tensor logits = at::randn({2, 4, 4}, gen, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor copy_logits = at::randn({2, 4, 4}, gen, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor perm = RandomPermutations(2, 4, gen);
  for (PslDivergence d : kDivergences) {
    at::Tensor a = logits.clone().set_requires_grad(true), c = copy_logits.clone().set_requires_grad(true);
    PermutationConsistencyLoss(at::softmax(a, -1), MapColumnsToItems(at::softmax(c, -1), perm), {d, 3.0}).backward();
    EXPECT_GT(a.grad().abs().sum().item<double>(), 0.0);
    EXPECT_GT(c.grad().abs().sum().item<double>(), 0.0);
    testing::ExpectGradientMatchesFiniteDifferences(
        [&](const at::Tensor& x) {
          return PermutationConsistencyLoss(at::softmax(x, -1), MapColumnsToItems(at::softmax(copy_logits, -1), perm),
                                            {d, 3.0});
        },
        logits);
    testing::ExpectGradientMatchesFiniteDifferences(
        [&](const at::Tensor& x) {
          return PermutationConsistencyLoss(at::softmax(logits, -1), MapColumnsToItems(at::softmax(x, -1), perm),
                                            {d, 3.0});
        },
        copy_logits);
  }
}

TEST(PermutationConsistency, UnderflowedProbabilitiesStayFinite) {
  at::Tensor Y = at::zeros({1, 2, 2}, at::kDouble);
  Y[0][0][0] = 1.0;
  Y[0][1][1] = 1.0;
  at::Tensor Yc = Y.flip({2}).clone().set_requires_grad(true);
  const at::Tensor loss = PermutationConsistencyLoss(Y, Yc, {});
  loss.backward();
  EXPECT_NEAR(loss.item<double>(), std::log(2.0), 1e-12);  // JS of disjoint distributions
  EXPECT_TRUE(at::isfinite(Yc.grad()).all().item<bool>());
}

TEST(PermutationConsistency, ParsesDivergenceNames) {
  EXPECT_EQ(*ParsePslDivergence("js"), PslDivergence::kJensenShannon);
  EXPECT_EQ(*ParsePslDivergence("kl"), PslDivergence::kSymmetricKl);
  EXPECT_EQ(*ParsePslDivergence("mse"), PslDivergence::kExpectedPositionMse);
  EXPECT_FALSE(ParsePslDivergence("l2").ok());
}

}  // namespace
}  // namespace alro::losses
