// data/record_reader.h: reads TFRecord-framed shards (data/record_format.h)
// sequentially or by index, verifying every CRC.
//
// Every corruption error names the file, the record index and the byte
// offset, and says what to do. What to do with a bad record is the caller's
// policy (OnCorrupt); these readers only report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/file_util.h"
#include "data/manifest.h"

namespace alro::data {

/// What a reader does with a record that fails its checks: stop with the
/// error (the default), or skip it, counting and reporting it.
enum class OnCorrupt { kFail, kSkip };

/// Parses "fail" or "skip" (data.on_corrupt).
absl::StatusOr<OnCorrupt> ParseOnCorrupt(absl::string_view text);

/// Decoded index file.
struct ShardIndex {
  std::vector<uint64_t> offsets;  ///< byte offset of each frame
  uint64_t shard_bytes = 0;       ///< shard size when it was written
};

/// Parses index bytes read from `path` (named in errors); checks its magic,
/// its CRC and that the offsets increase.
absl::StatusOr<ShardIndex> DecodeShardIndex(absl::string_view bytes, const std::string& path);

/// Checks the frame starting at `offset` in `data[0, size)` and returns its
/// payload. `file` and `record` only name the place in errors. When
/// `expected_end` is non-zero the frame must end exactly there (the index's
/// next offset).
absl::StatusOr<absl::string_view> CheckFrame(const uint8_t* data, uint64_t size, uint64_t offset,
                                             const std::string& file, int64_t record, uint64_t expected_end);

/// Random access to the records of one shard through its index. The shard
/// is memory-mapped; Read() is const and safe to call from several threads.
class ShardReader {
 public:
  /// Maps `path` and reads `path`.idx. Fails if either is missing or the
  /// index is corrupt. A shard whose size disagrees with its index still
  /// opens (records past the end then fail to read); SizeProblem() says so.
  static absl::StatusOr<ShardReader> Open(const std::string& path);

  ShardReader(ShardReader&&) = default;
  ShardReader& operator=(ShardReader&&) = default;

  int64_t num_records() const { return static_cast<int64_t>(index_.offsets.size()); }
  uint64_t file_bytes() const { return file_.size(); }
  const std::string& path() const { return file_.path(); }
  /// Byte offset of record i's frame.
  uint64_t offset(int64_t i) const { return index_.offsets[static_cast<size_t>(i)]; }

  /// OK when the shard is exactly as long as its index says; else the error
  /// that explains it (truncated or extended file).
  absl::Status SizeProblem() const;

  /// Checks this shard against its manifest entry (record count and size).
  absl::Status CheckAgainst(const ShardInfo& expected, const std::string& manifest_path) const;

  /// Payload of record `i`, after checking both CRCs; it points into the
  /// mapping and lives as long as the reader.
  absl::StatusOr<absl::string_view> Read(int64_t i) const;

 private:
  ShardReader() = default;
  MappedFile file_;
  ShardIndex index_;
};

/// Reads the frames of a shard from the first byte on, without its index
/// (what `alro data verify` and a foreign TFRecord reader do).
class SequentialRecordReader {
 public:
  static absl::StatusOr<SequentialRecordReader> Open(const std::string& path);

  /// Reads the next record into `payload`; returns false at a clean end of
  /// file, or the corruption error.
  absl::StatusOr<bool> Next(absl::string_view* payload);

  /// Index of the record Next() reads next.
  int64_t record() const { return record_; }
  /// Byte offset of the frame Next() reads next.
  uint64_t offset() const { return offset_; }

 private:
  SequentialRecordReader() = default;
  MappedFile file_;
  uint64_t offset_ = 0;
  int64_t record_ = 0;
};

}  // namespace alro::data
