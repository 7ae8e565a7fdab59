// tests/data/loader_test.cc: the global order, exact resume (also across a
// change of data-parallel size), equal batch counts per rank, PSL copies,
// on_corrupt=skip in the loader, and the evaluation reader's padding.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "data/eval_reader.h"
#include "data/global_order.h"
#include "data/loader.h"
#include "data/record_format.h"
#include "data/record_reader.h"
#include "tests/data/test_util.h"

namespace alro::data {
namespace {

using testing::SmallTokenizer;
using testing::TempDir;
using testing::WriteSyntheticDataset;

// Splits of 23 lists in shards of 5: sizes that divide nothing evenly.
constexpr int64_t kLists = 23;
constexpr int64_t kShardRecords = 5;

struct Fixture {
  std::shared_ptr<const SplitReader> split;
  std::shared_ptr<const PromptRenderer> renderer;
};

Fixture Open(const std::string& name, OnCorrupt on_corrupt = OnCorrupt::kFail) {
  const std::string dir = TempDir(name);
  WriteSyntheticDataset(dir, kLists, kShardRecords, 4, 7);
  Fixture f;
  auto split = SplitReader::Open(dir, "train", on_corrupt);
  EXPECT_TRUE(split.ok()) << split.status();
  f.split = *split;
  f.renderer = *PromptRenderer::Create(config::PromptConfig(), SmallTokenizer());
  return f;
}

std::unique_ptr<Loader> MakeLoader(const Fixture& f, int64_t micro, int64_t rank, int64_t size, int64_t psl = 1,
                                   int64_t prefetch = 2) {
  LoaderOptions o;
  o.micro_batch_size = micro;
  o.dp_rank = rank;
  o.dp_size = size;
  o.seed = 7;
  o.shuffle_buffer = 6;
  o.prefetch_batches = prefetch;
  o.psl_copies = psl;
  auto loader = Loader::Create(f.split, f.renderer, o);
  EXPECT_TRUE(loader.ok()) << loader.status();
  return std::move(loader).value();
}

// A list as a comparable string: id, copy, permutation, tokens.
std::string Key(const RenderedExample& r) {
  std::string out = absl::StrCat(r.example_id, "#", r.copy_index, " p");
  for (int32_t p : r.permutation) absl::StrAppend(&out, p);
  absl::StrAppend(&out, " t");
  for (int32_t t : r.tokens) absl::StrAppend(&out, ",", t);
  return out;
}

std::vector<std::string> Keys(const Batch& b) {
  std::vector<std::string> out;
  for (const RenderedExample& r : b.lists) out.push_back(Key(r));
  return out;
}

// The reference stream: one rank, one list per batch, positions in order.
std::vector<std::string> ReferenceStream(const Fixture& f, int64_t positions) {
  auto loader = MakeLoader(f, 1, 0, 1, 1, 0);
  std::vector<std::string> out;
  for (int64_t q = 0; q < positions; ++q) {
    auto b = loader->Next();
    EXPECT_TRUE(b.ok()) << b.status();
    for (const std::string& k : Keys(*b)) out.push_back(k);
  }
  return out;
}

TEST(EpochOrder, PermutationThatDependsOnlyOnSeedAndEpoch) {
  const std::vector<int64_t> shards = {5, 5, 5, 5, 3};
  std::vector<int64_t> a = EpochOrder(shards, 7, 0, 6);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(23);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(sorted, identity);
  EXPECT_EQ(a, EpochOrder(shards, 7, 0, 6));
  EXPECT_NE(a, EpochOrder(shards, 7, 1, 6));
  EXPECT_NE(a, EpochOrder(shards, 8, 0, 6));
  // Buffer 1: whole shards in a shuffled order, each in file order.
  std::vector<int64_t> b = EpochOrder(shards, 7, 0, 1);
  for (size_t i = 1; i < b.size(); ++i) {
    if (b[i] != b[i - 1] + 1) EXPECT_EQ(b[i] % 5, 0) << i;  // jumps only to a shard start
  }
  // A large buffer mixes shards: the first 5 positions do not all come from one shard.
  std::vector<int64_t> c = EpochOrder(shards, 7, 0, 1000);
  std::set<int64_t> first_shards;
  for (int i = 0; i < 5; ++i) first_shards.insert(c[i] / 5);
  EXPECT_GT(first_shards.size(), 1u);
}

TEST(Loader, ExactResumeMidEpoch) {
  Fixture f = Open("resume");
  auto uninterrupted = MakeLoader(f, 3, 0, 1);
  std::vector<std::vector<std::string>> expected;
  for (int step = 0; step < 12; ++step) expected.push_back(Keys(*uninterrupted->Next()));  // crosses 1 epoch

  auto first = MakeLoader(f, 3, 0, 1);
  for (int step = 0; step < 5; ++step) EXPECT_EQ(Keys(*first->Next()), expected[step]);
  const std::string state = first->State();
  EXPECT_TRUE(absl::StrContains(state, "position=15")) << state;
  first.reset();  // the prefetched batches die with it

  auto resumed = MakeLoader(f, 3, 0, 1);
  ASSERT_TRUE(resumed->Restore(state).ok());
  for (int step = 5; step < 12; ++step) EXPECT_EQ(Keys(*resumed->Next()), expected[step]) << step;
  EXPECT_EQ(resumed->position() / kLists, 36 / kLists);  // the epoch of the next batch
  EXPECT_EQ(resumed->DropSummary(), "");                   // nothing skipped, nothing to report
}

TEST(Loader, ResumeWithAnotherDataParallelSize) {
  Fixture f = Open("resize");
  const std::vector<std::string> reference = ReferenceStream(f, 2 * 2 * 3 + 3 * 2 * 4);
  std::vector<std::string> got;
  // dp=2, micro=2: 3 steps = positions 0..11.
  std::vector<std::unique_ptr<Loader>> two;
  for (int r = 0; r < 2; ++r) two.push_back(MakeLoader(f, 2, r, 2));
  for (int step = 0; step < 3; ++step) {
    for (auto& l : two) {
      for (const std::string& k : Keys(*l->Next())) got.push_back(k);
    }
  }
  const std::string state = two[0]->State();
  EXPECT_EQ(state, two[1]->State());
  // dp=3, micro=2: 4 more steps continue at position 12.
  std::vector<std::unique_ptr<Loader>> three;
  for (int r = 0; r < 3; ++r) {
    three.push_back(MakeLoader(f, 2, r, 3));
    ASSERT_TRUE(three.back()->Restore(state).ok());
  }
  for (int step = 0; step < 4; ++step) {
    for (auto& l : three) {
      for (const std::string& k : Keys(*l->Next())) got.push_back(k);
    }
  }
  ASSERT_EQ(got.size(), reference.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], reference[i]) << i;
}

TEST(Loader, EqualBatchCountsAndDisjointSlices) {
  Fixture f = Open("equal");
  for (int64_t dp : {1, 2, 3}) {
    const int64_t micro = 2;
    // Enough steps for one epoch and a bit: the same number of full batches on every rank.
    const int64_t steps = kLists / (micro * dp) + 2;
    std::vector<std::string> seen;
    for (int64_t r = 0; r < dp; ++r) {
      auto loader = MakeLoader(f, micro, r, dp, 0, 1);
      for (int64_t s = 0; s < steps; ++s) {
        auto batch = loader->Next();
        ASSERT_TRUE(batch.ok());
        ASSERT_EQ(static_cast<int64_t>(batch->lists.size()), micro) << "dp " << dp << " rank " << r;
        if ((s * dp + r) * micro + micro <= kLists) {  // inside epoch 0
          for (const RenderedExample& e : batch->lists) seen.push_back(e.example_id);
        }
      }
    }
    std::set<std::string> distinct(seen.begin(), seen.end());
    EXPECT_EQ(distinct.size(), seen.size()) << "a list repeated within an epoch at dp " << dp;
  }
}

TEST(Loader, PslCopiesArePermutationsThatMapBack) {
  Fixture f = Open("psl");
  auto loader = MakeLoader(f, 2, 0, 1, 2, 0);
  auto batch = loader->Next();
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->lists.size(), 6u);  // 2 lists x (original + 2 copies)
  for (int l = 0; l < 2; ++l) {
    const RenderedExample& original = batch->lists[3 * l];
    EXPECT_EQ(original.copy_index, 0);
    EXPECT_EQ(original.permutation, (std::vector<int32_t>{0, 1, 2, 3}));
    for (int c = 1; c <= 2; ++c) {
      const RenderedExample& copy = batch->lists[3 * l + c];
      EXPECT_EQ(copy.copy_index, c);
      EXPECT_EQ(copy.example_id, original.example_id);
      EXPECT_NE(copy.permutation, original.permutation);
      for (int j = 0; j < 4; ++j) EXPECT_EQ(copy.ratings[j], original.ratings[copy.permutation[j]]);
    }
  }
  EXPECT_EQ(PslPermutation(1, 5, 1, 4), PslPermutation(1, 5, 1, 4));
}

