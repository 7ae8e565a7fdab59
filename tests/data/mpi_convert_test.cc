// tests/data/mpi_convert_test.cc: the streaming converter at scale-like
// settings (run by ctest with 1, 2 and 3 ranks): tiny read chunks and spill
// thresholds force many chunks and sorted runs, and the output must be byte
// for byte the single-process, single-thread, no-spill output, whatever the
// ranks and threads. The lists themselves are checked against a brute-force
// per-user split computed here from the generated ratings. Also: thousands
// of runs merged in passes within the open-file limit, chunked line reading
// against a whole-file split, and the tokenizer coverage check.
#include <gtest/gtest.h>
#include <mpi.h>
#include <sys/resource.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "data/converters/chunked_input.h"
#include "data/converters/convert.h"
#include "data/converters/convert_mpi.h"
#include "data/dataset.h"
#include "data/prompt.h"
#include "data/random.h"
#include "data/record_format.h"
#include "tests/data/test_util.h"

namespace alro::data {
namespace {

using testing::ReadBytes;
using testing::TempDir;
using testing::WriteText;

struct Rating {
  std::string user;
  std::string item;
  float rating;
  int64_t timestamp;
  int64_t row;  // input order
};

// A ml-latest layout with `users` users in shuffled row order, ties in time,
// an unknown movie and a bad row; returns the valid ratings of titled items.
std::vector<Rating> WriteShuffledMovieLens(const std::string& dir, int users) {
  constexpr int kItems = 40;
  std::string movies = "movieId,title,genres\n";
  for (int i = 1; i <= kItems; ++i) absl::StrAppend(&movies, i, ",\"Film ", i, ", The (", 1950 + i, ")\",Drama\n");
  WriteText(JoinPath(dir, "movies.csv"), movies);
  Rng rng(7);
  std::vector<Rating> all;
  for (int u = 1; u <= users; ++u) {
    const int n = 3 + static_cast<int>(rng.Next() % 30);
    for (int k = 0; k < n; ++k) {
      const int item = 1 + static_cast<int>(rng.Next() % (kItems + 1));  // kItems + 1 has no title
      // Coarse timestamps: many ties, broken by input order.
      all.push_back({absl::StrCat("user", u), absl::StrCat(item), 0.5f * static_cast<float>(1 + rng.Next() % 10),
                     static_cast<int64_t>(rng.Next() % 8), 0});
    }
  }
  std::vector<size_t> order(all.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Next() % i]);
  std::string ratings = "userId,movieId,rating,timestamp\n";
  std::vector<Rating> kept;
  for (size_t k = 0; k < order.size(); ++k) {
    Rating r = all[order[k]];
    r.row = static_cast<int64_t>(k);
    absl::StrAppend(&ratings, r.user, ",", r.item, ",", r.rating, ",", r.timestamp, "\n");
    if (k == order.size() / 2) ratings += "user1,3,not-a-number,5\n";
    if (r.item != absl::StrCat(kItems + 1)) kept.push_back(r);
  }
  WriteText(JoinPath(dir, "ratings.csv"), ratings);
  return kept;
}

ConvertOptions Options(const std::string& in, const std::string& out) {
  ConvertOptions o;
  o.format = "movielens";
  o.input = in;
  o.output = out;
  o.split.num_candidates = 3;
  o.split.max_history = 4;
  o.vocab_size = 400;
  o.partitions = 5;
  o.split.item_stats = true;  // the statistics too must not depend on ranks and threads
  o.item_tokens = 5;          // and neither must the items behind the item tokens
  return o;
}

std::vector<std::string> Names(const std::string& dir) {
  auto names = ListDirectory(dir);
  EXPECT_TRUE(names.ok()) << names.status();
  return names.ok() ? *names : std::vector<std::string>{};
}

void ExpectSameDataset(const std::string& a, const std::string& b) {
  const std::vector<std::string> names = Names(a);
  EXPECT_EQ(names, Names(b));
  EXPECT_NE(std::find(names.begin(), names.end(), kManifestName), names.end());
  for (const std::string& name : names) {
    EXPECT_EQ(ReadBytes(JoinPath(a, name)), ReadBytes(JoinPath(b, name))) << name << " differs: " << a << " " << b;
  }
}

TEST(MpiConvert, OutputIsTheSameForAnyRanksThreadsAndMemory) {
  MpiConvertGroup world(MPI_COMM_WORLD);
  // Rank 0 writes the input; every rank uses rank 0's directories.
  std::string base = world.rank() == 0 ? TempDir("mpi_convert") : "";
  auto gathered = world.AllGather(base);
  ASSERT_TRUE(gathered.ok());
  base = (*gathered)[0];
  const std::string in = JoinPath(base, "in");
  std::vector<Rating> ratings;
  if (world.rank() == 0) ratings = WriteShuffledMovieLens(in, 150);
  ASSERT_TRUE(world.AllGather("").ok());  // the input is complete

  // Every rank: tiny chunks (many per rank) and tiny spills (many runs).
  ConvertOptions o = Options(in, JoinPath(base, "ranks"));
  o.group = &world;
  o.threads = 2;
  o.chunk_bytes = 512;
  o.spill_bytes = 8192;
  o.merge_fan_in = 2;  // intermediate merge passes too
  auto spread = ConvertDataset(o);
  ASSERT_TRUE(spread.ok()) << spread.status();
  EXPECT_GT(spread->spilled_runs, 2 * o.partitions);
  EXPECT_EQ(spread->ranks, world.size());
  if (world.rank() != 0) return;

  // The reference: one process, one thread, one chunk, no spill before the end.
  ConvertOptions ref = Options(in, JoinPath(base, "reference"));
  ref.threads = 1;
  auto reference = ConvertDataset(ref);
  ASSERT_TRUE(reference.ok()) << reference.status();
  ExpectSameDataset(JoinPath(base, "reference"), JoinPath(base, "ranks"));
  EXPECT_EQ(reference->manifest.item_tokens.size(), 5u);
  for (int threads : {3, 4}) {
    ConvertOptions t = Options(in, JoinPath(base, absl::StrCat("threads", threads)));
    t.threads = threads;
    t.chunk_bytes = 700;
    t.spill_bytes = 4000 * threads;
    ASSERT_TRUE(ConvertDataset(t).ok());
    ExpectSameDataset(JoinPath(base, "reference"), JoinPath(base, absl::StrCat("threads", threads)));
  }
  EXPECT_EQ(reference->drops.counts(), spread->drops.counts());
  EXPECT_EQ(reference->drops.Summary(), spread->drops.Summary());
  EXPECT_EQ(reference->drops.count("bad rating"), 1);
  EXPECT_TRUE(absl::StrContains(reference->drops.Summary(), "ratings.csv:"));

  // Brute force: each user's ratings in (time, input order); the test list
  // is the last 3 with the 4 before them as history.
  std::map<std::string, std::vector<Rating>> by_user;
  for (const Rating& r : ratings) by_user[r.user].push_back(r);
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> expected;
  for (auto& [user, rs] : by_user) {
    if (rs.size() < 7) continue;  // 2m + 1
    std::stable_sort(rs.begin(), rs.end(), [](const Rating& a, const Rating& b) {
      return a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.row < b.row;
    });
    const size_t n = rs.size();
    std::vector<std::string> candidates, history;
    for (size_t k = n - 3; k < n; ++k) candidates.push_back(rs[k].item);
    for (size_t k = n - 7; k < n - 3; ++k) history.push_back(rs[k].item);
    std::sort(candidates.begin(), candidates.end());
    expected[user] = {candidates, history};
  }
  auto reader = SplitReader::Open(JoinPath(base, "ranks"), "test", OnCorrupt::kFail);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_EQ((*reader)->size(), static_cast<int64_t>(expected.size()));
  std::set<std::string> seen;
  for (int64_t i = 0; i < (*reader)->size(); ++i) {
    proto::ListExample ex;
    ASSERT_TRUE((*reader)->Read(i, &ex).ok());
    ASSERT_TRUE(expected.count(ex.user_id())) << ex.user_id();
    std::vector<std::string> candidates, history;
    for (const proto::Interaction& c : ex.candidates()) candidates.push_back(c.item().item_id());
    for (const proto::Interaction& h : ex.history()) history.push_back(h.item().item_id());
    std::sort(candidates.begin(), candidates.end());
    EXPECT_EQ(candidates, expected[ex.user_id()].first) << ex.user_id();
    EXPECT_EQ(history, expected[ex.user_id()].second) << ex.user_id();
    seen.insert(ex.user_id());
  }
  EXPECT_EQ(seen.size(), expected.size());
}

// Thousands of sorted runs in a partition (a spill after every row or two):
// they exceed a small merge fan-in, the fan-in that tiny --memory-limit
// leaves, and, run under `prlimit --nofile` by ctest (data_convert_nofile),
// the open-file limit, so they merge in intermediate passes; the output is
// byte for byte the unspilled one.
TEST(ConvertRuns, ThousandsOfRunsMergeInPassesToTheSameBytes) {
  const std::string base = TempDir("many_runs");
  const std::string in = JoinPath(base, "in");
  WriteShuffledMovieLens(in, 150);
  ConvertOptions ref = Options(in, JoinPath(base, "reference"));
  ref.partitions = 2;
  ref.threads = 1;
  auto reference = ConvertDataset(ref);
  ASSERT_TRUE(reference.ok()) << reference.status();
  EXPECT_EQ(reference->intermediate_runs, 0);

  rlimit files{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &files), 0);
  struct Case {
    const char* name;
    int64_t fan_in;
    int64_t memory_limit;
  };
  for (const Case& c : {Case{"fan_in3", 3, 0}, Case{"tiny_memory", 0, int64_t{72} << 20}, Case{"auto", 0, 0}}) {
    ConvertOptions o = Options(in, JoinPath(base, c.name));
    o.partitions = 2;
    o.threads = 2;
    o.chunk_bytes = 4096;
    o.spill_bytes = 40;  // about one row
    o.merge_fan_in = c.fan_in;
    o.memory_limit = c.memory_limit;
    auto many = ConvertDataset(o);
    ASSERT_TRUE(many.ok()) << c.name << ": " << many.status();
    EXPECT_GT(many->spilled_runs, 2000) << c.name;
    EXPECT_GT(many->intermediate_runs, 0) << c.name;
    if (c.fan_in > 0) {
      EXPECT_EQ(many->merge_fan_in, c.fan_in);
    }
    if (c.memory_limit > 0) {
      EXPECT_LT(many->merge_fan_in, 100) << "tiny memory limit";
    }
    // Every merge's runs fit the open-file limit (raised to its hard limit).
    EXPECT_LE(static_cast<rlim_t>(many->merge_fan_in), files.rlim_max) << c.name;
    ExpectSameDataset(JoinPath(base, "reference"), JoinPath(base, c.name));
  }
  if (files.rlim_max < 2000) {
    std::printf("open-file limit %llu: more runs per partition than files a process may open\n",
                static_cast<unsigned long long>(files.rlim_max));
  }
}

