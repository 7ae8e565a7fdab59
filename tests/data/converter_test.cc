// tests/data/converter_test.cc: every input layout on small fixtures written
// here (quoted commas, non-ASCII and Latin-1 titles, bad rows), the split
// protocol against a hand-computed expectation, and byte-identical output.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "data/converters/convert.h"
#include "data/converters/csv.h"
#include "data/converters/formats.h"
#include "data/dataset.h"
#include "data/inspect.h"
#include "data/item_tokens.h"
#include "data/manifest.h"
#include "data/prompt.h"
#include "data/record_format.h"
#include "tests/data/test_util.h"

namespace alro::data {
namespace {

using testing::ReadBytes;
using testing::TempDir;
using testing::WriteText;

// ml-latest layout: 3 users (9, 6 and 3 ratings), quoted commas, non-ASCII,
// and bad rows of each kind.
void WriteMlLatest(const std::string& dir) {
  WriteText(JoinPath(dir, "movies.csv"),
            "movieId,title,genres\n"
            "1,Toy Story (1995),Adventure|Animation|Children\n"
            "2,\"American President, The (1995)\",Comedy|Drama|Romance\n"
            "3,\"Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)\",Comedy|Romance\n"
            "4,\"Say \"\"Cheese\"\" (1990)\",Comedy\n"
            "5,Heat (1995),Action|Crime|Thriller\n"
            "6,\"Broken, \"unterminated (1999),Drama\n"
            "7,Babylon 5,(no genres listed)\n"
            "8,Casino (1995),Crime|Drama\n"
            "9,Sabrina (1995),Comedy|Romance\n"
            "10,Nixon (1995),Drama\n"
            "11,Balto (1995),Animation\n");
  WriteText(JoinPath(dir, "ratings.csv"),
            "userId,movieId,rating,timestamp\n"
            "1,1,4.0,100\n1,2,3.5,101\n1,3,5.0,102\n1,4,2.0,103\n1,5,4.5,104\n"
            "1,7,1.0,105\n1,8,3.0,106\n1,9,4.0,107\n1,10,0.5,108\n"
            "1,5,abc,109\n"          // bad rating
            "1,5,4.0\n"              // too few fields
            "1,99,4.0,110\n"         // unknown movie: no title
            "2,1,3.0,50\n2,2,3.0,40\n2,3,2.0,30\n2,4,1.0,20\n2,5,5.0,10\n2,8,4.0,60\n"
            "3,1,3.0,1\n3,2,3.0,2\n3,3,3.0,3\n");
}

ConvertOptions Options(const std::string& format, const std::string& input, const std::string& output) {
  ConvertOptions o;
  o.format = format;
  o.input = input;
  o.output = output;
  o.split.num_candidates = 2;
  o.split.max_history = 3;
  o.vocab_size = 200;
  return o;
}

std::vector<proto::ListExample> ReadSplit(const std::string& dir, const std::string& split) {
  auto reader = SplitReader::Open(dir, split, OnCorrupt::kFail);
  EXPECT_TRUE(reader.ok()) << reader.status();
  std::vector<proto::ListExample> out;
  if (!reader.ok()) return out;
  for (int64_t i = 0; i < (*reader)->size(); ++i) {
    out.emplace_back();
    EXPECT_TRUE((*reader)->Read(i, &out.back()).ok());
  }
  return out;
}

std::vector<std::string> ItemIds(const google::protobuf::RepeatedPtrField<proto::Interaction>& list, bool sorted) {
  std::vector<std::string> ids;
  for (const proto::Interaction& it : list) ids.push_back(it.item().item_id());
  if (sorted) std::sort(ids.begin(), ids.end());
  return ids;
}

TEST(Csv, QuotedFields) {
  std::vector<std::string> f;
  ASSERT_TRUE(SplitCsvLine("1,\"a, b\",\"say \"\"hi\"\"\",", &f).ok());
  EXPECT_EQ(f, (std::vector<std::string>{"1", "a, b", "say \"hi\"", ""}));
  EXPECT_FALSE(SplitCsvLine("1,\"open", &f).ok());
  EXPECT_FALSE(SplitCsvLine("1,\"x\"y", &f).ok());
  EXPECT_EQ(ToUtf8("Am\xe9lie"), "Am\xc3\xa9lie");
  EXPECT_EQ(ToUtf8("Am\xc3\xa9lie"), "Am\xc3\xa9lie");
  EXPECT_EQ(TruncateUtf8("Am\xc3\xa9lie", 3), "Am\xc3\xa9");
}

TEST(Converter, MovieLensLatestSplitProtocolAndBadRows) {
  const std::string in = TempDir("ml_latest_in");
  const std::string out = TempDir("ml_latest_out");
  WriteMlLatest(in);
  auto summary = ConvertDataset(Options("movielens", in, out));
  ASSERT_TRUE(summary.ok()) << summary.status();
  // Every bad row is counted with its line number.
  const DropReport& drops = summary->drops;
  EXPECT_EQ(drops.count("malformed item row"), 1);
  EXPECT_EQ(drops.count("bad rating"), 1);
  EXPECT_EQ(drops.count("malformed rating row"), 1);
  EXPECT_EQ(drops.count("rating of an item without a title"), 1);
  EXPECT_EQ(drops.count("ratings of users with too few ratings"), 3);  // user 3's 3 ratings
  const std::string text = drops.Summary();
  EXPECT_TRUE(absl::StrContains(text, JoinPath(in, "ratings.csv") + ":11: rating 'abc' is not a number")) << text;
  EXPECT_TRUE(absl::StrContains(text, JoinPath(in, "ratings.csv") + ":12: expected 4 fields")) << text;
  EXPECT_TRUE(absl::StrContains(text, JoinPath(in, "movies.csv") + ":7: unexpected text after a closing quote"))
      << text;

  // User 1, m=2, H=3, stride=m, items by time 1 2 3 4 5 7 8 9 10:
  // test = {9,10}, valid = {7,8}, train windows start at 9-6=3 -> {4,5}
  // (history 1 2 3) and at 1 -> {2,3} (history 1).
  std::vector<proto::ListExample> test = ReadSplit(out, "test");
  std::vector<proto::ListExample> valid = ReadSplit(out, "valid");
  std::vector<proto::ListExample> train = ReadSplit(out, "train");
  ASSERT_EQ(test.size(), 2u);  // users 1 and 2
  EXPECT_EQ(test[0].user_id(), "1");
  EXPECT_EQ(ItemIds(test[0].candidates(), true), (std::vector<std::string>{"10", "9"}));
  EXPECT_EQ(ItemIds(test[0].history(), false), (std::vector<std::string>{"5", "7", "8"}));
  EXPECT_EQ(ItemIds(valid[0].candidates(), true), (std::vector<std::string>{"7", "8"}));
  ASSERT_EQ(train.size(), 2u + 0u);  // user 1: 2 windows; user 2 (6 ratings): none
  EXPECT_EQ(train[0].example_id(), "train/1/0");
  EXPECT_EQ(ItemIds(train[0].candidates(), true), (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(ItemIds(train[0].history(), false), (std::vector<std::string>{"1"}));
  EXPECT_EQ(ItemIds(train[1].candidates(), true), (std::vector<std::string>{"4", "5"}));
  EXPECT_EQ(ItemIds(train[1].history(), false), (std::vector<std::string>{"1", "2", "3"}));
  // User 2 is in time order 5 4 3 2 1 8 (timestamps 10..60).
  EXPECT_EQ(ItemIds(test[1].candidates(), true), (std::vector<std::string>{"1", "8"}));
  EXPECT_EQ(ItemIds(valid[1].candidates(), true), (std::vector<std::string>{"2", "3"}));
  // Titles: quoted commas, doubled quotes, non-ASCII, year split off.
  std::map<std::string, proto::Item> items;
  for (const auto* split : {&train, &valid, &test}) {
    for (const proto::ListExample& ex : *split) {
      for (const proto::Interaction& it : ex.history()) items[it.item().item_id()] = it.item();
      for (const proto::Interaction& it : ex.candidates()) items[it.item().item_id()] = it.item();
    }
  }
  EXPECT_EQ(items["2"].title(), "American President, The");
  EXPECT_EQ(items["2"].year(), 1995);
  EXPECT_EQ(items["3"].title(), "Amélie (Fabuleux destin d'Amélie Poulain, Le)");
  EXPECT_EQ(items["3"].year(), 2001);
  EXPECT_EQ(items["4"].title(), "Say \"Cheese\"");
  EXPECT_EQ(items["7"].title(), "Babylon 5");
  EXPECT_EQ(items["7"].year(), 0);
  EXPECT_EQ(items["7"].genres_size(), 0);
  EXPECT_EQ(items["1"].genres_size(), 3);
  // Ratings are the graded relevance.
  for (const proto::Interaction& c : test[0].candidates()) {
    EXPECT_FLOAT_EQ(c.rating(), c.item().item_id() == "9" ? 4.0f : 0.5f);
  }
  // The data set verifies, and has a tokenizer in which A..T are one token.
  auto verify = VerifyDataset(out);
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok()) << verify->Summary();
  auto tokenizer = Tokenizer::Load(JoinPath(out, kTokenizerName));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_TRUE((*tokenizer)->IdentifierIds(config::PromptConfig().identifiers).ok());
  EXPECT_GE((*tokenizer)->newline_id(), 0);
  auto inspect = InspectDataset(out, config::PromptConfig());
  ASSERT_TRUE(inspect.ok()) << inspect.status();
  EXPECT_TRUE(absl::StrContains(*inspect, "split train")) << *inspect;
  EXPECT_TRUE(absl::StrContains(*inspect, "Answer:")) << *inspect;
}

TEST(Converter, DeterministicByteIdenticalOutput) {
  const std::string in = TempDir("det_in");
  WriteMlLatest(in);
  const std::string a = TempDir("det_a");
  const std::string b = TempDir("det_b");
  ASSERT_TRUE(ConvertDataset(Options("movielens", in, a)).ok());
  ASSERT_TRUE(ConvertDataset(Options("movielens", in, b)).ok());
  auto names_a = ListDirectory(a);
  auto names_b = ListDirectory(b);
  ASSERT_TRUE(names_a.ok() && names_b.ok());
  EXPECT_EQ(*names_a, *names_b);
  EXPECT_NE(std::find(names_a->begin(), names_a->end(), kTokenizerName), names_a->end());
  for (const std::string& name : *names_a) {
    EXPECT_EQ(ReadBytes(JoinPath(a, name)), ReadBytes(JoinPath(b, name))) << name << " differs";
  }
  // Converting again into the same directory replaces the data set.
  ASSERT_TRUE(ConvertDataset(Options("movielens", in, a)).ok());
  EXPECT_EQ(ReadBytes(JoinPath(a, "train-00000.rec")), ReadBytes(JoinPath(b, "train-00000.rec")));
  // A directory with foreign files is refused.
  WriteText(JoinPath(b, "notes.txt"), "mine");
  auto refused = ConvertDataset(Options("movielens", in, b));
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "notes.txt"));
}

TEST(Converter, PresentationOrderCarriesNoLabel) {
  // 200 users with 7 ratings each, rated in time order with rising ratings:
  // a stored order equal to time (= rating) order would betray the label.
  const std::string in = TempDir("order_in");
  std::string movies = "movieId,title,genres\n", ratings = "userId,movieId,rating,timestamp\n";
  for (int i = 1; i <= 7; ++i) absl::StrAppend(&movies, i, ",Movie ", i, " (2000),Drama\n");
  for (int u = 1; u <= 200; ++u) {
    for (int i = 1; i <= 7; ++i) absl::StrAppend(&ratings, u, ",", i, ",", 0.5 * i, ",", 1000 + i, "\n");
  }
  WriteText(JoinPath(in, "movies.csv"), movies);
  WriteText(JoinPath(in, "ratings.csv"), ratings);
  const std::string out = TempDir("order_out");
  ConvertOptions o = Options("movielens", in, out);
  o.split.num_candidates = 3;
  o.vocab_size = 0;
  ASSERT_TRUE(ConvertDataset(o).ok());
  int in_time_order = 0;
  std::map<std::string, int> first_slot;
  const std::vector<proto::ListExample> test = ReadSplit(out, "test");
  ASSERT_EQ(test.size(), 200u);
  for (const proto::ListExample& ex : test) {
    in_time_order += ex.candidates(0).timestamp() < ex.candidates(1).timestamp() &&
                     ex.candidates(1).timestamp() < ex.candidates(2).timestamp();
    ++first_slot[ex.candidates(0).item().item_id()];
  }
  // 1/3! of 200 = 33 expected; far from 200 (time order) or 0.
  EXPECT_GT(in_time_order, 10);
  EXPECT_LT(in_time_order, 70);
  EXPECT_EQ(first_slot.size(), 3u);
}

TEST(Converter, MovieLens1mAndLatin1) {
  const std::string in = TempDir("ml1m_in");
  WriteText(JoinPath(in, "movies.dat"),
            "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Am\xe9lie (2001)::Comedy\n"
            "3::Heat (1995)::Action\n4::Casino (1995)::Drama\n5::Nixon (1995)::Drama\n6::bad row\n");
  std::string ratings;
  for (int i = 1; i <= 5; ++i) absl::StrAppend(&ratings, "7::", i, "::", i, "::", 978300000 + i, "\n");
  ratings += "7::3::x::978300100\n";
  WriteText(JoinPath(in, "ratings.dat"), ratings);
  const std::string out = TempDir("ml1m_out");
  ConvertOptions o = Options("movielens", JoinPath(in, "ratings.dat"), out);  // a file also works
  o.vocab_size = 0;
  auto summary = ConvertDataset(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->drops.count("malformed item row"), 1);
  EXPECT_EQ(summary->drops.count("bad rating"), 1);
  const std::vector<proto::ListExample> valid = ReadSplit(out, "valid");
  ASSERT_EQ(valid.size(), 1u);
  std::set<std::string> titles;
  for (const proto::Interaction& c : valid[0].candidates()) titles.insert(c.item().title());
  EXPECT_EQ(titles, (std::set<std::string>{"Am\xc3\xa9lie", "Heat"}));
}

TEST(Converter, MovieLens100k) {
  const std::string in = TempDir("ml100k_in");
  std::string items;
  for (int i = 1; i <= 5; ++i) {
    absl::StrAppend(&items, i, "|Film ", i, " (199", i, ")|01-Jan-1995||http://x|0|1|0|0|0|0|0|0|",
                    i % 2, "|0|0|0|0|0|0|0|0|0|0\n");
  }
  WriteText(JoinPath(in, "u.item"), items);
  std::string data;
  for (int i = 1; i <= 5; ++i) absl::StrAppend(&data, "42\t", i, "\t", 6 - i, "\t", 880000000 + i, "\n");
  data += "42\t1\t3\n";
  WriteText(JoinPath(in, "u.data"), data);
  const std::string out = TempDir("ml100k_out");
  ConvertOptions o = Options("movielens", in, out);
  o.vocab_size = 0;
  auto summary = ConvertDataset(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->drops.count("malformed rating row"), 1);
  const std::vector<proto::ListExample> test = ReadSplit(out, "test");
  ASSERT_EQ(test.size(), 1u);
  for (const proto::Interaction& c : test[0].candidates()) {
    const std::string id = c.item().item_id();
    EXPECT_TRUE(id == "4" || id == "5") << id;
    EXPECT_EQ(c.item().title(), "Film " + id);
    EXPECT_EQ(c.item().year(), 1990 + std::stoi(id));
    EXPECT_EQ(c.item().genres(0), "Action");
    EXPECT_EQ(c.item().genres_size(), id == "5" ? 2 : 1);  // odd ids are also Drama
  }
}

TEST(Converter, AmazonReviewsWithMetadata) {
  const std::string in = TempDir("amazon_in");
  std::string meta, reviews;
  for (int i = 1; i <= 6; ++i) {
    absl::StrAppend(&meta, "{\"asin\": \"B0", i, "\", \"title\": \"Album ", i,
                    " \\u00e9\", \"category\": [\"CDs & Vinyl\", \"Jazz\"], \"main_cat\": \"Music\"}\n");
    absl::StrAppend(&reviews, "{\"reviewerID\": \"R1\", \"asin\": \"B0", i, "\", \"overall\": ", i % 5 + 1,
                    ".0, \"unixReviewTime\": ", 1400000000 + i, "}\n");
  }
  meta += "{\"asin\": \"B07\"}\n{not json\n";
  reviews += "{\"reviewerID\": \"R1\", \"asin\": \"B07\", \"overall\": 5.0, \"unixReviewTime\": 1400000100}\n";
  reviews += "{\"reviewerID\": \"R1\", \"asin\": \"B01\", \"unixReviewTime\": 1400000100}\n";
  WriteText(JoinPath(in, "meta_Digital_Music.json"), meta);
  WriteText(JoinPath(in, "Digital_Music.json"), reviews);
  const std::string out = TempDir("amazon_out");
  ConvertOptions o = Options("amazon", JoinPath(in, "Digital_Music.json"), out);
  o.metadata = JoinPath(in, "meta_Digital_Music.json");
  o.vocab_size = 0;
  auto summary = ConvertDataset(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->drops.count("malformed metadata row"), 1);
  EXPECT_EQ(summary->drops.count("bad rating"), 1);
  EXPECT_EQ(summary->drops.count("rating of an item without a title"), 1);  // B07
  const std::vector<proto::ListExample> test = ReadSplit(out, "test");
  ASSERT_EQ(test.size(), 1u);
  EXPECT_EQ(test[0].candidates(0).item().category(), "Music");
  EXPECT_EQ(test[0].candidates(0).item().genres(1), "Jazz");
  EXPECT_TRUE(absl::EndsWith(test[0].candidates(0).item().title(), " \xc3\xa9"));
  o.metadata = "";
  EXPECT_FALSE(ConvertDataset(o).ok());
}

TEST(Converter, GenericJsonl) {
  const std::string in = TempDir("jsonl_in");
  std::string lines;
  for (int i = 1; i <= 5; ++i) {
    absl::StrAppend(&lines, "{\"user\": \"alice\", \"item\": \"i", i, "\", \"rating\": ", i,
                    ", \"timestamp\": ", 10 * i, ", \"title\": \"Book ", i, "\", \"year\": 2020, \"genres\": [\"x\"]}\n");
  }
  lines += "{\"user\": \"alice\", \"item\": \"i2\", \"rating\": 3}\n";  // no timestamp
  lines += "[1, 2]\n";
  WriteText(JoinPath(in, "events.jsonl"), lines);
  const std::string out = TempDir("jsonl_out");
  ConvertOptions o = Options("jsonl", JoinPath(in, "events.jsonl"), out);
  o.vocab_size = 0;
  auto summary = ConvertDataset(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->drops.count("bad timestamp"), 1);
  EXPECT_EQ(summary->drops.count("malformed interaction row"), 1);
  const std::vector<proto::ListExample> test = ReadSplit(out, "test");
  ASSERT_EQ(test.size(), 1u);
  EXPECT_EQ(ItemIds(test[0].candidates(), true), (std::vector<std::string>{"i4", "i5"}));
  EXPECT_EQ(test[0].candidates(0).item().year(), 2020);
}

TEST(Converter, ItemStatisticsSeeOnlyEarlierRatings) {
  // 6 users rate 8 items over a short time span with many equal timestamps
  // (several ratings per second), so the cut-off's strictness matters.
  struct Row {
    std::string user, item;
    double rating;
    int64_t timestamp;
  };
  std::vector<Row> rows;
  std::string lines;
  for (int u = 0; u < 6; ++u) {
    for (int k = 0; k < 8; ++k) {
      const int item = (u * 3 + k * 5) % 8;
      const Row row{absl::StrCat("u", u), absl::StrCat("i", item), 0.5 * ((u * 7 + k * 3) % 10 + 1),
                    100 + (u + 2 * k) / 3};
      rows.push_back(row);
      absl::StrAppend(&lines, "{\"user\": \"", row.user, "\", \"item\": \"", row.item, "\", \"rating\": ", row.rating,
                      ", \"timestamp\": ", row.timestamp, ", \"title\": \"Book ", item, "\"}\n");
    }
  }
  const std::string in = TempDir("stats_in");
  WriteText(JoinPath(in, "events.jsonl"), lines);
  const std::string out = TempDir("stats_out");
  ConvertOptions o = Options("jsonl", JoinPath(in, "events.jsonl"), out);
  o.vocab_size = 0;
  o.split.item_stats = true;
  auto summary = ConvertDataset(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  int64_t checked = 0, nonzero = 0;
  for (const char* split : {"train", "valid", "test"}) {
    for (const proto::ListExample& ex : ReadSplit(out, split)) {
      // Brute force: the cut-off is the earliest candidate's timestamp, and
      // only ratings strictly before it count, whoever gave them.
      int64_t cutoff = INT64_MAX;
      for (const proto::Interaction& c : ex.candidates()) cutoff = std::min(cutoff, c.timestamp());
      for (const auto* list : {&ex.history(), &ex.candidates()}) {
        for (const proto::Interaction& x : *list) {
          int64_t count = 0;
          double sum = 0.0;
          for (const Row& r : rows) {
            if (r.item == x.item().item_id() && r.timestamp < cutoff) {
              ++count;
              sum += r.rating;
            }
          }
          ASSERT_TRUE(x.has_item_stats()) << ex.example_id();
          EXPECT_EQ(x.item_stats().count(), count) << ex.example_id() << " " << x.item().item_id();
          EXPECT_NEAR(x.item_stats().mean(), count > 0 ? sum / count : 0.0, 1e-5) << ex.example_id();
          ++checked;
          nonzero += count > 0 ? 1 : 0;
        }
      }
    }
  }
  EXPECT_GT(checked, 50);
  EXPECT_GT(nonzero, 10);
  // Without the option, records carry no statistics.
  o.split.item_stats = false;
  o.output = TempDir("stats_off");
  ASSERT_TRUE(ConvertDataset(o).ok());
  EXPECT_FALSE(ReadSplit(o.output, "test").at(0).candidates(0).has_item_stats());
}

TEST(Converter, ItemTokensGoToTheItemsMostOftenTrainingCandidates) {
  // 7 users rate 9 items; item popularity is skewed, so the top of the
  // count is clear, and every user's last 2m ratings (valid, test) must not
  // count: item i8 is rated only in those windows, by everyone.
  std::string lines;
  for (int u = 0; u < 7; ++u) {
    for (int k = 0; k < 10; ++k) {
      const int item = k >= 6 ? (k == 9 ? 8 : (u + k) % 3) : (u * k + k * k) % 8;
      absl::StrAppend(&lines, "{\"user\": \"u", u, "\", \"item\": \"i", item, "\", \"rating\": ", 1 + (u + k) % 5,
                      ", \"timestamp\": ", 1000 * u + k, ", \"title\": \"Book ", item, "\"}\n");
    }
  }
  const std::string in = TempDir("item_tokens_in");
  WriteText(JoinPath(in, "events.jsonl"), lines);
  ConvertOptions o = Options("jsonl", JoinPath(in, "events.jsonl"), TempDir("item_tokens_out"));
  o.vocab_size = 400;
  o.item_tokens = 3;
  o.prompt.candidate_line = "{id} {item}";  // no title: its "B" would be identifier B
  o.prompt.history_line = "{item} {rating}";
  auto summary = ConvertDataset(o);
  ASSERT_TRUE(summary.ok()) << summary.status();

  // Brute force over the written training split: candidate appearances.
  std::map<std::string, int64_t> count;
  for (const proto::ListExample& ex : ReadSplit(o.output, "train")) {
    for (const proto::Interaction& c : ex.candidates()) ++count[c.item().item_id()];
  }
  std::vector<std::pair<int64_t, std::string>> ranked;
  for (const auto& [id, n] : count) ranked.emplace_back(-n, id);
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::string> expected;
  for (size_t k = 0; k < 3 && k < ranked.size(); ++k) expected.push_back(ranked[k].second);
  EXPECT_EQ(summary->manifest.item_tokens, expected);
  EXPECT_EQ(count.count("i8"), 0u);  // the fixture's point: valid/test-only items
  auto manifest = ReadManifest(o.output);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->item_tokens, expected);

  // Rendering: each line shows its item's own token, or <item_other>.
  auto tokenizer = Tokenizer::Load(JoinPath(o.output, kTokenizerName));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  RenderOptions render;
  auto table = ItemTokenTable::Create(manifest->item_tokens, **tokenizer, "test manifest");
  ASSERT_TRUE(table.ok()) << table.status();
  render.item_tokens = *table;
  auto renderer = PromptRenderer::Create(o.prompt, *tokenizer, render);
  ASSERT_TRUE(renderer.ok()) << renderer.status();
  const proto::ListExample ex = ReadSplit(o.output, "test").at(0);
  auto rendered = (*renderer)->Render(ex, {1, 0});
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  const auto token_of = [&](const std::string& id) {
    const auto at = std::find(expected.begin(), expected.end(), id);
    return (*tokenizer)->PieceToId(at == expected.end() ? std::string(kOtherItemPiece)
                                                        : ItemTokenPiece(at - expected.begin() + 1));
  };
  // Slot j's identifier is followed by the item token of candidate perm[j].
  for (int j = 0; j < 2; ++j) {
    const auto at = std::find(rendered->tokens.begin(), rendered->tokens.end(), rendered->identifier_ids[j]);
    ASSERT_NE(at + 1, rendered->tokens.end());
    EXPECT_EQ(*(at + 1), token_of(ex.candidates(1 - j).item().item_id())) << j;
  }
  EXPECT_NE(std::find(rendered->tokens.begin(), rendered->tokens.end(), token_of("i8")), rendered->tokens.end());
  EXPECT_EQ(token_of("i8"), (*tokenizer)->PieceToId(kOtherItemPiece));

  // A prompt with {item} needs the tokens, and the tokens need room.
  o.output = TempDir("item_tokens_none");
  o.item_tokens = 0;
  auto none = ConvertDataset(o);
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(absl::StrContains(none.status().message(), "--item-tokens")) << none.status();
  o.item_tokens = 300;
  auto crowded = ConvertDataset(o);
  ASSERT_FALSE(crowded.ok());
  EXPECT_TRUE(absl::StrContains(crowded.status().message(), "raise --vocab-size")) << crowded.status();
  // A job whose data set lacks the tokens is told so.
  auto missing = PromptRenderer::Create(o.prompt, *tokenizer);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "--item-tokens N")) << missing.status();
}

