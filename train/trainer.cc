// train/trainer.cc: the training loop (see trainer.h for one step).
#include "train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/status.h"
#include "config/config_io.h"
#include "config/model_size.h"
#include "core/batched_matmul.h"
#include "core/hf_checkpoint.h"
#include "core/pretrained_shape.h"
#include "core/vocab_growth.h"
#include "distributed/device.h"
#include "train/batch_tensors.h"
#include "train/checkpoint.h"
#include "train/evaluator.h"
#include "train/fault_injection.h"
#include "train/grad_clip.h"
#include "train/lr_schedule.h"
#include "train/micro_batch_loss.h"
#include "train/model_loading.h"
#include "train/run_consistency.h"
#include "train/shared_prefix_layout.h"
#include "train/vocab_growth.h"

namespace alro::train {
namespace {

using Clock = std::chrono::steady_clock;

// Peak of an A100's dense bf16 tensor cores, the MFU denominator on CUDA
// when --peak-tflops is not given.
constexpr double kAssumedCudaPeakFlops = 312e12;
// Matrix size and repetitions of the CPU peak measurement (~0.1 s in float32).
constexpr int64_t kPeakProbeSize = 384;
constexpr int kPeakProbeReps = 6;
// Smoothing of the step time used for the ETA.
constexpr double kStepTimeSmoothing = 0.1;
constexpr double kBytesPerMiB = 1024.0 * 1024.0;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// Matrix-multiply FLOP/s of this rank in the model's compute dtype (a bf16
// step is quoted against the bf16 peak), measured while every rank measures
// (so ranks sharing cores see their share). Each rank keeps its fastest
// product: a slower one measured a moment of contention, not the peak, and
// would make the MFU read above 100%. Both ATen's mm and the gemm the
// model's linears call (core::LinearProduct: oneDNN's sgemm in float32 where
// it is loaded) are timed, and the faster counts: the MFU is against the
// best product this process can run. Averaged over the job.
double MeasurePeakFlops(dist::Communicator& world, at::ScalarType dtype) {
  at::NoGradGuard no_grad;
  const at::Tensor a = at::randn({kPeakProbeSize, kPeakProbeSize}).to(dtype);
  at::Tensor c = at::mm(a, a);  // warm-up
  c = core::LinearProduct(a, a);
  world.Barrier();
  double fastest = 1e30;
  for (int i = 0; i < kPeakProbeReps; ++i) {
    auto start = Clock::now();
    c = at::mm(a, a);
    fastest = std::min(fastest, std::max(1e-9, Seconds(start)));
    start = Clock::now();
    c = core::LinearProduct(a, a);
    fastest = std::min(fastest, std::max(1e-9, Seconds(start)));
  }
  at::Tensor flops = at::full({1}, 2.0 * std::pow(double(kPeakProbeSize), 3) / fastest, at::kDouble);
  world.AllReduce(flops, dist::ReduceOp::kAverage);
  return flops.item<double>();
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

// Per-rank state blobs of a checkpoint: torch's default CPU generator, and
// the LoRA dropout generator (core::Decoder::dropout_generator()).
constexpr const char* kRngStateKey = "rng";
constexpr const char* kDropoutRngStateKey = "lora_dropout_rng";

std::string GeneratorStateBytes(const at::Generator& gen) {
  const at::Tensor state = gen.get_state().contiguous();
  return std::string(reinterpret_cast<const char*>(state.data_ptr<uint8_t>()), state.numel());
}

void SetGeneratorStateBytes(at::Generator& gen, const std::string& bytes) {
  at::Tensor state = at::empty({static_cast<int64_t>(bytes.size())}, at::kByte);
  std::memcpy(state.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

std::vector<at::Tensor> Tensors(const std::vector<core::ShardedParameter>& params) {
  std::vector<at::Tensor> out;
  out.reserve(params.size());
  for (const core::ShardedParameter& p : params) out.push_back(p.tensor);
  return out;
}

}  // namespace

double StepStats::Term(const std::string& name) const {
  for (const auto& [key, value] : terms)
    if (key == name) return value;
  return 0.0;
}

Trainer::Trainer(const config::Config& config, dist::ProcessGrid& grid, const TrainerOptions& options)
    : config_(config), grid_(grid), options_(options) {}

Trainer::~Trainer() = default;

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const config::Config& config, dist::ProcessGrid& grid,
                                                         const TrainerOptions& options) {
  std::unique_ptr<Trainer> trainer(new Trainer(config, grid, options));
  ALRO_RETURN_IF_ERROR(trainer->Initialize());
  return trainer;
}

absl::Status Trainer::Initialize() {
  accumulation_ = config::AccumulationSteps(config_);
  // `alro train` resolved the shape against model.pretrained already; a
  // configuration built another way must agree with the checkpoint too,
  // except for a vocabulary that grows by the data set's item tokens.
  ALRO_ASSIGN_OR_RETURN(std::optional<VocabGrowthPlan> growth, ResolveVocabGrowth(&config_));
  config::ModelConfig checkpoint_shape = config_.model;
  if (growth) checkpoint_shape.vocab_size = growth->growth.checkpoint_vocab;
  ALRO_RETURN_IF_ERROR(core::CheckPretrainedShape(checkpoint_shape));
  // OpenRenderer checks the tokenizer against model.vocab_size.
  ALRO_ASSIGN_OR_RETURN(renderer_, data::OpenRenderer(config_));
  pad_id_ = std::max<int32_t>(0, renderer_->tokenizer().pad_id());
  ALRO_ASSIGN_OR_RETURN(layout_, LayoutOptions::FromConfig(config_));
  data_hash_ = DataManifestHash(config_.data.dir);

  // Which checkpoint to resume from: rank 0 decides (it looks at the shared
  // directory once) and tells everyone, so all ranks load the same one.
  ALRO_ASSIGN_OR_RETURN(std::optional<std::string> resume,
                        ResolveResume(config_.checkpoint.resume, config_.checkpoint.dir));
  if (config_.checkpoint.resume == "auto") {
    // Rank 0's view of the shared directory decides, so every rank loads the
    // same checkpoint even if the listing raced with a file system delay.
    at::Tensor step = at::full({1}, int64_t{-1}, at::kLong);
    if (grid_.world_rank() == 0 && resume) step.fill_(ListCompleteCheckpoints(config_.checkpoint.dir).back());
    grid_.world().Broadcast(step, 0);
    const int64_t s = step.item<int64_t>();
    resume = s >= 0 ? std::optional<std::string>(CheckpointPath(config_.checkpoint.dir, s)) : std::nullopt;
  }

  ALRO_ASSIGN_OR_RETURN(const c10::Device device, dist::SelectDevice(config_.parallel.device, options_.local_rank));
  // Random weights are drawn on the CPU (the same on every device) and each
  // rank's slice is copied to its device; loading does the same slice by slice.
  model_ = std::make_shared<core::Decoder>(config_.model, grid_, /*random_init=*/!resume.has_value(), device);
  if (!resume && !config_.model.pretrained.empty()) {
    if (growth && grid_.world_rank() == 0) ALRO_LOG(INFO) << "vocabulary " << growth->reason;
    ALRO_RETURN_IF_ERROR(growth ? core::LoadGrownHfCheckpoint(config_.model.pretrained, *model_, growth->growth)
                                : core::LoadHfCheckpoint(config_.model.pretrained, *model_));
  }
  for (const core::ShardedParameter& p : model_->ShardedParameters())
    if (p.trainable) trainable_.push_back(p);
  optimizer_ = std::make_unique<AdamW>(trainable_, config_.optimizer);
  if (resume) ALRO_RETURN_IF_ERROR(Restore(*resume));

  const std::vector<at::Tensor> all_params = Tensors(model_->ShardedParameters());
  // Check before broadcasting: ranks whose shapes differ would otherwise fail
  // inside the broadcast with an MPI truncation error instead of a message
  // naming the rank that differs.
  ALRO_RETURN_IF_ERROR(CheckRunConsistency(grid_.world(), config::ConfigHash(config_), all_params,
                                           crc32c::Value(data_hash_), grid_.tp_rank()));
  dist::BroadcastParameters(all_params, grid_.dp());
  grad_sync_ = std::make_unique<dist::GradientSynchronizer>(
      Tensors(trainable_), grid_.dp(), static_cast<size_t>(config_.parallel.bucket_mb * kBytesPerMiB));
  if (config_.parallel.overlap_grad_reduce) grad_sync_->EnableOverlap();
  ALRO_ASSIGN_OR_RETURN(losses::Objective objective, losses::Objective::Create(config_.objective));
  objective_.emplace(std::move(objective));

  ALRO_ASSIGN_OR_RETURN(loader_, data::OpenTrainLoader(config_, renderer_, grid_.dp_rank(), grid_.dp_size()));
  if (resume) {
    ALRO_ASSIGN_OR_RETURN(CheckpointReader reader, CheckpointReader::Open(*resume));
    ALRO_ASSIGN_OR_RETURN(std::string loader_state, reader.RankState("loader", grid_.world_rank()));
    ALRO_RETURN_IF_ERROR(Annotate(loader_->Restore(loader_state), absl::StrCat("resuming the loader from ", *resume)));
  }
  if (grid_.world_rank() == 0 && !config_.logging.dir.empty()) {
    ALRO_ASSIGN_OR_RETURN(metrics_, MetricsLog::Open(JoinPath(config_.logging.dir, "metrics.jsonl"), step_));
  }
  peak_flops_ = options_.peak_flops_per_rank > 0 ? options_.peak_flops_per_rank
                : config_.parallel.device == "cuda" ? kAssumedCudaPeakFlops
                                                    : MeasurePeakFlops(grid_.world(), model_->compute_dtype());
  resumed_from_ = resume;
  return absl::OkStatus();
}

absl::Status Trainer::Restore(const std::string& dir) {
  const auto start = Clock::now();
  ALRO_ASSIGN_OR_RETURN(CheckpointReader reader, CheckpointReader::Open(dir));
  ALRO_RETURN_IF_ERROR(CheckCheckpointTokenizer(reader, renderer_->tokenizer()));
  for (const core::ShardedParameter& p : model_->ShardedParameters()) ALRO_RETURN_IF_ERROR(reader.LoadInto(p));
  for (const core::ShardedParameter& s : optimizer_->StateShards()) ALRO_RETURN_IF_ERROR(reader.LoadInto(s));
  step_ = reader.step();
  const nlohmann::json& extra = reader.manifest().value("extra", nlohmann::json::object());
  optimizer_->set_step_count(extra.value("optimizer_steps", step_));
  ALRO_ASSIGN_OR_RETURN(std::string rng, reader.RankState(kRngStateKey, grid_.world_rank()));
  at::Generator default_generator = at::detail::getDefaultCPUGenerator();
  SetGeneratorStateBytes(default_generator, rng);
  const std::string saved_hash = reader.manifest().value("data_manifest_hash", "");
  if (saved_hash != data_hash_) {
    ALRO_LOG(WARNING) << "resume: the checkpoint was written for data " << saved_hash << ", data.dir now has "
                      << data_hash_ << " (continuing on the new data)";
  }
  const nlohmann::json& grid = reader.manifest().value("grid", nlohmann::json::object());
  // LoRA dropout masks continue exactly only at the saved shape: each
  // data-parallel rank has its own stream, and a row-parallel mask covers
  // this rank's slice of the input. At another shape the generators keep
  // their fresh seeds (model.seed and the new dp rank).
  const bool same_shape = grid.value("data_parallel", 0) == grid_.dp_size() &&
                          grid.value("tensor_parallel", 0) == grid_.tp_size();
  const std::vector<std::string> keys = reader.RankStateKeys(grid_.world_rank());
  if (same_shape && std::find(keys.begin(), keys.end(), kDropoutRngStateKey) != keys.end()) {
    ALRO_ASSIGN_OR_RETURN(std::string dropout_rng, reader.RankState(kDropoutRngStateKey, grid_.world_rank()));
    SetGeneratorStateBytes(model_->dropout_generator(), dropout_rng);
  } else if (config_.model.lora.enabled && config_.model.lora.dropout > 0) {
    ALRO_LOG(INFO) << "resume: LoRA dropout masks restart from model.seed (the checkpoint has another "
                      "parallel shape), so this run will not repeat an uninterrupted one bit for bit";
  }
  ALRO_LOG(INFO) << "resumed from " << dir << " at step " << step_ << " (saved at dp "
                 << grid.value("data_parallel", 0) << " x tp " << grid.value("tensor_parallel", 0) << ", now dp "
                 << grid_.dp_size() << " x tp " << grid_.tp_size() << ") in "
                 << absl::StrFormat("%.2f s", Seconds(start));
  return absl::OkStatus();
}

absl::Status Trainer::MicroStep(int64_t micro, int64_t accumulation, std::vector<double>* sums, int64_t* tokens,
                                int64_t* lists) {
  std::optional<ProfilePhase> phase(std::in_place, "alro::load_batch");
  ALRO_ASSIGN_OR_RETURN(data::Batch batch, loader_->Next());
  ALRO_ASSIGN_OR_RETURN(const BatchTensors host_batch, ToTrainingTensors(batch, pad_id_, layout_));
  const BatchTensors b = ToDevice(host_batch, model_->device());
  answer_slots_ = b.identifier_ids.size(1);
  phase.emplace("alro::forward_and_loss");
  losses::ObjectiveTerms terms = MicroBatchLoss(*model_, *objective_, b, grid_.tp());
  if (micro == 0 && FaultRequested("nan_loss", grid_.world_rank(), step_ + 1)) {
    ALRO_LOG(WARNING) << "fault injection: NaN loss on rank " << grid_.world_rank() << " at step " << step_ + 1;
    terms.total = terms.total * std::numeric_limits<double>::quiet_NaN();
  }
  if (grad_sync_ && config_.parallel.overlap_grad_reduce) grad_sync_->set_sync_enabled(micro + 1 == accumulation);
  phase.emplace("alro::backward");
  (terms.total / static_cast<double>(accumulation)).backward();
  phase.reset();
  const auto report = terms.Report();
  for (size_t i = 0; i < report.size() && i < sums->size(); ++i) (*sums)[i] += report[i].second;
  *tokens += b.real_tokens;
  *lists += b.lists;
  return absl::OkStatus();
}

absl::StatusOr<StepStats> Trainer::Step() {
  const auto start = Clock::now();
  const size_t num_terms = losses::kObjectiveTermNames.size();
  std::vector<double> sums(num_terms, 0.0);
  int64_t tokens = 0, lists = 0;
  model_->train();
  for (int64_t micro = 0; micro < accumulation_; ++micro) {
    ALRO_RETURN_IF_ERROR(MicroStep(micro, accumulation_, &sums, &tokens, &lists));
  }
  std::optional<ProfilePhase> phase(std::in_place, "alro::grad_sync");
  grad_sync_->Synchronize();
  phase.emplace("alro::step_statistics");

  // One all-reduce over the job: the terms (summed; each replica counted
  // tp_size times), tokens and lists (likewise), and one non-finite flag per
  // world rank, so every rank learns which terms and ranks went bad.
  const int world = grid_.world_size();
  // Filled on the host and read back through a pointer: one tensor, no
  // per-element indexing ops.
  std::vector<double> host(num_terms + 2 + world, 0.0);
  bool local_bad = false;
  for (size_t i = 0; i < num_terms; ++i) {
    host[i] = sums[i];
    local_bad = local_bad || !std::isfinite(sums[i]);
  }
  host[num_terms] = static_cast<double>(tokens);
  host[num_terms + 1] = static_cast<double>(lists);
  host[num_terms + 2 + grid_.world_rank()] = local_bad ? 1.0 : 0.0;
  at::Tensor v = at::tensor(host, at::kDouble);
  grid_.world().AllReduce(v, dist::ReduceOp::kSum);
  const double* reduced = v.data_ptr<double>();
  const double replicas_times_micro = static_cast<double>(world) * accumulation_;

  StepStats stats;
  stats.step = step_ + 1;
  std::vector<std::string> bad_terms, bad_ranks;
  for (size_t i = 0; i < num_terms; ++i) {
    const double value = reduced[i] / replicas_times_micro;
    stats.terms.emplace_back(losses::kObjectiveTermNames[i], value);
    if (!std::isfinite(value)) bad_terms.push_back(absl::StrCat(losses::kObjectiveTermNames[i], "=", value));
  }
  for (int r = 0; r < world; ++r)
    if (reduced[num_terms + 2 + r] > 0) bad_ranks.push_back(absl::StrCat(r));
  stats.tokens = static_cast<int64_t>(reduced[num_terms] / grid_.tp_size());
  stats.lists = static_cast<int64_t>(reduced[num_terms + 1] / grid_.tp_size());
  stats.lr = LearningRate(config_.optimizer, config_.schedule, step_);
  if (bad_terms.empty()) {
    stats.grad_norm = GlobalGradNorm(trainable_, grid_.tp());
    if (!std::isfinite(stats.grad_norm)) bad_terms.push_back(absl::StrCat("grad_norm=", stats.grad_norm));
  }
  if (!bad_terms.empty()) {
    const std::string report =
        absl::StrCat("non-finite value at step ", stats.step, ": ", absl::StrJoin(bad_terms, ", "),
                     bad_ranks.empty() ? "" : absl::StrCat(" (from rank ", absl::StrJoin(bad_ranks, ", "), ")"));
    optimizer_->ZeroGrad();
    if (config_.logging.on_nan != "skip") {
      return UserError(absl::StatusCode::kAborted, absl::StrCat(report, "; every rank stops"),
                       "lower optimizer.lr or raise optimizer.grad_clip's strictness, check the data, or set "
                       "logging.on_nan=skip to skip such steps");
    }
    ALRO_LOG(WARNING) << report << "; step skipped (logging.on_nan=skip)";
    stats.skipped = true;
  } else {
    phase.emplace("alro::clip_and_optimizer");
    ClipGradients(trainable_, stats.grad_norm, config_.optimizer.grad_clip);
    optimizer_->Step(stats.lr);
    optimizer_->ZeroGrad();
  }
  ++step_;
  stats.seconds = Seconds(start);
  step_seconds_ema_ = step_seconds_ema_ == 0.0 ? stats.seconds
                                               : (1 - kStepTimeSmoothing) * step_seconds_ema_ +
                                                     kStepTimeSmoothing * stats.seconds;
  history_.push_back(stats);
  return stats;
}

double Trainer::EstimatedMfu(double tokens_per_s) const {
  int64_t tokens = 0, lists = 0;
  for (const StepStats& s : history_) {
    tokens += s.tokens;
    lists += s.lists;
  }
  const int64_t rows = std::max<int64_t>(1, lists * (1 + config_.objective.psl_copies));
  const int64_t seq_len = std::max<int64_t>(1, tokens / rows);
  double flops_per_token = config::TrainingFlopsPerToken(config_.model, seq_len);
  // TrainingFlopsPerToken counts the LM head (6 x V x H) on every token; the
  // trainer applies it at the m answer slots of each row only.
  const double head_flops = 6.0 * static_cast<double>(config_.model.vocab_size) * config_.model.hidden_size;
  const double head_fraction = std::min(1.0, static_cast<double>(answer_slots_) / static_cast<double>(seq_len));
  flops_per_token -= head_flops * (1.0 - head_fraction);
  return peak_flops_ > 0 ? flops_per_token * tokens_per_s / (peak_flops_ * grid_.world_size()) : 0.0;
}

void Trainer::LogStep(const StepStats& stats) {
  // Throughput over the steps since the last line.
  const int64_t every = std::max<int64_t>(1, config_.logging.every_steps);
  double seconds = 0.0;
  int64_t tokens = 0, lists = 0;
  for (size_t i = history_.size() - std::min<size_t>(history_.size(), every); i < history_.size(); ++i) {
    seconds += history_[i].seconds;
    tokens += history_[i].tokens;
    lists += history_[i].lists;
  }
  const double tokens_per_s = seconds > 0 ? tokens / seconds : 0.0;
  const double lists_per_s = seconds > 0 ? lists / seconds : 0.0;
  const double mfu = EstimatedMfu(tokens_per_s);
  const double eta = step_seconds_ema_ * static_cast<double>(config_.schedule.steps - step_);
  nlohmann::ordered_json line = {{"kind", "train"}, {"step", stats.step}};
  std::string text = absl::StrFormat("step %d/%d |", stats.step, config_.schedule.steps);
  for (const auto& [name, value] : stats.terms) {
    line[name] = value;
    if (name == "loss" || value != 0.0) absl::StrAppendFormat(&text, " %s %.4f", name, value);
  }
  line["lr"] = stats.lr;
  line["grad_norm"] = stats.grad_norm;
  line["tokens_per_s"] = tokens_per_s;
  line["lists_per_s"] = lists_per_s;
  line["mfu"] = mfu;
  line["eta_s"] = eta;
  line["skipped"] = stats.skipped;
  metrics_.Append(line);
  if (options_.quiet) return;
  ALRO_LOG(INFO) << text
                 << absl::StrFormat(" | lr %.2e | gnorm %.3f | %.0f tok/s %.1f lists/s | mfu %.2f%% | eta %s%s",
                                    stats.lr, stats.grad_norm, tokens_per_s, lists_per_s, 100.0 * mfu,
                                    FormatDuration(eta), stats.skipped ? " | SKIPPED" : "");
}

absl::StatusOr<nlohmann::ordered_json> Trainer::Validate() {
  if (!eval_reader_) {
    ALRO_ASSIGN_OR_RETURN(eval_reader_, data::OpenEvalReader(config_, renderer_, grid_.dp_rank(), grid_.dp_size()));
  }
  const auto start = Clock::now();
  model_->eval();
  EvalSettings settings;
  settings.ks = config_.logging.ndcg_k;
  absl::StatusOr<EvalResult> result = Evaluate(*model_, *eval_reader_, grid_, settings);
  model_->train();
  if (!result.ok()) return result.status();
  nlohmann::ordered_json line = {{"kind", "eval"}, {"step", step_}, {"split", config_.data.eval_split}};
  std::string text = absl::StrFormat("eval step %d (%s, %d lists, %.1f s):", step_, config_.data.eval_split,
                                     result->summary.value("lists", int64_t{0}), Seconds(start));
  for (const auto& [key, value] : result->summary.items()) {
    line[key] = value;
    if (value.is_number_float() && key != "liked_threshold") {
      absl::StrAppendFormat(&text, " %s %.4f", key, value.get<double>());
    }
  }
  metrics_.Append(line);
  if (!options_.quiet) ALRO_LOG(INFO) << text;
  return result->summary;
}

absl::StatusOr<std::string> Trainer::SaveCheckpointNow() {
  const auto start = Clock::now();
  CheckpointContents contents;
  contents.step = step_;
  contents.tensors = model_->ShardedParameters();
  for (core::ShardedParameter& s : optimizer_->StateShards()) contents.tensors.push_back(std::move(s));
  contents.rank_state["loader"] = loader_->State();
  contents.rank_state[kRngStateKey] = GeneratorStateBytes(at::detail::getDefaultCPUGenerator());
  contents.rank_state[kDropoutRngStateKey] = GeneratorStateBytes(model_->dropout_generator());
  contents.config_yaml = config::ConfigToYaml(config_);
  contents.config_hash = config::ConfigHash(config_);
  contents.data_manifest_hash = data_hash_;
  const data::Tokenizer& tokenizer = renderer_->tokenizer();
  contents.tokenizer = TokenizerIdentity(tokenizer.name(), tokenizer.size_bytes(), tokenizer.crc32c());
  contents.extra["optimizer_steps"] = optimizer_->step_count();
  if (!history_.empty()) {
    for (const auto& [name, value] : history_.back().terms) contents.extra["last_terms"][name] = value;
  }
  ALRO_ASSIGN_OR_RETURN(std::string dir,
                        SaveCheckpoint(config_.checkpoint.dir, contents,
                                       {config_.checkpoint.keep_last, config_.checkpoint.keep_every}, grid_));
  if (!options_.quiet) ALRO_LOG(INFO) << "checkpoint: wrote " << dir << absl::StrFormat(" in %.2f s", Seconds(start));
  return dir;
}

absl::Status Trainer::Train() {
  const int64_t steps = config_.schedule.steps;
  const int64_t log_every = std::max<int64_t>(1, config_.logging.every_steps);
  const int64_t eval_every = config_.logging.eval_every_steps;
  const int64_t ckpt_every = config_.checkpoint.every_steps;
  const bool checkpoints = !config_.checkpoint.dir.empty();
  if (step_ >= steps) {
    ALRO_LOG(INFO) << "the run is already complete (step " << step_ << " of " << steps << ")";
    return absl::OkStatus();
  }
  StepProfiler profiler(options_.profile_steps, config_.logging.dir, grid_.world_rank());
  while (step_ < steps) {
    profiler.BeforeStep(step_ + 1);
    ALRO_ASSIGN_OR_RETURN(StepStats stats, Step());
    ALRO_RETURN_IF_ERROR(profiler.AfterStep(step_));
    if (step_ % log_every == 0 || step_ == steps || step_ == 1) LogStep(stats);
    if (eval_every > 0 && step_ % eval_every == 0) ALRO_RETURN_IF_ERROR(Validate().status());
    if (checkpoints && ckpt_every > 0 && step_ % ckpt_every == 0) ALRO_RETURN_IF_ERROR(SaveCheckpointNow().status());
  }
  if (eval_every == 0 || step_ % eval_every != 0) ALRO_RETURN_IF_ERROR(Validate().status());
  if (checkpoints && (ckpt_every == 0 || step_ % ckpt_every != 0)) ALRO_RETURN_IF_ERROR(SaveCheckpointNow().status());
  ALRO_LOG(INFO) << "training complete: " << step_ << " steps";
  if (const std::string drops = loader_->DropSummary(); !drops.empty()) {
    ALRO_LOG(WARNING) << "data.on_corrupt is skip, and this rank's loader skipped unreadable training data:\n"
                      << drops << "\nHINT: `alro data verify " << config_.data.dir << "` names the damaged shards";
  }
  return absl::OkStatus();
}

}  // namespace alro::train
