// data/converters/rating_log.h: what the input formats are read into. Items
// are read whole into an ItemTable (item metadata stays in memory); rating
// rows are parsed a chunk at a time into a RowSink, which the converter
// implements (data/converters/convert.cc), so that no reader ever holds the
// ratings of the whole input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "data/list_example.pb.h"

namespace alro::data {

/// One rating of a user, after grouping.
struct RatingEvent {
  int32_t item = 0;        ///< index into the ItemTable
  float rating = 0.0f;
  int64_t timestamp = 0;
  int64_t sequence = 0;    ///< input order (byte offset); breaks timestamp ties deterministically
};

/// The items of a data set, in definition order, looked up by id.
class ItemTable {
 public:
  /// Adds (or completes) an item. A later definition of the same id with a
  /// title fills a missing title; otherwise the first definition wins.
  void Add(proto::Item item);
  /// Index of `item_id`, or -1.
  int32_t Find(absl::string_view item_id) const;
  const proto::Item& item(int32_t index) const { return items_[static_cast<size_t>(index)]; }
  const std::vector<proto::Item>& items() const { return items_; }
  int32_t size() const { return static_cast<int32_t>(items_.size()); }
  /// Approximate heap bytes held (protos, strings, the id index), for the
  /// memory budget.
  int64_t ApproxBytes() const;

 private:
  std::vector<proto::Item> items_;
  absl::flat_hash_map<std::string, int32_t> index_;
};

/// Receives the rows of one chunk of a ratings file. The parser calls one
/// of these per row; the row's place (file, line) is known to the sink.
class RowSink {
 public:
  virtual ~RowSink() = default;
  /// A rating row; empty ids and non-finite ratings are dropped (reported).
  void AddRating(absl::string_view user_id, absl::string_view item_id, double rating, int64_t timestamp);
  /// Parses rating/timestamp text and adds the row, or reports why not
  /// (integral or float timestamps are accepted).
  void AddRatingText(absl::string_view user_id, absl::string_view item_id, absl::string_view rating,
                     absl::string_view timestamp);
  /// An item defined inline by a rating row (generic JSONL).
  virtual void AddItem(proto::Item item) = 0;
  /// Drops the current row: `reason` is the category, `detail` says why.
  virtual void Drop(absl::string_view reason, std::string detail) = 0;

 protected:
  /// A validated rating row.
  virtual void Accept(absl::string_view user_id, absl::string_view item_id, float rating, int64_t timestamp) = 0;
};

/// Splits "Title (1995)" into title and year (0 when there is none).
void SplitTitleYear(const std::string& text, std::string* title, int32_t* year);

}  // namespace alro::data
