// tests/data/test_util.cc: shared fixtures of the data tests.
#include "tests/data/test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "data/manifest.h"
#include "data/prompt.h"
#include "data/record_format.h"

namespace alro::data::testing {

namespace {

// Removes every directory TempDir made when the test binary ends.
class TempDirCleaner : public ::testing::Environment {
 public:
  static std::vector<std::string>& dirs() {
    static std::vector<std::string> d;
    return d;
  }
  void TearDown() override {
    for (const std::string& d : dirs()) (void)RemoveAll(d);
  }
};

[[maybe_unused]] ::testing::Environment* const kCleaner = ::testing::AddGlobalTestEnvironment(new TempDirCleaner);

}  // namespace

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string dir = JoinPath(base ? base : "/tmp", absl::StrCat("alro_data_test_", getpid(), "_", name));
  EXPECT_TRUE(RemoveAll(dir).ok());
  EXPECT_TRUE(MakeDirectories(dir).ok());
  TempDirCleaner::dirs().push_back(dir);
  return dir;
}

void WriteText(const std::string& path, const std::string& contents) {
  ASSERT_TRUE(MakeDirectories(DirName(path)).ok());
  ASSERT_TRUE(WriteFileAtomically(path, contents).ok()) << path;
}

std::string ReadBytes(const std::string& path) {
  absl::StatusOr<std::string> s = ReadFileToString(path);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

namespace {

const char* const kTitles[] = {"Toy Story", "Heat", "Casino", "Sabrina", "Jumanji", "Balto", "Nixon",
                               "GoldenEye", "Sense and Sensibility", "Four Rooms", "Get Shorty", "Copycat"};
constexpr int kNumTitles = sizeof(kTitles) / sizeof(kTitles[0]);

proto::Interaction MakeInteraction(int64_t item, float rating) {
  proto::Interaction it;
  it.mutable_item()->set_item_id(absl::StrCat(item));
  it.mutable_item()->set_title(kTitles[item % kNumTitles]);
  it.mutable_item()->set_year(1990 + static_cast<int32_t>(item % 10));
  it.set_rating(rating);
  it.set_timestamp(1000 + item);
  return it;
}

}  // namespace

proto::ListExample SyntheticExample(int64_t i, int m, proto::Split split) {
  proto::ListExample ex;
  ex.set_schema_version(kSchemaVersion);
  ex.set_user_id(absl::StrCat("u", i));
  ex.set_split(split);
  ex.set_example_id(absl::StrCat(split == proto::SPLIT_TRAIN ? "train" : "valid", "/u", i, "/0"));
  for (int h = 0; h < 3; ++h) *ex.add_history() = MakeInteraction(i + h, 1.0f + static_cast<float>(h));
  for (int c = 0; c < m; ++c) {
    *ex.add_candidates() = MakeInteraction(i * 7 + c, static_cast<float>((i + c * 3) % 5 + 1) * 0.5f + 0.5f);
  }
  return ex;
}

void WriteSyntheticDataset(const std::string& dir, int64_t n, int64_t shard_records, int m, int64_t n_valid) {
  Manifest manifest;
  manifest.format = kManifestFormat;
  manifest.schema_version = kSchemaVersion;
  for (auto [name, count, split] : {std::tuple<const char*, int64_t, proto::Split>{"train", n, proto::SPLIT_TRAIN},
                                    {"valid", n_valid, proto::SPLIT_VALID}}) {
    ShardLimits limits;
    limits.max_records = static_cast<uint64_t>(shard_records);
    auto writer = ShardedRecordWriter::Create(dir, name, limits);
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (int64_t i = 0; i < count; ++i) ASSERT_TRUE(writer->Write(SyntheticExample(i, m, split).SerializeAsString()).ok());
    SplitInfo info;
    info.name = name;
    info.records = count;
    auto shards = writer->Finish();
    ASSERT_TRUE(shards.ok());
    info.shards = *shards;
    manifest.splits.push_back(info);
  }
  ASSERT_TRUE(WriteManifest(dir, manifest).ok());
}

std::shared_ptr<const Tokenizer> SmallTokenizer() {
  static std::shared_ptr<const Tokenizer> tokenizer = [] {
    std::vector<std::string> corpus = PromptLiterals(config::PromptConfig());
    for (int i = 0; i < kNumTitles; ++i) {
      for (int y = 1990; y < 2000; ++y) corpus.push_back(absl::StrCat(kTitles[i], " (", y, ")"));
    }
    for (const char* r : {"1", "1.5", "2", "2.5", "3", "3.5", "4", "4.5", "5"}) corpus.push_back(r);
    TokenizerTrainingOptions options;
    options.vocab_size = 300;
    options.user_defined_symbols = config::PromptConfig().identifiers;
    options.user_defined_symbols.push_back(kNewlinePiece);
    absl::StatusOr<std::string> model = TrainTokenizer(corpus, options);
    EXPECT_TRUE(model.ok()) << model.status();
    auto t = Tokenizer::FromSerialized(*model, "small-test-tokenizer");
    EXPECT_TRUE(t.ok()) << t.status();
    return *t;
  }();
  return tokenizer;
}

}  // namespace alro::data::testing
