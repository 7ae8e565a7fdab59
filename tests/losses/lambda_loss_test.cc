// tests/losses/lambda_loss_test.cc: classical LambdaLoss (three weightings,
// top-k, sigma) against the brute-force reference and finite differences.
#include "losses/lambda_loss.h"

#include <gtest/gtest.h>

#include "tests/losses/reference.h"
#include "tests/losses/test_util.h"

namespace alro::losses {
namespace {

using testing::RandomRatings;
using testing::ToVector;

constexpr LambdaWeighting kWeightings[] = {LambdaWeighting::kNdcgLoss2, LambdaWeighting::kLambdaRank,
                                           LambdaWeighting::kNdcgLoss2PlusPlus};

TEST(LambdaLoss, MatchesBruteForceOnRandomLists) {
  at::Generator gen = at::detail::createCPUGenerator(23);
  for (int64_t m : {1, 2, 3, 6, 10, 20}) {
    const int64_t B = 4;
    at::Tensor scores = at::randn({B, m}, gen, at::TensorOptions().dtype(at::kDouble));
    // Tied scores too: they are ranked by presentation order.
    if (m >= 3) scores.select(1, 2).copy_(scores.select(1, 0));
    const at::Tensor ratings = RandomRatings(B, m, gen);
    for (int w = 0; w < 3; ++w) {
      for (int64_t k : {0, 1, 3}) {
        for (double sigma : {1.0, 0.3}) {
          LambdaLossOptions options;
          options.weighting = kWeightings[w];
          options.mu = 5.0;
          options.sigma = sigma;
          options.top_k = k;
          const at::Tensor per_list = LambdaLossPerList(scores, ratings, options);
          double mean = 0;
          for (int64_t b = 0; b < B; ++b) {
            const double ref = reference::LambdaLoss(ToVector(scores, b), ToVector(ratings, b), w, 5.0, sigma, k);
            EXPECT_NEAR(per_list[b].item<double>(), ref, 1e-12 * (1 + ref))
                << "m=" << m << " weighting " << w << " k=" << k << " sigma " << sigma;
            mean += ref / B;
          }
          EXPECT_NEAR(LambdaLoss(scores, ratings, options).item<double>(), mean, 1e-12 * (1 + mean));
        }
      }
    }
  }
}

TEST(LambdaLoss, GradientMatchesFiniteDifferences) {
  at::Generator gen = at::detail::createCPUGenerator(29);
  // Distinct scores: the predicted ranks stay put under the probe step.
  const at::Tensor scores = at::randn({3, 6}, gen, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor ratings = RandomRatings(3, 6, gen);
  for (LambdaWeighting weighting : kWeightings) {
    LambdaLossOptions options;
    options.weighting = weighting;
    options.top_k = 3;
    testing::ExpectGradientMatchesFiniteDifferences(
        [&](const at::Tensor& x) { return LambdaLoss(x, ratings, options); }, scores);
  }
}

TEST(LambdaLoss, BetterScoresGiveLowerLoss) {
  const at::Tensor ratings = at::tensor({4.0, 1.0, 3.0}, at::kDouble).view({1, 3});
  const at::Tensor good = at::tensor({3.0, 1.0, 2.0}, at::kDouble).view({1, 3});
  const at::Tensor bad = at::tensor({1.0, 3.0, 2.0}, at::kDouble).view({1, 3});
  for (LambdaWeighting weighting : kWeightings) {
    LambdaLossOptions options;
    options.weighting = weighting;
    EXPECT_LT(LambdaLoss(good, ratings, options).item<double>(), LambdaLoss(bad, ratings, options).item<double>());
  }
}

TEST(LambdaLoss, ParsesWeightingNames) {
  EXPECT_EQ(*ParseLambdaWeighting("ndcg2"), LambdaWeighting::kNdcgLoss2);
  EXPECT_EQ(*ParseLambdaWeighting("lambdarank"), LambdaWeighting::kLambdaRank);
  EXPECT_EQ(*ParseLambdaWeighting("ndcg2pp"), LambdaWeighting::kNdcgLoss2PlusPlus);
  const absl::StatusOr<LambdaWeighting> bad = ParseLambdaWeighting("ndcg3");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("HINT"), std::string::npos);
}

}  // namespace
}  // namespace alro::losses
