// data/record_writer.cc: TFRecord framing and rolling shard files.
#include "data/record_writer.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crc32c.h"
#include "common/status.h"

namespace alro::data {
namespace {

// Temporary suffix of a shard or index being written; .gitignore and
// `alro data verify` know that such files are incomplete.
constexpr char kPartialSuffix[] = ".tmp.partial";

void PutFixed64(std::string* out, uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out->append(buf, 8);
}

void PutFixed32(std::string* out, uint32_t v) {
  char buf[4];
  for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out->append(buf, 4);
}

}  // namespace

void AppendRecordFrame(absl::string_view payload, std::string* out) {
  const size_t start = out->size();
  PutFixed64(out, payload.size());
  const uint32_t length_crc = crc32c::Mask(crc32c::Value(out->data() + start, kLengthSize));
  PutFixed32(out, length_crc);
  out->append(payload.data(), payload.size());
  PutFixed32(out, crc32c::Mask(crc32c::Value(payload)));
}

std::string EncodeShardIndex(const std::vector<uint64_t>& offsets, uint64_t shard_bytes) {
  std::string out(kIndexMagic, kIndexMagicSize);
  PutFixed64(&out, offsets.size());
  for (uint64_t o : offsets) PutFixed64(&out, o);
  PutFixed64(&out, shard_bytes);
  PutFixed32(&out, crc32c::Mask(crc32c::Value(out)));
  return out;
}

std::string ShardFileName(const std::string& prefix, int64_t k) {
  return absl::StrFormat("%s-%05d%s", prefix, k, kShardSuffix);
}

absl::StatusOr<ShardedRecordWriter> ShardedRecordWriter::Create(const std::string& dir, const std::string& prefix,
                                                                const ShardLimits& limits) {
  if (limits.max_records == 0 || limits.max_bytes == 0) {
    return InvalidArgument("shard limits must be positive", "pass --shard-records and --shard-bytes > 0");
  }
  ALRO_RETURN_IF_ERROR(MakeDirectories(dir));
  ShardedRecordWriter w;
  w.dir_ = dir;
  w.prefix_ = prefix;
  w.limits_ = limits;
  return w;
}

absl::Status ShardedRecordWriter::OpenShard() {
  final_name_ = ShardFileName(prefix_, static_cast<int64_t>(shards_.size()));
  ALRO_ASSIGN_OR_RETURN(file_, SequentialFileWriter::Create(JoinPath(dir_, final_name_ + kPartialSuffix)));
  offsets_.clear();
  crc_ = 0;
  open_ = true;
  return absl::OkStatus();
}

absl::Status ShardedRecordWriter::Write(absl::string_view payload) {
  if (payload.size() > kMaxRecordBytes) {
    return InvalidArgument(absl::StrCat("record ", records_, " of ", prefix_, " is ", payload.size(),
                                        " bytes, more than the limit of ", kMaxRecordBytes));
  }
  const uint64_t frame_bytes = payload.size() + kFrameOverhead;
  // Roll before a record that would overflow a non-empty shard.
  if (open_ && (offsets_.size() >= limits_.max_records ||
                (!offsets_.empty() && file_.size() + frame_bytes > limits_.max_bytes))) {
    ALRO_RETURN_IF_ERROR(CloseShard());
  }
  if (!open_) ALRO_RETURN_IF_ERROR(OpenShard());
  frame_.clear();
  AppendRecordFrame(payload, &frame_);
  offsets_.push_back(file_.size());
  crc_ = crc32c::Extend(crc_, frame_.data(), frame_.size());
  ALRO_RETURN_IF_ERROR(file_.Append(frame_));
  ++records_;
  return absl::OkStatus();
}

absl::Status ShardedRecordWriter::CloseShard() {
  const uint64_t bytes = file_.size();
  const std::string partial = file_.path();
  ALRO_RETURN_IF_ERROR(file_.Close());
  const std::string final_path = JoinPath(dir_, final_name_);
  // The index lands first: a shard under its final name always has one.
  ALRO_RETURN_IF_ERROR(WriteFileAtomically(final_path + kIndexSuffix, EncodeShardIndex(offsets_, bytes)));
  ALRO_RETURN_IF_ERROR(RenameDurably(partial, final_path));
  shards_.push_back(ShardInfo{final_name_, static_cast<int64_t>(offsets_.size()), bytes, crc_});
  open_ = false;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ShardInfo>> ShardedRecordWriter::Finish() {
  if (open_) ALRO_RETURN_IF_ERROR(CloseShard());
  return shards_;
}

}  // namespace alro::data
