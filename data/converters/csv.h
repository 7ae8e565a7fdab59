// data/converters/csv.h: the text-input helpers the converters share: a line
// reader over a memory-mapped file (with progress), an RFC 4180 CSV field
// splitter (quoted fields with commas and doubled quotes), and Latin-1 to
// UTF-8 repair for the older MovieLens files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/file_util.h"

namespace alro::data {

/// Iterates the lines of a file (without "\n" or "\r\n"; a UTF-8 byte-order
/// mark on the first line is dropped), logging progress on large files.
class LineReader {
 public:
  static absl::StatusOr<LineReader> Open(const std::string& path);

  /// Next line into `line`; false at the end of the file.
  bool Next(absl::string_view* line);
  /// 1-based number of the line Next() returned last.
  int64_t line_number() const { return line_number_; }
  const std::string& path() const { return file_.path(); }
  uint64_t size() const { return file_.size(); }
  /// "path:line" of the line Next() returned last.
  std::string Where() const;

 private:
  LineReader() = default;
  MappedFile file_;
  uint64_t pos_ = 0;
  int64_t line_number_ = 0;
  uint64_t next_progress_ = 0;
};

/// Splits one CSV line into fields. Quoted fields may contain commas and
/// doubled quotes (""). Fails (with the column) on an unterminated quote or
/// text after a closing quote.
absl::Status SplitCsvLine(absl::string_view line, std::vector<std::string>* fields);

/// Splits `line` on every occurrence of `separator` ("::", "\t", "|").
std::vector<absl::string_view> SplitOn(absl::string_view line, absl::string_view separator);

/// `text` unchanged if it is valid UTF-8, else read as Latin-1 and converted
/// (ml-100k and ml-1m titles are Latin-1).
std::string ToUtf8(absl::string_view text);

/// True when `text` is valid UTF-8.
bool IsValidUtf8(absl::string_view text);

/// The first `max_chars` code points of UTF-8 `text`.
std::string TruncateUtf8(absl::string_view text, size_t max_chars);

}  // namespace alro::data
