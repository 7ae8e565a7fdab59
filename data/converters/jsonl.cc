// data/converters/jsonl.cc: the generic JSONL layout (docs/data.md).
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/json_util.h"
#include "common/status.h"
#include "data/converters/csv.h"
#include "data/converters/formats.h"
#include "data/converters/json_fields.h"

namespace alro::data {
namespace {

constexpr size_t kMaxDescriptionChars = 500;

// The item attributes of a row ({"item", "title", "year", ...}).
proto::Item ItemFromRow(const nlohmann::json& row) {
  proto::Item item;
  item.set_item_id(JsonString(row, "item"));
  item.set_title(std::string(absl::StripAsciiWhitespace(JsonString(row, "title"))));
  int64_t year = 0;
  if (JsonInteger(row, "year", &year)) item.set_year(static_cast<int32_t>(year));
  for (const std::string& g : JsonStrings(row, "genres")) item.add_genres(g);
  item.set_category(JsonString(row, "category"));
  item.set_description(TruncateUtf8(JsonString(row, "description"), kMaxDescriptionChars));
  return item;
}

absl::StatusOr<nlohmann::json> ParseRow(LineReader& lines, absl::string_view line, const char* what,
                                        DropReport* drops) {
  absl::StatusOr<nlohmann::json> j = ParseJson(line, lines.Where());
  if (j.ok() && j->is_object()) return j;
  drops->Add(what, lines.Where(), j.ok() ? "not a JSON object" : j.status().message());
  return absl::InvalidArgumentError("skipped");
}

}  // namespace

absl::StatusOr<RatingLog> ReadGenericJsonl(const std::string& input, const std::string& metadata,
                                           DropReport* drops) {
  RatingLogBuilder b(drops);
  absl::string_view line;
  if (!metadata.empty()) {
    ALRO_ASSIGN_OR_RETURN(LineReader lines, LineReader::Open(metadata));
    ALRO_RETURN_IF_ERROR(b.AddInputFile(metadata, "metadata"));
    while (lines.Next(&line)) {
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      absl::StatusOr<nlohmann::json> row = ParseRow(lines, line, "malformed metadata row", drops);
      if (!row.ok()) continue;
      if (JsonString(*row, "item").empty()) {
        drops->Add("malformed metadata row", lines.Where(), "no 'item'");
        continue;
      }
      b.AddItem(ItemFromRow(*row));
    }
  }
  ALRO_ASSIGN_OR_RETURN(LineReader lines, LineReader::Open(input));
  ALRO_RETURN_IF_ERROR(b.AddInputFile(input, "interactions"));
  while (lines.Next(&line)) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    b.CountRow();
    absl::StatusOr<nlohmann::json> row = ParseRow(lines, line, "malformed interaction row", drops);
    if (!row.ok()) continue;
    double rating = 0;
    int64_t timestamp = 0;
    if (!JsonNumber(*row, "rating", &rating)) {
      drops->Add("bad rating", lines.Where(), "'rating' is missing or not a number");
      continue;
    }
    if (!JsonInteger(*row, "timestamp", &timestamp)) {
      drops->Add("bad timestamp", lines.Where(), "'timestamp' is missing or not an integer");
      continue;
    }
    const std::string item_id = JsonString(*row, "item");
    if (!item_id.empty() && !JsonString(*row, "title").empty()) b.AddItem(ItemFromRow(*row));
    b.AddRating(JsonString(*row, "user"), item_id, rating, timestamp, lines.Where());
  }
  return b.Finish();
}

}  // namespace alro::data
