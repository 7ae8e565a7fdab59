// data/converters/rating_runs.cc: run buffers, run files and their merge.
#include "data/converters/rating_runs.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace alro::data {
namespace {

// Offsets of the fixed fields within an encoded row.
constexpr size_t kUserLenAt = 0;
constexpr size_t kItemLenAt = 4;
constexpr size_t kRatingAt = 8;
constexpr size_t kTimestampAt = 12;
constexpr size_t kSequenceAt = 20;

template <typename T>
void Put(std::string* out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));  // host order: every rank of a job shares it
  out->append(buf, sizeof(T));
}

template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Bytes of the encoded row at `p` (its header must be readable).
size_t RowBytes(const char* p) {
  return kRunRowHeaderBytes + Get<uint32_t>(p + kUserLenAt) + Get<uint32_t>(p + kItemLenAt);
}

RatingRow Decode(const char* p) {
  RatingRow r;
  const uint32_t user_len = Get<uint32_t>(p + kUserLenAt);
  const uint32_t item_len = Get<uint32_t>(p + kItemLenAt);
  r.rating = Get<float>(p + kRatingAt);
  r.timestamp = Get<int64_t>(p + kTimestampAt);
  r.sequence = Get<int64_t>(p + kSequenceAt);
  r.user = absl::string_view(p + kRunRowHeaderBytes, user_len);
  r.item = absl::string_view(p + kRunRowHeaderBytes + user_len, item_len);
  return r;
}

absl::Status IoError(const std::string& what, const std::string& path) {
  const int error = errno;
  if (error == EMFILE || error == ENFILE) {
    return UserError(absl::StatusCode::kResourceExhausted,
                     absl::StrCat(what, " ", path, ": ", std::strerror(error)),
                     "raise the open-file limit (ulimit -n), or lower --threads");
  }
  return UserError(absl::StatusCode::kDataLoss, absl::StrCat(what, " ", path, ": ", std::strerror(error)),
                   "check that the scratch directory (--scratch) has free space");
}

void EncodeRow(const RatingRow& r, std::string* out) {
  Put(out, static_cast<uint32_t>(r.user.size()));
  Put(out, static_cast<uint32_t>(r.item.size()));
  Put(out, r.rating);
  Put(out, r.timestamp);
  Put(out, r.sequence);
  out->append(r.user.data(), r.user.size());
  out->append(r.item.data(), r.item.size());
}

// A run file being written, through a write buffer.
class RunFileWriter {
 public:
  ~RunFileWriter() {
    if (file_ != nullptr) std::fclose(file_);
  }
  absl::Status Open(const std::string& path) {
    path_ = path;
    file_ = std::fopen(path.c_str(), "wb");
    return file_ == nullptr ? IoError("cannot create run file", path) : absl::OkStatus();
  }
  // The buffer to append encoded rows to; Flush() when it may be written.
  std::string* buffer() { return &buffer_; }
  void Flush(bool force = false) {
    if (buffer_.size() < kWriteBytes && !force) return;
    ok_ &= std::fwrite(buffer_.data(), 1, buffer_.size(), file_) == buffer_.size();
    buffer_.clear();
  }
  absl::Status Close() {
    Flush(/*force=*/true);
    ok_ &= std::fclose(file_) == 0;
    file_ = nullptr;
    return ok_ ? absl::OkStatus() : IoError("cannot write run file", path_);
  }

 private:
  static constexpr size_t kWriteBytes = size_t{1} << 20;
  std::string path_;
  FILE* file_ = nullptr;
  std::string buffer_;
  bool ok_ = true;
};

}  // namespace

bool RowBefore(const RatingRow& a, const RatingRow& b) {
  if (a.user != b.user) return a.user < b.user;
  if (a.timestamp != b.timestamp) return a.timestamp < b.timestamp;
  return a.sequence < b.sequence;
}

RunBuffer::RunBuffer(int64_t partitions, size_t arena_bytes)
    : arena_(new char[std::max<size_t>(1, std::min(arena_bytes, kMaxRunArenaBytes))]),
      capacity_(std::max<size_t>(1, std::min(arena_bytes, kMaxRunArenaBytes))),
      offsets_(static_cast<size_t>(std::max<int64_t>(1, partitions))) {}

