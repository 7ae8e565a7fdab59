// tests/foundation/config_test.cc: every class of bad configuration is
// rejected with a message naming the key and the fix; good ones parse.
#include <gtest/gtest.h>

#include <string>

#include "common/cpu_features.h"
#include "config/config_io.h"
#include "config/model_size.h"

namespace alro::config {
namespace {

// Expects `status` to fail and its message to contain every needle.
void ExpectError(const absl::Status& status, std::initializer_list<std::string> needles) {
  ASSERT_FALSE(status.ok()) << "expected an error";
  const std::string message(status.message());
  for (const std::string& needle : needles) {
    EXPECT_NE(message.find(needle), std::string::npos) << "missing '" << needle << "' in:\n" << message;
  }
}

TEST(Config, ShippedConfigsParseAndValidate) {
  for (const char* file : {"configs/tiny.yaml", "configs/llama2-7b-8gpu.yaml"}) {
    absl::StatusOr<Config> cfg = LoadConfig(std::string(ALRO_SOURCE_DIR) + "/" + file);
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    const int64_t world = cfg->parallel.data_parallel == 0 ? 2 : cfg->parallel.data_parallel * cfg->parallel.tensor_parallel;
    EXPECT_TRUE(ValidateConfig(*cfg, {.world_size = world, .check_paths = false}).ok()) << file;
  }
}

TEST(Config, PresetFillsShapeAndExplicitKeysWin) {
  absl::StatusOr<Config> cfg = ParseConfig("model:\n  preset: llama2-7b\n  num_layers: 3\n", "t.yaml");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->model.hidden_size, 4096);
  EXPECT_EQ(cfg->model.num_layers, 3);
}

TEST(Config, Llama2ParameterCountMatchesPublishedSize) {
  ModelConfig m;
  ASSERT_TRUE(ApplyModelPreset("llama2-7b", &m));
  EXPECT_EQ(ParameterCount(m), 6738415616);  // Llama-2-7b-hf's parameter count
  ASSERT_TRUE(ApplyModelPreset("llama3-8b", &m));
  EXPECT_EQ(ParameterCount(m), 8030261248);  // Meta-Llama-3-8B's
}

TEST(Config, UnknownKeyGetsDidYouMeanWithLine) {
  ExpectError(ParseConfig("model:\n  preset: tiny\n  hiden_size: 64\n", "bad.yaml").status(),
              {"bad.yaml:3", "model.hiden_size", "unknown key", "did you mean model.hidden_size?"});
  ExpectError(ParseConfig("modle:\n  preset: tiny\n", "bad.yaml").status(), {"modle", "did you mean model?"});
}

TEST(Config, WrongTypeNamesKey) {
  ExpectError(ParseConfig("schedule:\n  steps: many\n", "bad.yaml").status(),
              {"bad.yaml:2", "schedule.steps", "must be an integer"});
  ExpectError(ParseConfig("model:\n  lora:\n    enabled: maybe\n", "bad.yaml").status(),
              {"model.lora.enabled", "true or false"});
  ExpectError(ParseConfig("model: 3\n", "bad.yaml").status(), {"model", "mapping"});
}

TEST(Config, OutOfRangeAndBadChoice) {
  ExpectError(ParseConfig("optimizer:\n  beta2: 1.5\n", "bad.yaml").status(),
              {"optimizer.beta2", "outside the allowed range"});
  ExpectError(ParseConfig("model:\n  dtype: bf16\n", "bad.yaml").status(),
              {"model.dtype", "not one of", "float32, bfloat16"});
  ExpectError(ParseConfig("objective:\n  psl_divergence: jss\n", "bad.yaml").status(), {"did you mean 'js'?"});
}

TEST(Config, AllProblemsAreReportedTogether) {
  const absl::Status s = ParseConfig("model:\n  num_layers: 0\n  hidden: 3\n", "bad.yaml").status();
  ExpectError(s, {"2 problems", "model.num_layers", "model.hidden"});
}

TEST(Config, SyntaxErrorHasLineAndColumn) {
  ExpectError(ParseConfig("model:\n  preset: [tiny\n", "bad.yaml").status(), {"bad.yaml:", "YAML syntax error"});
}

TEST(Config, OverridesApplyAndAreNamedInErrors) {
  absl::StatusOr<Config> cfg = ParseConfig("model:\n  preset: tiny\n", "t.yaml", {"model.num_layers=5", "optimizer.lr=0.5"});
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->model.num_layers, 5);
  EXPECT_DOUBLE_EQ(cfg->optimizer.lr, 0.5);
  ExpectError(ParseConfig("", "t.yaml", {"model.num_layers=x"}).status(), {"--set", "model.num_layers"});
  ExpectError(ParseConfig("", "t.yaml", {"model.nmu_layers=2"}).status(), {"--set", "did you mean model.num_layers?"});
  ExpectError(ParseConfig("", "t.yaml", {"novalue"}).status(), {"expected KEY=VALUE"});
}

