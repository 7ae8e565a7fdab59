// data/record_writer.h: writes TFRecord-framed records into shard files that
// roll by size or count, each with its offset index (data/record_format.h).
//
// Durability: a shard is written under a temporary name and renamed when it
// is complete (its index likewise), so a crash never leaves a torn shard
// under its final name; the manifest, written after all shards, is what
// marks a data set complete.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/file_util.h"
#include "data/manifest.h"
#include "data/record_format.h"

namespace alro::data {

/// Appends the frame of `payload` (header, payload, footer) to `out`.
void AppendRecordFrame(absl::string_view payload, std::string* out);

/// The bytes of an index file for a shard of `shard_bytes` bytes whose
/// frames start at `offsets`.
std::string EncodeShardIndex(const std::vector<uint64_t>& offsets, uint64_t shard_bytes);

/// When a shard is closed and the next one started.
struct ShardLimits {
  uint64_t max_records = kDefaultShardRecords;  ///< records per shard
  uint64_t max_bytes = kDefaultShardBytes;      ///< bytes per shard (a record is never split)
};

/// Writes the records of one split into `DIR/<prefix>-NNNNN.rec` shards.
///
///   ALRO_ASSIGN_OR_RETURN(auto writer, ShardedRecordWriter::Create(dir, "train", limits));
///   for (...) ALRO_RETURN_IF_ERROR(writer.Write(example.SerializeAsString()));
///   ALRO_ASSIGN_OR_RETURN(std::vector<ShardInfo> shards, writer.Finish());
class ShardedRecordWriter {
 public:
  static absl::StatusOr<ShardedRecordWriter> Create(const std::string& dir, const std::string& prefix,
                                                    const ShardLimits& limits);

  ShardedRecordWriter(ShardedRecordWriter&&) = default;
  ShardedRecordWriter& operator=(ShardedRecordWriter&&) = default;

  /// Appends one record, starting a new shard first when the current one is full.
  absl::Status Write(absl::string_view payload);

  /// Completes the last shard; returns every shard written, in order. A
  /// split with no records gets no shard.
  absl::StatusOr<std::vector<ShardInfo>> Finish();

  /// Records written so far.
  int64_t records() const { return records_; }

 private:
  ShardedRecordWriter() = default;
  absl::Status OpenShard();
  absl::Status CloseShard();

  std::string dir_;
  std::string prefix_;
  ShardLimits limits_;
  bool open_ = false;
  SequentialFileWriter file_;
  std::string final_name_;
  std::vector<uint64_t> offsets_;
  uint32_t crc_ = 0;
  std::string frame_;
  int64_t records_ = 0;
  std::vector<ShardInfo> shards_;
};

/// Name of shard `k` of `prefix`: "train-00003.rec".
std::string ShardFileName(const std::string& prefix, int64_t k);

}  // namespace alro::data
