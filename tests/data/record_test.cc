// tests/data/record_test.cc: the record format: round trip through the
// sharded writer, the index and the manifest; each corruption case with its
// exact error; on_corrupt=skip counting; a fixture for the Python reader.
#include <gtest/gtest.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "data/dataset.h"
#include "data/inspect.h"
#include "data/manifest.h"
#include "data/record_format.h"
#include "data/record_reader.h"
#include "data/record_writer.h"
#include "tests/data/test_util.h"

namespace alro::data {
namespace {

using testing::ReadBytes;
using testing::SyntheticExample;
using testing::TempDir;
using testing::WriteSyntheticDataset;
using testing::WriteText;

// Flips one bit of the file at `offset`.
void FlipBit(const std::string& path, uint64_t offset) {
  std::string bytes = ReadBytes(path);
  ASSERT_LT(offset, bytes.size());
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x10);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

void Truncate(const std::string& path, uint64_t size) {
  std::string bytes = ReadBytes(path);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, size);
}

TEST(RecordFrame, MatchesTfRecordLayoutByHand) {
  std::string frame;
  AppendRecordFrame("hello", &frame);
  ASSERT_EQ(frame.size(), 5 + kFrameOverhead);
  // Little-endian length 5, then masked CRC32C of those 8 bytes.
  EXPECT_EQ(frame.substr(0, 8), std::string("\x05\0\0\0\0\0\0\0", 8));
  const uint32_t length_crc = crc32c::Mask(crc32c::Value(frame.data(), 8));
  uint32_t stored = 0;
  for (int i = 3; i >= 0; --i) stored = (stored << 8) | static_cast<uint8_t>(frame[8 + i]);
  EXPECT_EQ(stored, length_crc);
  EXPECT_EQ(frame.substr(kHeaderSize, 5), "hello");
  // A known value: CRC32C("123456789") = 0xe3069283 (RFC 3720).
  EXPECT_EQ(crc32c::Value("123456789"), 0xe3069283u);
}

TEST(ShardedWriter, RoundTripRollsByCountAndBytes) {
  const std::string dir = TempDir("roundtrip");
  WriteSyntheticDataset(dir, /*n=*/23, /*shard_records=*/5);
  absl::StatusOr<Manifest> manifest = ReadManifest(dir);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  const SplitInfo* train = manifest->FindSplit("train");
  ASSERT_NE(train, nullptr);
  EXPECT_EQ(train->records, 23);
  ASSERT_EQ(train->shards.size(), 5u);  // 5+5+5+5+3
  EXPECT_EQ(train->shards[4].records, 3);
  EXPECT_EQ(train->shards[0].file, "train-00000.rec");
  // Whole-file CRC in the manifest matches the bytes on disk.
  const std::string bytes = ReadBytes(JoinPath(dir, train->shards[1].file));
  EXPECT_EQ(bytes.size(), train->shards[1].bytes);
  EXPECT_EQ(crc32c::Value(bytes), train->shards[1].crc32c);

  auto split = SplitReader::Open(dir, "train", OnCorrupt::kFail);
  ASSERT_TRUE(split.ok()) << split.status();
  proto::ListExample ex;
  for (int64_t i : {22, 0, 7, 13}) {  // random access, any order
    ASSERT_TRUE((*split)->Read(i, &ex).ok());
    EXPECT_EQ(ex.SerializeAsString(), SyntheticExample(i, 4).SerializeAsString()) << i;
  }
  // Sequential reading sees the same frames.
  auto seq = SequentialRecordReader::Open(JoinPath(dir, "train-00002.rec"));
  ASSERT_TRUE(seq.ok());
  absl::string_view payload;
  int count = 0;
  while (*seq->Next(&payload)) {
    ASSERT_TRUE(ex.ParseFromArray(payload.data(), static_cast<int>(payload.size())));
    EXPECT_EQ(ex.user_id(), absl::StrCat("u", 10 + count));
    ++count;
  }
  EXPECT_EQ(count, 5);

  // Byte limit: every shard stays under it, except that a shard always holds
  // at least one record.
  const std::string dir2 = TempDir("roundtrip_bytes");
  ShardLimits limits;
  limits.max_bytes = 3 * (SyntheticExample(0, 4).ByteSizeLong() + kFrameOverhead) + 10;
  auto writer = ShardedRecordWriter::Create(dir2, "x", limits);
  ASSERT_TRUE(writer.ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(writer->Write(SyntheticExample(i, 4).SerializeAsString()).ok());
  auto shards = writer->Finish();
  ASSERT_TRUE(shards.ok());
  for (const ShardInfo& s : *shards) EXPECT_LE(s.bytes, limits.max_bytes);
  EXPECT_GE(shards->size(), 4u);
  // No temporary file is left behind.
  const auto names = ListDirectory(dir2);
  ASSERT_TRUE(names.ok());
  for (const std::string& name : *names) EXPECT_FALSE(absl::StrContains(name, ".tmp.")) << name;

  auto verify = VerifyDataset(dir);
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok()) << verify->Summary();
  EXPECT_EQ(verify->records_checked, 28);
}

class CorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    WriteSyntheticDataset(dir_, 12, 4);
    shard_ = JoinPath(dir_, "train-00001.rec");  // records 4..7
    auto reader = ShardReader::Open(shard_);
    ASSERT_TRUE(reader.ok());
    record2_offset_ = reader->offset(2);
  }
  std::string OpenAndReadAllError() {
    auto split = SplitReader::Open(dir_, "train", OnCorrupt::kFail);
    if (!split.ok()) return std::string(split.status().message());
    proto::ListExample ex;
    for (int64_t i = 0; i < (*split)->size(); ++i) {
      absl::Status s = (*split)->Read(i, &ex);
      if (!s.ok()) return std::string(s.message());
    }
    return "";
  }
  std::string dir_;
  std::string shard_;
  uint64_t record2_offset_ = 0;
};

