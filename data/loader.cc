// data/loader.cc: the streaming loader, its state, and the job-level openers.
#include "data/loader.h"

#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/status.h"
#include "data/global_order.h"
#include "data/random.h"
#include "data/record_format.h"

namespace alro::data {
namespace {

// First word of a serialised loader state; bump the version if its keys change.
constexpr char kStateTag[] = "alro.data.Loader/v1";
// Domain separator of the PSL permutation streams.
constexpr uint64_t kPslStream = 0x70736cull;  // "psl"
// Domain separator of the tie-breaking draws of training targets.
constexpr uint64_t kTieStream = 0x74696573ull;  // "ties"
// Redraws before giving up on a non-identity permutation (then rotate).
constexpr int kMaxIdentityRedraws = 16;
// Epoch orders kept in memory: the current one and the next (a global batch
// may straddle an epoch boundary).
constexpr size_t kCachedOrders = 2;

}  // namespace

uint64_t TieSeed(uint64_t seed, int64_t position) {
  return HashCombine(HashCombine(seed, kTieStream), static_cast<uint64_t>(position));
}

std::vector<int32_t> PslPermutation(uint64_t seed, int64_t position, int64_t copy, int32_t m) {
  Rng rng(HashCombine(HashCombine(HashCombine(seed, kPslStream), static_cast<uint64_t>(position)),
                      static_cast<uint64_t>(copy)));
  std::vector<int32_t> perm(static_cast<size_t>(m));
  for (int attempt = 0; attempt <= kMaxIdentityRedraws; ++attempt) {
    std::iota(perm.begin(), perm.end(), 0);
    rng.Shuffle(&perm);
    bool identity = true;
    for (int32_t j = 0; j < m; ++j) identity &= perm[static_cast<size_t>(j)] == j;
    if (!identity || m < 2) return perm;
  }
  std::rotate(perm.begin(), perm.begin() + 1, perm.end());
  return perm;
}

absl::StatusOr<std::unique_ptr<Loader>> Loader::Create(std::shared_ptr<const SplitReader> split,
                                                      std::shared_ptr<const PromptRenderer> renderer,
                                                      const LoaderOptions& options) {
  if (options.micro_batch_size < 1 || options.dp_size < 1 || options.dp_rank < 0 ||
      options.dp_rank >= options.dp_size || options.shuffle_buffer < 1 || options.prefetch_batches < 0 ||
      options.psl_copies < 0) {
    return InvalidArgument(absl::StrCat("loader options: micro_batch_size ", options.micro_batch_size, ", dp_rank ",
                                        options.dp_rank, " of ", options.dp_size, ", shuffle_buffer ",
                                        options.shuffle_buffer, " are out of range"));
  }
  if (split->size() == 0) {
    return UserError(absl::StatusCode::kFailedPrecondition,
                     absl::StrCat("split '", split->split(), "' of ", split->dir(), " has no records"),
                     "convert more data, or lower --min-ratings / --num-candidates");
  }
  std::unique_ptr<Loader> loader(new Loader());
  loader->split_ = std::move(split);
  loader->renderer_ = std::move(renderer);
  loader->options_ = options;
  return loader;
}

Loader::~Loader() { StopWorker(); }

const std::vector<int64_t>& Loader::Order(int64_t epoch) {
  auto it = orders_.find(epoch);
  if (it != orders_.end()) return it->second;
  while (orders_.size() >= kCachedOrders) orders_.erase(orders_.begin());
  return orders_[epoch] =
             EpochOrder(split_->shard_records(), options_.seed, epoch, options_.shuffle_buffer);
}

absl::StatusOr<Batch> Loader::MakeBatch(int64_t global_start) {
  const int64_t n = split_->size();
  const int64_t start = global_start + options_.dp_rank * options_.micro_batch_size;
  Batch batch;
  batch.lists.reserve(static_cast<size_t>(options_.micro_batch_size * (1 + options_.psl_copies)));
  proto::ListExample example;
  for (int64_t q = start; q < start + options_.micro_batch_size; ++q) {
    const int64_t epoch = q / n;
    const std::vector<int64_t>& order = Order(epoch);
    int64_t offset = q % n;
    absl::Status status = split_->Read(order[static_cast<size_t>(offset)], &example);
    // on_corrupt=skip: take the next readable record of this epoch's order,
    // so the batch keeps its size and every rank stays in step.
    for (int64_t tries = 1; !status.ok() && split_->on_corrupt() == OnCorrupt::kSkip && tries < n; ++tries) {
      offset = (offset + 1) % n;
      status = split_->Read(order[static_cast<size_t>(offset)], &example);
      if (status.ok()) {
        substitutions_.Add("list replaced by the next readable one", absl::StrCat("stream position ", q),
                           absl::StrCat("record ", order[static_cast<size_t>(q % n)], " is unreadable"));
      }
    }
    if (!status.ok()) return status;
    // Rating ties are ordered by a fresh draw at every stream position (so
    // per list and epoch), shared by the list's copies: a pure function of
    // (seed, position), hence exact on resume.
    const uint64_t tie_seed = TieSeed(options_.seed, q);
    ALRO_ASSIGN_OR_RETURN(RenderedExample original, renderer_->Render(example, {}, 0, tie_seed));
    const int32_t m = example.candidates_size();
    batch.lists.push_back(std::move(original));
    for (int64_t c = 1; c <= options_.psl_copies; ++c) {
      ALRO_ASSIGN_OR_RETURN(RenderedExample copy, renderer_->Render(example, PslPermutation(options_.seed, q, c, m),
                                                                    static_cast<int32_t>(c), tie_seed));
      batch.lists.push_back(std::move(copy));
    }
  }
  return batch;
}

void Loader::WorkerLoop() {
  while (true) {
    int64_t step;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || static_cast<int64_t>(queue_.size()) < options_.prefetch_batches; });
      if (stop_) return;
      step = produced_;
    }
    absl::StatusOr<Batch> batch = MakeBatch(base_position_ + step * global_batch_size());
    const bool failed = !batch.ok();
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(batch));
      ++produced_;
    }
    cv_.notify_all();
    if (failed) return;  // the error reaches Next(); nothing sensible follows it
  }
}

