// data/converters/amazon.cc: Amazon review JSON lines plus their metadata
// (the Amazon-Music case of the ALRO paper).
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/json_util.h"
#include "common/status.h"
#include "data/converters/csv.h"
#include "data/converters/formats.h"
#include "data/converters/json_fields.h"

namespace alro::data {
namespace {

// Item descriptions are kept short: prompts show titles, and records stay small.
constexpr size_t kMaxDescriptionChars = 500;

absl::Status ReadMetadata(const std::string& path, RatingLogBuilder* b) {
  ALRO_ASSIGN_OR_RETURN(LineReader lines, LineReader::Open(path));
  ALRO_RETURN_IF_ERROR(b->AddInputFile(path, "metadata"));
  absl::string_view line;
  while (lines.Next(&line)) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::StatusOr<nlohmann::json> j = ParseJson(line, lines.Where());
    if (!j.ok() || !j->is_object()) {
      b->drops()->Add("malformed metadata row", lines.Where(), j.ok() ? "not a JSON object" : j.status().message());
      continue;
    }
    const std::string asin = JsonString(*j, "asin");
    const std::string title = JsonString(*j, "title");
    if (asin.empty()) {
      b->drops()->Add("malformed metadata row", lines.Where(), "no 'asin'");
      continue;
    }
    proto::Item item;
    item.set_item_id(asin);
    item.set_title(std::string(absl::StripAsciiWhitespace(title)));
    // 2018 metadata: "category": [..], "main_cat"; 2014: "categories": [[..]].
    for (const std::string& c : JsonStrings(*j, "category")) item.add_genres(c);
    if (item.genres_size() == 0) {
      for (const std::string& c : JsonStrings(*j, "categories")) item.add_genres(c);
    }
    item.set_category(JsonString(*j, "main_cat"));
    std::string description;
    for (const std::string& d : JsonStrings(*j, "description")) description += (description.empty() ? "" : " ") + d;
    item.set_description(TruncateUtf8(description, kMaxDescriptionChars));
    b->AddItem(std::move(item));
  }
  return absl::OkStatus();
}

absl::Status ReadReviews(const std::string& path, RatingLogBuilder* b) {
  ALRO_ASSIGN_OR_RETURN(LineReader lines, LineReader::Open(path));
  ALRO_RETURN_IF_ERROR(b->AddInputFile(path, "reviews"));
  absl::string_view line;
  while (lines.Next(&line)) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    b->CountRow();
    absl::StatusOr<nlohmann::json> j = ParseJson(line, lines.Where());
    if (!j.ok() || !j->is_object()) {
      b->drops()->Add("malformed review row", lines.Where(), j.ok() ? "not a JSON object" : j.status().message());
      continue;
    }
    double rating = 0;
    int64_t timestamp = 0;
    if (!JsonNumber(*j, "overall", &rating)) {
      b->drops()->Add("bad rating", lines.Where(), "'overall' is missing or not a number");
      continue;
    }
    if (!JsonInteger(*j, "unixReviewTime", &timestamp)) {
      b->drops()->Add("bad timestamp", lines.Where(), "'unixReviewTime' is missing or not an integer");
      continue;
    }
    b->AddRating(JsonString(*j, "reviewerID"), JsonString(*j, "asin"), rating, timestamp, lines.Where());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RatingLog> ReadAmazon(const std::string& reviews, const std::string& metadata, DropReport* drops) {
  if (metadata.empty()) {
    return InvalidArgument("--format amazon needs --metadata (the meta_*.json file with titles)",
                           "pass the metadata JSON lines of the same category");
  }
  RatingLogBuilder builder(drops);
  ALRO_RETURN_IF_ERROR(ReadMetadata(metadata, &builder));
  ALRO_RETURN_IF_ERROR(ReadReviews(reviews, &builder));
  return builder.Finish();
}

}  // namespace alro::data
