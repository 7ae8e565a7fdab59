// data/eval_reader.cc: evaluation sharding with weight-0 padding.
#include "data/eval_reader.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "data/loader.h"

namespace alro::data {

absl::StatusOr<std::unique_ptr<EvalReader>> EvalReader::Create(std::shared_ptr<const SplitReader> split,
                                                              std::shared_ptr<const PromptRenderer> renderer,
                                                              const EvalOptions& options) {
  if (options.micro_batch_size < 1 || options.dp_size < 1 || options.dp_rank < 0 ||
      options.dp_rank >= options.dp_size || options.max_lists < 0 || options.psl_copies < 0) {
    return InvalidArgument("evaluation reader options are out of range");
  }
  if (split->size() == 0) {
    return UserError(absl::StatusCode::kFailedPrecondition,
                     absl::StrCat("split '", split->split(), "' of ", split->dir(), " has no records"),
                     "evaluate another split");
  }
  std::unique_ptr<EvalReader> r(new EvalReader());
  r->split_ = std::move(split);
  r->renderer_ = std::move(renderer);
  r->options_ = options;
  r->lists_ = options.max_lists > 0 ? std::min(options.max_lists, r->split_->size()) : r->split_->size();
  r->per_rank_ = (r->lists_ + options.dp_size - 1) / options.dp_size;
  return r;
}

int64_t EvalReader::num_batches() const {
  return (per_rank_ + options_.micro_batch_size - 1) / options_.micro_batch_size;
}

absl::StatusOr<Batch> EvalReader::GetBatch(int64_t b) const {
  ALRO_CHECK(b >= 0 && b < num_batches(), "batch ", b, " of ", num_batches());
  const int64_t begin = b * options_.micro_batch_size;
  const int64_t end = std::min(per_rank_, begin + options_.micro_batch_size);
  Batch batch;
  proto::ListExample example;
  for (int64_t k = begin; k < end; ++k) {
    const int64_t position = options_.dp_rank * per_rank_ + k;
    float weight = position < lists_ ? 1.0f : 0.0f;
    int64_t record = position % lists_;
    absl::Status status = split_->Read(record, &example);
    // on_corrupt=skip: stand in the next readable list, with weight 0.
    for (int64_t tries = 1; !status.ok() && split_->on_corrupt() == OnCorrupt::kSkip && tries < lists_; ++tries) {
      record = (record + 1) % lists_;
      status = split_->Read(record, &example);
      weight = 0.0f;
    }
    if (!status.ok()) return status;
    // Evaluation targets break rating ties by a draw fixed per list.
    const uint64_t tie_seed = EvalTieSeed(example.example_id());
    ALRO_ASSIGN_OR_RETURN(RenderedExample original, renderer_->Render(example, {}, 0, tie_seed));
    original.weight = weight;
    batch.lists.push_back(std::move(original));
    for (int64_t c = 1; c <= options_.psl_copies; ++c) {
      ALRO_ASSIGN_OR_RETURN(RenderedExample copy,
                            renderer_->Render(example, PslPermutation(options_.seed, position, c,
                                                                      example.candidates_size()),
                                              static_cast<int32_t>(c), tie_seed));
      copy.weight = weight;
      batch.lists.push_back(std::move(copy));
    }
  }
  return batch;
}

absl::StatusOr<std::unique_ptr<EvalReader>> OpenEvalReader(const config::Config& config,
                                                           std::shared_ptr<const PromptRenderer> renderer,
                                                           int64_t dp_rank, int64_t dp_size,
                                                           const std::string& split, int64_t extra_orders) {
  ALRO_ASSIGN_OR_RETURN(OnCorrupt on_corrupt, ParseOnCorrupt(config.data.on_corrupt));
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const SplitReader> reader,
                        SplitReader::Open(config.data.dir, split.empty() ? config.data.eval_split : split,
                                          on_corrupt));
  EvalOptions options;
  options.micro_batch_size = config.schedule.micro_batch_size;
  options.dp_rank = dp_rank;
  options.dp_size = dp_size;
  options.max_lists = config.logging.eval_lists;
  options.seed = static_cast<uint64_t>(config.data.seed);
  options.psl_copies = extra_orders;
  return EvalReader::Create(std::move(reader), std::move(renderer), options);
}

}  // namespace alro::data
