// data/eval_reader.h: every list of a split (or its first max_lists), once,
// sharded over data-parallel ranks for evaluation.
//
// Rank r gets the contiguous range [r x per_rank, (r+1) x per_rank) with
// per_rank = ceil(lists / dp_size); positions past the end are padding:
// real renderings with weight 0, so every rank runs the same number of
// batches and metrics ignore the padding.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "data/dataset.h"
#include "data/prompt.h"
#include "data/rendered_example.h"

namespace alro::data {

/// How an EvalReader shards a split.
struct EvalOptions {
  int64_t micro_batch_size = 4;
  int64_t dp_rank = 0;
  int64_t dp_size = 1;
  int64_t max_lists = 0;   ///< evaluate only the first max_lists lists; 0 = all
  int64_t psl_copies = 0;  ///< permuted copies per list (position-bias studies)
  uint64_t seed = 42;      ///< PSL permutation seed
};

/// Deterministic evaluation batches of one rank.
class EvalReader {
 public:
  static absl::StatusOr<std::unique_ptr<EvalReader>> Create(std::shared_ptr<const SplitReader> split,
                                                            std::shared_ptr<const PromptRenderer> renderer,
                                                            const EvalOptions& options);

  /// Real lists evaluated across all ranks.
  int64_t num_lists() const { return lists_; }
  /// Lists (real + padding) per rank.
  int64_t lists_per_rank() const { return per_rank_; }
  /// Batches per rank; the same on every rank.
  int64_t num_batches() const;
  /// Batch b (0 <= b < num_batches()); the last may hold fewer lists.
  absl::StatusOr<Batch> GetBatch(int64_t b) const;

 private:
  EvalReader() = default;
  std::shared_ptr<const SplitReader> split_;
  std::shared_ptr<const PromptRenderer> renderer_;
  EvalOptions options_;
  int64_t lists_ = 0;
  int64_t per_rank_ = 0;
};

/// The evaluation reader of rank `dp_rank` over data.eval_split (or
/// `split` when given), with logging.eval_lists lists, each followed by
/// `extra_orders` copies in seeded presentation orders (position bias).
absl::StatusOr<std::unique_ptr<EvalReader>> OpenEvalReader(const config::Config& config,
                                                           std::shared_ptr<const PromptRenderer> renderer,
                                                           int64_t dp_rank, int64_t dp_size,
                                                           const std::string& split = "", int64_t extra_orders = 0);

}  // namespace alro::data
