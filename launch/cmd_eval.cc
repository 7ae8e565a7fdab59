// launch/cmd_eval.cc: `alro eval`: ranking metrics of a checkpoint on a data
// split, at any parallel shape (under mpirun or alone), optionally next to
// reference orders computed in the same run (random, popularity, item mean,
// matrix factorisation: train/reference_rankers.h) and with position-bias
// figures over several presentation orders (--orders).
//
//   mpirun -np 2 alro eval --checkpoint runs/tiny/checkpoints --split test --baselines
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/status.h"
#include "core/prefix_sharing.h"
#include "data/dataset.h"
#include "data/eval_reader.h"
#include "data/loader.h"
#include "distributed/process_grid.h"
#include "distributed/runtime.h"
#include "launch/command_util.h"
#include "launch/commands.h"
#include "losses/metrics.h"
#include "train/evaluator.h"
#include "train/model_loading.h"
#include "train/reference_rankers.h"

namespace alro::launch {
namespace {

// The lists of `split`, by example id, as the reference rankers see them;
// also appends every rating of the split (history and candidates) to
// `ratings`, once per user-item pair over all calls sharing `seen`.
absl::StatusOr<std::map<std::string, train::ReferenceList>> ReadReferenceLists(
    const config::Config& cfg, const std::string& split, std::vector<train::RatingTriple>* ratings,
    std::set<std::pair<std::string, std::string>>* seen) {
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const data::SplitReader> reader,
                        data::SplitReader::Open(cfg.data.dir, split, data::OnCorrupt::kSkip));
  std::map<std::string, train::ReferenceList> lists;
  data::proto::ListExample example;
  for (int64_t i = 0; i < reader->size(); ++i) {
    if (!reader->Read(i, &example).ok()) continue;
    train::ReferenceList& list = lists[example.example_id()];
    list.example_id = example.example_id();
    list.user = example.user_id();
    const auto add = [&](const data::proto::Interaction& x) {
      if (seen->emplace(example.user_id(), x.item().item_id()).second) {
        ratings->push_back({example.user_id(), x.item().item_id(), x.rating()});
      }
    };
    for (const auto& x : example.history()) add(x);
    for (const auto& c : example.candidates()) {
      add(c);
      list.items.push_back(c.item().item_id());
      list.ratings.push_back(c.rating());
    }
  }
  return lists;
}

// Metrics of the reference orders (train/reference_rankers.h) on the lists
// the model ranked, each fitted on the ratings before `split`: train for
// valid, train + valid for test (train: the training split itself).
absl::StatusOr<std::vector<std::pair<std::string, nlohmann::ordered_json>>> Baselines(
    const config::Config& cfg, const std::string& split, const std::vector<train::RankedList>& lists,
    const losses::MetricsOptions& options, uint64_t seed) {
  std::vector<train::RatingTriple> train_ratings, prior, unused;
  std::set<std::pair<std::string, std::string>> seen_train, seen_prior, seen_unused;
  ALRO_RETURN_IF_ERROR(ReadReferenceLists(cfg, "train", &train_ratings, &seen_train).status());
  ALRO_ASSIGN_OR_RETURN(auto valid_lists, ReadReferenceLists(cfg, "valid", &unused, &seen_unused));
  ALRO_RETURN_IF_ERROR(ReadReferenceLists(cfg, "train", &prior, &seen_prior).status());
  if (split == "test") ALRO_RETURN_IF_ERROR(ReadReferenceLists(cfg, "valid", &prior, &seen_prior).status());
  ALRO_ASSIGN_OR_RETURN(auto eval_lists, ReadReferenceLists(cfg, split, &unused, &seen_unused));

  std::vector<train::ReferenceList> valid;
  for (auto& [id, list] : valid_lists) valid.push_back(list);
  const train::AlsOptions als = train::SelectAls(train_ratings, valid);
  ALRO_LOG(INFO) << "eval: mf order: " << als.factors << " factors, l2 " << als.l2 << " (best validation NDCG@10 of "
                 << train::AlsGrid().size() << " settings)";
  const train::PopularityRanker popularity(prior);
  const train::ItemMeanRanker item_mean(prior, train::kItemMeanShrinkage);
  const train::AlsRanker mf(prior, als);

  std::vector<std::pair<std::string, const train::ReferenceRanker*>> rankers = {
      {"popularity", &popularity}, {"item_mean", &item_mean}, {"mf", &mf}};
  losses::MetricsAccumulator random_metrics(options);
  std::vector<losses::MetricsAccumulator> ranker_metrics(rankers.size(), losses::MetricsAccumulator(options));
  std::mt19937_64 rng(seed);
  for (const train::RankedList& list : lists) {
    const int64_t m = static_cast<int64_t>(list.ratings.size());
    std::vector<int64_t> order(m);
    for (int64_t j = 0; j < m; ++j) order[j] = j;
    std::shuffle(order.begin(), order.end(), rng);
    random_metrics.AddList(losses::Permute(list.ratings, order));
    auto it = eval_lists.find(list.example_id);
    if (it == eval_lists.end() || static_cast<int64_t>(it->second.items.size()) != m) {
      return absl::DataLossError(absl::StrCat("list ", list.example_id, " not found in split ", split));
    }
    for (size_t r = 0; r < rankers.size(); ++r) {
      const std::vector<double> scores = rankers[r].second->Score(it->second.user, it->second.items);
      ranker_metrics[r].AddList(losses::Permute(list.ratings, losses::OrderByScoreDescending(scores)));
    }
  }
  std::vector<std::pair<std::string, nlohmann::ordered_json>> out = {{"random", random_metrics.Summary()}};
  for (size_t r = 0; r < rankers.size(); ++r) out.emplace_back(rankers[r].first, ranker_metrics[r].Summary());
  out.back().second["factors"] = als.factors;
  out.back().second["l2"] = als.l2;
  return out;
}

std::string Cell(const nlohmann::ordered_json& summary, const std::string& key) {
  if (!summary.contains(key) || !summary[key].is_number()) return "-";
  return absl::StrFormat("%.4f", summary[key].get<double>());
}

void PrintTable(const std::vector<std::pair<std::string, nlohmann::ordered_json>>& columns,
                const std::vector<int64_t>& ks) {
  std::vector<std::string> rows;
  for (int64_t k : ks) rows.push_back(absl::StrCat("ndcg@", k));
  for (int64_t k : ks) rows.push_back(absl::StrCat("hr@", k));
  rows.push_back("mrr");
  rows.push_back("kendall_tau");
  rows.push_back("same_answer_share");
  std::printf("\n%-14s", "metric");
  for (const auto& [name, summary] : columns) std::printf(" %12s", name.c_str());
  std::printf("\n");
  for (const std::string& row : rows) {
    std::printf("%-14s", row.c_str());
    for (const auto& [name, summary] : columns) std::printf(" %12s", Cell(summary, row).c_str());
    std::printf("\n");
  }
  std::printf("%-14s", "lists");
  for (const auto& [name, summary] : columns) std::printf(" %12lld", (long long)summary.value("lists", int64_t{0}));
  std::printf("\n");
}

// The work of `alro eval` once its flags are parsed (defined below RunEval).
absl::Status Eval(const cli::CommandLine& command_line, int argc, char** argv);

}  // namespace