TEST(ChunkedInput, ChunksPartitionTheLinesOfAFile) {
  const std::string dir = TempDir("chunked");
  std::string text = "\xef\xbb\xbfheader\r\n";
  std::vector<std::string> want = {"header"};
  Rng rng(3);
  for (int i = 0; i < 300; ++i) {
    std::string line(rng.Next() % 40, static_cast<char>('a' + i % 26));
    want.push_back(line);
    text += line + (i % 7 == 0 ? "\r\n" : "\n");
  }
  text += "last line without newline";
  want.push_back("last line without newline");
  const std::string path = JoinPath(dir, "lines.txt");
  WriteText(path, text);
  for (uint64_t chunk : {1, 2, 5, 64, 1000, 100000}) {
    std::vector<std::string> got;
    std::vector<uint64_t> offsets;
    std::string buffer;
    for (int64_t c = 0; c < ChunkCount(text.size(), chunk); ++c) {
      auto lines = ForEachLineOfChunk(path, text.size(), chunk, c, &buffer,
                                      [&](absl::string_view line, uint64_t offset, int64_t) {
                                        got.emplace_back(line);
                                        offsets.push_back(offset);
                                      });
      ASSERT_TRUE(lines.ok()) << lines.status();
    }
    EXPECT_EQ(got, want) << "chunk bytes " << chunk;
    EXPECT_TRUE(std::is_sorted(offsets.begin(), offsets.end()));
  }
}