TEST_F(CorruptionTest, FlippedPayloadBitNamesFileRecordAndOffset) {
  FlipBit(shard_, record2_offset_ + kHeaderSize + 3);
  const std::string error = OpenAndReadAllError();
  EXPECT_TRUE(absl::StrContains(error, absl::StrCat("record shard ", shard_, ": record 2 at byte offset ",
                                                    record2_offset_, ": payload CRC mismatch")))
      << error;
  EXPECT_TRUE(absl::StrContains(error, "HINT:")) << error;
}

TEST_F(CorruptionTest, FlippedLengthBit) {
  FlipBit(shard_, record2_offset_ + 1);
  const std::string error = OpenAndReadAllError();
  EXPECT_TRUE(absl::StrContains(error, absl::StrCat("record 2 at byte offset ", record2_offset_,
                                                    ": length CRC mismatch")))
      << error;
}

TEST_F(CorruptionTest, TruncatedShard) {
  const uint64_t size = ReadBytes(shard_).size();
  Truncate(shard_, size - 7);
  const std::string error = OpenAndReadAllError();
  EXPECT_TRUE(absl::StrContains(error, absl::StrCat(shard_, " is ", size - 7, " bytes but its index says ", size,
                                                    ": the file is truncated")))
      << error;
}

TEST_F(CorruptionTest, MissingShard) {
  ASSERT_TRUE(RemoveAll(shard_).ok());
  EXPECT_EQ(OpenAndReadAllError().substr(0, std::string("record shard ").size() + shard_.size() + 11),
            absl::StrCat("record shard ", shard_, " is missing"));
}

TEST_F(CorruptionTest, ManifestDisagreesWithShard) {
  std::string manifest = ReadBytes(JoinPath(dir_, kManifestName));
  // Replace shard 1's entry with another conversion's numbers: 5 records.
  auto parsed = ParseManifest(manifest, "m");
  ASSERT_TRUE(parsed.ok());
  Manifest m = *parsed;
  m.splits[0].shards[1].records = 5;
  m.splits[0].records += 1;
  ASSERT_TRUE(WriteManifest(dir_, m).ok());
  const std::string error = OpenAndReadAllError();
  EXPECT_TRUE(absl::StrContains(error, absl::StrCat("record shard ", shard_, " has 4 records and")) &&
              absl::StrContains(error, "says 5 records"))
      << error;
}

