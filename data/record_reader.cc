// data/record_reader.cc: frame checking, index decoding, shard readers.
#include "data/record_reader.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crc32c.h"
#include "common/status.h"
#include "data/record_format.h"

namespace alro::data {
namespace {

constexpr char kCorruptHint[] =
    "the shard is damaged: re-run `alro convert` or restore it from a copy; "
    "`alro data verify DIR` lists every bad record, and data.on_corrupt=skip trains on the rest";

uint64_t GetFixed64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint32_t GetFixed32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

absl::Status Corrupt(const std::string& file, int64_t record, uint64_t offset, absl::string_view what) {
  return UserError(absl::StatusCode::kDataLoss,
                   absl::StrCat("record shard ", file, ": record ", record, " at byte offset ", offset, ": ", what),
                   kCorruptHint);
}

}  // namespace

absl::StatusOr<OnCorrupt> ParseOnCorrupt(absl::string_view text) {
  if (text == "fail") return OnCorrupt::kFail;
  if (text == "skip") return OnCorrupt::kSkip;
  return InvalidArgument(absl::StrCat("on_corrupt: '", text, "' is not fail or skip"), "use fail or skip");
}

absl::StatusOr<ShardIndex> DecodeShardIndex(absl::string_view bytes, const std::string& path) {
  const auto bad = [&](absl::string_view what) {
    return UserError(absl::StatusCode::kDataLoss, absl::StrCat("shard index ", path, ": ", what),
                     "the index is written with its shard by `alro convert`; re-run the conversion");
  };
  if (bytes.size() < kIndexFixedBytes) return bad(absl::StrCat("only ", bytes.size(), " bytes (truncated)"));
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (absl::string_view(bytes.data(), kIndexMagicSize) != absl::string_view(kIndexMagic, kIndexMagicSize)) {
    return bad("bad magic: not an alro shard index");
  }
  const uint64_t count = GetFixed64(p + kIndexMagicSize);
  if (count > (bytes.size() - kIndexFixedBytes) / 8 || bytes.size() != kIndexFixedBytes + 8 * count) {
    return bad(absl::StrCat("is ", bytes.size(), " bytes, which does not fit its record count ", count));
  }
  const size_t crc_at = bytes.size() - kCrcSize;
  const uint32_t stored = crc32c::Unmask(GetFixed32(p + crc_at));
  const uint32_t actual = crc32c::Value(bytes.data(), crc_at);
  if (stored != actual) {
    return bad(absl::StrFormat("CRC mismatch at byte offset %d (stored %08x, computed %08x)", crc_at, stored, actual));
  }
  ShardIndex index;
  index.offsets.resize(count);
  for (uint64_t i = 0; i < count; ++i) index.offsets[i] = GetFixed64(p + kIndexMagicSize + 8 + 8 * i);
  index.shard_bytes = GetFixed64(p + kIndexMagicSize + 8 + 8 * count);
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t next = i + 1 < count ? index.offsets[i + 1] : index.shard_bytes;
    if (next < index.offsets[i] + kFrameOverhead) {
      return bad(absl::StrCat("offset of record ", i, " (", index.offsets[i], ") leaves no room for its frame"));
    }
  }
  if (count > 0 && index.offsets[0] != 0) return bad("the first record does not start at byte 0");
  return index;
}

