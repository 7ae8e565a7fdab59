// data/record_format.h: the on-disk constants of alro's record shards, in one
// place (LevelDB style). docs/data.md explains the format; this header is the
// single source of its numbers.
//
// A shard is a sequence of TFRecord frames, so TensorFlow's and any other
// TFRecord reader can read it:
//
//   uint64 length          little-endian, payload bytes
//   uint32 masked_crc32c(length bytes)
//   byte   payload[length] a serialized alro.data.proto.ListExample
//   uint32 masked_crc32c(payload)
//
// Next to each shard `NAME` lies `NAME.idx`, the offsets of its records, so a
// reader seeks to record i in constant time:
//
//   char   magic[8]        "ALROIDX1"
//   uint64 record_count
//   uint64 offsets[record_count]   byte offset of each frame in the shard
//   uint64 shard_bytes             total size of the shard
//   uint32 masked_crc32c(all bytes above)
//
// A data set directory holds the shards of each split, their indexes, the
// manifest (written last) and the tokenizer the converter trained.
#pragma once

#include <cstddef>
#include <cstdint>

namespace alro::data {

/// Bytes of the length field of a frame.
inline constexpr size_t kLengthSize = 8;
/// Bytes of each masked CRC32C in a frame.
inline constexpr size_t kCrcSize = 4;
/// Bytes before the payload: length + CRC of the length.
inline constexpr size_t kHeaderSize = kLengthSize + kCrcSize;
/// Bytes after the payload: CRC of the payload.
inline constexpr size_t kFooterSize = kCrcSize;
/// Framing overhead per record.
inline constexpr size_t kFrameOverhead = kHeaderSize + kFooterSize;
/// Largest payload a reader accepts; a larger length field means corruption
/// (a list-wise example is a few KB).
inline constexpr uint64_t kMaxRecordBytes = uint64_t{64} << 20;

/// Magic bytes that open an index file.
inline constexpr char kIndexMagic[] = "ALROIDX1";
inline constexpr size_t kIndexMagicSize = 8;
/// Index bytes besides the offsets: magic, count, shard size, CRC.
inline constexpr size_t kIndexFixedBytes = kIndexMagicSize + 8 + 8 + kCrcSize;
/// Suffix of a shard's index file.
inline constexpr char kIndexSuffix[] = ".idx";
/// Suffix of record shard files.
inline constexpr char kShardSuffix[] = ".rec";

/// Name of the manifest in a data set directory.
inline constexpr char kManifestName[] = "manifest.json";
/// Name of the tokenizer the converter trains, in the data set directory.
inline constexpr char kTokenizerName[] = "tokenizer.model";
/// Value of the manifest's "format" key.
inline constexpr char kManifestFormat[] = "alro-list-records";

/// Version of the ListExample schema (data/list_example.proto) and of this
/// layout. Readers accept versions <= their own.
inline constexpr uint32_t kSchemaVersion = 1;

/// Default shard limits of the writer: a shard is closed once it would pass
/// either one.
inline constexpr uint64_t kDefaultShardRecords = 100000;
inline constexpr uint64_t kDefaultShardBytes = uint64_t{256} << 20;

}  // namespace alro::data
