// tests/data/tokenizer_check_test.cc: the data set's tokenizer is checked
// against the size and CRC32C its manifest records, by `alro data verify`
// (VerifyDataset) and at every job's start (OpenTokenizer). The expected CRC
// comes from crc32c::Value, which tests/foundation checks against known vectors.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "data/inspect.h"
#include "data/loader.h"
#include "data/manifest.h"
#include "data/prompt.h"
#include "data/record_format.h"
#include "data/tokenizer.h"
#include "tests/data/test_util.h"

namespace alro::data {
namespace {

using testing::ReadBytes;
using testing::TempDir;
using testing::WriteSyntheticDataset;
using testing::WriteText;

// A synthetic data set with a trained tokenizer recorded in its manifest.
class TokenizerCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("tokenizer_check");
    WriteSyntheticDataset(dir_, 8, 4);
    std::vector<std::string> corpus = PromptLiterals(config::PromptConfig());
    for (const char* title : {"Toy Story (1995)", "Heat (1995)", "Casino (1995)"}) corpus.push_back(title);
    TokenizerTrainingOptions options;
    options.vocab_size = 80;
    options.user_defined_symbols = config::PromptConfig().identifiers;
    absl::StatusOr<std::string> model = TrainTokenizer(corpus, options);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *model;
    WriteText(JoinPath(dir_, kTokenizerName), model_);
    absl::StatusOr<Manifest> manifest = ReadManifest(dir_);
    ASSERT_TRUE(manifest.ok()) << manifest.status();
    manifest->tokenizer = kTokenizerName;
    manifest->tokenizer_bytes = model_.size();
    manifest->tokenizer_crc32c = crc32c::Value(model_);
    ASSERT_TRUE(WriteManifest(dir_, *manifest).ok());
    config_.data.dir = dir_;
  }

  std::string dir_;
  std::string model_;
  config::Config config_;
};

TEST_F(TokenizerCheckTest, IntactTokenizerPassesAndRoundTrips) {
  absl::StatusOr<VerifyResult> verify = VerifyDataset(dir_);
  ASSERT_TRUE(verify.ok()) << verify.status();
  EXPECT_TRUE(verify->ok()) << verify->Summary();
  absl::StatusOr<std::shared_ptr<const Tokenizer>> t = OpenTokenizer(config_);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->crc32c(), crc32c::Value(model_));
  EXPECT_EQ((*t)->size_bytes(), model_.size());
  const std::string json = ReadBytes(JoinPath(dir_, kManifestName));
  EXPECT_TRUE(absl::StrContains(json, absl::StrFormat("\"tokenizer_crc32c\": \"%08x\"", crc32c::Value(model_))))
      << json;
}

// A changed tokenizer (one byte, or a whole other model) is refused by
// verify and by every job, naming both files.
TEST_F(TokenizerCheckTest, ChangedTokenizerIsRefusedEverywhere) {
  std::string damaged = model_;
  damaged[damaged.size() / 2] ^= 0x20;
  WriteText(JoinPath(dir_, kTokenizerName), damaged);
  absl::StatusOr<VerifyResult> verify = VerifyDataset(dir_);
  ASSERT_TRUE(verify.ok()) << verify.status();
  ASSERT_FALSE(verify->ok());
  EXPECT_TRUE(absl::StrContains(verify->Summary(), JoinPath(dir_, kManifestName))) << verify->Summary();
  EXPECT_TRUE(absl::StrContains(verify->Summary(), "CRC32C")) << verify->Summary();
  absl::StatusOr<std::shared_ptr<const Tokenizer>> t = OpenTokenizer(config_);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(t.status().message(), JoinPath(dir_, kTokenizerName))) << t.status();
  EXPECT_TRUE(absl::StrContains(t.status().message(), "HINT")) << t.status();
  // Truncated: the size alone differs.
  WriteText(JoinPath(dir_, kTokenizerName), model_.substr(0, model_.size() - 1));
  EXPECT_FALSE(OpenTokenizer(config_).ok());
}

// Data sets converted before the checksum existed still train (with a
// warning), but `alro data verify` says the tokenizer cannot be verified.
TEST_F(TokenizerCheckTest, ManifestWithoutChecksum) {
  absl::StatusOr<Manifest> manifest = ReadManifest(dir_);
  ASSERT_TRUE(manifest.ok());
  manifest->tokenizer_crc32c.reset();
  ASSERT_TRUE(WriteManifest(dir_, *manifest).ok());
  EXPECT_FALSE(absl::StrContains(ReadBytes(JoinPath(dir_, kManifestName)), "tokenizer_crc32c"));
  EXPECT_TRUE(OpenTokenizer(config_).ok());
  absl::StatusOr<VerifyResult> verify = VerifyDataset(dir_);
  ASSERT_TRUE(verify.ok());
  EXPECT_FALSE(verify->ok());
  EXPECT_TRUE(absl::StrContains(verify->Summary(), "records no size and CRC32C")) << verify->Summary();
}

TEST(ManifestTokenizerFields, MalformedFieldsAreErrors) {
  const std::string head = R"({"format": "alro-list-records", "schema_version": 1, "splits": [], )";
  for (const char* bad : {R"("tokenizer_crc32c": "0123abcd")", R"("tokenizer_bytes": 5, "tokenizer_crc32c": "xyz")",
                          R"("tokenizer_bytes": -5, "tokenizer_crc32c": "0123abcd")",
                          R"("tokenizer_bytes": 5, "tokenizer_crc32c": "0123abcd0")"}) {
    absl::StatusOr<Manifest> m = ParseManifest(head + bad + "}", "m.json");
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_TRUE(absl::StrContains(m.status().message(), "tokenizer_crc32c")) << m.status();
  }
  absl::StatusOr<Manifest> m =
      ParseManifest(head + R"("tokenizer_bytes": 5, "tokenizer_crc32c": "0123ABcd"})", "m.json");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(*m->tokenizer_crc32c, 0x0123abcdu);
  EXPECT_EQ(m->tokenizer_bytes, 5u);
}

}  // namespace
}  // namespace alro::data
