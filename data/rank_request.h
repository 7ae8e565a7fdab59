// data/rank_request.h: one line of `alro rank`'s JSONL input:
//   {"id": "u1", "history": [{"title": "Heat", "year": 1995, "rating": 4.5}, ...],
//    "candidates": [{"id": "m7", "title": "Up", "year": 2009, "genres": ["Animation"]}, ...]}
// (history and candidate objects may carry "rating_count" and "mean_rating",
// the item statistics of prompts that show {count} {mean}), parsed into the ListExample the prompt renderer takes. Torch-free, so the
// parser can be fuzzed on its own (fuzz/).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/list_example.pb.h"

namespace alro::data {

/// One parsed request.
struct RankRequest {
  std::string id;  ///< the request's "id" (a non-string id is kept as its JSON text), else `where`
  proto::ListExample example;
  std::vector<std::string> candidate_ids;  ///< each candidate's "id", else its index
};

/// Parses one line; `where` ("file:line") names it in errors, and a request
/// with more than `max_candidates` candidates (the model's identifiers) is an
/// error.
absl::StatusOr<RankRequest> ParseRankRequest(const std::string& line, const std::string& where,
                                             size_t max_candidates);

}  // namespace alro::data
