// data/rank_request.cc: a JSONL rank request -> ListExample.
#include "data/rank_request.h"

#include "absl/strings/str_cat.h"
#include "common/json_util.h"
#include "common/status.h"

namespace alro::data {
namespace {

void FillItem(const nlohmann::json& j, proto::Item* item) {
  item->set_item_id(j.value("id", ""));
  item->set_title(j.value("title", ""));
  item->set_year(j.value("year", 0));
  for (const auto& g : j.value("genres", nlohmann::json::array())) item->add_genres(g.get<std::string>());
  item->set_category(j.value("category", ""));
}

}  // namespace

absl::StatusOr<RankRequest> ParseRankRequest(const std::string& line, const std::string& where,
                                             size_t max_candidates) {
  ALRO_ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(line, where));
  const char* kHint = "each line is {\"id\": ..., \"history\": [{\"title\", \"rating\"}...], "
                      "\"candidates\": [{\"id\", \"title\"}...]}";
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
      FillItem(h, x->mutable_item());
      x->set_rating(h.value("rating", 0.0f));
      x->set_timestamp(h.value("timestamp", int64_t{0}));
    }
    for (const nlohmann::json& c : j["candidates"]) {
      proto::Interaction* x = r.example.add_candidates();
      FillItem(c, x->mutable_item());
      r.candidate_ids.push_back(c.value("id", std::to_string(r.candidate_ids.size())));
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    return UserError(absl::StatusCode::kInvalidArgument, absl::StrCat(where, ": ", e.what()), kHint);
  }
}

}  // namespace alro::data
