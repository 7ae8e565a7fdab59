// tests/data/rank_request_test.cc: `alro rank` request lines: a good line
// becomes a ListExample; numbers outside their field's range (which used to
// be converted with undefined behaviour) and malformed lines are errors
// naming file:line.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "data/rank_request.h"

namespace alro::data {
namespace {

TEST(RankRequest, GoodLineBecomesAListExample) {
  absl::StatusOr<RankRequest> r = ParseRankRequest(
      R"({"id": 7, "history": [{"title": "Heat", "year": 1995, "rating": 4.5, "timestamp": 9}],
          "candidates": [{"id": "m7", "title": "Up", "genres": ["Animation"]}, {"title": "Heat"}]})",
      "req.jsonl:1", 20);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id, "7");
  EXPECT_EQ(r->candidate_ids, (std::vector<std::string>{"m7", "1"}));
  EXPECT_EQ(r->example.history(0).item().year(), 1995);
  EXPECT_FLOAT_EQ(r->example.history(0).rating(), 4.5f);
  EXPECT_EQ(r->example.history(0).timestamp(), 9);
  r = ParseRankRequest(R"({"candidates": [{"id": "a", "rating_count": 12, "mean_rating": 3.5}]})", "r:1", 20);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->example.candidates(0).item_stats().count(), 12);
  EXPECT_FLOAT_EQ(r->example.candidates(0).item_stats().mean(), 3.5f);
}

TEST(RankRequest, OutOfRangeAndMalformedValuesAreErrors) {
  for (const char* line : {
           R"({"history": [{"year": 1e10}], "candidates": [{"id": "a"}]})",
           R"({"history": [{"year": 4294967296}], "candidates": [{"id": "a"}]})",
           R"({"history": [{"rating": 1e300}], "candidates": [{"id": "a"}]})",
           R"({"history": [{"timestamp": 1e30}], "candidates": [{"id": "a"}]})",
           R"({"history": [{"timestamp": 1.5}], "candidates": [{"id": "a"}]})",
           R"({"candidates": [{"year": 2.0e9, "id": "a"}]})",
           R"({"candidates": [{"genres": [1]}]})",
           R"({"candidates": [3]})",
           R"({"candidates": [{"year": 191e30895}]})",
           R"({"candidates": [{"rating_count": 1e20}]})",
           R"({"candidates": [{"rating_count": 3, "mean_rating": 1e40}]})",
       }) {
    absl::StatusOr<RankRequest> r = ParseRankRequest(line, "req.jsonl:4", 20);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_TRUE(absl::StrContains(r.status().message(), "req.jsonl:4")) << r.status();
  }
  EXPECT_FALSE(ParseRankRequest(R"({"candidates": [{}, {}, {}]})", "r:1", 2).ok());
}

}  // namespace
}  // namespace alro::data
