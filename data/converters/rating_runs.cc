// data/converters/rating_runs.cc: run buffers, run files and their merge.
#include "data/converters/rating_runs.h"

#include <algorithm>
#include <cerrno>
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
  return UserError(absl::StatusCode::kDataLoss, absl::StrCat(what, " ", path, ": ", std::strerror(errno)),
                   "check that the scratch directory (--scratch) has free space");
}

}  // namespace

bool RowBefore(const RatingRow& a, const RatingRow& b) {
  if (a.user != b.user) return a.user < b.user;
  if (a.timestamp != b.timestamp) return a.timestamp < b.timestamp;
  return a.sequence < b.sequence;
}

void RunBuffer::Add(absl::string_view user, absl::string_view item, float rating, int64_t timestamp,
                    int64_t sequence) {
  offsets_.push_back(arena_.size());
  Put(&arena_, static_cast<uint32_t>(user.size()));
  Put(&arena_, static_cast<uint32_t>(item.size()));
  Put(&arena_, rating);
  Put(&arena_, timestamp);
  Put(&arena_, sequence);
  arena_.append(user.data(), user.size());
  arena_.append(item.data(), item.size());
}

absl::Status RunBuffer::SpillSorted(const std::string& path) {
  const char* base = arena_.data();
  std::sort(offsets_.begin(), offsets_.end(),
            [base](uint64_t a, uint64_t b) { return RowBefore(Decode(base + a), Decode(base + b)); });
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return IoError("cannot create run file", path);
  std::string out;
  constexpr size_t kWriteBytes = size_t{1} << 20;
  bool ok = true;
  for (uint64_t off : offsets_) {
    out.append(base + off, RowBytes(base + off));
    if (out.size() >= kWriteBytes) {
      ok &= std::fwrite(out.data(), 1, out.size(), f) == out.size();
      out.clear();
    }
  }
  ok &= std::fwrite(out.data(), 1, out.size(), f) == out.size();
  ok &= std::fclose(f) == 0;
  if (!ok) return IoError("cannot write run file", path);
  std::string().swap(arena_);
  std::vector<uint64_t>().swap(offsets_);
  return absl::OkStatus();
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
    r->capacity = std::max<size_t>(buffer_bytes, kRunRowHeaderBytes);
    r->file = std::fopen(path.c_str(), "rb");
    if (r->file == nullptr) return IoError("cannot open run file", path);
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

}  // namespace alro::data
