// tests/core/safetensors_test.cc: the safetensors reader and writer: round
// trips over dtypes and shapes, slices, and malformed files rejected with
// clear errors (never read out of bounds).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "core/safetensors.h"
#include "tests/core/core_test_util.h"

namespace alro::core {
namespace {

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/alro_st_test_XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr);
    dir_ = path;
  }
  void TearDown() override { (void)RemoveAll(dir_); }

  // Writes a file with header length field `length`, header `json` and `data`.
  std::string WriteRaw(const std::string& name, uint64_t length, const std::string& json, const std::string& data) {
    std::string bytes(8, '\0');
    std::memcpy(bytes.data(), &length, 8);
    bytes += json + data;
    const std::string path = JoinPath(dir_, name);
    EXPECT_TRUE(WriteFileAtomically(path, bytes).ok());
    return path;
  }
  std::string WriteWithHeader(const std::string& name, const std::string& json, const std::string& data) {
    return WriteRaw(name, json.size(), json, data);
  }
  // Expects Open(path) to fail with a message containing every part.
  void ExpectRejected(const std::string& path, std::initializer_list<std::string> parts) {
    absl::StatusOr<SafetensorsReader> r = SafetensorsReader::Open(path);
    ASSERT_FALSE(r.ok()) << path;
    const std::string message(r.status().message());
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("HINT:"), std::string::npos) << message;
    for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
  }

  std::string dir_;
};

TEST_F(SafetensorsTest, RoundTripsDtypesAndShapes) {
  at::manual_seed(3);
  const std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f32", at::randn({3, 5, 7})},
      {"bf16_odd", at::randn({3, 3}).to(at::kBFloat16)},  // 18 bytes: forces the writer to order for alignment
      {"f16", at::randn({4, 2}).to(at::kHalf)},
      {"f64", at::randn({5}, at::kDouble)},
      {"i64", at::arange(11, at::TensorOptions().dtype(at::kLong))},
      {"i32", at::arange(3, at::TensorOptions().dtype(at::kInt))},
      {"u8", at::arange(5, at::TensorOptions().dtype(at::kByte))},
      {"scalar", at::scalar_tensor(2.5)},
      {"empty", at::zeros({0, 4})},
  };
  const std::string path = JoinPath(dir_, "x.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"format", "pt"}}).ok());
  absl::StatusOr<SafetensorsReader> r = SafetensorsReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->metadata().at("format"), "pt");
  EXPECT_EQ(r->tensors().size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    absl::StatusOr<at::Tensor> back = r->Read(name);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(at::equal(*back, t)) << name;
  }
  // Slices along every dimension equal narrow() of the original.
  const at::Tensor& f32 = tensors[0].second;
  for (int64_t dim = 0; dim < 3; ++dim) {
    absl::StatusOr<at::Tensor> s = r->ReadSlice("f32", dim, 1, 2);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_TRUE(at::equal(*s, f32.narrow(dim, 1, 2))) << "dim " << dim;
  }
  // Out-of-range slices and unknown names are errors, not reads.
  EXPECT_FALSE(r->ReadSlice("f32", 1, 4, 2).ok());
  EXPECT_FALSE(r->ReadSlice("f32", 3, 0, 1).ok());
  EXPECT_FALSE(r->Read("nope").ok());
}

// fuzz/regressions/safetensors/empty_tensor: reading a tensor or slice with
// no elements copied 0 bytes to the null data_ptr() of its empty result,
// which is undefined behaviour (UBSan: scripts/sanitize.sh, scripts/fuzz.sh).
TEST_F(SafetensorsTest, ReadsEmptyTensorsAndEmptySlices) {
  const std::string path = JoinPath(dir_, "e.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, {{"empty", at::zeros({0, 3}, at::kHalf)}, {"m", at::ones({2, 3})}}).ok());
  absl::StatusOr<SafetensorsReader> r = SafetensorsReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<at::Tensor> empty = r->Read("empty");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->sizes(), at::IntArrayRef({0, 3}));
  EXPECT_EQ(empty->scalar_type(), at::kHalf);
  for (int64_t dim = 0; dim < 2; ++dim) {
    absl::StatusOr<at::Tensor> none = r->ReadSlice("m", dim, 1, 0);
    ASSERT_TRUE(none.ok()) << none.status();
    EXPECT_EQ(none->numel(), 0) << "dim " << dim;
    EXPECT_EQ(none->size(dim), 0) << "dim " << dim;
  }
}

