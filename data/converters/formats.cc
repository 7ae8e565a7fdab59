// data/converters/formats.cc: the format name -> reader dispatch.
#include "data/converters/formats.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace alro::data {

absl::StatusOr<std::unique_ptr<InputFormat>> OpenInputFormat(const std::string& format, const std::string& input,
                                                             const std::string& metadata) {
  if (format == "movielens") return OpenMovieLens(input);
  if (format == "amazon") return OpenAmazon(input, metadata);
  if (format == "jsonl") return OpenGenericJsonl(input, metadata);
  return InvalidArgument(absl::StrCat("--format '", format, "' is unknown"), "use movielens, amazon or jsonl");
}

}  // namespace alro::data
