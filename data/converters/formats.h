// data/converters/formats.h: the input formats `alro convert` understands.
// Each is an InputFormat: it reads the item file(s) whole into an ItemTable
// and parses the ratings file one line at a time into a RowSink, so the
// converter can read the ratings in chunks on every thread and rank. Every
// malformed row is reported with its file and line; none is dropped
// silently. docs/data.md documents the generic JSONL layout.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/converters/rating_log.h"
#include "data/drop_report.h"

namespace alro::data {

/// One input file and its role ("items", "ratings", "metadata", ...).
struct InputFile {
  std::string role;
  std::string path;
};

/// A reader of one input format.
class InputFormat {
 public:
  virtual ~InputFormat() = default;
  /// The input files, item files first (recorded in the manifest).
  virtual std::vector<InputFile> Files() const = 0;
  /// The file whose lines are ratings.
  virtual const std::string& ratings_path() const = 0;
  /// Reads the item file(s) into `items`, reporting bad rows to `drops`.
  virtual absl::Status ReadItems(ItemTable* items, DropReport* drops) const = 0;
  /// Parses one non-blank line of the ratings file. Returns false for a
  /// header line (not a row); `first_line` is true for the file's line 1.
  virtual bool ParseRating(absl::string_view line, bool first_line, RowSink* sink) const = 0;
};

/// Opens `format` (movielens | amazon | jsonl) on `input` (and `metadata`).
///   movielens: `input` is the download's directory (or one of its files);
///     the layout is recognised from the files present:
///       ml-100k         u.data (tab-separated) + u.item ('|', Latin-1)
///       ml-1m / ml-10m  ratings.dat + movies.dat ("::")
///       ml-latest(-small), ml-20m, ml-25m   ratings.csv + movies.csv (quoted CSV)
///   amazon: review JSON lines (reviewerID, asin, overall, unixReviewTime)
///     and the metadata JSON lines (asin, title, category or categories,
///     description, main_cat) given as `metadata` (required).
///   jsonl: one interaction per line {"user", "item", "rating",
///     "timestamp"[, "title", "year", "genres", "category", "description"]};
///     item attributes may instead come from `metadata` (lines {"item",
///     "title", ...}); "" = none.
absl::StatusOr<std::unique_ptr<InputFormat>> OpenInputFormat(const std::string& format, const std::string& input,
                                                             const std::string& metadata);

/// The MovieLens reader (see OpenInputFormat).
absl::StatusOr<std::unique_ptr<InputFormat>> OpenMovieLens(const std::string& input);
/// The Amazon reader (see OpenInputFormat).
absl::StatusOr<std::unique_ptr<InputFormat>> OpenAmazon(const std::string& reviews, const std::string& metadata);
/// The generic JSONL reader (see OpenInputFormat).
absl::StatusOr<std::unique_ptr<InputFormat>> OpenGenericJsonl(const std::string& input,
                                                              const std::string& metadata);

}  // namespace alro::data
