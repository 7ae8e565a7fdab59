// common/file_util.cc: POSIX implementations of the helpers in file_util.h.
#include "common/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace alro {
namespace {

constexpr size_t kWriteBufferSize = 1 << 20;

absl::Status ErrnoError(const std::string& op, const std::string& path, int err) {
  absl::StatusCode code = absl::StatusCode::kInternal;
  std::string hint;
  if (err == ENOENT) {
    code = absl::StatusCode::kNotFound;
    hint = "check the path (relative paths are resolved from the current directory)";
  } else if (err == EACCES || err == EPERM) {
    code = absl::StatusCode::kPermissionDenied;
    hint = "check the permissions of the file and its directory";
  } else if (err == ENOSPC || err == EDQUOT) {
    code = absl::StatusCode::kResourceExhausted;
    hint = "free space on that file system or write elsewhere";
  }
  return UserError(code, absl::StrCat(op, " ", path, ": ", std::strerror(err)), hint);
}

std::string TempNameFor(const std::string& path) {
  // pid + random suffix: two ranks writing the same target never share a temp.
  static thread_local std::mt19937_64 rng(std::random_device{}() ^ (uint64_t(getpid()) << 32));
  return absl::StrCat(path, ".tmp.", getpid(), ".", rng() % 1000000);
}

absl::Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write", path, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path, errno);
  std::string out;
  char buf[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return ErrnoError("read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open directory", dir, errno);
  // Some network file systems refuse fsync on directories; that is not an error
  // we can do anything about, so only real I/O errors are reported.
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
    const int err = errno;
    ::close(fd);
    return ErrnoError("fsync directory", dir, err);
  }
  ::close(fd);
  return absl::OkStatus();
}

absl::Status RenameDurably(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoError("rename to " + to, from, errno);
  return SyncDirectory(DirName(to));
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  ALRO_ASSIGN_OR_RETURN(SequentialFileWriter writer, SequentialFileWriter::Create(TempNameFor(path)));
  const std::string temp = writer.path();
  absl::Status status = writer.Append(contents);
  if (status.ok()) status = writer.Close();
  if (status.ok()) status = RenameDurably(temp, path);
  if (!status.ok()) ::unlink(temp.c_str());
  return status;
}

absl::Status MakeDirectories(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // Another rank may have created it between our check and our mkdir.
  if (ec && !IsDirectory(dir)) return ErrnoError("create directory", dir, ec.value());
  return absl::OkStatus();
}

absl::Status RemoveAll(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return ErrnoError("remove", path, ec.value());
  return absl::OkStatus();
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoError("list directory", dir, errno);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("stat", path, errno);
  return static_cast<uint64_t>(st.st_size);
}

std::string JoinPath(absl::string_view a, absl::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  const bool a_slash = a.back() == '/';
  const bool b_slash = b.front() == '/';
  if (a_slash && b_slash) return absl::StrCat(a, b.substr(1));
  if (a_slash || b_slash) return absl::StrCat(a, b);
  return absl::StrCat(a, "/", b);
}

std::string DirName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// ---- MappedFile

absl::StatusOr<MappedFile> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return ErrnoError("stat", path, err);
  }
  MappedFile file;
  file.path_ = path;
  file.size_ = static_cast<size_t>(st.st_size);
  if (file.size_ > 0) {
    void* p = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return ErrnoError("mmap", path, err);
    }
    file.data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

// ---- SequentialFileWriter

absl::StatusOr<SequentialFileWriter> SequentialFileWriter::Create(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("create", path, errno);
  SequentialFileWriter writer;
  writer.fd_ = fd;
  writer.path_ = path;
  writer.buffer_.reserve(kWriteBufferSize);
  return writer;
}

SequentialFileWriter::SequentialFileWriter(SequentialFileWriter&& other) noexcept {
  *this = std::move(other);
}

SequentialFileWriter& SequentialFileWriter::operator=(SequentialFileWriter&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = std::exchange(other.size_, 0);
    path_ = std::move(other.path_);
    buffer_ = std::move(other.buffer_);
  }
  return *this;
}

SequentialFileWriter::~SequentialFileWriter() {
  if (fd_ >= 0) ::close(fd_);  // abandoned without Close(): the caller discards the temp.
}

absl::Status SequentialFileWriter::Append(absl::string_view bytes) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("append to closed file ", path_));
  size_ += bytes.size();
  if (buffer_.size() + bytes.size() > kWriteBufferSize) {
    ALRO_RETURN_IF_ERROR(FlushBuffer());
    if (bytes.size() >= kWriteBufferSize) return WriteAll(fd_, bytes.data(), bytes.size(), path_);
  }
  buffer_.append(bytes.data(), bytes.size());
  return absl::OkStatus();
}

absl::Status SequentialFileWriter::FlushBuffer() {
  ALRO_RETURN_IF_ERROR(WriteAll(fd_, buffer_.data(), buffer_.size(), path_));
  buffer_.clear();
  return absl::OkStatus();
}

absl::Status SequentialFileWriter::Close() {
  if (fd_ < 0) return absl::OkStatus();
  ALRO_RETURN_IF_ERROR(FlushBuffer());
  if (::fsync(fd_) != 0) return ErrnoError("fsync", path_, errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    return ErrnoError("close", path_, errno);
  }
  fd_ = -1;
  return absl::OkStatus();
}

}  // namespace alro
