// common/json_util.cc: Status-returning wrappers around nlohmann::json.
#include "common/json_util.h"

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status.h"

namespace alro {

absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text, absl::string_view where) {
  nlohmann::json value = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                               /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    // Parse again with exceptions only to learn where it failed.
    try {
      const nlohmann::json unreachable = nlohmann::json::parse(text.begin(), text.end());
      static_cast<void>(unreachable);
    } catch (const nlohmann::json::parse_error& e) {
      return InvalidArgument(absl::StrCat(where, ": invalid JSON at byte ", e.byte, ": ", e.what()),
                             "the file is not valid JSON; regenerate it or fix it by hand");
    } catch (const nlohmann::json::exception& e) {
      // Not a syntax error: a number too large for a double (out_of_range 406).
      return InvalidArgument(absl::StrCat(where, ": invalid JSON: ", e.what()),
                             "the file is not valid JSON for alro; regenerate it or fix it by hand");
    }
    return InvalidArgument(absl::StrCat(where, ": invalid JSON"));
  }
  return value;
}

absl::StatusOr<nlohmann::json> ReadJsonFile(const std::string& path) {
  ALRO_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseJson(text, path);
}

}  // namespace alro
