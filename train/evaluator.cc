// train/evaluator.cc: ranking lists with the model and gathering the
// metrics over data-parallel ranks (see evaluator.h).
#include "train/evaluator.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "core/decoding.h"
#include "losses/metrics.h"
#include "train/batch_tensors.h"

namespace alro::train {
namespace {

// Tokens between the first and the second answer identifier: what the answer
// format puts between identifiers (empty when they follow each other).
std::vector<int64_t> AnswerSeparator(const data::RenderedExample& r) {
  if (r.answer_positions.size() < 2) return {};
  return std::vector<int64_t>(r.tokens.begin() + r.answer_positions[0] + 1, r.tokens.begin() + r.answer_positions[1]);
}

// Every rank's rows of a [rows, width] tensor, concatenated in dp-rank order
// (every rank has the same number of rows by construction of the reader).
at::Tensor GatherRows(dist::Communicator& dp, const at::Tensor& local) { return dp.AllGather(local.contiguous(), 0); }

// Bootstrapping over presentation orders (LLMRank): the ratings in the
// order of each item's mean position over the group's rankings (ties by
// original candidate index). labels[p][k] is the rating of items[p][k], the
// original candidate ranked k-th in order p.
std::vector<double> MeanPositionOrderLabels(const std::vector<std::vector<double>>& labels,
                                            const std::vector<std::vector<int64_t>>& items) {
  const size_t m = labels.front().size();
  std::vector<double> position(m, 0.0), rating(m, 0.0);
  for (size_t p = 0; p < labels.size(); ++p) {
    for (size_t k = 0; k < m; ++k) {
      position[static_cast<size_t>(items[p][k])] += static_cast<double>(k);
      rating[static_cast<size_t>(items[p][k])] = labels[p][k];
    }
  }
  std::vector<int64_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return position[a] < position[b]; });
  return losses::Permute(rating, order);
}

}  // namespace

absl::StatusOr<RankMode> ParseRankMode(const std::string& text, const std::string& key) {
  if (text == "decode") return RankMode::kDecode;
  if (text == "single_step") return RankMode::kSingleStep;
  return UserError(absl::StatusCode::kInvalidArgument, absl::StrCat(key, ": unknown mode \"", text, "\""),
                   "use decode (constrained greedy decoding) or single_step (first-slot scores)");
}

