// launch/cmd_rank.cc: `alro rank`: ranks the candidates of JSONL requests
// with a trained checkpoint.
//
// One request per line:
//   {"id": "u1", "history": [{"title": "Heat", "year": 1995, "rating": 4.5}, ...],
//    "candidates": [{"id": "m7", "title": "Up", "year": 2009, "genres": ["Animation"]}, ...]}
// A model whose prompt shows item statistics ({count} {mean}) needs
// "rating_count" and "mean_rating" on every history and candidate object
// (counted as of the request's time, as `alro convert --item-stats` does).
// One answer per line, best first, scores higher = better in every mode
// (decode: m - position; single_step: the first slot's logit; bootstrap:
// 1 - mean position / (m - 1)):
//   {"id": "u1", "ranking": [{"candidate": "m7", "identifier": "B", "score": 10}, ...]}
//
// --mode decode writes the answer by constrained greedy decoding (every
// identifier once); --mode single_step scores all candidates from the first
// answer slot. --bootstrap B ranks B random presentation orders of each list
// and orders the candidates by their mean position (the costly remedy for
// position bias that PSL training makes unnecessary; kept for comparison).
// The B orders share their instruction and history: that prefix is computed
// once (--shared-prefix, core/prefix_sharing.h).
// Under mpirun the job is data-parallel x --tp: the tensor-parallel ranks of
// a replica decode together, replica r takes requests r, r + dp, r + 2 dp, ...
// and world rank 0 writes every answer in input order. Each request's
// bootstrap orders come from (--seed, its line number), so answers do not
// depend on the job's shape.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/json_util.h"
#include "common/status.h"
#include "core/prefix_sharing.h"
#include "data/list_example.pb.h"
#include "data/loader.h"
#include "data/rank_request.h"
#include "distributed/agreement.h"
#include "distributed/process_grid.h"
#include "distributed/runtime.h"
#include "launch/command_util.h"
#include "launch/commands.h"
#include "train/evaluator.h"
#include "train/model_loading.h"

namespace alro::launch {
namespace {

// One parsed request (data/rank_request.h).
using Request = data::RankRequest;

// An --output path that rank 0 will be able to create or overwrite ("-" =
// stdout): its directory exists and is writable, and an existing file is
// writable.
absl::Status CheckOutputWritable(const std::string& path) {
  if (path == "-") return absl::OkStatus();
  const std::string dir = DirName(path).empty() ? "." : DirName(path);
  const bool ok = IsDirectory(dir) && ::access(dir.c_str(), W_OK) == 0 &&
                  (!PathExists(path) || ::access(path.c_str(), W_OK) == 0);
  if (ok) return absl::OkStatus();
  return UserError(absl::StatusCode::kPermissionDenied, absl::StrCat("--output ", path, " cannot be written"),
                   "name a file in an existing, writable directory (checked before ranking anything)");
}

// Ranks one request: once in the given order, or over `bootstrap` random
// orders aggregated by mean position. Returns (candidate index, score) best first.
absl::StatusOr<std::vector<std::pair<int64_t, double>>> RankRequest(core::Decoder& model,
                                                                    const data::PromptRenderer& renderer,
                                                                    const Request& request, train::RankMode mode,
                                                                    int64_t bootstrap, core::PrefixSharing sharing,
                                                                    std::mt19937_64& rng) {
  const int32_t m = request.example.candidates_size();
  std::vector<std::vector<int32_t>> orders;
  if (bootstrap <= 0) {
    orders.push_back({});
  } else {
    for (int64_t b = 0; b < bootstrap; ++b) {
      std::vector<int32_t> perm(m);
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      orders.push_back(perm);
    }
  }
  data::Batch batch;
  for (size_t b = 0; b < orders.size(); ++b) {
    ALRO_ASSIGN_OR_RETURN(data::RenderedExample r,
                          renderer.Render(request.example, orders[b]));
    batch.lists.push_back(std::move(r));
  }
  ALRO_ASSIGN_OR_RETURN(std::vector<train::RankedList> ranked, train::RankBatch(model, batch, mode, sharing));
  std::vector<std::pair<int64_t, double>> out;
  if (bootstrap <= 0) {
    for (size_t k = 0; k < ranked[0].order.size(); ++k) out.emplace_back(ranked[0].order[k], ranked[0].scores[k]);
    return out;
  }
  // Mean position of each original candidate over the B orders; the score
  // is 1 - mean position / (m - 1): 1 = always first.
  std::vector<double> mean_position(m, 0.0);
  for (size_t b = 0; b < ranked.size(); ++b) {
    for (size_t k = 0; k < ranked[b].order.size(); ++k) {
      const int32_t original = orders[b][ranked[b].order[k]];
      mean_position[original] += static_cast<double>(k) / static_cast<double>(ranked.size());
    }
  }
  std::vector<int64_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return mean_position[a] < mean_position[b]; });
  for (int64_t c : order) out.emplace_back(c, m > 1 ? 1.0 - mean_position[c] / (m - 1) : 1.0);
  return out;
}

