// train/evaluator.cc: ranking lists with the model and gathering the
// metrics over data-parallel ranks (see evaluator.h).
#include "train/evaluator.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <cstring>

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

}  // namespace

absl::StatusOr<RankMode> ParseRankMode(const std::string& text, const std::string& key) {
  if (text == "decode") return RankMode::kDecode;
  if (text == "single_step") return RankMode::kSingleStep;
  return UserError(absl::StatusCode::kInvalidArgument, absl::StrCat(key, ": unknown mode \"", text, "\""),
                   "use decode (constrained greedy decoding) or single_step (first-slot scores)");
}

absl::StatusOr<std::vector<RankedList>> RankBatch(core::Decoder& model, const data::Batch& batch, RankMode mode) {
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
  }
  if (mode == RankMode::kSingleStep) {
    const at::Tensor scores = core::ScoreFirstSlot(model, t.tokens, t.answer_positions.select(1, 0), t.identifier_ids)
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
  // Constrained decoding, one list at a time: prompts differ in length and
  // decoding needs equal-length prompts (no left padding in the model).
  for (int64_t i = 0; i < n; ++i) {
    const data::RenderedExample& r = batch.lists[i];
    const int64_t prompt_len = r.answer_positions[0];
    const at::Tensor prompt = t.tokens.narrow(0, i, 1).narrow(1, 0, prompt_len);
    const core::DecodedPermutations decoded =
        core::ConstrainedGreedyDecode(model, prompt, t.identifier_ids.narrow(0, i, 1), AnswerSeparator(r));
    out[i].order = decoded.order.at(0);
    // Score of the k-th written identifier: its probability among the ones
    // still allowed at step k.
    const at::Tensor logits = decoded.step_logits[0].to(at::kDouble);  // [m, m]
    std::vector<bool> used(m, false);
    for (int64_t k = 0; k < m; ++k) {
      at::Tensor row = logits[k].clone();
      for (int64_t j = 0; j < m; ++j)
        if (used[j]) row[j] = -INFINITY;
      const int64_t chosen = out[i].order[k];
      out[i].scores.push_back(at::softmax(row, 0)[chosen].item<double>());
      used[chosen] = true;
    }
  }
  return out;
}

absl::StatusOr<EvalResult> Evaluate(core::Decoder& model, const data::EvalReader& reader, dist::ProcessGrid& grid,
                                    const EvalSettings& settings) {
  losses::MetricsOptions options;
  options.ks = settings.ks;
  options.liked_threshold = settings.liked_threshold;
  losses::MetricsAccumulator metrics(options);
  EvalResult result;
  const int64_t batches = reader.num_batches();
  for (int64_t b = 0; b < batches; ++b) {
    ALRO_ASSIGN_OR_RETURN(data::Batch batch, reader.GetBatch(b));
    // Only originals are ranked here; copies (psl_copies > 0 in the reader)
    // are for position-bias studies.
    data::Batch originals;
    for (data::RenderedExample& r : batch.lists)
      if (r.copy_index == 0) originals.lists.push_back(std::move(r));
    ALRO_ASSIGN_OR_RETURN(std::vector<RankedList> ranked, RankBatch(model, originals, settings.mode));
    // Local rows: [weight, ratings in predicted order..., order..., scores...]
    // so one gather carries everything; every rank has the same row count.
    const int64_t n = static_cast<int64_t>(ranked.size());
    const int64_t m = n > 0 ? static_cast<int64_t>(ranked[0].order.size()) : 0;
    at::Tensor local = at::zeros({n, 1 + 3 * m}, at::kDouble);
    auto acc = local.accessor<double, 2>();
    for (int64_t i = 0; i < n; ++i) {
      if (static_cast<int64_t>(ranked[i].order.size()) != m) {
        return absl::InvalidArgumentError(absl::StrCat("evaluation list ", ranked[i].example_id, " has ",
                                                       ranked[i].order.size(), " candidates, expected ", m));
      }
      acc[i][0] = originals.lists[i].weight;
      for (int64_t k = 0; k < m; ++k) {
        acc[i][1 + k] = ranked[i].ratings[ranked[i].order[k]];
        acc[i][1 + m + k] = static_cast<double>(ranked[i].order[k]);
        acc[i][1 + 2 * m + k] = ranked[i].scores[k];
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
    for (int64_t i = 0; i < all.size(0); ++i) {
      if (rows[i][0] == 0.0) continue;  // evaluation padding
      std::vector<double> labels(m);
      for (int64_t k = 0; k < m; ++k) labels[k] = rows[i][1 + k];
      metrics.AddList(labels);
      if (!settings.keep_rankings) continue;
      RankedList r;
      r.example_id = ids.at(i);
      r.ratings.assign(m, 0.0);
      for (int64_t k = 0; k < m; ++k) {
        r.order.push_back(static_cast<int64_t>(rows[i][1 + m + k]));
        r.scores.push_back(rows[i][1 + 2 * m + k]);
        r.ratings[r.order.back()] = labels[k];
      }
      result.rankings.push_back(std::move(r));
    }
  }
  result.summary = metrics.Summary();
  return result;
}

}  // namespace alro::train