int RunEval(int argc, char** argv) {
  cli::CommandLine command_line("alro eval --checkpoint DIR [--split test] [--baselines] [flags]",
                                "Ranks every list of a data split with a checkpoint and prints NDCG@k, HR@k, "
                                "Recall@k, MRR and Kendall tau. Runs alone or under mpirun at any parallel shape.");
  command_line.Flag("checkpoint", "", "a step_NNNNNNNN directory, or a checkpoint.dir (its newest complete one)")
      .Flag("split", "test", "train | valid | test")
      .Flag("lists", "0", "evaluate only the first N lists (0 = all)")
      .Flag("mode", "decode", "decode (constrained greedy decoding) | single_step (first-slot scores)")
      .Flag("tp", "1", "tensor-parallel size of this job (the data-parallel size is world / tp)")
      .Flag("micro-batch", "8", "lists per forward")
      .Repeated("set", "override a key of the checkpoint's configuration, e.g. --set data.dir=...")
      .Switch("baselines", "also score reference orders of the same lists: random, popularity, item mean rating "
                           "and matrix factorisation (mf)")
      .Flag("orders", "1", "rank each list in this many seeded presentation orders (the stored one first) and "
                           "report position bias")
      .Flag("shared-prefix", "auto", "auto | always | never: compute the prompt prefix that rows share (a list's "
                                     "orders: instruction and history) once; never = every row runs its whole "
                                     "prompt (same rankings, for comparison)")
      .Flag("seed", "1", "seed of the random-order baseline")
      .Flag("output", "", "write every list's ranking as JSONL here")
      .Flag("json", "", "write the metrics as JSON here");
  if (int code = ParseOrExit(command_line, argc, argv); code >= 0) return code;
  return ReportStatus("eval", Eval(command_line, argc, argv));
}