// The work of `alro rank` once its flags are parsed (defined below RunRank).
absl::Status Rank(const cli::CommandLine& command_line, int argc, char** argv);

}  // namespace

int RunRank(int argc, char** argv) {
  cli::CommandLine command_line("alro rank --checkpoint DIR --input requests.jsonl [--output ranked.jsonl]",
                                "Ranks the candidates of JSONL requests (history + candidates) with a trained "
                                "checkpoint; writes one ranking per line.");
  command_line.Flag("checkpoint", "", "a step_NNNNNNNN directory, or a checkpoint.dir (its newest complete one)")
      .Flag("input", "", "requests, one JSON object per line")
      .Flag("output", "-", "where the rankings go (- = stdout)")
      .Flag("mode", "decode", "decode (constrained greedy decoding) | single_step (first-slot scores)")
      .Flag("bootstrap", "0", "rank B random presentation orders and aggregate by mean position (0 = off)")
      .Flag("seed", "1", "seed of the bootstrap orders")
      .Flag("shared-prefix", "auto", "auto | always | never: compute the prompt prefix the bootstrap orders share "
                                     "(instruction and history) once; never = every order runs its whole prompt "
                                     "(same answers, for comparison)")
      .Flag("tp", "1", "tensor-parallel size; under mpirun -np N the N / tp replicas share the requests")
      .Repeated("set", "override a key of the checkpoint's configuration, e.g. --set data.dir=...");
  if (int code = ParseOrExit(command_line, argc, argv); code >= 0) return code;
  const absl::Status status = Rank(command_line, argc, argv);
  // Another rank's failure (dist::AgreeOnStatus) is reported by that rank.
  if (status.code() == absl::StatusCode::kAborted) return kExitFailure;
  return ReportStatus("rank", status);
}

