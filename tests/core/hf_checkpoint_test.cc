// tests/core/hf_checkpoint_test.cc: Hugging Face checkpoints: agreement with
// the independent Python reference (tests/reference/llama_reference.py), a
// save/load round trip across tensor-parallel sizes, and clear errors for
// missing, unexpected, mis-shaped and mistyped tensors.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/json_util.h"
#include "core/hf_checkpoint.h"
#include "core/hf_config.h"
#include "core/safetensors.h"
#include "tests/core/core_test_util.h"

namespace alro::core {
namespace {

using testing::FullLogits;
using testing::MaxAbsDiff;
using testing::RandomTokens;
using testing::SharedTempDir;
using testing::SmallTestModel;
using testing::WorldGrid;
using testing::WorldRank;
using testing::WorldSize;

// float32 model vs the float64 reference.
constexpr double kReferenceTolerance = 1e-4;
constexpr double kRoundTripTolerance = 1e-5;

// Runs the Python reference with `args` on world rank 0, or reuses its
// output cached for the same script version and arguments; returns the
// directory (on every rank) or "" if the script failed.
std::string ReferenceOutput(const std::string& args) {
  const std::string script = absl::StrCat(ALRO_SOURCE_DIR, "/tests/reference/llama_reference.py");
  constexpr int kMaxPath = 512;
  char dir[kMaxPath] = {0};
  if (WorldRank() == 0) {
    struct stat st;
    const long version = ::stat(script.c_str(), &st) == 0 ? static_cast<long>(st.st_mtime) : 0;
    std::string key = absl::StrCat(version, "_", args);
    for (char& c : key) {
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    const std::string cached = JoinPath(ALRO_REFERENCE_CACHE_DIR, key);
    if (!PathExists(JoinPath(cached, "expected.safetensors"))) {
      // Generate into a private directory and rename it into place, so
      // concurrent test runs never see a half-written cache entry.
      std::string tmp = JoinPath(ALRO_REFERENCE_CACHE_DIR, "tmp_XXXXXX");
      if (MakeDirectories(ALRO_REFERENCE_CACHE_DIR).ok() && mkdtemp(tmp.data()) != nullptr) {
        const std::string command = absl::StrCat("/usr/bin/python3 ", script, " --out ", tmp,
                                                 " --hidden 64 --intermediate 96 --heads 8 --kv-heads 4 ", args);
        if (std::system(command.c_str()) != 0 || !RenameDurably(tmp, cached).ok()) {
          (void)RemoveAll(tmp);  // failed, or another run won the race with an equivalent copy
        }
      }
    }
    if (PathExists(JoinPath(cached, "expected.safetensors"))) std::strncpy(dir, cached.c_str(), kMaxPath - 1);
  }
  MPI_Bcast(dir, kMaxPath, MPI_CHAR, 0, MPI_COMM_WORLD);
  return dir;
}

class MpiReferenceTest : public ::testing::TestWithParam<const char*> {};

TEST_P(MpiReferenceTest, MatchesPythonReference) {
  const std::string dir = ReferenceOutput(GetParam());
  ASSERT_FALSE(dir.empty()) << "tests/reference/llama_reference.py failed";
  config::ModelConfig m;
  ASSERT_TRUE(ApplyHfConfig(dir, &m).ok());
  dist::ProcessGrid grid = WorldGrid(WorldSize());
  Decoder model(m, grid, /*random_init=*/false);
  const absl::Status loaded = LoadHfCheckpoint(dir, model);
  ASSERT_TRUE(loaded.ok()) << loaded;
  absl::StatusOr<SafetensorsReader> expected = SafetensorsReader::Open(JoinPath(dir, "expected.safetensors"));
  ASSERT_TRUE(expected.ok()) << expected.status();
  const at::Tensor tokens = *expected->Read("tokens");
  const at::Tensor logits = *expected->Read("logits");
  at::NoGradGuard no_grad;
  const at::Tensor got = FullLogits(model, model.Forward(tokens));
  ASSERT_EQ(got.sizes(), logits.sizes());
  EXPECT_LT(MaxAbsDiff(got, logits), kReferenceTolerance);
  EXPECT_GT(logits.abs().max().item<double>(), 1.0);  // not a trivially small comparison
}

INSTANTIATE_TEST_SUITE_P(Layouts, MpiReferenceTest,
                         ::testing::Values("--shards 1", "--shards 3 --tie --theta 500000"));

// Saves at tp 2 (or 1 on one rank) and loads at tp 1 and tp = world size.
TEST(MpiHfCheckpoint, RoundTripAcrossTensorParallelSizes) {
  const int world = WorldSize();
  const int save_tp = world >= 2 ? 2 : 1;
  config::ModelConfig m = SmallTestModel();
  const at::Tensor tokens = RandomTokens(2, 12, m.vocab_size, 8);
  for (const uint64_t shard_bytes : {uint64_t{5'000'000'000}, uint64_t{60'000}}) {
    const std::string dir = SharedTempDir();
    at::Tensor expected;
    {
      dist::ProcessGrid grid = WorldGrid(save_tp);
      Decoder model(m, grid);
      at::NoGradGuard no_grad;
      expected = FullLogits(model, model.Forward(tokens));
      HfSaveOptions options;
      options.max_shard_bytes = shard_bytes;
      const absl::Status saved = SaveHfCheckpoint(dir, model, options);
      ASSERT_TRUE(saved.ok()) << saved;
    }
    const bool sharded = shard_bytes < 1'000'000;
    EXPECT_EQ(PathExists(JoinPath(dir, "model.safetensors.index.json")), sharded);
    EXPECT_EQ(PathExists(JoinPath(dir, "model.safetensors")), !sharded);
    config::ModelConfig loaded_config;
    ASSERT_TRUE(ApplyHfConfig(dir, &loaded_config).ok());
    EXPECT_EQ(loaded_config.vocab_size, m.vocab_size);
    EXPECT_EQ(loaded_config.num_kv_heads, m.num_kv_heads);
    loaded_config.seed = m.seed + 7;  // a different random init is overwritten by the load
    dist::ProcessGrid single = dist::ProcessGrid::CreateSingleProcess();
    dist::ProcessGrid full = WorldGrid(world);
    for (dist::ProcessGrid* grid : {&single, &full}) {
      Decoder model(loaded_config, *grid);
      const absl::Status loaded = LoadHfCheckpoint(dir, model);
      ASSERT_TRUE(loaded.ok()) << loaded;
      at::NoGradGuard no_grad;
      const at::Tensor got = FullLogits(model, model.Forward(tokens));
      EXPECT_LT(MaxAbsDiff(got, expected), kRoundTripTolerance) << "load at tp " << grid->tp_size();
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (WorldRank() == 0) (void)RemoveAll(dir);
  }
}

class HfCheckpointErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/alro_hf_test_XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr);
    dir_ = path;
    ASSERT_TRUE(SaveHfCheckpoint(dir_, model_).ok());
    absl::StatusOr<SafetensorsReader> r = SafetensorsReader::Open(file());
    ASSERT_TRUE(r.ok());
    for (const StTensorInfo& t : r->tensors()) tensors_.push_back({t.name, *r->Read(t.name)});
  }
  void TearDown() override { (void)RemoveAll(dir_); }
  std::string file() const { return JoinPath(dir_, "model.safetensors"); }
  void Rewrite() { ASSERT_TRUE(WriteSafetensors(file(), tensors_).ok()); }
  // Loads into a fresh model and expects an error mentioning every part.
  void ExpectLoadError(std::initializer_list<std::string> parts) {
    Decoder fresh(model_.config(), grid_, false);
    const absl::Status s = LoadHfCheckpoint(dir_, fresh);
    ASSERT_FALSE(s.ok());
    const std::string message(s.message());
    EXPECT_NE(message.find("HINT:"), std::string::npos) << message;
    for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
  }

