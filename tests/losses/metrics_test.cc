// tests/losses/metrics_test.cc: ranking metrics on hand-computed cases, ties,
// lists shorter than k, all-equal ratings, position bias, and the rankings
// JSONL reader behind `alro metrics`.
#include "losses/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

#include "losses/ranking_jsonl.h"

namespace alro::losses {
namespace {

constexpr double kEps = 1e-12;

TEST(Metrics, NdcgHandComputed) {
  // Ratings in predicted order; gains 2^r - 1 = 7 3 7 0 1 3.
  const std::vector<double> labels = {3, 2, 3, 0, 1, 2};
  const double dcg3 = 7 + 3 / std::log2(3) + 7 / std::log2(4);
  const double idcg3 = 7 + 7 / std::log2(3) + 3 / std::log2(4);  // ideal 3 3 2 2 1 0
  EXPECT_NEAR(DcgAtK(labels, 3), dcg3, kEps);
  EXPECT_NEAR(*NdcgAtK(labels, 3), dcg3 / idcg3, kEps);
  EXPECT_NEAR(*NdcgAtK(labels, 3), 0.9594535145926796, kEps);  // numpy, same formula
  EXPECT_NEAR(*NdcgAtK(labels, 1), 1.0, kEps);                 // a top item with the top rating
  const double dcg6 = dcg3 + 0 / std::log2(5) + 1 / std::log2(6) + 3 / std::log2(7);
  const double idcg6 = idcg3 + 3 / std::log2(5) + 1 / std::log2(6) + 0 / std::log2(7);
  EXPECT_NEAR(*NdcgAtK(labels, 6), dcg6 / idcg6, kEps);
  // Shorter than k: scored on all items.
  EXPECT_NEAR(*NdcgAtK(labels, 10), dcg6 / idcg6, kEps);
  EXPECT_NEAR(*NdcgAtK(labels, 0), dcg6 / idcg6, kEps);
}

TEST(Metrics, NdcgTiesAllEqualAndNoGain) {
  // Swapping equally rated items changes nothing.
  EXPECT_NEAR(*NdcgAtK({4, 4, 1}, 2), 1.0, kEps);
  EXPECT_NEAR(*NdcgAtK({4, 1, 4}, 2), (15 + 1 / std::log2(3)) / (15 + 15 / std::log2(3)), kEps);
  EXPECT_NEAR(*NdcgAtK({3, 3, 3, 3}, 2), 1.0, kEps);  // every order is ideal
  EXPECT_FALSE(NdcgAtK({0, 0, 0}, 3).has_value());    // no gain anywhere: undefined
}

TEST(Metrics, HitRateRecallAndMrr) {
  const std::vector<double> labels = {3, 5, 2, 4, 1};  // liked (>= 4) at positions 2 and 4
  EXPECT_EQ(*HitRateAtK(labels, 1, 4.0), 0.0);
  EXPECT_EQ(*HitRateAtK(labels, 2, 4.0), 1.0);
  EXPECT_EQ(*RecallAtK(labels, 1, 4.0), 0.0);
  EXPECT_EQ(*RecallAtK(labels, 3, 4.0), 0.5);
  EXPECT_EQ(*RecallAtK(labels, 4, 4.0), 1.0);
  EXPECT_EQ(*RecallAtK(labels, 50, 4.0), 1.0);  // shorter than k
  EXPECT_EQ(*ReciprocalRank(labels, 4.0), 0.5);
  EXPECT_EQ(*ReciprocalRank(labels, 3.0), 1.0);  // the threshold is inclusive
  EXPECT_EQ(CountLiked(labels, 4.0), 2);
  // No liked item: undefined, not zero.
  EXPECT_FALSE(HitRateAtK({1, 2, 3}, 2, 4.0).has_value());
  EXPECT_FALSE(RecallAtK({1, 2, 3}, 2, 4.0).has_value());
  EXPECT_FALSE(ReciprocalRank({1, 2, 3}, 4.0).has_value());
}

TEST(Metrics, KendallTau) {
  EXPECT_NEAR(*KendallTauToTrueOrder({5, 4, 3, 2, 1}), 1.0, kEps);
  EXPECT_NEAR(*KendallTauToTrueOrder({1, 2, 3, 4, 5}), -1.0, kEps);
  // One adjacent swap among 4: (C - D) / pairs = (5 - 1) / 6.
  EXPECT_NEAR(*KendallTauToTrueOrder({4, 3, 1, 2}), 4.0 / 6.0, kEps);
  // Ties: {3, 3, 1}: pairs (0,1) tied in rating, (0,2) and (1,2) concordant;
  // tau-b = 2 / sqrt(3 * 2).
  EXPECT_NEAR(*KendallTauToTrueOrder({3, 3, 1}), 2.0 / std::sqrt(6.0), kEps);
  EXPECT_FALSE(KendallTauToTrueOrder({2, 2, 2}).has_value());  // all equal
  EXPECT_FALSE(KendallTauToTrueOrder({5}).has_value());        // one item
  EXPECT_NEAR(*KendallTauBetweenRankings({7, 8, 9}, {9, 8, 7}), -1.0, kEps);
  EXPECT_NEAR(*KendallTauBetweenRankings({7, 8, 9}, {8, 7, 9}), 1.0 / 3.0, kEps);
  EXPECT_FALSE(KendallTauBetweenRankings({7, 8, 9}, {7, 8, 10}).has_value());
}

TEST(Metrics, TrueRanksAndScoreOrderBreakTiesByPresentation) {
  EXPECT_EQ(TrueRanks({3, 5, 3, 1}), (std::vector<int64_t>{2, 1, 3, 4}));
  EXPECT_EQ(OrderByScoreDescending({0.5, 2.0, 0.5}), (std::vector<int64_t>{1, 0, 2}));
}

TEST(Metrics, PositionBias) {
  // The same list {5, 1, 3} shown in three orders, ranked as below.
  const std::vector<std::vector<double>> labels = {{5, 3, 1}, {3, 5, 1}, {5, 3, 1}};
  const std::vector<std::vector<int64_t>> rankings = {{10, 12, 11}, {12, 10, 11}, {10, 12, 11}};
  const PositionBias bias = ComputePositionBias(labels, rankings, {1, 3});
  const double a = 1.0, b = 7.0 / 31.0;  // NDCG@1 of the two distinct outcomes
  const double mean = (2 * a + b) / 3;
  EXPECT_NEAR(bias.ndcg_std.at(1), std::sqrt((2 * (a - mean) * (a - mean) + (b - mean) * (b - mean)) / 3), kEps);
  // Pairwise tau: identical orders give 1, the swapped one 1/3 against each.
  EXPECT_NEAR(*bias.mean_pairwise_kendall_tau, (1.0 + 1.0 / 3 + 1.0 / 3) / 3, kEps);
  // A consistent ranker has no spread.
  const PositionBias none = ComputePositionBias({{5, 3, 1}, {5, 3, 1}}, {{1, 2, 3}, {1, 2, 3}}, {2});
  EXPECT_NEAR(none.ndcg_std.at(2), 0.0, kEps);
  EXPECT_NEAR(*none.mean_pairwise_kendall_tau, 1.0, kEps);
}

TEST(Metrics, AccumulatorAveragesOnlyDefinedLists) {
  MetricsAccumulator acc({{1, 2}, 4.0});
  acc.AddList({5, 1});  // liked first
  acc.AddList({1, 5});  // liked second
  acc.AddList({1, 2});  // nothing liked: out of hr/recall/mrr
  EXPECT_EQ(acc.lists(), 3);
  EXPECT_NEAR(*acc.Mean("hr@1"), 0.5, kEps);
  EXPECT_NEAR(*acc.Mean("mrr"), 0.75, kEps);
  const double second = (1 + 31 / std::log2(3)) / (31 + 1 / std::log2(3));
  const double third = (1 + 3 / std::log2(3)) / (3 + 1 / std::log2(3));
  EXPECT_NEAR(*acc.Mean("ndcg@2"), (1.0 + second + third) / 3, kEps);
  const nlohmann::ordered_json summary = acc.Summary();
  EXPECT_EQ(summary["lists"], 3);
  EXPECT_EQ(summary["lists_with_liked"], 2);
  EXPECT_FALSE(summary.contains("position_bias"));
}

TEST(RankingJsonl, BothLineFormsGiveTheSameMetrics) {
  const std::string labels_only = "{\"labels\": [5, 3, 4]}\n";
  // Presentation order (3, 5, 4) with scores putting 5 first, then 3, then 4.
  const std::string scored = "{\"scores\": [0.5, 2.0, 0.1], \"labels\": [3, 5, 4], \"example_id\": \"u1\"}\n";
  const auto a = ComputeMetricsFromJsonl(labels_only, "a.jsonl", {});
  const auto b = ComputeMetricsFromJsonl(scored, "b.jsonl", {});
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*a, *b);
  EXPECT_EQ((*a)["lists"], 1);
  EXPECT_NEAR((*a)["ndcg@3"].get<double>(), 0.9761750680582886, kEps);
}

TEST(RankingJsonl, PositionBiasGroupsFromListIds) {
  const std::string text =
      "{\"list_id\": \"u1\", \"labels\": [5, 3, 1], \"items\": [10, 12, 11]}\n"
      "\n"
      "{\"list_id\": \"u1\", \"scores\": [2, 1, 3], \"labels\": [5, 1, 3], \"items\": [10, 11, 12]}\n"
      "{\"list_id\": 7, \"labels\": [4, 2]}\n";
  const auto summary = ComputeMetricsFromJsonl(text, "g.jsonl", {{1}, 4.0});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ((*summary)["lists"], 3);
  const nlohmann::ordered_json& bias = (*summary)["position_bias"];
  EXPECT_EQ(bias["groups"], 1);  // list 7 has a single order
  // Orders: 10 12 11 (labels 5 3 1) and 12 10 11 (labels 3 5 1).
  EXPECT_NEAR(bias["ndcg@1_std"].get<double>(), (1.0 - 7.0 / 31.0) / 2, kEps);
  EXPECT_NEAR(bias["pairwise_kendall_tau"].get<double>(), 1.0 / 3.0, kEps);
}

TEST(RankingJsonl, RejectsMalformedLinesWithLineNumber) {
  const std::string good = "{\"labels\": [1, 2]}\n";
  const std::vector<std::pair<std::string, std::string>> bad_lines = {
      {"{\"labels\": [1, 2]", "invalid JSON"},
      {"[1, 2]", "not a JSON object"},
      {"{\"scores\": [1, 2]}", "missing \"labels\""},
      {"{\"labels\": []}", "empty"},
      {"{\"labels\": [1, \"x\"]}", "\"labels\"[1] is not a finite number"},
      {"{\"labels\": \"5 4\"}", "not an array"},
      {"{\"labels\": [1, 2], \"scores\": [1]}", "\"scores\" has 1 entries but \"labels\" has 2"},
      {"{\"labels\": [1, 2], \"items\": [3, 3]}", "repeats"},
      {"{\"labels\": [1, 2], \"items\": [3]}", "\"items\" must be"},
      {"{\"labels\": [1, 2], \"list_id\": [1]}", "\"list_id\""},
      // Found by fuzz_rankings_jsonl: 2^1e308 - 1 is inf, so NDCG was inf/inf = NaN.
      {"{\"labels\": [1e308, 2]}", "\"labels\"[0] = 1e+308 is too large"},
      {"{\"labels\": [2, 1024]}", "\"labels\"[1] = 1024 is too large"},
  };
  for (const auto& [line, expected] : bad_lines) {
    const std::string text = good + good + line + "\n" + good;
    const auto result = ComputeMetricsFromJsonl(text, "r.jsonl", {});
    ASSERT_FALSE(result.ok()) << line;
    const std::string message(result.status().message());
    EXPECT_NE(message.find("r.jsonl:3 (byte " + std::to_string(2 * good.size()) + ")"), std::string::npos)
        << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_NE(message.find("HINT"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace alro::losses