// Errors about sections, not only leaf keys, name the --set that made them
// and never the file; errors about the file's own keys name file:line.
TEST(Config, ErrorsNameTheirTrueSource) {
  const std::string yaml = "model:\n  preset: tiny\n\nschedule:\n  steps: 10\n";
  ExpectError(ParseConfig(yaml, "t.yaml", {"no_such_section.key=1"}).status(),
              {"--set no_such_section.key=1: no_such_section: unknown key"});
  EXPECT_EQ(std::string(ParseConfig(yaml, "t.yaml", {"no_such_section.key=1"}).status().message()).find("t.yaml:"),
            std::string::npos);
  ExpectError(ParseConfig(yaml, "t.yaml", {"model.nosuch.deeper=1"}).status(),
              {"--set model.nosuch.deeper=1: model.nosuch: unknown key"});
  ExpectError(ParseConfig(yaml, "t.yaml", {"model=3"}).status(), {"--set model=3: model: must be a mapping"});
  ExpectError(ParseConfig(yaml, "t.yaml", {"model.num_layers=x"}).status(),
              {"--set model.num_layers=x: model.num_layers: must be an integer"});
  // A prompt template that starts with a brace is a YAML mapping unless quoted:
  // the hint shows the quoting, and the quoted value is accepted as text.
  ExpectError(ParseConfig(yaml, "t.yaml", {"prompt.candidate_line={mean}"}).status(),
              {"--set prompt.candidate_line={mean}: prompt.candidate_line: must be a string", "quote it",
               "--set 'key=\"{mean} {id}\"'"});
  absl::StatusOr<Config> quoted = ParseConfig(yaml, "t.yaml", {"prompt.candidate_line=\"{mean} {id}\""});
  ASSERT_TRUE(quoted.ok()) << quoted.status();
  EXPECT_EQ(quoted->prompt.candidate_line, "{mean} {id}");
  // The file's own mistakes keep their lines, sections included.
  ExpectError(ParseConfig(yaml + "bogus:\n  a: 1\n", "t.yaml").status(), {"t.yaml:6: bogus: unknown key"});
  ExpectError(ParseConfig(yaml + "data: 7\n", "t.yaml").status(), {"t.yaml:6: data: must be a mapping"});
  ExpectError(ParseConfig(yaml, "t.yaml", {"schedule.stpes=3"}).status(), {"--set schedule.stpes=3"});
  ExpectError(ParseConfig("schedule:\n  steps: -1\n", "t.yaml").status(), {"t.yaml:2: schedule.steps"});
}

TEST(Config, KeysGivenTwiceOrNotPlainAreErrors) {
  ExpectError(ParseConfig("model:\n  num_layers: 2\nschedule:\n  steps: 3\nmodel:\n  num_layers: 4\n", "t.yaml")
                  .status(),
              {"t.yaml:5: model: given twice (first at line 1)"});
  ExpectError(ParseConfig("model:\n  num_layers: 2\n  num_layers: 4\n", "t.yaml").status(),
              {"t.yaml:3: model.num_layers: given twice (first at line 2)"});
  ExpectError(ParseConfig("? [a, b]\n: 1\n", "t.yaml").status(), {"t.yaml:1: top level: a key must be a plain name"});
}

