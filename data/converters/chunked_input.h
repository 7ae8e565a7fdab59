// data/converters/chunked_input.h: reads a large text input in fixed byte
// chunks, each on its own (pread into a bounded buffer, never a mapping of
// the whole file, so resident memory does not grow with the input).
//
// A line belongs to the chunk in which it starts: chunk k of a file holds
// every line whose first byte lies in [k * chunk_bytes, (k + 1) * chunk_bytes).
// So the chunks partition the lines whatever reads them, in any order, on any
// thread or rank, and the chunk plan depends on the file size alone.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace alro::data {

/// Called for every line of a chunk (without "\n" or "\r\n"; a UTF-8
/// byte-order mark at the start of the file is dropped). `offset` is the
/// byte offset of the line in the file, `line_in_chunk` its 1-based number
/// within the chunk.
using ChunkLineFn = std::function<void(absl::string_view line, uint64_t offset, int64_t line_in_chunk)>;

/// Number of chunks of a `file_bytes`-byte file (at least 1).
int64_t ChunkCount(uint64_t file_bytes, uint64_t chunk_bytes);

/// Calls `fn` for each line of chunk `chunk`; returns the number of lines
/// (blank ones included). `buffer` is reused between calls.
absl::StatusOr<int64_t> ForEachLineOfChunk(const std::string& path, uint64_t file_bytes, uint64_t chunk_bytes,
                                           int64_t chunk, std::string* buffer, const ChunkLineFn& fn);

/// Calls `fn(line, line_number)` for every line of a whole file, in order
/// (1-based line numbers), one chunk in memory at a time.
absl::Status ForEachLine(const std::string& path, const std::function<void(absl::string_view, int64_t)>& fn);

/// CRC32C (unmasked) of a whole file, read in pieces.
absl::StatusOr<uint32_t> FileCrc32c(const std::string& path);

}  // namespace alro::data