namespace {

// The work of `alro eval` once its flags are parsed.
absl::Status Eval(const cli::CommandLine& command_line, int argc, char** argv) {
  if (command_line.Get("checkpoint").empty()) {
    return InvalidArgument("--checkpoint is required", "e.g. --checkpoint runs/tiny/checkpoints");
  }
  ALRO_ASSIGN_OR_RETURN(const int64_t tp, command_line.GetInt("tp"));
  ALRO_ASSIGN_OR_RETURN(const int64_t lists, command_line.GetInt("lists"));
  ALRO_ASSIGN_OR_RETURN(const int64_t micro, command_line.GetInt("micro-batch"));
  ALRO_ASSIGN_OR_RETURN(const int64_t seed, command_line.GetInt("seed"));
  ALRO_ASSIGN_OR_RETURN(const int64_t orders, command_line.GetInt("orders"));
  if (orders < 1) return InvalidArgument("--orders must be at least 1", "1 = the stored order only");
  ALRO_ASSIGN_OR_RETURN(const train::RankMode mode, train::ParseRankMode(command_line.Get("mode"), "--mode"));
  ALRO_ASSIGN_OR_RETURN(const core::PrefixSharing sharing,
                        core::ParsePrefixSharing(command_line.Get("shared-prefix"), "--shared-prefix"));

  dist::MpiRuntime mpi(&argc, &argv);
  const bool leader = mpi.world_rank() == 0;
  train::TrainedModelRequest load{.checkpoint = command_line.Get("checkpoint"),
                                  .world_size = mpi.world_size(),
                                  .local_rank = mpi.local_rank(),
                                  .tensor_parallel = tp,
                                  .overrides = command_line.GetAll("set")};
  load.overrides.push_back(absl::StrCat("logging.eval_lists=", lists));
  load.overrides.push_back(absl::StrCat("schedule.micro_batch_size=", micro));
  ALRO_ASSIGN_OR_RETURN(train::TrainedModel trained, train::LoadTrainedModel(load));
  const config::Config& cfg = trained.config;
  dist::ProcessGrid& grid = *trained.grid;
  const std::string& dir = trained.checkpoint.dir();
  const std::string split = command_line.Get("split");
  ALRO_ASSIGN_OR_RETURN(std::unique_ptr<data::EvalReader> eval_reader,
                        data::OpenEvalReader(cfg, trained.renderer, grid.dp_rank(), grid.dp_size(), split, orders - 1));

  train::EvalSettings settings;
  settings.mode = mode;
  settings.ks = cfg.logging.ndcg_k;
  settings.orders = orders;
  settings.prefix_sharing = sharing;
  const bool baselines = command_line.GetSwitch("baselines");
  settings.keep_rankings = baselines || !command_line.Get("output").empty();
  if (leader) {
    std::printf("evaluating %s (step %lld) on split '%s': %lld lists, dp %d x tp %d, mode %s\n", dir.c_str(),
                (long long)trained.checkpoint.step(), split.c_str(), (long long)eval_reader->num_lists(),
                grid.dp_size(), grid.tp_size(), command_line.Get("mode").c_str());
    std::fflush(stdout);
  }
  ALRO_ASSIGN_OR_RETURN(train::EvalResult result, train::Evaluate(*trained.model, *eval_reader, grid, settings));
  if (!leader) return absl::OkStatus();

  nlohmann::ordered_json out = {{"checkpoint", dir}, {"step", trained.checkpoint.step()}, {"split", split},
                                {"mode", command_line.Get("mode")}, {"model", result.summary}};
  std::vector<std::pair<std::string, nlohmann::ordered_json>> columns = {{"alro", result.summary}};
  if (result.summary.contains("bootstrap")) {
    columns.emplace_back(absl::StrCat("bootstrap", settings.orders), result.summary["bootstrap"]);
  }
  if (baselines) {
    losses::MetricsOptions options;
    options.ks = settings.ks;
    ALRO_ASSIGN_OR_RETURN(auto refs, Baselines(cfg, split, result.rankings, options, static_cast<uint64_t>(seed)));
    for (const auto& [name, summary] : refs) {
      out[name] = summary;
      columns.emplace_back(name, summary);
    }
  }
  PrintTable(columns, settings.ks);
  if (settings.orders > 1 && result.summary.contains("position_bias")) {
    const nlohmann::ordered_json& bias = result.summary["position_bias"];
    std::printf("\nposition bias over %lld orders per list:", (long long)settings.orders);
    for (auto it = bias.begin(); it != bias.end(); ++it) {
      if (it.value().is_number()) std::printf("  %s %.4f", it.key().c_str(), it.value().get<double>());
    }
    std::printf("\n");
  }
  if (!command_line.Get("output").empty()) {
    std::string text;
    for (const train::RankedList& r : result.rankings) text += train::RankingJsonLine(r) + "\n";
    ALRO_RETURN_IF_ERROR(WriteFileAtomically(command_line.Get("output"), text));
  }
  if (!command_line.Get("json").empty()) {
    ALRO_RETURN_IF_ERROR(WriteFileAtomically(command_line.Get("json"), out.dump(2) + "\n"));
  }
  return absl::OkStatus();
}

}  // namespace

}  // namespace alro::launch