TEST(Config, OriginsSayWhereEachGivenKeyCameFrom) {
  ConfigOrigins origins;
  absl::StatusOr<Config> cfg = ParseConfig("model:\n  preset: llama2-7b\n  num_layers: 3\n", "t.yaml",
                                           {"model.num_heads=16", "optimizer.lr=0.5"}, &origins);
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(origins["model.preset"], "t.yaml:2");
  EXPECT_EQ(origins["model.num_layers"], "t.yaml:3");
  EXPECT_EQ(origins["model.num_heads"], "--set model.num_heads=16");
  EXPECT_EQ(origins["optimizer.lr"], "--set optimizer.lr=0.5");
  EXPECT_EQ(origins["model.hidden_size"], "model.preset llama2-7b (t.yaml:2)");
  EXPECT_EQ(origins.count("model.tie_embeddings"), 0u);  // presets do not set it
  EXPECT_EQ(origins.count("schedule.steps"), 0u);
  ConfigOrigins none;
  ASSERT_TRUE(ParseConfig("schedule:\n  steps: 3\n", "t.yaml", {}, &none).ok());
  EXPECT_EQ(none.count("model.hidden_size"), 0u);  // the default preset is not a given value
}

TEST(Config, ModelRangeProblemsNameTheKey) {
  ModelConfig m;
  EXPECT_TRUE(ModelRangeProblems(m).empty());
  m.rms_norm_eps = 0.5;
  m.num_layers = 0;
  const std::vector<std::string> problems = ModelRangeProblems(m);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("model.num_layers is 0"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("model.rms_norm_eps is 0.5"), std::string::npos) << problems[1];
}

TEST(Config, TensorParallelMustDivideHeads) {
  absl::StatusOr<Config> cfg = ParseConfig("model:\n  preset: tiny\nparallel:\n  tensor_parallel: 4\n", "t.yaml");
  ASSERT_TRUE(cfg.ok());
  // tiny has 4 heads and 2 kv heads: 4 divides the heads but not the kv heads.
  ExpectError(ValidateConfig(*cfg, {.world_size = 4, .check_paths = false}),
              {"parallel.tensor_parallel (4) does not divide model.num_kv_heads (2)"});
  cfg->parallel.tensor_parallel = 3;
  ExpectError(ValidateConfig(*cfg, {.world_size = 3, .check_paths = false}), {"does not divide model.num_heads (4)"});
}

TEST(Config, CudaWithMpiBackendIsRefused) {
  absl::StatusOr<Config> cfg = ParseConfig("parallel:\n  device: cuda\n  backend: mpi\n", "t.yaml");
  ASSERT_TRUE(cfg.ok());
  ExpectError(ValidateConfig(*cfg, {.world_size = 1, .check_paths = false}),
              {"parallel.backend mpi cannot carry CUDA tensors", "HINT"});
  cfg->parallel.backend = "auto";
  EXPECT_TRUE(ValidateConfig(*cfg, {.world_size = 1, .check_paths = false}).ok());
}

TEST(Config, GridMustMatchWorld) {
  absl::StatusOr<Config> cfg = ParseConfig("parallel:\n  tensor_parallel: 2\n  data_parallel: 2\n", "t.yaml");
  ASSERT_TRUE(cfg.ok());
  EXPECT_TRUE(ValidateConfig(*cfg, {.world_size = 4, .check_paths = false}).ok());
  ExpectError(ValidateConfig(*cfg, {.world_size = 6, .check_paths = false}),
              {"data_parallel (2) x parallel.tensor_parallel (2) = 4", "6 ranks", "mpirun -np 4"});
}

