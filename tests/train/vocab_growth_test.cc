// tests/train/vocab_growth_test.cc: item tokens with a pretrained model
// (train/vocab_growth.h). A tiny "pretrained" checkpoint with the tokenizer
// of one synthetic data set; the same ratings converted with item tokens
// against that tokenizer (`--base-tokenizer`); a job that grows the
// vocabulary at tensor-parallel 1 (data-parallel over the ranks), trains 2
// steps and saves; the checkpoint loaded at tensor-parallel 2 (under mpirun
// -np 2 and 4); exported to the
// Hugging Face layout with the grown tokenizer; the export loaded back as
// model.pretrained needing no growth. A prompt with item tokens gives the
// same logits at every stage. Plus the errors: a vocabulary that differs by
// anything but the data set's item pieces, and growth with LoRA.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/json_util.h"
#include "common/status.h"
#include "core/hf_checkpoint.h"
#include "core/hf_config.h"
#include "core/pretrained_shape.h"
#include "data/converters/convert.h"
#include "data/loader.h"
#include "data/manifest.h"
#include "tests/support/mpi_world.h"
#include "tests/train/synthetic_data.h"
#include "tests/train/test_util.h"
#include "train/checkpoint_dirs.h"
#include "train/checkpoint_reader.h"
#include "train/model_loading.h"
#include "train/trainer.h"
#include "train/vocab_growth.h"