namespace {

// The work of `alro rank` once its flags are parsed.
absl::Status Rank(const cli::CommandLine& command_line, int argc, char** argv) {
  if (command_line.Get("checkpoint").empty() || command_line.Get("input").empty()) {
    return InvalidArgument("--checkpoint and --input are required");
  }
  ALRO_ASSIGN_OR_RETURN(const int64_t tp, command_line.GetInt("tp"));
  ALRO_ASSIGN_OR_RETURN(const int64_t bootstrap, command_line.GetInt("bootstrap"));
  ALRO_ASSIGN_OR_RETURN(const int64_t seed, command_line.GetInt("seed"));
  ALRO_ASSIGN_OR_RETURN(const train::RankMode mode, train::ParseRankMode(command_line.Get("mode"), "--mode"));
  ALRO_ASSIGN_OR_RETURN(const core::PrefixSharing sharing,
                        core::ParsePrefixSharing(command_line.Get("shared-prefix"), "--shared-prefix"));

  dist::MpiRuntime mpi(&argc, &argv);
  if (mpi.world_size() % tp != 0) {
    return InvalidArgument(absl::StrCat("--tp ", tp, " does not divide the job's ", mpi.world_size(), " ranks"),
                           "start it with mpirun -np <a multiple of tp>");
  }
  const std::string output = command_line.Get("output");
  train::TrainedModelRequest load{.checkpoint = command_line.Get("checkpoint"),
                                  .world_size = mpi.world_size(),
                                  .local_rank = mpi.local_rank(),
                                  .tensor_parallel = tp,
                                  .overrides = command_line.GetAll("set")};
  // Rank 0 writes the answers at the end: check before loading the model
  // that it can, so an unwritable path does not cost the whole run; every
  // rank learns it.
  load.before_model = [&](dist::ProcessGrid& grid) {
    const absl::Status writable = mpi.world_rank() == 0 ? CheckOutputWritable(output) : absl::OkStatus();
    return dist::AgreeOnStatus(grid.world(), writable, "checking --output " + output);
  };
  ALRO_ASSIGN_OR_RETURN(train::TrainedModel trained, train::LoadTrainedModel(load));
  dist::ProcessGrid& grid = *trained.grid;
  ALRO_ASSIGN_OR_RETURN(const std::string input, ReadFileToString(command_line.Get("input")));

  // Every rank parses every request, so a bad line fails on all ranks alike.
  const std::vector<std::string>& identifiers = trained.config.prompt.identifiers;
  std::vector<Request> requests;
  std::vector<size_t> line_numbers;
  size_t line_number = 0, start = 0;
  while (start < input.size()) {
    size_t end = input.find('\n', start);
    if (end == std::string::npos) end = input.size();
    const std::string line = input.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ALRO_ASSIGN_OR_RETURN(
        Request request,
        data::ParseRankRequest(line, absl::StrCat(command_line.Get("input"), ":", line_number), identifiers.size()));
    requests.push_back(std::move(request));
    line_numbers.push_back(line_number);
  }

  // This replica's share, as JSON answer lines.
  const size_t dp = static_cast<size_t>(grid.dp_size());
  std::vector<std::string> answers;
  absl::Status failure;
  for (size_t i = static_cast<size_t>(grid.dp_rank()); i < requests.size(); i += dp) {
    const Request& request = requests[i];
    std::seed_seq request_seed{static_cast<uint64_t>(seed), static_cast<uint64_t>(line_numbers[i])};
    std::mt19937_64 rng(request_seed);
    absl::StatusOr<std::vector<std::pair<int64_t, double>>> ranked =
        RankRequest(*trained.model, *trained.renderer, request, mode, bootstrap, sharing, rng);
    if (!ranked.ok()) {
      failure = Annotate(ranked.status(), absl::StrCat(command_line.Get("input"), ":", line_numbers[i]));
      break;
    }
    nlohmann::json ranking = nlohmann::json::array();
    for (const auto& [candidate, score] : *ranked) {
      ranking.push_back(
          {{"candidate", request.candidate_ids[candidate]}, {"identifier", identifiers[candidate]}, {"score", score}});
    }
    answers.push_back(nlohmann::json{{"id", request.id}, {"ranking", ranking}}.dump());
  }
  // A replica that failed stops early; every rank learns it before the
  // gather, so none waits for answers that will not come.
  ALRO_RETURN_IF_ERROR(dist::AgreeOnStatus(grid.world(), failure, "ranking its requests"));
  // Replica r's answers are requests r, r + dp, ...: interleave them back.
  const std::vector<std::string> gathered = dist::AllGatherStrings(grid.dp(), answers);
  if (mpi.world_rank() != 0) return absl::OkStatus();
  std::vector<size_t> first_of_replica(dp + 1, 0);
  for (size_t r = 0; r < dp; ++r) first_of_replica[r + 1] = first_of_replica[r] + (requests.size() + dp - 1 - r) / dp;
  std::ofstream file;
  const bool to_stdout = output == "-";
  if (!to_stdout) file.open(output);
  std::ostream& out = to_stdout ? std::cout : file;
  for (size_t i = 0; i < requests.size(); ++i) out << gathered.at(first_of_replica[i % dp] + i / dp) << "\n";
  out.flush();
  if (!out) {
    return UserError(absl::StatusCode::kPermissionDenied, "cannot write " + output,
                     "check that its directory exists and is writable");
  }
  return absl::OkStatus();
}

}  // namespace

}  // namespace alro::launch