void RunBuffer::Add(int64_t partition, absl::string_view user, absl::string_view item, float rating,
                    int64_t timestamp, int64_t sequence) {
  const size_t row_bytes = kRunRowHeaderBytes + user.size() + item.size();
  if (used_ + row_bytes > capacity_) {
    // Only a row longer than the spill threshold's headroom gets here.
    const size_t grown = std::max(2 * capacity_, used_ + row_bytes);
    ALRO_CHECK(grown <= kMaxRunArenaBytes, "a run buffer cannot hold rows of ", grown, " bytes");
    std::unique_ptr<char[]> bigger(new char[grown]);
    std::memcpy(bigger.get(), arena_.get(), used_);
    arena_ = std::move(bigger);
    capacity_ = grown;
  }
  std::vector<uint32_t>& offsets = offsets_[static_cast<size_t>(partition)];
  const size_t before = offsets.capacity();
  offsets.push_back(static_cast<uint32_t>(used_));
  offset_bytes_ += (offsets.capacity() - before) * sizeof(uint32_t);
  char* p = arena_.get() + used_;
  const auto put = [&p](const void* v, size_t n) {
    std::memcpy(p, v, n);  // host order: every rank of a job shares it
    p += n;
  };
  const auto user_len = static_cast<uint32_t>(user.size());
  const auto item_len = static_cast<uint32_t>(item.size());
  put(&user_len, sizeof(user_len));
  put(&item_len, sizeof(item_len));
  put(&rating, sizeof(rating));
  put(&timestamp, sizeof(timestamp));
  put(&sequence, sizeof(sequence));
  put(user.data(), user.size());
  put(item.data(), item.size());
  used_ += row_bytes;
  ++rows_;
}

absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> RunBuffer::SpillSorted(
    const std::function<std::string(int64_t)>& path) {
  std::vector<std::pair<int64_t, std::string>> written;
  const char* base = arena_.get();
  for (size_t p = 0; p < offsets_.size(); ++p) {
    std::vector<uint32_t>& offsets = offsets_[p];
    if (offsets.empty()) continue;
    std::sort(offsets.begin(), offsets.end(),
              [base](uint32_t a, uint32_t b) { return RowBefore(Decode(base + a), Decode(base + b)); });
    written.emplace_back(static_cast<int64_t>(p), path(static_cast<int64_t>(p)));
    RunFileWriter out;
    ALRO_RETURN_IF_ERROR(out.Open(written.back().second));
    for (uint32_t off : offsets) {
      out.buffer()->append(base + off, RowBytes(base + off));
      out.Flush();
    }
    ALRO_RETURN_IF_ERROR(out.Close());
    offsets.clear();
  }
  used_ = 0;
  rows_ = 0;
  return written;
}

// One run file read through a buffer.
struct RunMerger::Reader {
  FILE* file = nullptr;
  std::string path;
  std::string buffer;
  size_t capacity = 0;
  size_t pos = 0;  // start of the current row in buffer
  bool eof = false;
  RatingRow row;

  ~Reader() {
    if (file != nullptr) std::fclose(file);
  }
  // Makes `need` bytes from pos readable; false if the file ends first.
  absl::StatusOr<bool> Ensure(size_t need) {
    if (buffer.size() - pos >= need) return true;
    buffer.erase(0, pos);
    pos = 0;
    if (buffer.size() + std::max(need, capacity) > buffer.capacity()) buffer.reserve(std::max(need, capacity));
    while (buffer.size() < need && !eof) {
      const size_t want = std::max(need, capacity) - buffer.size();
      const size_t old = buffer.size();
      buffer.resize(old + want);
      const size_t got = std::fread(buffer.data() + old, 1, want, file);
      buffer.resize(old + got);
      if (got < want) {
        if (std::ferror(file)) return IoError("cannot read run file", path);
        eof = true;
      }
    }
    return buffer.size() >= need;
  }
};

RunMerger::~RunMerger() = default;

absl::StatusOr<std::unique_ptr<RunMerger>> RunMerger::Open(const std::vector<std::string>& paths,
                                                           size_t buffer_bytes) {
  std::unique_ptr<RunMerger> m(new RunMerger());
  for (const std::string& path : paths) {
    auto r = std::make_unique<Reader>();
    r->path = path;
    r->file = std::fopen(path.c_str(), "rb");
    if (r->file == nullptr) return IoError("cannot open run file", path);
    // A short run gets a buffer its size: merges of thousands of small
    // runs would otherwise allocate and clear a full buffer for each.
    struct stat st {};
    const size_t file_bytes = fstat(fileno(r->file), &st) == 0 ? static_cast<size_t>(st.st_size) : buffer_bytes;
    r->capacity = std::max<size_t>(std::min(buffer_bytes, file_bytes), kRunRowHeaderBytes);
    m->readers_.push_back(std::move(r));
  }
  for (size_t i = 0; i < m->readers_.size(); ++i) ALRO_RETURN_IF_ERROR(m->Advance(i));
  return m;
}

