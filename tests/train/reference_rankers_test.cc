// tests/train/reference_rankers_test.cc: the reference orders of `alro eval
// --baselines` against brute force (counts, shrunk means, the dense solve,
// ALS's optimality conditions and a planted low-rank matrix), and the
// rankings JSONL line that `alro eval --output` writes read back by the
// parser of `alro metrics`.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "losses/metrics.h"
#include "losses/ranking_jsonl.h"
#include "train/evaluator.h"
#include "train/reference_rankers.h"

namespace alro::train {
namespace {

std::vector<RatingTriple> SmallRatings() {
  return {{"u1", "a", 5}, {"u1", "b", 3}, {"u2", "a", 4}, {"u2", "c", 1}, {"u3", "a", 2}, {"u3", "b", 4},
          {"u3", "c", 2}, {"u4", "b", 5}};
}

TEST(ReferenceRankers, PopularityAndItemMeanMatchBruteForce) {
  const std::vector<RatingTriple> ratings = SmallRatings();
  const PopularityRanker popularity(ratings);
  EXPECT_EQ(popularity.Score("x", {"a", "b", "c", "zz"}), (std::vector<double>{3, 3, 2, 0}));
  const double k = 2.0;
  const ItemMeanRanker mean(ratings, k);
  double total = 0.0;
  for (const RatingTriple& r : ratings) total += r.rating;
  const double mu = total / ratings.size();
  EXPECT_NEAR(mean.global_mean(), mu, 1e-12);
  const std::vector<double> s = mean.Score("x", {"a", "b", "c", "zz"});
  EXPECT_NEAR(s[0], (5 + 4 + 2 + k * mu) / (3 + k), 1e-12);
  EXPECT_NEAR(s[1], (3 + 4 + 5 + k * mu) / (3 + k), 1e-12);
  EXPECT_NEAR(s[2], (1 + 2 + k * mu) / (2 + k), 1e-12);
  EXPECT_NEAR(s[3], mu, 1e-12);
}

TEST(ReferenceRankers, SolveSpdMatchesAKnownSolution) {
  // A = M^T M + I for a fixed M; b = A x for a known x.
  const std::vector<double> x = {1.5, -2.0, 0.25, 3.0};
  const double m[4][4] = {{1, 2, 0, 1}, {0, 1, 3, -1}, {2, 0, 1, 0}, {1, 1, 1, 1}};
  std::vector<double> a(16, 0.0), b(4, 0.0);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      for (int r = 0; r < 4; ++r) a[i * 4 + j] += m[r][i] * m[r][j];
      if (i == j) a[i * 4 + j] += 1.0;
    }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) b[i] += a[i * 4 + j] * x[j];
  const std::vector<double> solved = SolveSpd(a, b);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(solved[i], x[i], 1e-10);
}

// Ratings of a planted model r = 3 + b_u + b_i + p_u q_i (one factor).
std::vector<RatingTriple> PlantedRatings() {
  std::vector<RatingTriple> out;
  for (int u = 0; u < 30; ++u) {
    for (int i = 0; i < 20; ++i) {
      if ((u * 7 + i * 3) % 4 == 0) continue;  // a quarter missing
      const double p = std::sin(u * 0.7), q = std::cos(i * 1.3);
      out.push_back({"u" + std::to_string(u), "i" + std::to_string(i), 3.0 + 0.1 * (u % 5) - 0.2 * (i % 3) + p * q});
    }
  }
  return out;
}

TEST(ReferenceRankers, AlsSatisfiesItsNormalEquationsAndRecoversAPlantedMatrix) {
  const std::vector<RatingTriple> ratings = PlantedRatings();
  AlsOptions o;
  o.factors = 2;
  o.l2 = 0.01;
  o.iterations = 1;
  const double one = AlsRanker(ratings, o).Objective();
  o.iterations = 30;
  const AlsRanker als(ratings, o);
  // ALS never increases its objective.
  EXPECT_LE(als.Objective(), one + 1e-9);
  double squared = 0.0;
  for (const RatingTriple& r : ratings) squared += std::pow(r.rating - als.Predict(r.user, r.item), 2);
  EXPECT_LT(std::sqrt(squared / ratings.size()), 0.05);

  // The last half-step solved each item exactly: the objective's gradient
  // with respect to an item's bias vanishes. Brute force by central finite
  // differences of the objective is not possible from outside, so check the
  // closed form: sum over the item's ratings of the residual equals l2 * b_i
  // (d/db_i [sum e^2 + l2 b_i^2] = -2 sum e + 2 l2 b_i = 0).
  const double l2 = 30.0;
  o.l2 = l2;
  o.iterations = 3;
  const AlsRanker heavy(ratings, o);
  std::map<std::string, double> residual_sum;
  for (const RatingTriple& r : ratings) residual_sum[r.item] += r.rating - heavy.Predict(r.user, r.item);
  // b_i = Predict(unknown user, item) - mu, and mu = Predict(unknown, unknown).
  const double mu = heavy.Predict("nobody", "nothing");
  for (const auto& [item, sum] : residual_sum) {
    const double bias = heavy.Predict("nobody", item) - mu;
    EXPECT_NEAR(sum, l2 * bias, 1e-8) << item;
  }
}

TEST(ReferenceRankers, SelectAlsPicksTheBestValidationSetting) {
  const std::vector<RatingTriple> ratings = PlantedRatings();
  std::vector<ReferenceList> valid;
  for (int u = 0; u < 30; ++u) {
    ReferenceList list;
    list.user = "u" + std::to_string(u);
    for (int i = 0; i < 20; ++i) {
      if ((u * 7 + i * 3) % 4 != 0) continue;  // the held-out quarter
      list.items.push_back("i" + std::to_string(i));
      list.ratings.push_back(std::round(3.0 + 0.1 * (u % 5) - 0.2 * (i % 3) + std::sin(u * 0.7) * std::cos(i * 1.3)));
    }
    valid.push_back(list);
  }
  const AlsOptions best = SelectAls(ratings, valid);
  double best_ndcg = MeanNdcg(AlsRanker(ratings, best), valid, 10);
  for (const AlsOptions& o : AlsGrid()) EXPECT_LE(MeanNdcg(AlsRanker(ratings, o), valid, 10), best_ndcg + 1e-12);
}

TEST(RankingsJsonl, EvalLinesGiveTheSameMetricsInAlroMetrics) {
  // Decode mode (scores m - k) and single-step mode with tied logits: the
  // line's scores, sorted by the metrics parser, reproduce the order.
  std::vector<RankedList> lists(2);
  lists[0].example_id = "test/u1/0";
  lists[0].ratings = {3, 5, 1, 4};
  lists[0].order = {2, 0, 3, 1};
  lists[0].scores = {4, 3, 2, 1};
  lists[1].example_id = "test/u2/0";
  lists[1].ratings = {2, 2, 5, 4};
  lists[1].order = {1, 3, 0, 2};  // slots 1 and 3 tie; the earlier slot first
  lists[1].scores = {0.7, 0.7, -1.0, -2.5};
  losses::MetricsAccumulator direct;
  std::string text;
  for (const RankedList& list : lists) {
    direct.AddList(losses::Permute(list.ratings, list.order));
    const std::string line = RankingJsonLine(list);
    auto parsed = losses::ParseRankingLine(line, "line");
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->labels_in_order, losses::Permute(list.ratings, list.order)) << line;
    text += line + "\n";
  }
  auto summary = losses::ComputeMetricsFromJsonl(text, "rankings.jsonl", losses::MetricsOptions());
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->dump(), direct.Summary().dump());
}

}  // namespace
}  // namespace alro::train
