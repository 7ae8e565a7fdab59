// data/converters/jsonl.cc: the generic JSONL layout (docs/data.md).
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

class GenericJsonl : public InputFormat {
 public:
  GenericJsonl(std::string input, std::string metadata) : input_(std::move(input)), metadata_(std::move(metadata)) {}

  std::vector<InputFile> Files() const override {
    std::vector<InputFile> files;
    if (!metadata_.empty()) files.push_back({"metadata", metadata_});
    files.push_back({"interactions", input_});
    return files;
  }
  const std::string& ratings_path() const override { return input_; }

  absl::Status ReadItems(ItemTable* items, DropReport* drops) const override {
    if (metadata_.empty()) return absl::OkStatus();
    return ForEachLine(metadata_, [&](absl::string_view line, int64_t number) {
      if (absl::StripAsciiWhitespace(line).empty()) return;
      const std::string where = absl::StrCat(metadata_, ":", number);
      absl::StatusOr<nlohmann::json> row = ParseJson(line, where);
      if (!row.ok() || !row->is_object()) {
        return drops->Add("malformed metadata row", where, row.ok() ? "not a JSON object" : row.status().message());
      }
      if (JsonString(*row, "item").empty()) return drops->Add("malformed metadata row", where, "no 'item'");
      items->Add(ItemFromRow(*row));
    });
  }

  bool ParseRating(absl::string_view line, bool, RowSink* sink) const override {
    absl::StatusOr<nlohmann::json> row = ParseJson(line, "interaction");
    if (!row.ok() || !row->is_object()) {
      sink->Drop("malformed interaction row", row.ok() ? "not a JSON object" : std::string(row.status().message()));
      return true;
    }
    double rating = 0;
    int64_t timestamp = 0;
    if (!JsonNumber(*row, "rating", &rating)) {
      sink->Drop("bad rating", "'rating' is missing or not a number");
      return true;
    }
    if (!JsonInteger(*row, "timestamp", &timestamp)) {
      sink->Drop("bad timestamp", "'timestamp' is missing or not an integer");
      return true;
    }
    const std::string item_id = JsonString(*row, "item");
    if (!item_id.empty() && !JsonString(*row, "title").empty()) sink->AddItem(ItemFromRow(*row));
    sink->AddRating(JsonString(*row, "user"), item_id, rating, timestamp);
    return true;
  }

 private:
  std::string input_;
  std::string metadata_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<InputFormat>> OpenGenericJsonl(const std::string& input,
                                                              const std::string& metadata) {
  for (const std::string* path : {&input, &metadata}) {
    if (!path->empty() && !PathExists(*path)) {
      return UserError(absl::StatusCode::kNotFound, absl::StrCat("JSONL input ", *path, " does not exist"),
                       "check --input and --metadata");
    }
  }
  return std::unique_ptr<InputFormat>(new GenericJsonl(input, metadata));
}

}  // namespace alro::data
