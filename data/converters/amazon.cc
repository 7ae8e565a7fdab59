// data/converters/amazon.cc: Amazon review JSON lines plus their metadata
// (the Amazon-Music case of the ALRO paper).
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/json_util.h"
#include "common/status.h"
#include "data/converters/chunked_input.h"
#include "data/converters/csv.h"
#include "data/converters/formats.h"
#include "data/converters/json_fields.h"

namespace alro::data {
namespace {

// Item descriptions are kept short: prompts show titles, and records stay small.
constexpr size_t kMaxDescriptionChars = 500;

class Amazon : public InputFormat {
 public:
  Amazon(std::string reviews, std::string metadata) : reviews_(std::move(reviews)), metadata_(std::move(metadata)) {}

  std::vector<InputFile> Files() const override { return {{"metadata", metadata_}, {"reviews", reviews_}}; }
  const std::string& ratings_path() const override { return reviews_; }

  absl::Status ReadItems(ItemTable* items, DropReport* drops) const override {
    return ForEachLine(metadata_, [&](absl::string_view line, int64_t number) {
      if (absl::StripAsciiWhitespace(line).empty()) return;
      const std::string where = absl::StrCat(metadata_, ":", number);
      absl::StatusOr<nlohmann::json> j = ParseJson(line, where);
      if (!j.ok() || !j->is_object()) {
        return drops->Add("malformed metadata row", where, j.ok() ? "not a JSON object" : j.status().message());
      }
      const std::string asin = JsonString(*j, "asin");
      if (asin.empty()) return drops->Add("malformed metadata row", where, "no 'asin'");
      proto::Item item;
      item.set_item_id(asin);
      item.set_title(std::string(absl::StripAsciiWhitespace(JsonString(*j, "title"))));
      // 2018 metadata: "category": [..], "main_cat"; 2014: "categories": [[..]].
      for (const std::string& c : JsonStrings(*j, "category")) item.add_genres(c);
      if (item.genres_size() == 0) {
        for (const std::string& c : JsonStrings(*j, "categories")) item.add_genres(c);
      }
      item.set_category(JsonString(*j, "main_cat"));
      std::string description;
      for (const std::string& d : JsonStrings(*j, "description")) description += (description.empty() ? "" : " ") + d;
      item.set_description(TruncateUtf8(description, kMaxDescriptionChars));
      items->Add(std::move(item));
    });
  }

  bool ParseRating(absl::string_view line, bool, RowSink* sink) const override {
    absl::StatusOr<nlohmann::json> j = ParseJson(line, "review");
    if (!j.ok() || !j->is_object()) {
      sink->Drop("malformed review row", j.ok() ? "not a JSON object" : std::string(j.status().message()));
      return true;
    }
    double rating = 0;
    int64_t timestamp = 0;
    if (!JsonNumber(*j, "overall", &rating)) {
      sink->Drop("bad rating", "'overall' is missing or not a number");
    } else if (!JsonInteger(*j, "unixReviewTime", &timestamp)) {
      sink->Drop("bad timestamp", "'unixReviewTime' is missing or not an integer");
    } else {
      sink->AddRating(JsonString(*j, "reviewerID"), JsonString(*j, "asin"), rating, timestamp);
    }
    return true;
  }

 private:
  std::string reviews_;
  std::string metadata_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<InputFormat>> OpenAmazon(const std::string& reviews, const std::string& metadata) {
  if (metadata.empty()) {
    return InvalidArgument("--format amazon needs --metadata (the meta_*.json file with titles)",
                           "pass the metadata JSON lines of the same category");
  }
  for (const std::string* path : {&reviews, &metadata}) {
    if (!PathExists(*path)) {
      return UserError(absl::StatusCode::kNotFound, absl::StrCat("Amazon input ", *path, " does not exist"),
                       "check --input and --metadata");
    }
  }
  return std::unique_ptr<InputFormat>(new Amazon(reviews, metadata));
}

}  // namespace alro::data
