// data/converters/rating_log.h: the in-memory form every input format is read
// into before splitting: an item table and each user's ratings. Readers add
// rows through RatingLogBuilder, which rejects (and reports) bad rows.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "data/drop_report.h"
#include "data/list_example.pb.h"
#include "nlohmann/json.hpp"

namespace alro::data {

/// One rating of a user, before splitting.
struct RatingEvent {
  int32_t item = 0;        ///< index into RatingLog::items
  float rating = 0.0f;
  int64_t timestamp = 0;
  int64_t sequence = 0;    ///< input order; breaks timestamp ties deterministically
};

/// Everything a converter read.
struct RatingLog {
  std::vector<proto::Item> items;
  /// User id -> ratings in input order. std::map: users come out sorted, so
  /// the output does not depend on hash order.
  std::map<std::string, std::vector<RatingEvent>> users;
  /// The input files with sizes and CRCs (for the manifest).
  nlohmann::json inputs = nlohmann::json::array();
  int64_t rows_read = 0;
};

/// Collects items and ratings, validating each row.
class RatingLogBuilder {
 public:
  explicit RatingLogBuilder(DropReport* drops) : drops_(drops) {}

  /// Adds (or completes) an item. A later definition of the same id with a
  /// title fills a missing title; otherwise the first definition wins.
  void AddItem(proto::Item item);
  /// True when an item with `item_id` was added.
  bool HasItem(const std::string& item_id) const { return index_.count(item_id) > 0; }

  /// Adds one rating row; `where` is "file:line". The item may be defined
  /// later; Finish() drops ratings of items that never got a title.
  void AddRating(const std::string& user_id, const std::string& item_id, double rating, int64_t timestamp,
                 const std::string& where);

  /// Parses rating/timestamp text and adds the row, or reports why not.
  void AddRatingText(const std::string& user_id, const std::string& item_id, absl::string_view rating,
                     absl::string_view timestamp, const std::string& where);

  /// Records an input file (size and CRC32C) in RatingLog::inputs.
  absl::Status AddInputFile(const std::string& path, const std::string& role);

  /// Counts a line read.
  void CountRow() { ++log_.rows_read; }
  DropReport* drops() { return drops_; }

  /// Drops ratings of items that never got a title (reported), and returns
  /// the log.
  RatingLog Finish();

 private:
  DropReport* drops_;
  RatingLog log_;
  std::unordered_map<std::string, int32_t> index_;
  int64_t sequence_ = 0;
};

/// Splits "Title (1995)" into title and year (0 when there is none).
void SplitTitleYear(const std::string& text, std::string* title, int32_t* year);

}  // namespace alro::data