namespace alro::train {
namespace {

using ::alro::testing::WorldRank;
using ::alro::testing::WorldSize;

constexpr int64_t kItemTokens = 4;
constexpr int32_t kBaseTokenizerVocab = 200;
// Trainer options for tests: quiet, no matmul probe.
TrainerOptions Quiet() {
  TrainerOptions o;
  o.quiet = true;
  o.peak_flops_per_rank = 1e9;
  return o;
}

// A grid over MPI_COMM_WORLD with tensor-parallel size `tp`.
dist::ProcessGrid WorldGrid(int tp) {
  absl::StatusOr<dist::ProcessGrid> grid = dist::ProcessGrid::Create(MPI_COMM_WORLD, tp);
  ALRO_CHECK_OK(grid.status());
  return std::move(grid).value();
}

// The same weights reduced in another tensor-parallel order.
constexpr double kLogitTolerance = 1e-5;

// The fixture's directories, made once by world rank 0.
struct Fixture {
  std::string pretrained;  ///< the "pretrained" checkpoint (its tokenizer has no item pieces)
  std::string base_data;   ///< data set whose trained tokenizer is the checkpoint's
  std::string item_data;   ///< the same ratings with item tokens, converted against that tokenizer
  std::string work;        ///< checkpoints and exports
};

// The job's prompt: each history and candidate line shows the item's token.
config::PromptConfig ItemPrompt() {
  config::PromptConfig p = testing_util::TinyTrainConfig("").prompt;
  p.history_line = "watched {item} {title} rated {rating}";
  p.candidate_line = "{id}: {item} {title}";
  return p;
}

absl::Status MakeFixture(const Fixture& f, const std::string& root) {
  ALRO_RETURN_IF_ERROR(testing_util::WriteSyntheticRatings(root));
  data::ConvertOptions o;
  o.format = "movielens";
  o.input = JoinPath(root, "raw");
  o.output = f.base_data;
  o.split.num_candidates = testing_util::kSyntheticCandidates;
  o.split.max_history = testing_util::kSyntheticHistory;
  o.split.stride = 2;
  o.vocab_size = kBaseTokenizerVocab;
  o.command_line = "vocab growth test: base";
  ALRO_RETURN_IF_ERROR(data::ConvertDataset(o).status());
  const std::string base_tokenizer = JoinPath(f.base_data, "tokenizer.model");
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const data::Tokenizer> tokenizer, data::Tokenizer::Load(base_tokenizer));
  // A random model of exactly the tokenizer's vocabulary, exported as a
  // Hugging Face checkpoint with that tokenizer.
  config::Config c = testing_util::TinyTrainConfig(f.base_data);
  c.model.vocab_size = tokenizer->vocab_size();
  c.model.seed = 11;
  dist::ProcessGrid single = dist::ProcessGrid::CreateSingleProcess();
  core::Decoder model(c.model, single);
  core::HfSaveOptions save;
  save.tokenizer_model = base_tokenizer;
  ALRO_RETURN_IF_ERROR(core::SaveHfCheckpoint(f.pretrained, model, save));
  o.output = f.item_data;
  o.vocab_size = 0;
  o.item_tokens = kItemTokens;
  o.base_tokenizer = JoinPath(f.pretrained, "tokenizer.model");
  o.prompt = ItemPrompt();
  o.command_line = "vocab growth test: item tokens";
  return data::ConvertDataset(o).status();
}

const Fixture& GetFixture() {
  static const Fixture fixture = [] {
    const std::string root = testing_util::SharedTempDir("vocab_growth");
    Fixture f{JoinPath(root, "pretrained"), JoinPath(root, "base"), JoinPath(root, "items"), JoinPath(root, "work")};
    int ok = 1;
    if (WorldRank() == 0) {
      const absl::Status s = MakeFixture(f, root);
      if (!s.ok()) {
        ADD_FAILURE() << s;
        ok = 0;
      }
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return ok ? f : Fixture{};
  }();
  return fixture;
}

// A job on the item-token data set starting from `pretrained`, its shape
// resolved as `alro train` does (every shape key from config.json, then the
// vocabulary growth).
absl::StatusOr<config::Config> JobConfig(const std::string& pretrained, int64_t tp, int64_t world) {
  config::Config c = testing_util::TinyTrainConfig(GetFixture().item_data);
  c.prompt = ItemPrompt();
  c.model.pretrained = pretrained;
  ALRO_RETURN_IF_ERROR(core::ResolveModelShape({}, /*read_checkpoint=*/true, &c.model).status());
  ALRO_RETURN_IF_ERROR(ResolveVocabGrowth(&c).status());
  c.parallel.tensor_parallel = tp;
  c.parallel.data_parallel = 0;
  c.schedule.global_batch_size = 0;  // micro batch x data-parallel size
  config::ResolveDerived(&c, world);
  return c;
}

// A fixed prompt with the item tokens of the data set in it.
at::Tensor PromptTokens(const config::Config& c) {
  absl::StatusOr<std::shared_ptr<const data::Tokenizer>> tokenizer = data::OpenTokenizer(c);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  std::vector<int32_t> ids = (*tokenizer)->Encode("watched Film 3, part 0 (1982) rated 4 A: Film 7");
  const int32_t first_item = (*tokenizer)->PieceToId("<item_1>");
  for (int64_t k = 0; k <= kItemTokens; ++k) ids.insert(ids.begin() + 2 * k + 1, first_item + k);
  std::vector<int64_t> wide(ids.begin(), ids.end());
  return at::tensor(wide, at::kLong).view({1, -1});
}

// Full-vocabulary logits of `tokens`, the same on every rank.
at::Tensor Logits(core::Decoder& model, const at::Tensor& tokens) {
  at::NoGradGuard no_grad;
  model.eval();
  const at::Tensor local = model.LocalLogits(model.Forward(tokens)).detach().contiguous();
  const int64_t last = local.dim() - 1;
  return model.grid().tp().AllGather(local, last).narrow(last, 0, model.config().vocab_size);
}

TEST(MpiVocabGrowth, SaveReshardExportAndLoadBackKeepTheLogits) {
  const Fixture& f = GetFixture();
  ASSERT_FALSE(f.pretrained.empty());
  absl::StatusOr<config::Config> probe = JobConfig(f.pretrained, 1, 1);
  ASSERT_TRUE(probe.ok()) << probe.status();
  absl::StatusOr<core::HfModelShape> base_shape = core::ReadHfConfig(f.pretrained);
  ASSERT_TRUE(base_shape.ok());
  const int64_t v = base_shape->model.vocab_size;
  ASSERT_EQ(probe->model.vocab_size, v + kItemTokens + 1);
  const at::Tensor tokens = PromptTokens(*probe);
  ASSERT_GE(tokens.max().item<int64_t>(), v);  // the prompt shows new tokens
  const std::vector<int64_t> shape = {1, tokens.size(1), v + kItemTokens + 1};

  // 1. Grow at tp 1 (data-parallel over the world), train 2 steps, save.
  const std::string checkpoints = JoinPath(f.work, "checkpoints");
  at::Tensor trained;
  {
    dist::ProcessGrid grid = WorldGrid(1);
    absl::StatusOr<config::Config> c = JobConfig(f.pretrained, 1, WorldSize());
    ASSERT_TRUE(c.ok()) << c.status();
    c->checkpoint.dir = checkpoints;
    absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(*c, grid, Quiet());
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    const at::Tensor grown = Logits((*trainer)->model(), tokens);
    for (int s = 0; s < 2; ++s) ASSERT_TRUE((*trainer)->Step().ok());
    trained = Logits((*trainer)->model(), tokens);
    EXPECT_GT((trained - grown).abs().max().item<double>(), 0.0);  // training changed the model
    absl::StatusOr<std::string> dir = (*trainer)->SaveCheckpointNow();
    ASSERT_TRUE(dir.ok()) << dir.status();
  }

  // 2. Load at tp 2 (tp 1 on one rank); export with the data set's tokenizer.
  const int tp = WorldSize() >= 2 ? 2 : 1;
  const std::string exported = JoinPath(f.work, "export");
  {
    dist::ProcessGrid grid = WorldGrid(tp);
    absl::StatusOr<CheckpointReader> reader = CheckpointReader::Open(CheckpointPath(checkpoints, 2));
    ASSERT_TRUE(reader.ok()) << reader.status();
    absl::StatusOr<config::Config> c = ConfigFromCheckpoint(*reader, WorldSize(), tp);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->model.vocab_size, v + kItemTokens + 1);
    absl::StatusOr<std::shared_ptr<core::Decoder>> model = LoadModelFromCheckpoint(*reader, c->model, grid);
    ASSERT_TRUE(model.ok()) << model.status();
    EXPECT_LT((Logits(**model, tokens) - trained).abs().max().item<double>(), kLogitTolerance) << "tp " << tp;
    core::HfSaveOptions save;
    save.tokenizer_model = JoinPath(f.item_data, "tokenizer.model");
    const absl::Status written = core::SaveHfCheckpoint(exported, **model, save);
    ASSERT_TRUE(written.ok()) << written;
  }
  absl::StatusOr<nlohmann::json> config_json = ReadJsonFile(JoinPath(exported, "config.json"));
  ASSERT_TRUE(config_json.ok()) << config_json.status();
  EXPECT_EQ((*config_json)["vocab_size"].get<int64_t>(), v + kItemTokens + 1);
  EXPECT_EQ(*ReadFileToString(JoinPath(exported, "tokenizer.model")),
            *ReadFileToString(JoinPath(f.item_data, "tokenizer.model")));

  // 3. The export as model.pretrained: no growth, the same logits.
  {
    dist::ProcessGrid grid = WorldGrid(1);
    absl::StatusOr<config::Config> c = JobConfig(exported, 1, WorldSize());
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->model.vocab_size, v + kItemTokens + 1);
    absl::StatusOr<std::optional<VocabGrowthPlan>> growth = ResolveVocabGrowth(&*c);
    ASSERT_TRUE(growth.ok()) << growth.status();
    EXPECT_FALSE(growth->has_value());
    absl::StatusOr<std::unique_ptr<Trainer>> trainer = Trainer::Create(*c, grid, Quiet());
    ASSERT_TRUE(trainer.ok()) << trainer.status();
    EXPECT_LT((Logits((*trainer)->model(), tokens) - trained).abs().max().item<double>(), kLogitTolerance);
  }
}

