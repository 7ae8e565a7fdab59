// tests/core/pretrained_shape_test.cc: with model.pretrained the checkpoint's
// config.json defines the architecture: unset keys come from it, set keys
// that contradict it are errors naming both values and both files, and
// features alro lacks are refused by name. The expected values are written
// out by hand from transformers' LlamaConfig / MistralConfig defaults.
#include <gtest/gtest.h>

#include <string>

#include "common/file_util.h"
#include "config/config_io.h"
#include "core/hf_config.h"
#include "core/pretrained_shape.h"
#include "tests/core/core_test_util.h"

namespace alro::core {
namespace {

// A config.json for alro's tiny shape (4 heads, 2 kv heads, theta 1e4).
nlohmann::json TinyHfConfig() {
  config::ModelConfig m;
  m.rms_norm_eps = 1e-6;
  return HfConfigJson(m, "float32");
}

class PretrainedShapeTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::SharedTempDir(); }
  void TearDown() override { (void)RemoveAll(dir_); }

  void WriteHf(const nlohmann::json& j) {
    ASSERT_TRUE(WriteFileAtomically(JoinPath(dir_, "config.json"), j.dump(2)).ok());
  }
  // Parses `yaml` (with model.pretrained = dir_) and resolves its shape.
  absl::StatusOr<std::vector<ShapeValue>> Resolve(const std::string& yaml, config::Config* out,
                                                  const std::vector<std::string>& overrides = {}) {
    config::ConfigOrigins origins;
    std::vector<std::string> all = {"model.pretrained=" + dir_};
    all.insert(all.end(), overrides.begin(), overrides.end());
    absl::StatusOr<config::Config> cfg = config::ParseConfig(yaml, "job.yaml", all, &origins);
    if (!cfg.ok()) return cfg.status();
    *out = *cfg;
    return ResolveModelShape(origins, /*read_checkpoint=*/true, &out->model);
  }
  std::string config_json() const { return JoinPath(dir_, "config.json"); }

  std::string dir_;
};

void ExpectError(const absl::Status& status, std::initializer_list<std::string> needles) {
  ASSERT_FALSE(status.ok()) << "expected an error";
  const std::string message(status.message());
  for (const std::string& needle : needles) {
    EXPECT_NE(message.find(needle), std::string::npos) << "missing '" << needle << "' in:\n" << message;
  }
}

// The case: an edited config.json under a YAML with preset tiny.
TEST_F(PretrainedShapeTest, ContradictionsNameBothValuesAndBothFiles) {
  nlohmann::json j = TinyHfConfig();
  j["num_attention_heads"] = 2;
  j["num_key_value_heads"] = 2;
  j["rope_theta"] = 12345.0;
  j["rms_norm_eps"] = 0.5;
  WriteHf(j);
  config::Config cfg;
  const absl::Status s = Resolve("model:\n  preset: tiny\n  rms_norm_eps: 1.0e-5\n", &cfg).status();
  ExpectError(s, {"model.num_heads: model.preset tiny (job.yaml:2) says 4, but " + config_json(),
                  "num_attention_heads = 2", "model.rope_theta", "rope_theta = 12345",
                  "model.rms_norm_eps: job.yaml:3 says 1e-05", "rms_norm_eps = 0.5", "HINT"});
  // The kv heads agree (2 = 2): not reported.
  EXPECT_EQ(std::string(s.message()).find("model.num_kv_heads"), std::string::npos) << s;
  // --set is named as the source too.
  WriteHf(TinyHfConfig());
  ExpectError(Resolve("{}", &cfg, {"model.num_layers=3"}).status(),
              {"model.num_layers: --set model.num_layers=3 says 3", "num_hidden_layers = 2"});
}

TEST_F(PretrainedShapeTest, UnsetKeysComeFromTheCheckpointWithTheirSource) {
  nlohmann::json j = TinyHfConfig();
  j["num_attention_heads"] = 2;
  j["num_key_value_heads"] = 1;
  j["rope_theta"] = 12345.0;
  j["tie_word_embeddings"] = true;
  j.erase("rms_norm_eps");  // LlamaConfig's default: 1e-6
  WriteHf(j);
  config::Config cfg;
  absl::StatusOr<std::vector<ShapeValue>> shape = Resolve("model:\n  dtype: float32\n", &cfg);
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(cfg.model.num_heads, 2);
  EXPECT_EQ(cfg.model.num_kv_heads, 1);
  EXPECT_DOUBLE_EQ(cfg.model.rope_theta, 12345.0);
  EXPECT_DOUBLE_EQ(cfg.model.rms_norm_eps, 1e-6);
  EXPECT_TRUE(cfg.model.tie_embeddings);
  EXPECT_EQ(cfg.model.preset, "custom");
  ASSERT_EQ(shape->size(), 10u);
  for (const ShapeValue& v : *shape) {
    if (v.key == "model.num_heads") {
      EXPECT_EQ(v.value, "2");
      EXPECT_EQ(v.source, config_json() + " (num_attention_heads)");
    }
    if (v.key == "model.rms_norm_eps") EXPECT_EQ(v.source, config_json() + " (rms_norm_eps absent: the class default)");
  }
  // The resolved configuration passes the trainer's check; a changed one fails.
  EXPECT_TRUE(CheckPretrainedShape(cfg.model).ok());
  config::ModelConfig changed = cfg.model;
  changed.num_heads = 4;
  ExpectError(CheckPretrainedShape(changed), {"model.num_heads: the job's configuration says 4", config_json()});
  // Values that agree are reported as such.
  shape = Resolve("model:\n  num_heads: 2\n", &cfg);
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ((*shape)[4].key, "model.num_heads");
  EXPECT_EQ((*shape)[4].source, "job.yaml:2, agrees with " + config_json() + " (num_attention_heads)");
}