// With --base-tokenizer the data set's tokenizer is a pretrained model's
// plus the item pieces at its end: every old id keeps its piece and every
// text its encoding, and the new pieces get ids V ... V+N.
TEST(Converter, ItemTokensExtendABaseTokenizer) {
  std::string lines;
  for (int u = 0; u < 6; ++u) {
    for (int k = 0; k < 10; ++k) {
      const int item = (u * 3 + k * 5) % 9;
      absl::StrAppend(&lines, "{\"user\": \"u", u, "\", \"item\": \"i", item, "\", \"rating\": ", 1 + (u + k) % 5,
                      ", \"timestamp\": ", 1000 * u + k, ", \"title\": \"novel number ", item, "\"}\n");
    }
  }
  const std::string in = TempDir("base_tokenizer_in");
  WriteText(JoinPath(in, "events.jsonl"), lines);
  // The "pretrained" tokenizer: one alro trains, without item pieces.
  ConvertOptions base = Options("jsonl", JoinPath(in, "events.jsonl"), TempDir("base_tokenizer_base"));
  base.vocab_size = 300;
  ASSERT_TRUE(ConvertDataset(base).ok());
  const std::string base_path = JoinPath(base.output, kTokenizerName);
  auto base_bytes = ReadFileToString(base_path);
  ASSERT_TRUE(base_bytes.ok());
  auto old = Tokenizer::Load(base_path);
  ASSERT_TRUE(old.ok()) << old.status();
  const int32_t v = (*old)->vocab_size();

  ConvertOptions o = Options("jsonl", JoinPath(in, "events.jsonl"), TempDir("base_tokenizer_out"));
  o.vocab_size = 0;
  o.item_tokens = 3;
  o.base_tokenizer = base_path;
  o.prompt.candidate_line = "{id} {item} {title}";
  o.prompt.history_line = "{item} {title} {rating}";
  auto summary = ConvertDataset(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  auto manifest = ReadManifest(o.output);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  ASSERT_EQ(manifest->item_tokens.size(), 3u);
  EXPECT_EQ(manifest->tokenizer, kTokenizerName);
  auto grown_bytes = ReadFileToString(JoinPath(o.output, kTokenizerName));
  ASSERT_TRUE(grown_bytes.ok());
  EXPECT_EQ(grown_bytes->substr(0, base_bytes->size()), *base_bytes);  // appended, nothing rewritten
  auto grown = Tokenizer::Load(JoinPath(o.output, kTokenizerName));
  ASSERT_TRUE(grown.ok()) << grown.status();
  ASSERT_EQ((*grown)->vocab_size(), v + 4);
  for (int32_t id = 0; id < v; ++id) ASSERT_EQ((*grown)->IdToPiece(id), (*old)->IdToPiece(id)) << id;
  for (int64_t k = 1; k <= 3; ++k) EXPECT_EQ((*grown)->PieceToId(ItemTokenPiece(k)), v + k - 1);
  EXPECT_EQ((*grown)->PieceToId(kOtherItemPiece), v + 3);
  for (const char* text : {"novel number 7", "A: novel number 3 rated 4"}) {
    EXPECT_EQ((*grown)->Encode(text), (*old)->Encode(text)) << text;
  }
  EXPECT_EQ((*grown)->Encode("<item_2>").back(), v + 1);

  // Refused: a trained tokenizer at the same time, no item tokens, a base
  // that already has the pieces, a base that does not exist.
  o.output = TempDir("base_tokenizer_bad");
  o.vocab_size = 300;
  auto both = ConvertDataset(o);
  ASSERT_FALSE(both.ok());
  EXPECT_TRUE(absl::StrContains(both.status().message(), "--vocab-size 0")) << both.status();
  o.vocab_size = 0;
  o.base_tokenizer = JoinPath(o.output, "missing.model");
  auto missing = ConvertDataset(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "missing.model")) << missing.status();
  const std::string twice = JoinPath(TempDir("base_tokenizer_twice"), "grown.model");
  WriteText(twice, *grown_bytes);
  o.base_tokenizer = twice;
  auto again = ConvertDataset(o);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(absl::StrContains(again.status().message(), "already has piece '<item_1>'")) << again.status();
}

TEST(Converter, ClearErrors) {
  const std::string in = TempDir("err_in");
  auto no_layout = ConvertDataset(Options("movielens", in, TempDir("err_out")));
  ASSERT_FALSE(no_layout.ok());
  EXPECT_TRUE(absl::StrContains(no_layout.status().message(), "no MovieLens layout found")) << no_layout.status();
  ConvertOptions o = Options("movielens", in, TempDir("err_out2"));
  o.split.min_ratings = 3;
  auto bad_min = ConvertDataset(o);
  ASSERT_FALSE(bad_min.ok());
  EXPECT_TRUE(absl::StrContains(bad_min.status().message(), "--min-ratings 3")) << bad_min.status();
  EXPECT_FALSE(ConvertDataset(Options("csv", in, TempDir("err_out3"))).ok());
}

}  // namespace
}  // namespace alro::data