TEST(Loader, RejectsAForeignState) {
  Fixture f = Open("foreign");
  auto loader = MakeLoader(f, 2, 0, 1);
  std::string state = loader->State();
  state.replace(state.find("seed=7"), 6, "seed=8");
  auto status = loader->Restore(state);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(), "seed=8 but this job has seed=7")) << status;
  EXPECT_FALSE(loader->Restore("garbage").ok());
}

TEST(Loader, SkipsCorruptRecordsWithoutLosingStep) {
  const std::string dir = TempDir("loader_skip");
  WriteSyntheticDataset(dir, kLists, kShardRecords, 4, 7);
  {  // corrupt record 1 of shard 0
    const std::string shard = JoinPath(dir, "train-00000.rec");
    auto reader = ShardReader::Open(shard);
    ASSERT_TRUE(reader.ok());
    std::string bytes = testing::ReadBytes(shard);
    bytes[reader->offset(1) + kHeaderSize + 2] ^= 0x40;
    std::ofstream(shard, std::ios::binary | std::ios::trunc) << bytes;
  }
  auto failing = SplitReader::Open(dir, "train", OnCorrupt::kFail);
  ASSERT_TRUE(failing.ok());
  Fixture f;
  f.renderer = *PromptRenderer::Create(config::PromptConfig(), SmallTokenizer());
  f.split = *failing;
  auto fail_loader = MakeLoader(f, kLists, 0, 1, 0);
  auto failed = fail_loader->Next();
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(absl::StrContains(failed.status().message(), "record 1 at byte offset")) << failed.status();
  EXPECT_FALSE(fail_loader->Next().ok());  // the error stays

  f.split = *SplitReader::Open(dir, "train", OnCorrupt::kSkip);
  auto loader = MakeLoader(f, kLists, 0, 1, 0, /*prefetch=*/0);
  auto batch = loader->Next();
  ASSERT_TRUE(batch.ok()) << batch.status();
  EXPECT_EQ(static_cast<int64_t>(batch->lists.size()), kLists);
  std::set<std::string> ids;
  for (const RenderedExample& e : batch->lists) ids.insert(e.example_id);
  EXPECT_EQ(static_cast<int64_t>(ids.size()), kLists - 1);  // one readable list stands in twice
  EXPECT_EQ(ids.count("train/u1/0"), 0u);
  const std::string summary = loader->DropSummary();
  EXPECT_TRUE(absl::StrContains(summary, "1 records dropped")) << summary;
  EXPECT_TRUE(absl::StrContains(summary, "1 lists dropped")) << summary;
}