TEST_F(SafetensorsTest, WriterAlignsAndHasNoGaps) {
  const std::string path = JoinPath(dir_, "a.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, {{"a", at::ones({3}, at::kBFloat16)}, {"b", at::ones({3})}}).ok());
  absl::StatusOr<SafetensorsReader> r = SafetensorsReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  // The 4-byte tensor goes first, so the 2-byte one follows without a gap.
  EXPECT_EQ(r->Find("b")->begin, 0u);
  EXPECT_EQ(r->Find("a")->begin, 12u);
  absl::StatusOr<uint64_t> size = FileSize(path);
  ASSERT_TRUE(size.ok());
  uint64_t header = 0;
  std::string bytes = *ReadFileToString(path);
  std::memcpy(&header, bytes.data(), 8);
  EXPECT_EQ(header % 8, 0u);
  EXPECT_EQ(*size, 8 + header + 18);
}

TEST_F(SafetensorsTest, RejectsTooShortFile) {
  const std::string path = JoinPath(dir_, "short.safetensors");
  ASSERT_TRUE(WriteFileAtomically(path, "abc").ok());
  ExpectRejected(path, {"shorter than the 8-byte header length"});
}

TEST_F(SafetensorsTest, RejectsHeaderLengthPastEnd) {
  ExpectRejected(WriteRaw("len.safetensors", 1000, "{}", ""), {"header length 1000", "past the end"});
  ExpectRejected(WriteRaw("huge.safetensors", ~0ull, "{}", ""), {"exceeds"});
}

TEST_F(SafetensorsTest, RejectsInvalidJson) {
  ExpectRejected(WriteWithHeader("json.safetensors", "{\"a\": [", ""), {"invalid JSON"});
  ExpectRejected(WriteWithHeader("array.safetensors", "[1, 2]", ""), {"not a JSON object"});
}

TEST_F(SafetensorsTest, RejectsOffsetsPastEnd) {
  ExpectRejected(
      WriteWithHeader("past.safetensors", R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
                      std::string(8, '\0')),
      {"\"w\"", "run past the end of the file"});
}

TEST_F(SafetensorsTest, RejectsWrongByteLength) {
  ExpectRejected(
      WriteWithHeader("len.safetensors", R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})",
                      std::string(8, '\0')),
      {"\"w\"", "needs 12"});
}

TEST_F(SafetensorsTest, RejectsOverlap) {
  ExpectRejected(WriteWithHeader("overlap.safetensors",
                                 R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                                 R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
                                 std::string(12, '\0')),
                 {"overlap"});
}

TEST_F(SafetensorsTest, RejectsMisalignedTensor) {
  ExpectRejected(
      WriteWithHeader("align.safetensors", R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}})",
                      std::string(8, '\0')),
      {"misaligned"});
}

TEST_F(SafetensorsTest, RejectsWrongDtype) {
  ExpectRejected(
      WriteWithHeader("dtype.safetensors", R"({"w": {"dtype": "F33", "shape": [1], "data_offsets": [0, 4]}})",
                      std::string(4, '\0')),
      {"\"w\"", "unknown dtype \"F33\""});
  ExpectRejected(
      WriteWithHeader("nodtype.safetensors", R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", std::string(4, '\0')),
      {"\"dtype\""});
}

TEST_F(SafetensorsTest, RejectsBadShapesAndOffsets) {
  ExpectRejected(
      WriteWithHeader("neg.safetensors", R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
                      std::string(4, '\0')),
      {"negative"});
  ExpectRejected(WriteWithHeader("overflow.safetensors",
                                 R"({"w": {"dtype": "F32", "shape": [4611686018427387904, 8], "data_offsets": [0, 4]}})",
                                 std::string(4, '\0')),
                 {"overflows"});
  ExpectRejected(
      WriteWithHeader("rev.safetensors", R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})",
                      std::string(8, '\0')),
      {"end before they begin"});
  ExpectRejected(
      WriteWithHeader("offs.safetensors", R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})",
                      std::string(4, '\0')),
      {"data_offsets"});
}

TEST_F(SafetensorsTest, EveryTruncationOfAValidFileIsRejected) {
  const std::string good = JoinPath(dir_, "good.safetensors");
  ASSERT_TRUE(WriteSafetensors(good, {{"a", at::randn({4, 4})}, {"b", at::randn({7})}}).ok());
  const std::string bytes = *ReadFileToString(good);
  const std::string path = JoinPath(dir_, "cut.safetensors");
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(n));
    EXPECT_FALSE(SafetensorsReader::Open(path).ok()) << "truncated to " << n << " bytes";
  }
}

}  // namespace
}  // namespace alro::core