// Reads reader i's next row and puts it on the heap (or leaves it off at
// the end of its file).
absl::Status RunMerger::Advance(size_t i) {
  Reader& r = *readers_[i];
  ALRO_ASSIGN_OR_RETURN(bool has_header, r.Ensure(kRunRowHeaderBytes));
  if (!has_header) {
    if (r.buffer.size() != r.pos) return absl::DataLossError(absl::StrCat("run file ", r.path, " ends mid-row"));
    return absl::OkStatus();
  }
  const size_t bytes = RowBytes(r.buffer.data() + r.pos);
  ALRO_ASSIGN_OR_RETURN(bool has_row, r.Ensure(bytes));
  if (!has_row) return absl::DataLossError(absl::StrCat("run file ", r.path, " ends mid-row"));
  r.row = Decode(r.buffer.data() + r.pos);
  r.pos += bytes;
  bytes_read_ += bytes;
  heap_.push_back(i);
  std::push_heap(heap_.begin(), heap_.end(),
                 [this](size_t a, size_t b) { return RowBefore(readers_[b]->row, readers_[a]->row); });
  return absl::OkStatus();
}

absl::StatusOr<bool> RunMerger::Next(RatingRow* row) {
  if (last_ != SIZE_MAX) {
    ALRO_RETURN_IF_ERROR(Advance(last_));
    last_ = SIZE_MAX;
  }
  if (heap_.empty()) return false;
  std::pop_heap(heap_.begin(), heap_.end(),
                [this](size_t a, size_t b) { return RowBefore(readers_[b]->row, readers_[a]->row); });
  last_ = heap_.back();
  heap_.pop_back();
  *row = readers_[last_]->row;
  return true;
}

absl::StatusOr<std::vector<std::string>> ReduceRuns(std::vector<std::string> runs, size_t fan_in,
                                                    size_t buffer_bytes,
                                                    const std::function<std::string(int64_t)>& intermediate_path,
                                                    int64_t* written) {
  ALRO_CHECK(fan_in >= 2, "a merge needs a fan-in of at least 2, got ", fan_in);
  // A deque by index: runs[first..] are the runs still to merge.
  size_t first = 0;
  for (int64_t k = 0; runs.size() - first > fan_in; ++k) {
    const size_t take = std::min(fan_in, runs.size() - first - fan_in + 1);
    const std::vector<std::string> inputs(runs.begin() + static_cast<std::ptrdiff_t>(first),
                                          runs.begin() + static_cast<std::ptrdiff_t>(first + take));
    first += take;
    const std::string output = intermediate_path(k);
    {
      ALRO_ASSIGN_OR_RETURN(std::unique_ptr<RunMerger> merger, RunMerger::Open(inputs, buffer_bytes));
      RunFileWriter out;
      ALRO_RETURN_IF_ERROR(out.Open(output));
      RatingRow row;
      while (true) {
        ALRO_ASSIGN_OR_RETURN(bool more, merger->Next(&row));
        if (!more) break;
        EncodeRow(row, out.buffer());
        out.Flush();
      }
      ALRO_RETURN_IF_ERROR(out.Close());
    }
    for (const std::string& input : inputs) {
      if (std::remove(input.c_str()) != 0) return IoError("cannot remove merged run file", input);
    }
    runs.push_back(output);
    ++*written;
  }
  runs.erase(runs.begin(), runs.begin() + static_cast<std::ptrdiff_t>(first));
  return runs;
}

int64_t RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return INT64_MAX;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > static_cast<rlim_t>(INT64_MAX)) return INT64_MAX;
  return static_cast<int64_t>(limit.rlim_cur);
}

size_t MergeFanIn(int64_t open_file_limit, int mergers, int64_t memory_bytes, size_t min_buffer_bytes,
                  size_t requested) {
  const int64_t n = std::max(1, mergers);
  const int64_t by_files = (open_file_limit - kReservedOpenFiles) / n - kOpenFilesPerMerger;
  const int64_t by_memory = memory_bytes / n / static_cast<int64_t>(std::max<size_t>(1, min_buffer_bytes));
  int64_t fan_in = std::min({by_files, by_memory, static_cast<int64_t>(kMaxMergeFanIn)});
  if (requested > 0) fan_in = std::min(fan_in, static_cast<int64_t>(requested));
  return static_cast<size_t>(std::max<int64_t>(2, fan_in));
}

}  // namespace alro::data
