// data/converters/chunked_input.cc: chunked line reading with pread.
#include "data/converters/chunked_input.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/status.h"

namespace alro::data {
namespace {

constexpr char kUtf8Bom[] = "\xef\xbb\xbf";
constexpr size_t kUtf8BomSize = 3;
// A line longer than the chunk is read on in pieces of this size.
constexpr uint64_t kReadOnBytes = uint64_t{1} << 16;
// Chunk size of ForEachLine.
constexpr uint64_t kSequentialChunkBytes = uint64_t{4} << 20;
// Piece size of FileCrc32c.
constexpr uint64_t kChecksumPiece = uint64_t{1} << 20;

// An open file descriptor, closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status OpenError(const std::string& path) {
  return UserError(absl::StatusCode::kNotFound, absl::StrCat("cannot open ", path, ": ", std::strerror(errno)),
                   "check the path and its permissions");
}

// Appends bytes [offset, offset + n) of the file (fewer at its end).
absl::Status AppendRange(int fd, const std::string& path, uint64_t offset, uint64_t n, std::string* out) {
  const size_t start = out->size();
  out->resize(start + n);
  uint64_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd, out->data() + start + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return absl::DataLossError(absl::StrCat("reading ", path, " at byte ", offset + done, ": ", std::strerror(errno)));
    }
    if (got == 0) break;
    done += static_cast<uint64_t>(got);
  }
  out->resize(start + done);
  return absl::OkStatus();
}

}  // namespace

int64_t ChunkCount(uint64_t file_bytes, uint64_t chunk_bytes) {
  if (file_bytes == 0) return 1;
  return static_cast<int64_t>((file_bytes + chunk_bytes - 1) / chunk_bytes);
}

absl::StatusOr<int64_t> ForEachLineOfChunk(const std::string& path, uint64_t file_bytes, uint64_t chunk_bytes,
                                           int64_t chunk, std::string* buffer, const ChunkLineFn& fn) {
  const uint64_t begin = static_cast<uint64_t>(chunk) * chunk_bytes;
  const uint64_t end = std::min(file_bytes, begin + chunk_bytes);
  if (begin >= file_bytes) return 0;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return OpenError(path);
  // The buffer starts one byte early, to see whether `begin` starts a line.
  const uint64_t base = begin == 0 ? 0 : begin - 1;
  buffer->clear();
  ALRO_RETURN_IF_ERROR(AppendRange(fd.get(), path, base, end - base, buffer));
  uint64_t pos = 0;  // into buffer
  if (begin > 0) {
    if ((*buffer)[0] != '\n') {
      // Inside a line that an earlier chunk owns: skip to its end.
      while (true) {
        const void* nl = std::memchr(buffer->data() + pos, '\n', buffer->size() - pos);
        if (nl != nullptr) {
          pos = static_cast<uint64_t>(static_cast<const char*>(nl) - buffer->data()) + 1;
          break;
        }
        pos = buffer->size();
        if (base + pos >= file_bytes) return 0;
        ALRO_RETURN_IF_ERROR(AppendRange(fd.get(), path, base + buffer->size(), kReadOnBytes, buffer));
      }
    } else {
      pos = 1;
    }
  } else {
    if (buffer->size() < kUtf8BomSize) {
      ALRO_RETURN_IF_ERROR(AppendRange(fd.get(), path, buffer->size(), kUtf8BomSize - buffer->size(), buffer));
    }
    if (buffer->size() >= kUtf8BomSize && std::memcmp(buffer->data(), kUtf8Bom, kUtf8BomSize) == 0) {
      pos = kUtf8BomSize;
    }
  }
  int64_t lines = 0;
  // The file's first line starts at byte 0 even when a byte-order mark
  // pushes its text further than a tiny chunk.
  bool first_line = begin == 0 && pos < file_bytes;
  while (base + pos < end || first_line) {
    first_line = false;
    const uint64_t line_start = pos;
    const char* nl = nullptr;
    while (true) {
      nl = static_cast<const char*>(std::memchr(buffer->data() + pos, '\n', buffer->size() - pos));
      if (nl != nullptr || base + buffer->size() >= file_bytes) break;
      // The chunk's last line runs past its end: read on.
      pos = buffer->size();
      ALRO_RETURN_IF_ERROR(AppendRange(fd.get(), path, base + buffer->size(), kReadOnBytes, buffer));
    }
    const uint64_t line_end = nl != nullptr ? static_cast<uint64_t>(nl - buffer->data()) : buffer->size();
    uint64_t len = line_end - line_start;
    if (len > 0 && (*buffer)[line_start + len - 1] == '\r') --len;
    ++lines;
    fn(absl::string_view(buffer->data() + line_start, len), base + line_start, lines);
    pos = line_end + 1;
  }
  return lines;
}

absl::Status ForEachLine(const std::string& path, const std::function<void(absl::string_view, int64_t)>& fn) {
  ALRO_ASSIGN_OR_RETURN(uint64_t bytes, FileSize(path));
  std::string buffer;
  int64_t lines_before = 0;
  for (int64_t c = 0; c < ChunkCount(bytes, kSequentialChunkBytes); ++c) {
    ALRO_ASSIGN_OR_RETURN(int64_t lines,
                          ForEachLineOfChunk(path, bytes, kSequentialChunkBytes, c, &buffer,
                                             [&](absl::string_view line, uint64_t, int64_t line_in_chunk) {
                                               fn(line, lines_before + line_in_chunk);
                                             }));
    lines_before += lines;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> FileCrc32c(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return OpenError(path);
  uint32_t crc = 0;
  std::string piece;
  for (uint64_t offset = 0;; offset += kChecksumPiece) {
    piece.clear();
    ALRO_RETURN_IF_ERROR(AppendRange(fd.get(), path, offset, kChecksumPiece, &piece));
    if (piece.empty()) break;
    crc = crc32c::Extend(crc, piece.data(), piece.size());
  }
  return crc;
}

}  // namespace alro::data
