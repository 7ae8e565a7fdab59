// data/utf8.cc: UTF-8 text helpers.
#include "data/utf8.h"

#include <algorithm>

namespace alro::data {

std::string TruncateUtf8(absl::string_view text, size_t max_chars) {
  size_t chars = 0;
  size_t i = 0;
  while (i < text.size() && chars < max_chars) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : 4;
    i += len;
    ++chars;
  }
  return std::string(text.substr(0, std::min(i, text.size())));
}

}  // namespace alro::data
