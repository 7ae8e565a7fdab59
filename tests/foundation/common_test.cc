// tests/foundation/common_test.cc: CRC32C and FNV-1a against published vectors, atomic
// file writes, memory mapping and Status helpers.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "common/cpu_features.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/hash.h"
#include "common/json_util.h"
#include "common/status.h"

namespace alro {
namespace {

std::string TempDir() {
  char templ[] = "/tmp/alro_common_test_XXXXXX";
  return mkdtemp(templ);
}

// Vectors from RFC 3720 (iSCSI), appendix B.4, and the classic check value.
TEST(Crc32c, PublishedVectors) {
  EXPECT_EQ(crc32c::Value("123456789"), 0xe3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c::Value(zeros), 0x8a9136aau);
  std::string ones(32, '\xff');
  EXPECT_EQ(crc32c::Value(ones), 0x62a8ab43u);
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
  EXPECT_EQ(crc32c::Value(ascending), 0x46dd794eu);
}

// FNV-1a: the published 64-bit vectors, the historical offset basis (values
// from an independent Python implementation) and the 8-byte integer form.
TEST(Fnv1a, PublishedVectorsAndHistoricalBasis) {
  EXPECT_EQ(Fnv1a(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a("foobar"), 0x85944171f73967e8ull);
  EXPECT_EQ(Fnv1a("", kFnv1aAlroOffset), 0x14650fb0739d0383ull);
  EXPECT_EQ(Fnv1a("a", kFnv1aAlroOffset), 0x44bd8ad473cd9906ull);
  EXPECT_EQ(Fnv1a("model.layers.0.mlp.up_proj.weight", kFnv1aAlroOffset), 0x4d8b28d0421dd77aull);
  EXPECT_EQ(Fnv1aExtend(Fnv1a("foo"), absl::string_view("bar")), Fnv1a("foobar"));
  // An integer hashes as its 8 little-endian bytes.
  const int64_t value = 0x0102030405060708;
  EXPECT_EQ(Fnv1aExtend(kFnv1aOffset, value), Fnv1a(absl::string_view("\x08\x07\x06\x05\x04\x03\x02\x01", 8)));
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  for (size_t split : {0, 1, 7, 8, 9, 500, 999, 1000}) {
    const uint32_t first = crc32c::Value(data.data(), split);
    EXPECT_EQ(crc32c::Extend(first, data.data() + split, data.size() - split), crc32c::Value(data)) << split;
  }
}

TEST(Crc32c, MaskRoundTripsAndDiffers) {
  for (uint32_t crc : {0u, 1u, 0xe3069283u, 0xffffffffu}) {
    EXPECT_EQ(crc32c::Unmask(crc32c::Mask(crc)), crc);
    EXPECT_NE(crc32c::Mask(crc), crc);
  }
}

TEST(FileUtil, AtomicWriteReplacesAndLeavesNoTemp) {
  const std::string dir = TempDir();
  const std::string path = JoinPath(dir, "x.txt");
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  absl::StatusOr<std::string> text = ReadFileToString(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "second");
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(dir);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"x.txt"});
  ASSERT_TRUE(RemoveAll(dir).ok());
  EXPECT_FALSE(PathExists(dir));
}

TEST(FileUtil, ErrorsNameThePath) {
  absl::StatusOr<std::string> text = ReadFileToString("/nonexistent/alro/file");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(text.status().message().find("/nonexistent/alro/file"), std::string::npos);
  EXPECT_NE(text.status().message().find("HINT"), std::string::npos);
}

TEST(FileUtil, MappedFileSeesContents) {
  const std::string dir = TempDir();
  const std::string path = JoinPath(dir, "m.bin");
  ASSERT_TRUE(WriteFileAtomically(path, std::string("abc\0def", 7)).ok());
  absl::StatusOr<MappedFile> mapped = MappedFile::Open(path);
  ASSERT_TRUE(mapped.ok());
  ASSERT_EQ(mapped->size(), 7u);
  EXPECT_EQ(mapped->data()[4], 'd');
  ASSERT_TRUE(RemoveAll(dir).ok());
}

TEST(FileUtil, JoinAndDirName) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "/b"), "a/b");
  EXPECT_EQ(DirName("a/b/c"), "a/b");
  EXPECT_EQ(DirName("c"), ".");
}

TEST(Json, ErrorNamesSourceAndOffset) {
  absl::StatusOr<nlohmann::json> ok = ParseJson(R"({"a": [1, 2]})", "x.json");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["a"][1], 2);
  absl::StatusOr<nlohmann::json> bad = ParseJson(R"({"a": [1, 2})", "x.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("x.json"), std::string::npos);
  EXPECT_NE(bad.status().message().find("byte"), std::string::npos);
}

// Found by fuzz_rank_request (fuzz/regressions/rank_request/json_number_overflow):
// a number beyond double's range made the error path throw out_of_range, and
// every JSON file alro reads (manifest, config.json, requests) ended the process.
TEST(Json, NumberOverflowIsAnErrorNotACrash) {
  absl::StatusOr<nlohmann::json> bad = ParseJson(R"({"year": 191e30895})", "req.jsonl:3");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("req.jsonl:3"), std::string::npos) << bad.status();
  EXPECT_NE(bad.status().message().find("number overflow"), std::string::npos) << bad.status();
}

TEST(Status, UserErrorCarriesHint) {
  const absl::Status s = UserError(absl::StatusCode::kNotFound, "data.dir: /x missing", "run alro convert");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "data.dir: /x missing\n  HINT: run alro convert");
  EXPECT_EQ(Annotate(s, "loading").message().substr(0, 9), "loading: ");
}

// The flag reader against the file it reads, parsed independently: a CPU
// listing avx512_bf16 or amx_bf16 among its flags has native bf16.
TEST(CpuFeatures, Bfloat16FlagMatchesProcCpuinfo) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  const std::string text((std::istreambuf_iterator<char>(cpuinfo)), std::istreambuf_iterator<char>());
  const size_t at = text.find("\nflags");
  const std::string line = at == std::string::npos ? "" : text.substr(at, text.find('\n', at + 1) - at) + " ";
  const bool amx = line.find(" amx_bf16 ") != std::string::npos;
  const bool avx512 = line.find(" avx512_bf16 ") != std::string::npos;
  EXPECT_EQ(NativeBfloat16CpuFlag(), amx ? "amx_bf16" : avx512 ? "avx512_bf16" : "") << line;
}

}  // namespace
}  // namespace alro