absl::StatusOr<std::vector<RankedList>> RankBatch(core::Decoder& model, const data::Batch& batch, RankMode mode,
                                                  core::PrefixSharing sharing) {
  at::NoGradGuard no_grad;
  std::vector<RankedList> out;
  if (batch.lists.empty()) return out;
  ALRO_ASSIGN_OR_RETURN(BatchTensors t, ToTensors(batch, /*pad_id=*/0));
  const int64_t n = t.tokens.size(0);
  const int64_t m = t.identifier_ids.size(1);
  out.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const data::RenderedExample& r = batch.lists[i];
    out[i].example_id = r.example_id;
    out[i].ratings.assign(r.ratings.begin(), r.ratings.end());
    out[i].copy_index = r.copy_index;
    out[i].permutation.resize(static_cast<size_t>(m));
    for (int64_t j = 0; j < m; ++j) out[i].permutation[j] = r.permutation.empty() ? j : r.permutation[j];
  }
  if (mode == RankMode::kSingleStep) {
    const at::Tensor scores =
        core::ScoreFirstSlot(model, t.tokens, t.answer_positions.select(1, 0), t.identifier_ids, sharing)
            .to(at::kCPU, at::kDouble)
            .contiguous();
    for (int64_t i = 0; i < n; ++i) {
      const double* s = scores.data_ptr<double>() + i * m;
      std::vector<double> row(s, s + m);
      out[i].order = losses::OrderByScoreDescending(row);
      for (int64_t slot : out[i].order) out[i].scores.push_back(row[slot]);
    }
    return out;
  }
  // Constrained decoding needs prompts of equal length (the model has no
  // left padding), so the lists are decoded in groups of equal prompt length
  // and answer separator: one forward per slot for the whole group instead
  // of one per list (a data set whose prompts all have the same length, like
  // the demo's, decodes each micro-batch as one group). Within a group, the
  // rows' common prefix (a list's orders share instruction and history) is
  // computed once.
  std::map<std::pair<int64_t, std::vector<int64_t>>, std::vector<int64_t>> groups;
  for (int64_t i = 0; i < n; ++i) {
    const data::RenderedExample& r = batch.lists[i];
    groups[{r.answer_positions[0], AnswerSeparator(r)}].push_back(i);
  }
  for (const auto& [shape, rows] : groups) {
    const auto& [prompt_len, separator] = shape;
    const at::Tensor index = at::tensor(rows, at::kLong);
    const core::DecodedPermutations decoded =
        core::ConstrainedGreedyDecode(model, t.tokens.index_select(0, index).narrow(1, 0, prompt_len),
                                      t.identifier_ids.index_select(0, index), separator, sharing);
    const at::Tensor logits = decoded.step_logits.to(at::kCPU, at::kDouble).contiguous();  // [G, m, m]
    for (size_t g = 0; g < rows.size(); ++g) {
      RankedList& list = out[static_cast<size_t>(rows[g])];
      list.order = decoded.order[g];
      // Score of the k-th written identifier: m - k (higher = better); its
      // probability among the identifiers still allowed at step k goes along.
      std::vector<bool> used(static_cast<size_t>(m), false);
      for (int64_t k = 0; k < m; ++k) {
        const double* row = logits.data_ptr<double>() + (static_cast<int64_t>(g) * m + k) * m;
        double max_logit = -INFINITY;
        for (int64_t j = 0; j < m; ++j)
          if (!used[j]) max_logit = std::max(max_logit, row[j]);
        double partition = 0.0;
        for (int64_t j = 0; j < m; ++j)
          if (!used[j]) partition += std::exp(row[j] - max_logit);
        const int64_t chosen = list.order[k];
        list.scores.push_back(static_cast<double>(m - k));
        list.step_probabilities.push_back(std::exp(row[chosen] - max_logit) / partition);
        used[chosen] = true;
      }
    }
  }
  return out;
}

std::string RankingJsonLine(const RankedList& list) {
  std::vector<double> scores(list.ratings.size(), 0.0);
  for (size_t k = 0; k < list.order.size(); ++k) scores[static_cast<size_t>(list.order[k])] = list.scores[k];
  return nlohmann::json{{"example_id", list.example_id}, {"order", list.order}, {"scores", scores},
                        {"labels", list.ratings}}
      .dump();
}

