// tests/losses/soft_lambda_loss_test.cc: SLL against the brute-force
// reference, its gradient against finite differences, its ordering property,
// and the cross-check of its pair weighting against LambdaLoss.
#include "losses/soft_lambda_loss.h"

#include <gtest/gtest.h>

#include "losses/lambda_loss.h"
#include "tests/losses/reference.h"
#include "tests/losses/test_util.h"

namespace alro::losses {
namespace {

using testing::RandomRatings;
using testing::RandomY;
using testing::ToMatrix;
using testing::ToVector;

TEST(SoftLambdaLoss, ExpectedPositionsMatchReference) {
  at::Generator gen = at::detail::createCPUGenerator(7);
  const at::Tensor Y = RandomY(3, 6, gen);
  const at::Tensor s = ExpectedPositions(Y, 10.0);
  for (int64_t b = 0; b < 3; ++b) {
    const std::vector<double> ref = reference::ExpectedPositions(ToMatrix(Y, b), 10.0);
    for (int64_t i = 0; i < 6; ++i) EXPECT_NEAR(s[b][i].item<double>(), ref[i], 1e-12);
  }
}

TEST(SoftLambdaLoss, MatchesBruteForceOnRandomListsWithTies) {
  at::Generator gen = at::detail::createCPUGenerator(11);
  struct Case {
    int64_t m;
    double gamma, sigma;
    int64_t top_k;
  };
  for (const Case& c : {Case{1, 10, 1, 0}, Case{2, 10, 1, 0}, Case{2, 3, 0.5, 1}, Case{5, 10, 1, 0},
                        Case{5, 10, 2, 2}, Case{10, 10, 1, 0}, Case{10, 4, 1, 3}, Case{20, 10, 1, 5}}) {
    const int64_t B = 4;
    const at::Tensor Y = RandomY(B, c.m, gen);
    const at::Tensor ratings = RandomRatings(B, c.m, gen);
    const SoftLambdaOptions options{c.gamma, c.sigma, c.top_k};
    const at::Tensor per_list = SoftLambdaLossPerList(Y, ratings, options);
    double mean = 0.0;
    for (int64_t b = 0; b < B; ++b) {
      const double ref = reference::SoftLambdaLoss(ToMatrix(Y, b), ToVector(ratings, b), c.gamma, c.sigma, c.top_k);
      EXPECT_NEAR(per_list[b].item<double>(), ref, 1e-12 * (1 + ref)) << "m=" << c.m << " list " << b;
      mean += ref / B;
    }
    EXPECT_NEAR(SoftLambdaLoss(Y, ratings, options).item<double>(), mean, 1e-12 * (1 + mean));
  }
}

TEST(SoftLambdaLoss, TieKeyChangesTheTrueOrderOfEqualRatings) {
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor Y = RandomY(1, 4, gen);
  const at::Tensor ratings = at::tensor({5.0, 3.0, 3.0, 1.0}, at::kDouble).view({1, 4});
  const at::Tensor key = at::tensor({0.0, 2.0, 1.0, 3.0}, at::kDouble).view({1, 4});
  const double ref = reference::SoftLambdaLoss(ToMatrix(Y, 0), ToVector(ratings, 0), 10, 1, 0, ToVector(key, 0));
  EXPECT_NEAR(SoftLambdaLossPerList(Y, ratings, {}, key)[0].item<double>(), ref, 1e-12);
  EXPECT_NE(SoftLambdaLossPerList(Y, ratings, {})[0].item<double>(), ref);
}

TEST(SoftLambdaLoss, FloatInputMatchesDouble) {
  at::Generator gen = at::detail::createCPUGenerator(3);
  const at::Tensor Y = RandomY(4, 8, gen);
  const at::Tensor ratings = RandomRatings(4, 8, gen);
  const double d = SoftLambdaLoss(Y, ratings, {}).item<double>();
  const at::Tensor f = SoftLambdaLoss(Y.to(at::kFloat), ratings.to(at::kFloat), {});
  EXPECT_EQ(f.scalar_type(), at::kFloat);
  EXPECT_NEAR(f.item<double>(), d, 1e-5 * (1 + d));
}

TEST(SoftLambdaLoss, GradientMatchesFiniteDifferences) {
  at::Generator gen = at::detail::createCPUGenerator(13);
  for (int64_t m : {2, 5}) {
    const at::Tensor logits = at::randn({2, m, m}, gen, at::TensorOptions().dtype(at::kDouble));
    const at::Tensor ratings = RandomRatings(2, m, gen);
    for (int64_t top_k : {0, 1}) {
      const SoftLambdaOptions options{3.0, 1.5, top_k};
      testing::ExpectGradientMatchesFiniteDifferences(
          [&](const at::Tensor& x) { return SoftLambdaLoss(at::softmax(x, -1), ratings, options); }, logits);
    }
  }
}

// Y that puts `order[k]` at slot k with probability `confidence`.
at::Tensor PeakedY(const std::vector<int64_t>& order, double confidence) {
  const int64_t m = order.size();
  at::Tensor Y = at::full({1, m, m}, (1.0 - confidence) / (m - 1), at::kDouble);
  for (int64_t k = 0; k < m; ++k) Y[0][k][order[k]] = confidence;
  return Y;
}

TEST(SoftLambdaLoss, CloserPredictedOrderGivesLowerLoss) {
  const at::Tensor ratings = at::tensor({1.0, 5.0, 3.0, 4.0, 2.0}, at::kDouble).view({1, 5});
  // True order by rating: items 1, 3, 2, 4, 0.
  const std::vector<std::vector<int64_t>> orders_from_close_to_far = {
      {1, 3, 2, 4, 0},  // the true order
      {1, 3, 2, 0, 4},  // one swap at the bottom
      {3, 1, 2, 0, 4},  // plus one at the top
      {3, 1, 0, 2, 4},  // three swaps
      {0, 4, 2, 3, 1},  // reversed
  };
  for (double confidence : {0.5, 0.9}) {
    double previous = -1.0;
    for (const auto& order : orders_from_close_to_far) {
      const double loss = SoftLambdaLoss(PeakedY(order, confidence), ratings, {}).item<double>();
      EXPECT_GT(loss, previous) << "confidence " << confidence;
      previous = loss;
    }
  }
  // A sharper correct prediction is better than a vaguer one.
  EXPECT_LT(SoftLambdaLoss(PeakedY({1, 3, 2, 4, 0}, 0.9), ratings, {}).item<double>(),
            SoftLambdaLoss(PeakedY({1, 3, 2, 4, 0}, 0.5), ratings, {}).item<double>());
}

TEST(SoftLambdaLoss, NoPairsGiveZero) {
  const at::Tensor Y = PeakedY({0, 1, 2}, 0.8);
  EXPECT_EQ(SoftLambdaLoss(Y, at::full({1, 3}, 4.0, at::kDouble), {}).item<double>(), 0.0);  // all equal
  EXPECT_EQ(SoftLambdaLoss(Y, at::zeros({1, 3}, at::kDouble), {}).item<double>(), 0.0);      // no gain
  EXPECT_EQ(SoftLambdaLoss(at::ones({1, 1, 1}, at::kDouble), at::full({1, 1}, 5.0, at::kDouble), {}).item<double>(),
            0.0);  // m = 1
}

// The cross-check the issue asks for. SLL is NDCG-Loss2 LambdaLoss evaluated
// on the scores f = -s (earlier expected position = higher score) with one
// difference: SLL takes the ranks in delta_ij from the TRUE order, LambdaLoss
// from the PREDICTED order. So (1) whenever the predicted order of -s equals
// the true order, SLL * IDCG == LambdaLoss(ndcg2, -s) * IDCG@k exactly, for
// every k; (2) otherwise they differ.
TEST(SoftLambdaLoss, PairWeightingAgreesWithLambdaLossWhenOrdersAgree) {
  at::Generator gen = at::detail::createCPUGenerator(17);
  for (int64_t m : {2, 4, 7, 10}) {
    for (int trial = 0; trial < 5; ++trial) {
      const at::Tensor ratings = RandomRatings(1, m, gen);
      const std::vector<double> r = ToVector(ratings, 0);
      // Y that puts each item at its true rank with a random confidence, so
      // that sorting -s reproduces the true order (ties by presentation order).
      const std::vector<int64_t> tau = reference::Ranks(r);
      std::vector<int64_t> order(m);
      for (int64_t i = 0; i < m; ++i) order[tau[i] - 1] = i;
      const double confidence = 0.6 + 0.3 * at::rand({1}, gen, at::TensorOptions().dtype(at::kDouble)).item<double>();
      const at::Tensor Y = PeakedY(order, confidence);
      const at::Tensor s = ExpectedPositions(Y, 10.0);
      ASSERT_EQ(reference::Ranks(ToVector(-s, 0)), tau);
      for (int64_t k : {0, 1, 3}) {
        const double sll = SoftLambdaLoss(Y, ratings, {10.0, 1.0, k}).item<double>();
        LambdaLossOptions ll;
        ll.top_k = k;
        const double lambda = LambdaLoss(-s, ratings, ll).item<double>();
        double idcg = 0, idcg_k = 0;
        std::vector<double> sorted = r;
        std::sort(sorted.rbegin(), sorted.rend());
        for (int64_t p = 0; p < m; ++p) {
          idcg += (std::pow(2.0, sorted[p]) - 1) / std::log2(p + 2.0);
          if (k == 0 || p < k) idcg_k += (std::pow(2.0, sorted[p]) - 1) / std::log2(p + 2.0);
        }
        EXPECT_NEAR(sll * idcg, lambda * idcg_k, 1e-12 * (1 + sll * idcg)) << "m=" << m << " k=" << k;
      }
    }
  }
  // Different orders: the weights differ (true ranks vs predicted ranks).
  const at::Tensor ratings = at::tensor({5.0, 3.0, 1.0, 0.0}, at::kDouble).view({1, 4});
  const at::Tensor Y = PeakedY({2, 0, 3, 1}, 0.9);
  const at::Tensor s = ExpectedPositions(Y, 10.0);
  EXPECT_GT(std::abs(SoftLambdaLoss(Y, ratings, {}).item<double>() - LambdaLoss(-s, ratings, {}).item<double>()),
            1e-3);
}

}  // namespace
}  // namespace alro::losses
