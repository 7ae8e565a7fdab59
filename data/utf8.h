// data/utf8.h: UTF-8 text helpers shared by the converters and the prompt
// renderer.
#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace alro::data {

/// The first `max_chars` code points of UTF-8 `text`.
std::string TruncateUtf8(absl::string_view text, size_t max_chars);

}  // namespace alro::data
