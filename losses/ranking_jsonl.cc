// losses/ranking_jsonl.cc: parsing and summarising rankings JSONL files.
#include "losses/ranking_jsonl.h"

#include <cmath>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/json_util.h"
#include "common/status.h"

namespace alro::losses {
namespace {

constexpr char kFormatHint[] =
    "each line must be a JSON object with \"labels\" (ratings in predicted order), or \"scores\" and "
    "\"labels\" of equal length (both in presentation order); optional \"list_id\" and \"items\"";

// Largest label whose gain 2^label - 1 leaves room to sum a list's gains in
// a double: 2^1000 is ~1e301, so lists of up to ~1e7 such items stay finite.
// Ratings are small numbers; a larger label is a corrupt file.
constexpr double kMaxLabel = 1000.0;

absl::Status LineError(absl::string_view where, absl::string_view what) {
  return InvalidArgument(absl::StrCat(where, ": ", what), kFormatHint);
}

// Reads the array `key` of finite numbers; `present` tells whether it was there.
absl::StatusOr<std::vector<double>> NumberArray(const nlohmann::json& object, const char* key,
                                                absl::string_view where, bool* present) {
  std::vector<double> values;
  auto it = object.find(key);
  *present = it != object.end();
  if (!*present) return values;
  if (!it->is_array()) return LineError(where, absl::StrCat("\"", key, "\" is not an array"));
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& v = (*it)[i];
    if (!v.is_number() || !std::isfinite(v.get<double>())) {
      return LineError(where, absl::StrCat("\"", key, "\"[", i, "] is not a finite number: ", v.dump()));
    }
    values.push_back(v.get<double>());
  }
  return values;
}

}  // namespace

absl::StatusOr<RankingRecord> ParseRankingLine(absl::string_view line, absl::string_view where) {
  ALRO_ASSIGN_OR_RETURN(nlohmann::json object, ParseJson(line, where));
  if (!object.is_object()) return LineError(where, "not a JSON object");
  bool has_labels = false, has_scores = false;
  ALRO_ASSIGN_OR_RETURN(std::vector<double> labels, NumberArray(object, "labels", where, &has_labels));
  ALRO_ASSIGN_OR_RETURN(std::vector<double> scores, NumberArray(object, "scores", where, &has_scores));
  if (!has_labels) return LineError(where, "missing \"labels\"");
  if (labels.empty()) return LineError(where, "\"labels\" is empty");
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] > kMaxLabel) {
      return LineError(where, absl::StrCat("\"labels\"[", i, "] = ", labels[i], " is too large: its gain 2^label - 1 ",
                                           "overflows the metrics (labels are ratings, at most ", kMaxLabel, ")"));
    }
  }
  if (has_scores && scores.size() != labels.size()) {
    return LineError(where, absl::StrCat("\"scores\" has ", scores.size(), " entries but \"labels\" has ",
                                         labels.size()));
  }

  std::vector<int64_t> items;
  if (auto it = object.find("items"); it != object.end()) {
    if (!it->is_array() || it->size() != labels.size()) {
      return LineError(where, absl::StrCat("\"items\" must be an array of ", labels.size(), " integers"));
    }
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_number_integer()) {
        return LineError(where, absl::StrCat("\"items\"[", i, "] is not an integer: ", (*it)[i].dump()));
      }
      items.push_back((*it)[i].get<int64_t>());
    }
    if (std::set<int64_t>(items.begin(), items.end()).size() != items.size()) {
      return LineError(where, "\"items\" repeats an item id");
    }
  }

  RankingRecord record;
  if (auto it = object.find("list_id"); it != object.end()) {
    if (it->is_string()) {
      record.list_id = it->get<std::string>();
    } else if (it->is_number_integer()) {
      record.list_id = it->dump();
    } else {
      return LineError(where, absl::StrCat("\"list_id\" must be a string or an integer, not ", it->dump()));
    }
  }
  if (has_scores) {
    const std::vector<int64_t> order = OrderByScoreDescending(scores);
    record.labels_in_order = Permute(labels, order);
    for (int64_t index : order) {
      if (!items.empty()) record.ranking.push_back(items[index]);
    }
  } else {
    record.labels_in_order = std::move(labels);
    record.ranking = std::move(items);
  }
  return record;
}

absl::StatusOr<nlohmann::ordered_json> ComputeMetricsFromJsonl(absl::string_view text, absl::string_view path,
                                                       const MetricsOptions& options) {
  MetricsAccumulator accumulator(options);
  // list_id -> (labels in order, rankings) of each line of the group, in file order.
  std::map<std::string, std::pair<std::vector<std::vector<double>>, std::vector<std::vector<int64_t>>>> groups;
  size_t offset = 0;
  int64_t line_number = 0;
  while (offset < text.size()) {
    size_t end = text.find('\n', offset);
    if (end == absl::string_view::npos) end = text.size();
    const absl::string_view line = text.substr(offset, end - offset);
    ++line_number;
    if (!absl::StripAsciiWhitespace(line).empty()) {
      const std::string where = absl::StrCat(path, ":", line_number, " (byte ", offset, ")");
      ALRO_ASSIGN_OR_RETURN(RankingRecord record, ParseRankingLine(line, where));
      // Every DCG of the list is bounded by its ideal DCG over all items, so
      // when that is finite, so is each metric of the list.
      if (!std::isfinite(IdealDcgAtK(record.labels_in_order, 0))) {
        return LineError(where, "the labels' gains sum beyond a double's range: the list's metrics are not finite");
      }
      accumulator.AddList(record.labels_in_order);
      if (!record.list_id.empty()) {
        auto& group = groups[record.list_id];
        group.first.push_back(std::move(record.labels_in_order));
        group.second.push_back(std::move(record.ranking));
      }
    }
    offset = end + 1;
  }
  for (auto& [id, group] : groups) {
    if (group.first.size() < 2) continue;  // one order shows no position bias
    // Pairwise Kendall tau only when every order of the group names its items.
    bool all_ranked = true;
    for (const auto& ranking : group.second) all_ranked = all_ranked && !ranking.empty();
    accumulator.AddPositionBiasGroup(group.first, all_ranked ? group.second : std::vector<std::vector<int64_t>>{});
  }
  return accumulator.Summary();
}

}  // namespace alro::losses