TEST(EvalReader, ShardsWithWeightZeroPadding) {
  Fixture f = Open("eval");
  auto valid = SplitReader::Open(f.split->dir(), "valid", OnCorrupt::kFail);
  ASSERT_TRUE(valid.ok());
  std::multiset<std::string> real;
  int64_t batches = -1;
  for (int64_t r = 0; r < 3; ++r) {
    EvalOptions o;
    o.micro_batch_size = 2;
    o.dp_rank = r;
    o.dp_size = 3;
    auto reader = EvalReader::Create(*valid, f.renderer, o);
    ASSERT_TRUE(reader.ok());
    EXPECT_EQ((*reader)->lists_per_rank(), 3);  // ceil(7 / 3)
    if (batches >= 0) EXPECT_EQ((*reader)->num_batches(), batches);
    batches = (*reader)->num_batches();
    for (int64_t b = 0; b < batches; ++b) {
      auto batch = (*reader)->GetBatch(b);
      ASSERT_TRUE(batch.ok());
      for (const RenderedExample& e : batch->lists) {
        if (e.weight > 0) real.insert(e.example_id);
      }
    }
  }
  EXPECT_EQ(batches, 2);
  EXPECT_EQ(real.size(), 7u);
  EXPECT_EQ(std::set<std::string>(real.begin(), real.end()).size(), 7u);
}

}  // namespace
}  // namespace alro::data
