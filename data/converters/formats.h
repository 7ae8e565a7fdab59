// data/converters/formats.h: readers of the input formats `alro convert`
// understands. Each fills a RatingLog and reports every malformed row (with
// its file and line) to the DropReport; none drops anything silently.
// docs/data.md documents the generic JSONL layout.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "data/converters/rating_log.h"
#include "data/drop_report.h"

namespace alro::data {

/// Reads a MovieLens download. `input` is its directory (or one of its
/// files); the layout is recognised from the files present:
///   ml-100k         u.data (tab-separated) + u.item ('|', Latin-1)
///   ml-1m / ml-10m  ratings.dat + movies.dat ("::")
///   ml-latest(-small), ml-20m, ml-25m   ratings.csv + movies.csv (quoted CSV)
absl::StatusOr<RatingLog> ReadMovieLens(const std::string& input, DropReport* drops);

/// Reads Amazon review JSON lines (reviewerID, asin, overall,
/// unixReviewTime) and the metadata JSON lines (asin, title, category or
/// categories, description, main_cat) given as `metadata`.
absl::StatusOr<RatingLog> ReadAmazon(const std::string& reviews, const std::string& metadata, DropReport* drops);

/// Reads the generic JSONL layout: one interaction per line
/// {"user", "item", "rating", "timestamp"[, "title", "year", "genres",
/// "category", "description"]}; item attributes may instead come from
/// `metadata` (lines {"item", "title", ...}); "" = none.
absl::StatusOr<RatingLog> ReadGenericJsonl(const std::string& input, const std::string& metadata,
                                           DropReport* drops);

}  // namespace alro::data