TEST_F(CorruptionTest, ManifestWhoseCountsDoNotAddUp) {
  std::string manifest = ReadBytes(JoinPath(dir_, kManifestName));
  const std::string from = "\"records\": 12";
  ASSERT_NE(manifest.find(from), std::string::npos);
  manifest.replace(manifest.find(from), from.size(), "\"records\": 13");
  WriteText(JoinPath(dir_, kManifestName), manifest);
  const std::string error = OpenAndReadAllError();
  EXPECT_TRUE(absl::StrContains(error, "says 13 records but its shards add up to 12")) << error;
}

TEST_F(CorruptionTest, CorruptIndex) {
  FlipBit(shard_ + kIndexSuffix, 20);
  const std::string error = OpenAndReadAllError();
  EXPECT_TRUE(absl::StrContains(error, absl::StrCat("shard index ", shard_, ".idx: CRC mismatch"))) << error;
}

TEST_F(CorruptionTest, SkipPolicyCountsEverySkippedRecord) {
  FlipBit(shard_, record2_offset_ + kHeaderSize + 3);     // record 6 of the split
  ASSERT_TRUE(RemoveAll(JoinPath(dir_, "train-00002.rec")).ok());  // records 8..11
  auto split = SplitReader::Open(dir_, "train", OnCorrupt::kSkip);
  ASSERT_TRUE(split.ok()) << split.status();
  proto::ListExample ex;
  int ok = 0;
  for (int pass = 0; pass < 2; ++pass) {  // reading twice reports each record once
    for (int64_t i = 0; i < (*split)->size(); ++i) ok += (*split)->Read(i, &ex).ok() ? 1 : 0;
  }
  EXPECT_EQ(ok, 2 * 7);
  EXPECT_EQ((*split)->drops().count("corrupt record"), 1);
  EXPECT_EQ((*split)->drops().count("records of an unusable shard"), 4);
  EXPECT_EQ((*split)->drops().total(), 5);
  const std::string summary = (*split)->drops().Summary();
  EXPECT_TRUE(absl::StrContains(summary, "5 records dropped")) << summary;
  EXPECT_TRUE(absl::StrContains(summary, "payload CRC mismatch")) << summary;

  // verify lists both problems.
  auto verify = VerifyDataset(dir_);
  ASSERT_TRUE(verify.ok());
  EXPECT_FALSE(verify->ok());
  const std::string text = verify->Summary();
  EXPECT_TRUE(absl::StrContains(text, "train-00002.rec is missing")) << text;
  EXPECT_TRUE(absl::StrContains(text, "record 2 at byte offset")) << text;
  EXPECT_TRUE(absl::StrContains(text, "whole-file CRC32C")) << text;
}

TEST(OnCorrupt, Parses) {
  EXPECT_EQ(*ParseOnCorrupt("fail"), OnCorrupt::kFail);
  EXPECT_EQ(*ParseOnCorrupt("skip"), OnCorrupt::kSkip);
  EXPECT_FALSE(ParseOnCorrupt("ignore").ok());
}

// Writes a small data set for tests/data/read_tfrecord.py (run by ctest as
// data_python_tfrecord) together with the expected example ids.
TEST(PythonFixture, WriteShardsForTheIndependentReader) {
  const char* dir = std::getenv("ALRO_PY_FIXTURE_DIR");
  if (dir == nullptr) GTEST_SKIP() << "only run by the data_python_fixture ctest";
  ASSERT_TRUE(RemoveAll(dir).ok());
  ASSERT_TRUE(MakeDirectories(dir).ok());
  WriteSyntheticDataset(dir, 17, 6, 5, 3);
  std::string expected;
  for (int i = 0; i < 17; ++i) absl::StrAppend(&expected, SyntheticExample(i, 5).example_id(), "\n");
  WriteText(JoinPath(dir, "expected_train_ids.txt"), expected);
}

}  // namespace
}  // namespace alro::data