// Only growth by exactly the data set's item pieces is accepted; the errors
// name both sizes and both files.
TEST(VocabGrowthPlan, OtherMismatchesAndLoraAreErrors) {
  const Fixture& f = GetFixture();
  ASSERT_FALSE(f.pretrained.empty());
  absl::StatusOr<config::Config> c = JobConfig(f.pretrained, 1, 1);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<std::shared_ptr<const data::Tokenizer>> tokenizer = data::OpenTokenizer(*c);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const int64_t v = (*tokenizer)->vocab_size() - kItemTokens - 1;

  absl::StatusOr<std::optional<VocabGrowthPlan>> plan = PlanVocabGrowth(*c, v, **tokenizer);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->has_value());
  EXPECT_EQ((*plan)->growth.grown_vocab(), v + kItemTokens + 1);
  EXPECT_TRUE((*plan)->growth.sources.back().empty());  // <item_other>: the mean of all rows
  // Each item's row starts from the pieces of its title as the prompt shows
  // it (the synthetic movies.csv names item i "Film i, part (i-1)%3 (year)").
  absl::StatusOr<data::Manifest> manifest = data::ReadManifest(f.item_data);
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  ASSERT_EQ(manifest->item_tokens.size(), static_cast<size_t>(kItemTokens));
  for (int64_t k = 0; k < kItemTokens; ++k) {
    const std::vector<int32_t>& sources = (*plan)->growth.sources[static_cast<size_t>(k)];
    for (int32_t id : sources) EXPECT_LT(id, v);
    int item = 0;
    ASSERT_TRUE(absl::SimpleAtoi(manifest->item_tokens[static_cast<size_t>(k)], &item));
    EXPECT_EQ((*tokenizer)->Decode(sources),
              absl::StrCat("Film ", item, ", part ", (item - 1) % 3, " (", 1980 + (item - 1) % 30, ")"));
  }
  EXPECT_TRUE(absl::StrContains((*plan)->reason, absl::StrCat("grows from ", v))) << (*plan)->reason;

  const std::string config_json = JoinPath(f.pretrained, "config.json");
  for (const int64_t other : {v - 1, v + 1}) {
    absl::StatusOr<std::optional<VocabGrowthPlan>> bad = PlanVocabGrowth(*c, other, **tokenizer);
    ASSERT_FALSE(bad.ok());
    const std::string message(bad.status().message());
    for (const std::string& part : {absl::StrCat("has ", v + kItemTokens + 1, " pieces"),
                                    absl::StrCat("vocab_size ", other), config_json, (*tokenizer)->name(),
                                    std::string("HINT")}) {
      EXPECT_TRUE(absl::StrContains(message, part)) << part << " in " << message;
    }
  }
  config::Config lora = *c;
  lora.model.lora.enabled = true;
  absl::StatusOr<std::optional<VocabGrowthPlan>> refused = PlanVocabGrowth(lora, v, **tokenizer);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "model.lora.enabled")) << refused.status();
  // A data set without item tokens does not explain a larger tokenizer.
  config::Config plain = *c;
  plain.data.dir = f.base_data;
  absl::StatusOr<std::optional<VocabGrowthPlan>> unexplained = PlanVocabGrowth(plain, v, **tokenizer);
  ASSERT_FALSE(unexplained.ok());
  EXPECT_TRUE(absl::StrContains(unexplained.status().message(), "lists 0 item tokens")) << unexplained.status();
}

}  // namespace
}  // namespace alro::train