absl::StatusOr<absl::string_view> CheckFrame(const uint8_t* data, uint64_t size, uint64_t offset,
                                             const std::string& file, int64_t record, uint64_t expected_end) {
  if (offset + kHeaderSize > size) {
    return Corrupt(file, record, offset,
                   absl::StrCat("the file ends (", size, " bytes) inside the record header: truncated file"));
  }
  const uint8_t* header = data + offset;
  const uint64_t length = GetFixed64(header);
  const uint32_t stored_length_crc = crc32c::Unmask(GetFixed32(header + kLengthSize));
  const uint32_t length_crc = crc32c::Value(header, kLengthSize);
  if (stored_length_crc != length_crc) {
    return Corrupt(file, record, offset,
                   absl::StrFormat("length CRC mismatch (stored %08x, computed %08x)", stored_length_crc, length_crc));
  }
  if (length > kMaxRecordBytes) {
    return Corrupt(file, record, offset, absl::StrCat("length ", length, " exceeds the limit ", kMaxRecordBytes));
  }
  const uint64_t end = offset + kFrameOverhead + length;
  if (end > size) {
    return Corrupt(file, record, offset,
                   absl::StrCat("the record needs bytes up to ", end, " but the file has ", size,
                                ": truncated file"));
  }
  if (expected_end != 0 && end != expected_end) {
    return Corrupt(file, record, offset,
                   absl::StrCat("the frame ends at byte ", end, " but the index says ", expected_end));
  }
  const uint8_t* payload = header + kHeaderSize;
  const uint32_t stored_crc = crc32c::Unmask(GetFixed32(payload + length));
  const uint32_t crc = crc32c::Value(payload, length);
  if (stored_crc != crc) {
    return Corrupt(file, record, offset,
                   absl::StrFormat("payload CRC mismatch (stored %08x, computed %08x)", stored_crc, crc));
  }
  return absl::string_view(reinterpret_cast<const char*>(payload), length);
}

absl::StatusOr<ShardReader> ShardReader::Open(const std::string& path) {
  if (!PathExists(path)) {
    return UserError(absl::StatusCode::kNotFound, absl::StrCat("record shard ", path, " is missing"),
                     "restore the file or re-run `alro convert`; data.on_corrupt=skip trains without it");
  }
  ShardReader reader;
  ALRO_ASSIGN_OR_RETURN(reader.file_, MappedFile::Open(path));
  const std::string index_path = path + kIndexSuffix;
  if (!PathExists(index_path)) {
    return UserError(absl::StatusCode::kNotFound, absl::StrCat("shard index ", index_path, " is missing"),
                     "restore the file or re-run `alro convert`");
  }
  ALRO_ASSIGN_OR_RETURN(std::string index_bytes, ReadFileToString(index_path));
  ALRO_ASSIGN_OR_RETURN(reader.index_, DecodeShardIndex(index_bytes, index_path));
  return reader;
}

absl::Status ShardReader::SizeProblem() const {
  if (file_.size() == index_.shard_bytes) return absl::OkStatus();
  const bool shorter = file_.size() < index_.shard_bytes;
  return UserError(absl::StatusCode::kDataLoss,
                   absl::StrCat("record shard ", path(), " is ", file_.size(), " bytes but its index says ",
                                index_.shard_bytes, shorter ? ": the file is truncated" : ": the file has extra bytes"),
                   kCorruptHint);
}

absl::Status ShardReader::CheckAgainst(const ShardInfo& expected, const std::string& manifest_path) const {
  if (num_records() != expected.records || index_.shard_bytes != expected.bytes) {
    return UserError(absl::StatusCode::kDataLoss,
                     absl::StrCat("record shard ", path(), " has ", num_records(), " records and ",
                                  index_.shard_bytes, " bytes by its index, but ", manifest_path, " says ",
                                  expected.records, " records and ", expected.bytes, " bytes"),
                     "the shard and the manifest come from different conversions; re-run `alro convert` "
                     "into an empty directory");
  }
  return SizeProblem();
}

absl::StatusOr<absl::string_view> ShardReader::Read(int64_t i) const {
  const size_t k = static_cast<size_t>(i);
  const uint64_t end = k + 1 < index_.offsets.size() ? index_.offsets[k + 1] : index_.shard_bytes;
  return CheckFrame(file_.data(), file_.size(), index_.offsets[k], path(), i, end);
}

absl::StatusOr<SequentialRecordReader> SequentialRecordReader::Open(const std::string& path) {
  SequentialRecordReader reader;
  ALRO_ASSIGN_OR_RETURN(reader.file_, MappedFile::Open(path));
  return reader;
}

absl::StatusOr<bool> SequentialRecordReader::Next(absl::string_view* payload) {
  if (offset_ == file_.size()) return false;
  ALRO_ASSIGN_OR_RETURN(*payload, CheckFrame(file_.data(), file_.size(), offset_, file_.path(), record_, 0));
  offset_ += kFrameOverhead + payload->size();
  ++record_;
  return true;
}

}  // namespace alro::data