  dist::ProcessGrid grid_ = dist::ProcessGrid::CreateSingleProcess();
  Decoder model_{SmallTestModel(), grid_};
  std::string dir_;
  std::vector<std::pair<std::string, at::Tensor>> tensors_;
};

TEST_F(HfCheckpointErrorsTest, SavedCheckpointLoadsAndHasHfLayout) {
  Decoder fresh(model_.config(), grid_, false);
  ASSERT_TRUE(LoadHfCheckpoint(dir_, fresh).ok());
  absl::StatusOr<nlohmann::json> config = ReadJsonFile(JoinPath(dir_, "config.json"));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ((*config)["model_type"], "llama");
  EXPECT_EQ((*config)["num_key_value_heads"], 4);
  EXPECT_EQ(tensors_.size(), 2u + 9u * 2u + 1u);  // embed, head, 9 per layer, final norm
}

TEST_F(HfCheckpointErrorsTest, MissingTensorIsNamed) {
  tensors_.erase(tensors_.begin());  // alphabetically first: lm_head.weight
  Rewrite();
  ExpectLoadError({"\"lm_head.weight\"", "missing", dir_});
}

TEST_F(HfCheckpointErrorsTest, UnexpectedTensorIsNamedWithItsFile) {
  tensors_.push_back({"model.layers.0.self_attn.q_proj.bias", at::zeros({64})});
  Rewrite();
  ExpectLoadError({"model.layers.0.self_attn.q_proj.bias", "model.safetensors"});
}

TEST_F(HfCheckpointErrorsTest, MisShapedTensorIsNamedWithItsFile) {
  for (auto& [name, t] : tensors_) {
    if (name == "model.layers.1.mlp.up_proj.weight") t = at::zeros({95, 64});
  }
  Rewrite();
  ExpectLoadError({"model.layers.1.mlp.up_proj.weight", file(), "[95, 64]", "[96, 64]"});
}

TEST_F(HfCheckpointErrorsTest, IntegerWeightIsRejected) {
  for (auto& [name, t] : tensors_) {
    if (name == "model.norm.weight") t = at::ones({64}, at::kInt);
  }
  Rewrite();
  ExpectLoadError({"model.norm.weight", "I32"});
}

TEST_F(HfCheckpointErrorsTest, MissingFilesAndBadConfig) {
  ASSERT_TRUE(RemoveAll(file()).ok());
  ExpectLoadError({"neither model.safetensors nor model.safetensors.index.json"});
  ASSERT_TRUE(WriteFileAtomically(JoinPath(dir_, "config.json"),
                                  R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8,
                                      "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
                                      "rope_scaling": {"type": "linear", "factor": 2.0}})")
                  .ok());
  config::ModelConfig m;
  const absl::Status s = ApplyHfConfig(dir_, &m);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("rope_scaling"), std::string::npos) << s;
}

}  // namespace
}  // namespace alro::core