TEST(Config, GlobalBatchMustDivide) {
  absl::StatusOr<Config> cfg = ParseConfig("schedule:\n  micro_batch_size: 4\n  global_batch_size: 12\n", "t.yaml");
  ASSERT_TRUE(cfg.ok());
  EXPECT_TRUE(ValidateConfig(*cfg, {.world_size = 3, .check_paths = false}).ok());
  ExpectError(ValidateConfig(*cfg, {.world_size = 2, .check_paths = false}), {"schedule.global_batch_size (12)", "multiple of 8"});
  ResolveDerived(&*cfg, 3);
  EXPECT_EQ(cfg->parallel.data_parallel, 3);
  EXPECT_EQ(AccumulationSteps(*cfg), 1);
}

TEST(Config, MissingFilesAreNamed) {
  absl::StatusOr<Config> cfg = ParseConfig("data:\n  dir: /nonexistent/shards\nmodel:\n  tokenizer: /nope.model\n", "t.yaml");
  ASSERT_TRUE(cfg.ok());
  ExpectError(ValidateConfig(*cfg, {.world_size = 1, .check_paths = true}),
              {"data.dir: /nonexistent/shards does not exist", "model.tokenizer: /nope.model does not exist"});
  ExpectError(LoadConfig("/nonexistent/config.yaml").status(), {"/nonexistent/config.yaml", "--config"});
}

TEST(Config, YamlRoundTripAndHash) {
  absl::StatusOr<Config> a = ParseConfig("model:\n  preset: small\n", "a.yaml");
  ASSERT_TRUE(a.ok());
  absl::StatusOr<Config> b = ParseConfig(ConfigToYaml(*a), "dump");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(ConfigToYaml(*a), ConfigToYaml(*b));
  EXPECT_EQ(ConfigHash(*a), ConfigHash(*b));
  b->optimizer.lr *= 2;
  EXPECT_NE(ConfigHash(*a), ConfigHash(*b));
}

// The configuration hash is recorded in checkpoints and compared across
// ranks: it must stay FNV-1a (with alro's historical offset basis, see
// common/hash.h) over ConfigToYaml's bytes, bit for bit.
TEST(Config, HashIsFnv1aOfTheYamlWithTheHistoricalBasis) {
  for (const char* preset : {"tiny", "llama2-7b"}) {
    Config config;
    ASSERT_TRUE(ApplyModelPreset(preset, &config.model));
    uint64_t expected = 1469598103934665603ull;
    for (unsigned char c : ConfigToYaml(config)) expected = (expected ^ c) * 1099511628211ull;
    EXPECT_EQ(ConfigHash(config), expected) << preset;
  }
}

TEST(Config, AutoDtypeIsBfloat16OnlyWhereItIsNative) {
  const bool native = !NativeBfloat16CpuFlag().empty();
  ConfigOrigins origins;
  absl::StatusOr<Config> cpu = ParseConfig("model:\n  dtype: auto\n", "auto.yaml", {}, &origins);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_EQ(cpu->model.dtype, native ? "bfloat16" : "float32");
  EXPECT_NE(origins["model.dtype"].find("auto.yaml:2"), std::string::npos) << origins["model.dtype"];
  EXPECT_NE(origins["model.dtype"].find(native ? "(auto: bfloat16, this CPU has" : "(auto: float32, this CPU has no"),
            std::string::npos)
      << origins["model.dtype"];
  absl::StatusOr<Config> cuda =
      ParseConfig("model:\n  dtype: float32\nparallel:\n  device: cuda\n", "gpu.yaml", {"model.dtype=auto"});
  ASSERT_TRUE(cuda.ok()) << cuda.status();
  EXPECT_EQ(cuda->model.dtype, "bfloat16");
  absl::StatusOr<Config> fixed = ParseConfig("model:\n  dtype: bfloat16\n", "bf16.yaml");
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_EQ(fixed->model.dtype, "bfloat16");  // an explicit dtype is kept on any CPU
}

}  // namespace
}  // namespace alro::config
