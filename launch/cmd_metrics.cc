// launch/cmd_metrics.cc: `alro metrics`: ranking metrics of a rankings JSONL
// file (format in losses/ranking_jsonl.h), printed as one JSON object.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status.h"
#include "launch/command_util.h"
#include "launch/commands.h"
#include "losses/ranking_jsonl.h"

namespace alro::launch {
namespace {

constexpr char kCommand[] = "metrics";
constexpr int kJsonIndent = 2;

// Parses "--k 1,3,5,10" into positive cutoffs.
absl::StatusOr<std::vector<int64_t>> ParseCutoffs(const std::string& text) {
  std::vector<int64_t> ks;
  for (absl::string_view piece : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int64_t k = 0;
    if (!absl::SimpleAtoi(piece, &k) || k <= 0) {
      return InvalidArgument(absl::StrCat("--k: '", piece, "' is not a positive integer"),
                             "give cutoffs as a comma-separated list, e.g. --k 1,3,5,10");
    }
    ks.push_back(k);
  }
  if (ks.empty()) return InvalidArgument("--k is empty", "give at least one cutoff, e.g. --k 5");
  return ks;
}

absl::Status Run(const cli::CommandLine& command_line) {
  const std::string input = command_line.Get("input");
  if (input.empty()) {
    return InvalidArgument("--input is required", "pass the rankings file: alro metrics --input rankings.jsonl");
  }
  losses::MetricsOptions options;
  ALRO_ASSIGN_OR_RETURN(options.ks, ParseCutoffs(command_line.Get("k")));
  ALRO_ASSIGN_OR_RETURN(options.liked_threshold, command_line.GetDouble("threshold"));
  ALRO_ASSIGN_OR_RETURN(std::string text, ReadFileToString(input));
  ALRO_ASSIGN_OR_RETURN(nlohmann::ordered_json summary, losses::ComputeMetricsFromJsonl(text, input, options));
  const std::string json = summary.dump(kJsonIndent) + "\n";
  const std::string output = command_line.Get("output");
  if (output.empty()) {
    std::fputs(json.c_str(), stdout);
    return absl::OkStatus();
  }
  return WriteFileAtomically(output, json);
}

}  // namespace

int RunMetrics(int argc, char** argv) {
  cli::CommandLine command_line(
      "alro metrics --input rankings.jsonl",
      "ranking metrics (NDCG@k, HR@k, Recall@k, MRR, Kendall tau, position bias) of a rankings JSONL file.\n"
      "Each line: {\"labels\": [...]} (ratings in predicted order) or {\"scores\": [...], \"labels\": [...]}\n"
      "(presentation order); optional \"list_id\" groups orders of one list, \"items\" names its items.");
  command_line.Flag("input", "", "rankings JSONL file")
      .Flag("k", "1,3,5,10", "comma-separated cutoffs for NDCG@k, HR@k and Recall@k")
      .Flag("threshold", absl::StrCat(losses::kDefaultLikedThreshold), "rating from which an item is liked")
      .Flag("output", "", "write the JSON here instead of standard output");
  if (int code = ParseOrExit(command_line, argc, argv); code >= 0) return code;
  return ReportStatus(kCommand, Run(command_line));
}

}  // namespace alro::launch