void Loader::StartWorker() {
  stop_ = false;
  produced_ = consumed_;
  worker_running_ = true;
  worker_ = std::thread([this] { WorkerLoop(); });
}

void Loader::StopWorker() {
  if (!worker_running_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
  worker_running_ = false;
  queue_.clear();
}

absl::StatusOr<Batch> Loader::Next() {
  if (options_.prefetch_batches == 0) {
    ALRO_ASSIGN_OR_RETURN(Batch batch, MakeBatch(base_position_ + consumed_ * global_batch_size()));
    ++consumed_;
    return batch;
  }
  if (!worker_running_) StartWorker();
  absl::StatusOr<Batch> batch;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !queue_.empty(); });
    // An error stays at the front: every later Next() reports it too.
    if (!queue_.front().ok()) return queue_.front().status();
    batch = std::move(queue_.front());
    queue_.pop_front();
    ++consumed_;
  }
  cv_.notify_all();
  return batch;
}

int64_t Loader::position() const {
  std::lock_guard<std::mutex> lock(mu_);
  return base_position_ + consumed_ * global_batch_size();
}

std::string Loader::State() const {
  return absl::StrCat(kStateTag, " split=", split_->split(), " records=", split_->size(), " seed=", options_.seed,
                      " shuffle_buffer=", options_.shuffle_buffer, " position=", position());
}

absl::Status Loader::Restore(absl::string_view state) {
  std::map<std::string, std::string> kv;
  std::vector<absl::string_view> words = absl::StrSplit(state, ' ', absl::SkipEmpty());
  if (words.empty() || words[0] != kStateTag) {
    return InvalidArgument(absl::StrCat("loader state '", state, "' is not a ", kStateTag, " state"),
                           "pass the string Loader::State() returned (it is stored in checkpoints)");
  }
  for (size_t i = 1; i < words.size(); ++i) {
    std::pair<std::string, std::string> p = absl::StrSplit(words[i], absl::MaxSplits('=', 1));
    kv[p.first] = p.second;
  }
  const auto expect = [&](const std::string& key, const std::string& value) -> absl::Status {
    if (kv[key] == value) return absl::OkStatus();
    return UserError(absl::StatusCode::kFailedPrecondition,
                     absl::StrCat("loader state has ", key, "=", kv[key], " but this job has ", key, "=", value),
                     "resume with the same data set, data.seed and data.shuffle_buffer, or start a fresh run");
  };
  ALRO_RETURN_IF_ERROR(expect("split", split_->split()));
  ALRO_RETURN_IF_ERROR(expect("records", absl::StrCat(split_->size())));
  ALRO_RETURN_IF_ERROR(expect("seed", absl::StrCat(options_.seed)));
  ALRO_RETURN_IF_ERROR(expect("shuffle_buffer", absl::StrCat(options_.shuffle_buffer)));
  int64_t position = 0;
  if (!absl::SimpleAtoi(kv["position"], &position) || position < 0) {
    return InvalidArgument(absl::StrCat("loader state has a bad position '", kv["position"], "'"));
  }
  StopWorker();
  std::lock_guard<std::mutex> lock(mu_);
  base_position_ = position;
  consumed_ = 0;
  produced_ = 0;
  return absl::OkStatus();
}