absl::StatusOr<EvalResult> Evaluate(core::Decoder& model, const data::EvalReader& reader, dist::ProcessGrid& grid,
                                    const EvalSettings& settings) {
  losses::MetricsOptions options;
  options.ks = settings.ks;
  options.liked_threshold = settings.liked_threshold;
  losses::MetricsAccumulator metrics(options);
  losses::MetricsAccumulator bootstrap(options);  // orders > 1: mean-position aggregate
  EvalResult result;
  // Answer slot sequences of the stored orders, for the same-answer share.
  std::map<std::vector<int64_t>, int64_t> answer_counts;
  int64_t answered = 0;
  const int64_t batches = reader.num_batches();
  for (int64_t b = 0; b < batches; ++b) {
    ALRO_ASSIGN_OR_RETURN(data::Batch batch, reader.GetBatch(b));
    // Rank the stored order and settings.orders - 1 copies of each list;
    // further copies the reader may render are not ranked.
    data::Batch ranked_rows;
    for (data::RenderedExample& r : batch.lists)
      if (r.copy_index < settings.orders) ranked_rows.lists.push_back(std::move(r));
    ALRO_ASSIGN_OR_RETURN(std::vector<RankedList> ranked,
                          RankBatch(model, ranked_rows, settings.mode, settings.prefix_sharing));
    // Local rows: [weight, copy, ratings in predicted order (m), order (m),
    // scores (m), permutation (m)], so one gather carries everything; every
    // rank has the same row count.
    const int64_t n = static_cast<int64_t>(ranked.size());
    const int64_t m = n > 0 ? static_cast<int64_t>(ranked[0].order.size()) : 0;
    constexpr int64_t kHead = 2;
    at::Tensor local = at::zeros({n, kHead + 4 * m}, at::kDouble);
    auto acc = local.accessor<double, 2>();
    for (int64_t i = 0; i < n; ++i) {
      if (static_cast<int64_t>(ranked[i].order.size()) != m) {
        return absl::InvalidArgumentError(absl::StrCat("evaluation list ", ranked[i].example_id, " has ",
                                                       ranked[i].order.size(), " candidates, expected ", m));
      }
      acc[i][0] = ranked_rows.lists[i].weight;
      acc[i][1] = ranked[i].copy_index;
      for (int64_t k = 0; k < m; ++k) {
        acc[i][kHead + k] = ranked[i].ratings[ranked[i].order[k]];
        acc[i][kHead + m + k] = static_cast<double>(ranked[i].order[k]);
        acc[i][kHead + 2 * m + k] = ranked[i].scores[k];
        acc[i][kHead + 3 * m + k] = static_cast<double>(ranked[i].permutation[k]);
      }
    }
    const at::Tensor all = GatherRows(grid.dp(), local);
    std::vector<std::string> ids;  // row i's example id, in the order of `all`
    if (settings.keep_rankings) {
      std::vector<std::string> local_ids;
      for (const RankedList& r : ranked) local_ids.push_back(r.example_id);
      ids = dist::AllGatherStrings(grid.dp(), local_ids);
    }
    auto rows = all.accessor<double, 2>();
    // A list's orders are consecutive rows: the stored order, then its copies.
    std::vector<std::vector<double>> group_labels;
    std::vector<std::vector<int64_t>> group_items;
    const auto flush_group = [&] {
      if (group_labels.size() > 1) {
        metrics.AddPositionBiasGroup(group_labels, group_items);
        bootstrap.AddList(MeanPositionOrderLabels(group_labels, group_items));
      }
      group_labels.clear();
      group_items.clear();
    };
    for (int64_t i = 0; i < all.size(0); ++i) {
      const int32_t copy = static_cast<int32_t>(rows[i][1]);
      if (copy == 0) flush_group();
      if (rows[i][0] == 0.0) continue;  // evaluation padding
      std::vector<double> labels(m);
      std::vector<int64_t> order(m), items(m);
      for (int64_t k = 0; k < m; ++k) {
        labels[k] = rows[i][kHead + k];
        order[k] = static_cast<int64_t>(rows[i][kHead + m + k]);
        items[k] = static_cast<int64_t>(rows[i][kHead + 3 * m + order[k]]);  // original candidate index
      }
      group_labels.push_back(labels);
      group_items.push_back(items);
      if (copy != 0) continue;
      metrics.AddList(labels);
      ++answer_counts[order];
      ++answered;
      if (!settings.keep_rankings) continue;
      RankedList r;
      r.example_id = ids.at(i);
      r.order = order;
      r.ratings.assign(m, 0.0);
      for (int64_t k = 0; k < m; ++k) {
        r.scores.push_back(rows[i][kHead + 2 * m + k]);
        r.ratings[order[k]] = labels[k];
        r.permutation.push_back(k);
      }
      result.rankings.push_back(std::move(r));
    }
    flush_group();
  }
  result.summary = metrics.Summary();
  int64_t most_common = 0;
  for (const auto& [order, count] : answer_counts) most_common = std::max(most_common, count);
  result.summary["same_answer_share"] =
      answered > 0 ? static_cast<double>(most_common) / static_cast<double>(answered) : 0.0;
  result.summary["distinct_answers"] = static_cast<int64_t>(answer_counts.size());
  result.summary["orders"] = settings.orders;
  if (settings.orders > 1) result.summary["bootstrap"] = bootstrap.Summary();
  return result;
}

}  // namespace alro::train
