// tests/train/synthetic_data.cc: the synthetic data set and config of the
// training tests (see synthetic_data.h).
#include "tests/train/synthetic_data.h"

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status.h"
#include "config/config_io.h"
#include "data/converters/convert.h"

namespace alro::train::testing_util {
namespace {

constexpr int kUsers = 16;
constexpr int kItems = 48;
constexpr int kRatingsPerUser = 20;
constexpr int kGenres = 4;
constexpr int32_t kTokenizerVocab = 200;
constexpr int64_t kModelVocab = 256;  // >= the tokenizer's, divisible by tp 2 and 4
const char* const kGenreNames[kGenres] = {"Drama", "Comedy", "Action", "Horror"};

}  // namespace

absl::Status WriteSyntheticRatings(const std::string& dir) {
  const std::string raw = JoinPath(dir, "raw");
  ALRO_RETURN_IF_ERROR(MakeDirectories(raw));
  std::string movies = "movieId,title,genres\n";
  for (int i = 0; i < kItems; ++i) {
    absl::StrAppend(&movies, i + 1, ",\"Film ", i + 1, ", part ", i % 3, " (", 1980 + i % 30, ")\",",
                    kGenreNames[i % kGenres], "\n");
  }
  std::string ratings = "userId,movieId,rating,timestamp\n";
  for (int u = 0; u < kUsers; ++u) {
    for (int r = 0; r < kRatingsPerUser; ++r) {
      const int item = (u * 7 + r * 5) % kItems;
      // Each user loves one genre and dislikes the next one: learnable.
      const int genre = item % kGenres;
      const double rating = genre == u % kGenres ? 5.0 : genre == (u + 1) % kGenres ? 1.0 : 2.5 + (item % 3) * 0.5;
      absl::StrAppend(&ratings, u + 1, ",", item + 1, ",", rating, ",", 1000000 + u * 1000 + r * 10, "\n");
    }
  }
  ALRO_RETURN_IF_ERROR(WriteFileAtomically(JoinPath(raw, "movies.csv"), movies));
  return WriteFileAtomically(JoinPath(raw, "ratings.csv"), ratings);
}

absl::Status WriteSyntheticDataset(const std::string& dir) {
  ALRO_RETURN_IF_ERROR(WriteSyntheticRatings(dir));
  const std::string raw = JoinPath(dir, "raw");
  data::ConvertOptions options;
  options.format = "movielens";
  options.input = raw;
  options.output = JoinPath(dir, "data");
  options.split.num_candidates = kSyntheticCandidates;
  options.split.max_history = kSyntheticHistory;
  options.split.stride = 2;
  options.vocab_size = kTokenizerVocab;
  options.command_line = "train tests synthetic data";
  return data::ConvertDataset(options).status();
}

config::Config TinyTrainConfig(const std::string& data_dir) {
  config::Config c;
  config::ApplyModelPreset("tiny", &c.model);
  c.model.preset = "custom";
  c.model.vocab_size = kModelVocab;
  c.model.hidden_size = 32;
  c.model.intermediate_size = 64;
  c.model.num_layers = 2;
  c.model.num_heads = 4;
  c.model.num_kv_heads = 2;
  c.model.max_seq_len = 256;
  c.model.seed = 7;
  c.data.dir = data_dir;
  c.data.shuffle_buffer = 16;
  c.data.prefetch_batches = 0;
  c.prompt.max_history = kSyntheticHistory;
  c.prompt.max_title_chars = 24;
  c.objective.psl_copies = 1;
  c.optimizer.lr = 3e-3;
  c.schedule.steps = 6;
  c.schedule.warmup_steps = 2;
  c.schedule.micro_batch_size = 2;
  c.schedule.global_batch_size = 4;
  c.checkpoint.dir = "";
  c.logging.dir = "";
  c.logging.every_steps = 1;
  c.logging.eval_lists = 8;
  c.logging.ndcg_k = {1, 3};
  c.parallel.timeout_s = 120;
  return c;
}

}  // namespace alro::train::testing_util