// The case: titles without a capital B and identifiers as ordinary
// pieces. The trained tokenizer must still make every identifier one token.
TEST(ConvertTokenizer, IdentifiersAreSingleTokensWithoutSymbols) {
  const std::string in = TempDir("tok_in");
  std::string lines;
  for (int u = 0; u < 6; ++u) {
    for (int i = 0; i < 12; ++i) {
      absl::StrAppend(&lines, "{\"user\": \"u", u, "\", \"item\": \"i", i, "\", \"rating\": ", 1 + (u + i) % 5,
                      ", \"timestamp\": ", i, ", \"title\": \"lower case title ", i, "\"}\n");
    }
  }
  WriteText(JoinPath(in, "events.jsonl"), lines);
  const std::string out = TempDir("tok_out");
  ConvertOptions o = Options(JoinPath(in, "events.jsonl"), out);
  o.format = "jsonl";
  o.vocab_size = 120;
  o.item_tokens = 0;  // 15 more symbols would not fit this vocabulary
  o.identifiers_as_symbols = false;
  auto summary = ConvertDataset(o);
  ASSERT_TRUE(summary.ok()) << summary.status();
  auto tokenizer = Tokenizer::Load(JoinPath(out, kTokenizerName));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_TRUE(CheckPromptCoverage(config::PromptConfig(), *tokenizer).ok());
  EXPECT_TRUE(PromptRenderer::Create(config::PromptConfig(), *tokenizer).ok());

  // Identifiers with digits can never be one ordinary piece (digits are
  // split): conversion stops, saying why, and leaves no shard (the split's
  // workers may have written some while the tokenizer trained).
  o.prompt.identifiers = {"A1", "B1", "C1"};
  const std::string refused_out = TempDir("tok_refused");
  o.output = refused_out;
  auto refused = ConvertDataset(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "cannot render the prompt")) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "A1")) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "--identifier-symbols true")) << refused.status();
  for (const std::string& name : Names(refused_out)) {
    EXPECT_FALSE(absl::EndsWith(name, kShardSuffix) || name == kManifestName) << name << " was written";
  }
  // As user-defined symbols they are single tokens, and conversion succeeds.
  o.identifiers_as_symbols = true;
  EXPECT_TRUE(ConvertDataset(o).ok());
}

// The check renders a sample list: text the tokenizer has never seen is
// reported with its context, whatever placeholder it came from.
TEST(ConvertTokenizer, SampleRenderingFindsUnknownText) {
  std::shared_ptr<const Tokenizer> tokenizer = testing::SmallTokenizer();
  const config::PromptConfig prompt;
  proto::ListExample sample = testing::SyntheticExample(0, 4);
  EXPECT_TRUE(CheckPromptCoverage(prompt, tokenizer, &sample).ok());
  sample.mutable_candidates(1)->mutable_item()->set_title("\xe2\x84\xa6mega");  // U+2126, never trained
  const absl::Status s = CheckPromptCoverage(prompt, tokenizer, &sample);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.message(), "unknown token near")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "me")) << s;
}

}  // namespace
}  // namespace alro::data