std::string Loader::DropSummary() const {
  if (split_->drops().total() == 0 && substitutions_.total() == 0) return "";
  return absl::StrCat(split_->drops().Summary(), "\n", substitutions_.Summary());
}

absl::StatusOr<std::shared_ptr<const Tokenizer>> OpenTokenizer(const config::Config& config) {
  if (!config.model.tokenizer.empty()) return Tokenizer::Load(config.model.tokenizer);
  ALRO_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(config.data.dir));
  if (manifest.tokenizer.empty()) {
    return UserError(absl::StatusCode::kNotFound,
                     absl::StrCat("model.tokenizer is empty and data set ", config.data.dir, " has no tokenizer"),
                     "set model.tokenizer to a SentencePiece .model, or convert with --vocab-size > 0");
  }
  // The data set's tokenizer must be the file the conversion wrote: a
  // changed one would silently render other tokens than the model learnt.
  const std::string path = JoinPath(config.data.dir, manifest.tokenizer);
  if (!PathExists(path)) return Tokenizer::Load(path);  // its error names the file
  ALRO_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  ALRO_ASSIGN_OR_RETURN(bool checked,
                        CheckTokenizerBytes(manifest, JoinPath(config.data.dir, kManifestName), path, bytes));
  if (!checked) {
    ALRO_LOG(WARNING) << "data set " << config.data.dir << ": the manifest records no checksum of " << path
                      << " (converted by an older alro); re-convert to have it checked";
  }
  return Tokenizer::FromSerialized(bytes, path);
}

absl::StatusOr<std::shared_ptr<const PromptRenderer>> OpenRenderer(const config::Config& config) {
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const Tokenizer> tokenizer, OpenTokenizer(config));
  if (tokenizer->vocab_size() > config.model.vocab_size) {
    return UserError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("tokenizer ", tokenizer->name(), " has ", tokenizer->vocab_size(),
                                  " pieces but model.vocab_size is ", config.model.vocab_size),
                     "raise model.vocab_size to at least the tokenizer's size");
  }
  RenderOptions options;
  options.max_tokens = config.model.max_seq_len;
  if (PromptUsesItemTokens(config.prompt)) {
    // Which item each <item_k> stands for is part of the data set.
    ALRO_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(config.data.dir));
    ALRO_ASSIGN_OR_RETURN(options.item_tokens,
                          ItemTokenTable::Create(manifest.item_tokens, *tokenizer,
                                                 absl::StrCat("data set ", JoinPath(config.data.dir, kManifestName))));
  }
  return PromptRenderer::Create(config.prompt, std::move(tokenizer), options);
}

absl::StatusOr<std::unique_ptr<Loader>> OpenTrainLoader(const config::Config& config,
                                                        std::shared_ptr<const PromptRenderer> renderer,
                                                        int64_t dp_rank, int64_t dp_size) {
  ALRO_ASSIGN_OR_RETURN(OnCorrupt on_corrupt, ParseOnCorrupt(config.data.on_corrupt));
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const SplitReader> split,
                        SplitReader::Open(config.data.dir, config.data.train_split, on_corrupt));
  LoaderOptions options;
  options.micro_batch_size = config.schedule.micro_batch_size;
  options.dp_rank = dp_rank;
  options.dp_size = dp_size;
  options.seed = static_cast<uint64_t>(config.data.seed);
  options.shuffle_buffer = config.data.shuffle_buffer;
  options.prefetch_batches = config.data.prefetch_batches;
  options.psl_copies = config.objective.psl_copies;
  return Loader::Create(std::move(split), std::move(renderer), options);
}

}  // namespace alro::data
