// data/loader.h: the resumable streaming loader that feeds training, and the
// pieces the trainer needs around it (the contract's RenderedExample/Batch
// come from data/rendered_example.h).
//
// The stream: epoch e visits the split in EpochOrder(seed, e) (shard-order
// shuffle + simulated shuffle buffer, data/global_order.h); epochs follow
// each other without a gap, so the stream is an endless sequence of lists,
// position 0, 1, 2, ... Each step consumes one global batch of
// micro_batch_size x dp_size consecutive positions, and data-parallel rank r
// takes its contiguous slice [r x micro, (r+1) x micro) of it. So every rank
// gets a batch at every step by construction, whatever the split size, and
// tensor-parallel ranks of one replica (same dp_rank) get the same lists.
//
// The state is the stream position of the next global batch (plus the
// options it depends on), a short string. Restoring it continues the exact
// sequence, also with a different dp_size: the next global batch simply
// starts at that position. PSL copies use permutations drawn from a
// generator seeded by (seed, stream position, copy), so they too are the
// same whatever the dp size and however often the job was resumed.
//
// A background thread renders up to prefetch_batches batches ahead.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/config.h"
#include "data/dataset.h"
#include "data/prompt.h"
#include "data/rendered_example.h"

namespace alro::data {

/// How a Loader streams.
struct LoaderOptions {
  int64_t micro_batch_size = 4;  ///< lists per rank per batch (before PSL copies)
  int64_t dp_rank = 0;
  int64_t dp_size = 1;
  uint64_t seed = 42;
  int64_t shuffle_buffer = 1024;
  int64_t prefetch_batches = 4;  ///< 0 = render in Next()
  int64_t psl_copies = 0;        ///< permuted copies per list
};

/// The PSL permutation of copy `copy` (>= 1) of the list at stream position
/// `position`: slot j shows original candidate result[j]. Never the identity
/// when m > 1.
std::vector<int32_t> PslPermutation(uint64_t seed, int64_t position, int64_t copy, int32_t m);

/// The tie seed (data/prompt.h, TieRanks) of the list at stream position
/// `position`: a new draw for every position, so a list's equal ratings are
/// ordered differently in every epoch.
uint64_t TieSeed(uint64_t seed, int64_t position);

/// The endless, resumable stream of training batches of one rank.
class Loader {
 public:
  static absl::StatusOr<std::unique_ptr<Loader>> Create(std::shared_ptr<const SplitReader> split,
                                                        std::shared_ptr<const PromptRenderer> renderer,
                                                        const LoaderOptions& options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// This rank's next batch: micro_batch_size lists, each followed by its
  /// psl_copies permuted copies.
  absl::StatusOr<Batch> Next();

  /// The state after the batches returned so far (prefetched ones do not
  /// count), for checkpoints.
  std::string State() const;
  /// Continues from `state` (from State(), possibly of a run with another
  /// dp_size or micro_batch_size). Fails if it was made for another split
  /// size, seed or shuffle buffer.
  absl::Status Restore(absl::string_view state);

  /// Stream position of the next global batch.
  int64_t position() const;
  /// Lists per step across all data-parallel ranks.
  int64_t global_batch_size() const { return options_.micro_batch_size * options_.dp_size; }
  /// Records that were skipped (on_corrupt=skip) and the lists that stood
  /// in for them, with their reasons; "" when nothing was skipped. The
  /// trainer logs it when training ends.
  std::string DropSummary() const;

 private:
  Loader() = default;
  absl::StatusOr<Batch> MakeBatch(int64_t global_start);
  const std::vector<int64_t>& Order(int64_t epoch);
  void StartWorker();
  void StopWorker();
  void WorkerLoop();

  std::shared_ptr<const SplitReader> split_;
  std::shared_ptr<const PromptRenderer> renderer_;
  LoaderOptions options_;
  std::map<int64_t, std::vector<int64_t>> orders_;  // epoch -> order; touched by one thread at a time
  DropReport substitutions_{"lists"};

  int64_t base_position_ = 0;  // stream position at the last Restore/Create
  int64_t consumed_ = 0;       // batches returned since then

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<absl::StatusOr<Batch>> queue_;
  int64_t produced_ = 0;       // batches the worker has made since base
  bool stop_ = false;
  bool worker_running_ = false;
  std::thread worker_;
};

/// The tokenizer a job uses: model.tokenizer, else the one `alro convert`
/// wrote into data.dir.
absl::StatusOr<std::shared_ptr<const Tokenizer>> OpenTokenizer(const config::Config& config);

/// A renderer for the job's prompt and tokenizer; prompts are kept within
/// model.max_seq_len. The one start-up check that the tokenizer fits
/// model.vocab_size (a user error naming both otherwise).
absl::StatusOr<std::shared_ptr<const PromptRenderer>> OpenRenderer(const config::Config& config);

/// The training loader of data-parallel rank `dp_rank` of `dp_size`, from
/// the config's data, schedule and objective sections.
absl::StatusOr<std::unique_ptr<Loader>> OpenTrainLoader(const config::Config& config,
                                                        std::shared_ptr<const PromptRenderer> renderer,
                                                        int64_t dp_rank, int64_t dp_size);

}  // namespace alro::data
