// common/file_util.h: file-system helpers with Status errors that name the path.
//
// Durability rule used across alro (record shards, manifests, checkpoints):
// write under a temporary name, fsync the file, rename it into place, fsync
// the directory. A crash at any moment then leaves either the old complete
// file or the new complete file, never a torn one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace alro {

/// Reads the whole file at `path`.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

/// Writes `contents` to `path` atomically (temp file, fsync, rename, fsync dir).
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

/// fsyncs the directory `dir` so that renames inside it are durable.
absl::Status SyncDirectory(const std::string& dir);

/// Creates `dir` and its parents; succeeds if it already exists. Safe when
/// several ranks race to create the same directory.
absl::Status MakeDirectories(const std::string& dir);

/// Removes `path` and everything below it; succeeds if it does not exist.
absl::Status RemoveAll(const std::string& path);

/// Atomically renames `from` to `to` and fsyncs the parent directory of `to`.
absl::Status RenameDurably(const std::string& from, const std::string& to);

/// True when `path` exists (file or directory).
bool PathExists(const std::string& path);

/// True when `path` is a directory.
bool IsDirectory(const std::string& path);

/// Names (not paths) of the entries of `dir`, sorted.
absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& dir);

/// Size of the file in bytes.
absl::StatusOr<uint64_t> FileSize(const std::string& path);

/// `a/b` with exactly one separator.
std::string JoinPath(absl::string_view a, absl::string_view b);

/// The directory part of `path` ("." when there is none).
std::string DirName(const std::string& path);

/// A read-only memory mapping of a whole file. Use it for large inputs that
/// are read in pieces (safetensors weights, record shards): the kernel pages
/// in only what is touched. Movable, not copyable; unmaps on destruction.
class MappedFile {
 public:
  /// Maps `path` read-only. An empty file maps to size() == 0.
  static absl::StatusOr<MappedFile> Open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

/// An append-only file written through a buffer. Close() flushes and fsyncs;
/// use it with a temporary name and RenameDurably for atomic results.
class SequentialFileWriter {
 public:
  /// Creates (truncates) `path`.
  static absl::StatusOr<SequentialFileWriter> Create(const std::string& path);

  SequentialFileWriter() = default;
  SequentialFileWriter(SequentialFileWriter&& other) noexcept;
  SequentialFileWriter& operator=(SequentialFileWriter&& other) noexcept;
  SequentialFileWriter(const SequentialFileWriter&) = delete;
  SequentialFileWriter& operator=(const SequentialFileWriter&) = delete;
  ~SequentialFileWriter();

  absl::Status Append(absl::string_view bytes);
  /// Flushes, fsyncs and closes the file.
  absl::Status Close();
  /// Bytes appended so far.
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  absl::Status FlushBuffer();
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string path_;
  std::string buffer_;
};

}  // namespace alro