TEST_F(PretrainedShapeTest, MaxSeqLenIsALimit) {
  WriteHf(TinyHfConfig());  // max_position_embeddings 1024
  config::Config cfg;
  ASSERT_TRUE(Resolve("model:\n  max_seq_len: 512\n", &cfg).ok());
  EXPECT_EQ(cfg.model.max_seq_len, 512);
  ExpectError(Resolve("model:\n  max_seq_len: 2048\n", &cfg).status(),
              {"model.max_seq_len: job.yaml:2 says 2048", "max_position_embeddings = 1024"});
  ASSERT_TRUE(Resolve("{}", &cfg).ok());
  EXPECT_EQ(cfg.model.max_seq_len, 1024);
}

TEST_F(PretrainedShapeTest, ValuesOutsideAlrosRangesAreRefused) {
  nlohmann::json j = TinyHfConfig();
  j["rms_norm_eps"] = 0.5;
  WriteHf(j);
  config::Config cfg;
  ExpectError(Resolve("{}", &cfg).status(), {config_json(), "model.rms_norm_eps is 0.5"});
}

TEST_F(PretrainedShapeTest, UnsupportedFeaturesAreRefusedByName) {
  struct Case {
    const char* key;
    nlohmann::json value;
  };
  const Case cases[] = {
      {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}},
      {"attention_bias", true},
      {"mlp_bias", true},
      {"hidden_act", "gelu"},
      {"model_type", "gpt2"},
      {"quantization_config", {{"quant_method", "gptq"}}},
      {"attention_dropout", 0.1},
      {"head_dim", 8},
      {"sliding_window", 128},
  };
  for (const Case& c : cases) {
    nlohmann::json j = TinyHfConfig();
    j[c.key] = c.value;
    absl::StatusOr<HfModelShape> shape = ParseHfConfig(j.dump(), "m/config.json");
    ExpectError(shape.status(), {"m/config.json", std::string("\"") + c.key + "\"", "not supported"});
  }
  nlohmann::json j = TinyHfConfig();
  j.erase("model_type");
  ExpectError(ParseHfConfig(j.dump(), "m/config.json").status(), {"model_type", "not supported"});
  // Mistral's default sliding window (4096, shorter than its default context)
  // is refused too; an explicit null window is full attention.
  j = TinyHfConfig();
  j["model_type"] = "mistral";
  j.erase("max_position_embeddings");
  ExpectError(ParseHfConfig(j.dump(), "m/config.json").status(), {"sliding_window"});
  j["sliding_window"] = nullptr;
  j.erase("num_key_value_heads");
  j["num_attention_heads"] = 8;
  absl::StatusOr<HfModelShape> mistral = ParseHfConfig(j.dump(), "m/config.json");
  ASSERT_TRUE(mistral.ok()) << mistral.status();
  EXPECT_EQ(mistral->model.num_kv_heads, 8);          // MistralConfig's default
  EXPECT_EQ(mistral->model.max_seq_len, 4096 * 32);   // MistralConfig's default
  EXPECT_EQ(mistral->defaulted.count("num_key_value_heads"), 1u);
  // Malformed values name the key.
  j = TinyHfConfig();
  j["tie_word_embeddings"] = "yes";
  ExpectError(ParseHfConfig(j.dump(), "m/config.json").status(), {"tie_word_embeddings", "true or false"});
  j = TinyHfConfig();
  j["hidden_size"] = 64.5;
  ExpectError(ParseHfConfig(j.dump(), "m/config.json").status(), {"hidden_size", "positive integer"});
}

TEST_F(PretrainedShapeTest, WithoutPretrainedSourcesAreTheConfiguration) {
  config::ConfigOrigins origins;
  absl::StatusOr<config::Config> cfg =
      config::ParseConfig("model:\n  preset: small\n  num_layers: 3\n", "job.yaml", {}, &origins);
  ASSERT_TRUE(cfg.ok());
  absl::StatusOr<std::vector<ShapeValue>> shape = ResolveModelShape(origins, true, &cfg->model);
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ((*shape)[0].source, "model.preset small (job.yaml:2)");
  EXPECT_EQ((*shape)[3].source, "job.yaml:3");
  EXPECT_EQ((*shape)[9].source, "default");
}

}  // namespace
}  // namespace alro::core
