// config/config.h: the typed configuration of an alro job.
//
// One struct per YAML section. Each struct's Visit() names every key exactly
// once, with its range or allowed values; config_io.cc walks these visitors to
// parse YAML, print the effective configuration and hash it. Defaults here are
// the documented defaults (docs/configuration.md lists them).
//
// Adding a key: add the member with its default and one line in Visit().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/model_presets.h"

namespace alro::config {

/// Inclusive numeric bounds for a key.
template <typename T>
struct Range {
  T min;
  T max;
};

/// LoRA adapters on the parallel linears (see core/).
struct LoraConfig {
  bool enabled = false;
  int64_t rank = 8;
  double alpha = 16.0;
  double dropout = 0.0;
  /// Which projections get adapters: q_proj k_proj v_proj o_proj gate_proj up_proj down_proj.
  std::vector<std::string> targets = {"q_proj", "v_proj"};

  template <typename V>
  void Visit(V& v) {
    v.Field("enabled", enabled);
    v.Field("rank", rank, Range<int64_t>{1, 4096});
    v.Field("alpha", alpha, Range<double>{0.0, 1e6});
    v.Field("dropout", dropout, Range<double>{0.0, 0.99});
    v.Choices("targets", targets,
              {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"});
  }
};

/// The decoder's shape and numerics. `preset` fills the shape; keys given
/// explicitly in the file override the preset's values.
struct ModelConfig {
  /// A name of kModelPresets (config/model_presets.h) or "custom"; the
  /// defaults below are the first preset's shape (tiny).
  std::string preset = kModelPresets[0].name;
  int64_t vocab_size = kModelPresets[0].vocab_size;
  int64_t hidden_size = kModelPresets[0].hidden_size;
  int64_t intermediate_size = kModelPresets[0].intermediate_size;
  int64_t num_layers = kModelPresets[0].num_layers;
  int64_t num_heads = kModelPresets[0].num_heads;
  int64_t num_kv_heads = kModelPresets[0].num_kv_heads;
  int64_t max_seq_len = kModelPresets[0].max_seq_len;
  double rope_theta = kModelPresets[0].rope_theta;
  double rms_norm_eps = kModelPresets[0].rms_norm_eps;
  bool tie_embeddings = false;
  double init_std = 0.02;
  std::string dtype = "float32";  ///< compute dtype; master weights stay float32
  bool activation_checkpointing = false;
  /// Hugging Face model directory (config.json + *.safetensors); empty = random init.
  std::string pretrained;
  /// SentencePiece model file; empty = train one on the data set's text.
  std::string tokenizer;
  int64_t seed = 1234;
  LoraConfig lora;

  template <typename V>
  void Visit(V& v) {
    v.Choice("preset", preset, kModelPresetChoices);
    v.Field("vocab_size", vocab_size, Range<int64_t>{2, 1 << 22});
    v.Field("hidden_size", hidden_size, Range<int64_t>{1, 1 << 17});
    v.Field("intermediate_size", intermediate_size, Range<int64_t>{1, 1 << 19});
    v.Field("num_layers", num_layers, Range<int64_t>{1, 1024});
    v.Field("num_heads", num_heads, Range<int64_t>{1, 1024});
    v.Field("num_kv_heads", num_kv_heads, Range<int64_t>{1, 1024});
    v.Field("max_seq_len", max_seq_len, Range<int64_t>{8, 1 << 20});
    v.Field("rope_theta", rope_theta, Range<double>{1.0, 1e9});
    v.Field("rms_norm_eps", rms_norm_eps, Range<double>{1e-12, 1e-1});
    v.Field("tie_embeddings", tie_embeddings);
    v.Field("init_std", init_std, Range<double>{0.0, 10.0});
    v.Choice("dtype", dtype, {"float32", "bfloat16"});
    v.Field("activation_checkpointing", activation_checkpointing);
    v.Path("pretrained", pretrained, /*is_dir=*/true);
    v.Path("tokenizer", tokenizer, /*is_dir=*/false);
    v.Field("seed", seed, Range<int64_t>{0, INT64_MAX});
    v.Section("lora", lora);
  }
};

/// How the job is laid over ranks: world = data_parallel x tensor_parallel.
struct ParallelConfig {
  int64_t tensor_parallel = 1;
  /// 0 = world size / tensor_parallel.
  int64_t data_parallel = 0;
  std::string backend = "auto";  ///< auto (NCCL for CUDA tensors, else MPI) | mpi | nccl
  std::string device = "cpu";    ///< cpu | cuda
  double bucket_mb = 25.0;       ///< gradient all-reduce bucket size
  bool overlap_grad_reduce = false;
  /// A collective or step that takes longer than this aborts the job.
  double timeout_s = 600.0;

  template <typename V>
  void Visit(V& v) {
    v.Field("tensor_parallel", tensor_parallel, Range<int64_t>{1, 1024});
    v.Field("data_parallel", data_parallel, Range<int64_t>{0, 1 << 20});
    v.Choice("backend", backend, {"auto", "mpi", "nccl"});
    v.Choice("device", device, {"cpu", "cuda"});
    v.Field("bucket_mb", bucket_mb, Range<double>{0.001, 4096.0});
    v.Field("overlap_grad_reduce", overlap_grad_reduce);
    v.Field("timeout_s", timeout_s, Range<double>{0.1, 86400.0});
  }
};

/// Where the record shards are and how they are streamed.
struct DataConfig {
  /// Directory written by `alro convert` (holds manifest.json and the shards).
  std::string dir;
  std::string on_corrupt = "fail";  ///< fail | skip
  int64_t shuffle_buffer = 1024;
  int64_t seed = 42;
  int64_t prefetch_batches = 4;
  std::string train_split = "train";
  std::string eval_split = "valid";

  template <typename V>
  void Visit(V& v) {
    v.Path("dir", dir, /*is_dir=*/true);
    v.Choice("on_corrupt", on_corrupt, {"fail", "skip"});
    v.Field("shuffle_buffer", shuffle_buffer, Range<int64_t>{1, 1 << 24});
    v.Field("seed", seed, Range<int64_t>{0, INT64_MAX});
    v.Field("prefetch_batches", prefetch_batches, Range<int64_t>{0, 1024});
    v.Choice("train_split", train_split, {"train", "valid", "test"});
    v.Choice("eval_split", eval_split, {"train", "valid", "test"});
  }
};

/// How a list-wise example becomes a prompt (rendered at load time).
struct PromptConfig {
  /// One single-token identifier per candidate slot; m <= identifiers.size().
  std::vector<std::string> identifiers = {"A", "B", "C", "D", "E", "F", "G", "H", "I", "J",
                                          "K", "L", "M", "N", "O", "P", "Q", "R", "S", "T"};
  int64_t max_history = 10;
  int64_t max_title_chars = 60;
  std::string header = "Rank the candidate movies for this user, best first.";
  /// {title} {rating} (and the item statistics {count} {mean}, for data
  /// converted with --item-stats true) are replaced; one line per history
  /// interaction.
  std::string history_line = "watched {title} rated {rating}";
  /// {id} {title} (and {count} {mean}) are replaced; one line per candidate.
  std::string candidate_line = "{id}: {title}";
  std::string answer_prefix = "Answer:";
  /// {mean} shrinks an item's mean rating toward stats_prior_mean by
  /// stats_shrinkage pseudo-ratings (0 = the plain mean).
  double stats_prior_mean = 3.5;
  double stats_shrinkage = 0.0;

  template <typename V>
  void Visit(V& v) {
    v.Field("identifiers", identifiers);
    v.Field("max_history", max_history, Range<int64_t>{0, 4096});
    v.Field("max_title_chars", max_title_chars, Range<int64_t>{1, 100000});
    v.Field("header", header);
    v.Field("history_line", history_line);
    v.Field("candidate_line", candidate_line);
    v.Field("answer_prefix", answer_prefix);
    v.Field("stats_prior_mean", stats_prior_mean, Range<double>{-1e6, 1e6});
    v.Field("stats_shrinkage", stats_shrinkage, Range<double>{0.0, 1e6});
  }
};

/// L = lm_weight * L_LM + sll_weight * SLL + psl_weight * L_PSL (docs/method.md).
struct ObjectiveConfig {
  double lm_weight = 1.0;
  double sll_weight = 1.0;
  double psl_weight = 0.5;
  double sll_gamma = 10.0;  ///< sharpness of the softmax over positions
  double sll_sigma = 1.0;
  int64_t sll_top_k = 0;  ///< 0 = all pairs
  int64_t psl_copies = 1;
  std::string psl_divergence = "js";  ///< js | kl | mse
  /// How a list and its copies are computed: auto | always | never
  /// (train/shared_prefix_layout.h); the losses are the same either way.
  std::string shared_prefix = "auto";
  /// Whether several lists (or shared groups) of a micro-batch share a row
  /// instead of padding every row to the longest: auto | always | never.
  std::string pack_lists = "auto";
  /// LambdaLoss weighting for the single-step scoring objective.
  std::string lambdaloss_weighting = "ndcg2";  ///< ndcg2 | lambdarank | ndcg2pp
  double lambdaloss_mu = 10.0;
  double single_step_weight = 0.0;  ///< weight of LambdaLoss on first-slot scores

  template <typename V>
  void Visit(V& v) {
    v.Field("lm_weight", lm_weight, Range<double>{0.0, 1e6});
    v.Field("sll_weight", sll_weight, Range<double>{0.0, 1e6});
    v.Field("psl_weight", psl_weight, Range<double>{0.0, 1e6});
    v.Field("sll_gamma", sll_gamma, Range<double>{1e-6, 1e6});
    v.Field("sll_sigma", sll_sigma, Range<double>{1e-6, 1e6});
    v.Field("sll_top_k", sll_top_k, Range<int64_t>{0, 1 << 20});
    v.Field("psl_copies", psl_copies, Range<int64_t>{0, 64});
    v.Choice("psl_divergence", psl_divergence, {"js", "kl", "mse"});
    v.Choice("shared_prefix", shared_prefix, {"auto", "always", "never"});
    v.Choice("pack_lists", pack_lists, {"auto", "always", "never"});
    v.Choice("lambdaloss_weighting", lambdaloss_weighting, {"ndcg2", "lambdarank", "ndcg2pp"});
    v.Field("lambdaloss_mu", lambdaloss_mu, Range<double>{0.0, 1e6});
    v.Field("single_step_weight", single_step_weight, Range<double>{0.0, 1e6});
  }
};

/// AdamW with decoupled weight decay (none on norms and biases).
struct OptimizerConfig {
  double lr = 1e-3;
  double weight_decay = 0.01;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double grad_clip = 1.0;  ///< global-norm clip; 0 = off

  template <typename V>
  void Visit(V& v) {
    v.Field("lr", lr, Range<double>{0.0, 10.0});
    v.Field("weight_decay", weight_decay, Range<double>{0.0, 10.0});
    v.Field("beta1", beta1, Range<double>{0.0, 0.999999});
    v.Field("beta2", beta2, Range<double>{0.0, 0.999999});
    v.Field("eps", eps, Range<double>{1e-30, 1.0});
    v.Field("grad_clip", grad_clip, Range<double>{0.0, 1e6});
  }
};

/// Steps, batch sizes and the learning-rate schedule (linear warmup, cosine decay).
struct ScheduleConfig {
  int64_t steps = 100;
  int64_t warmup_steps = 10;
  double min_lr_ratio = 0.1;
  /// Lists per rank per forward/backward (before PSL copies are added).
  int64_t micro_batch_size = 4;
  /// Lists per optimizer step across all data-parallel ranks; must be a
  /// multiple of micro_batch_size x data_parallel (the quotient is the number
  /// of accumulation micro-steps). 0 = micro_batch_size x data_parallel.
  int64_t global_batch_size = 0;

  template <typename V>
  void Visit(V& v) {
    v.Field("steps", steps, Range<int64_t>{1, INT64_MAX});
    v.Field("warmup_steps", warmup_steps, Range<int64_t>{0, INT64_MAX});
    v.Field("min_lr_ratio", min_lr_ratio, Range<double>{0.0, 1.0});
    v.Field("micro_batch_size", micro_batch_size, Range<int64_t>{1, 1 << 20});
    v.Field("global_batch_size", global_batch_size, Range<int64_t>{0, 1 << 30});
  }
};

/// Sharded checkpoints on shared storage.
struct CheckpointConfig {
  std::string dir;  ///< empty = no checkpoints
  int64_t every_steps = 0;  ///< 0 = only at the end
  int64_t keep_last = 2;
  int64_t keep_every = 0;  ///< also keep every K-th step's checkpoint; 0 = none
  std::string resume = "none";  ///< none | auto | a checkpoint directory

  template <typename V>
  void Visit(V& v) {
    v.Field("dir", dir);
    v.Field("every_steps", every_steps, Range<int64_t>{0, INT64_MAX});
    v.Field("keep_last", keep_last, Range<int64_t>{2, 1 << 20});
    v.Field("keep_every", keep_every, Range<int64_t>{0, INT64_MAX});
    v.Field("resume", resume);
  }
};

/// What the user sees: console lines, metrics JSONL, validation.
struct LoggingConfig {
  std::string dir = "runs/tiny";  ///< metrics.jsonl and plots go here
  int64_t every_steps = 10;
  int64_t eval_every_steps = 0;  ///< 0 = only at the end
  int64_t eval_lists = 256;      ///< validation lists per evaluation; 0 = all
  std::vector<int64_t> ndcg_k = {1, 3, 5, 10};
  std::string level = "info";  ///< debug | info | warning | error
  bool all_ranks = false;
  std::string on_nan = "stop";  ///< stop | skip

  template <typename V>
  void Visit(V& v) {
    v.Field("dir", dir);
    v.Field("every_steps", every_steps, Range<int64_t>{1, INT64_MAX});
    v.Field("eval_every_steps", eval_every_steps, Range<int64_t>{0, INT64_MAX});
    v.Field("eval_lists", eval_lists, Range<int64_t>{0, INT64_MAX});
    v.Field("ndcg_k", ndcg_k);
    v.Choice("level", level, {"debug", "info", "warning", "error"});
    v.Field("all_ranks", all_ranks);
    v.Choice("on_nan", on_nan, {"stop", "skip"});
  }
};

/// The whole job.
struct Config {
  ModelConfig model;
  ParallelConfig parallel;
  DataConfig data;
  PromptConfig prompt;
  ObjectiveConfig objective;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  CheckpointConfig checkpoint;
  LoggingConfig logging;

  template <typename V>
  void Visit(V& v) {
    v.Section("model", model);
    v.Section("parallel", parallel);
    v.Section("data", data);
    v.Section("prompt", prompt);
    v.Section("objective", objective);
    v.Section("optimizer", optimizer);
    v.Section("schedule", schedule);
    v.Section("checkpoint", checkpoint);
    v.Section("logging", logging);
  }
};

}  // namespace alro::config
