// data/rank_request.cc: a JSONL rank request -> ListExample.
#include "data/rank_request.h"

#include <limits>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "common/json_util.h"
#include "common/status.h"

namespace alro::data {
namespace {

constexpr char kHint[] = "each line is {\"id\": ..., \"history\": [{\"title\", \"rating\"}...], "
                         "\"candidates\": [{\"id\", \"title\"}...]}";

// The number at `key` of `j` (default when absent) if it fits T; converting
// an out-of-range double to an integer or float is undefined behaviour, so
// such values are errors.
template <typename T>
absl::StatusOr<T> Number(const nlohmann::json& j, const char* key, T fallback, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  const bool integral_ok = std::is_integral_v<T> ? it->is_number_integer() : it->is_number();
  if (integral_ok) {
    const double v = it->get<double>();
    if (v >= double(std::numeric_limits<T>::lowest()) && v <= double(std::numeric_limits<T>::max())) {
      return it->get<T>();
    }
  }
  return UserError(absl::StatusCode::kInvalidArgument,
                   absl::StrCat(where, ": \"", key, "\" is ", it->dump(), ", not ",
                                std::is_integral_v<T> ? "an integer" : "a number", " in range"),
                   kHint);
}

// Fills the interaction's item, and its item statistics when the object has
// "rating_count" (and "mean_rating") for prompts that show {count} {mean}.
absl::Status FillInteraction(const nlohmann::json& j, const std::string& where, proto::Interaction* x) {
  proto::Item* item = x->mutable_item();
  item->set_item_id(j.value("id", ""));
  item->set_title(j.value("title", ""));
  ALRO_ASSIGN_OR_RETURN(const int32_t year, Number<int32_t>(j, "year", 0, where));
  item->set_year(year);
  for (const auto& g : j.value("genres", nlohmann::json::array())) item->add_genres(g.get<std::string>());
  item->set_category(j.value("category", ""));
  if (j.contains("rating_count")) {
    ALRO_ASSIGN_OR_RETURN(const int64_t count, Number<int64_t>(j, "rating_count", 0, where));
    ALRO_ASSIGN_OR_RETURN(const float mean, Number<float>(j, "mean_rating", 0.0f, where));
    x->mutable_item_stats()->set_count(count);
    x->mutable_item_stats()->set_mean(mean);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RankRequest> ParseRankRequest(const std::string& line, const std::string& where,
                                             size_t max_candidates) {
  ALRO_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(line, where));
  try {
    if (!j.is_object() || !j.contains("candidates") || !j["candidates"].is_array() || j["candidates"].empty()) {
      return UserError(absl::StatusCode::kInvalidArgument, absl::StrCat(where, ": no \"candidates\" array"), kHint);
    }
    if (j["candidates"].size() > max_candidates) {
      return UserError(absl::StatusCode::kInvalidArgument,
                       absl::StrCat(where, ": ", j["candidates"].size(), " candidates, but the model has ",
                                    max_candidates, " identifiers"),
                       "split the request or train with more prompt.identifiers");
    }
    RankRequest r;
    r.id = j.contains("id") ? (j["id"].is_string() ? j["id"].get<std::string>() : j["id"].dump()) : where;
    r.example.set_example_id(r.id);
    r.example.set_user_id(j.value("user", r.id));
    for (const nlohmann::json& h : j.value("history", nlohmann::json::array())) {
      proto::Interaction* x = r.example.add_history();
      ALRO_RETURN_IF_ERROR(FillInteraction(h, where, x));
      ALRO_ASSIGN_OR_RETURN(const float rating, Number<float>(h, "rating", 0.0f, where));
      ALRO_ASSIGN_OR_RETURN(const int64_t timestamp, Number<int64_t>(h, "timestamp", 0, where));
      x->set_rating(rating);
      x->set_timestamp(timestamp);
    }
    for (const nlohmann::json& c : j["candidates"]) {
      proto::Interaction* x = r.example.add_candidates();
      ALRO_RETURN_IF_ERROR(FillInteraction(c, where, x));
      r.candidate_ids.push_back(c.value("id", std::to_string(r.candidate_ids.size())));
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    return UserError(absl::StatusCode::kInvalidArgument, absl::StrCat(where, ": ", e.what()), kHint);
  }
}

}  // namespace alro::data
