// data/converters/csv.h: the text helpers the converters share: an RFC 4180
// CSV field splitter (quoted fields with commas and doubled quotes), and
// Latin-1 to UTF-8 repair for the older MovieLens files. (Lines are read by
// data/converters/chunked_input.h.)
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/utf8.h"  // TruncateUtf8, used by every converter

namespace alro::data {

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

}  // namespace alro::data
