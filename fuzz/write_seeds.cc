// fuzz/write_seeds.cc: writes the seed corpus of every fuzz target with the
// project's own writers, so the fuzzers start from valid files and mutate
// from there:
//   alro_fuzz_seeds OUT_DIR SOURCE_DIR
// OUT_DIR/<target>/ gets one file per seed; SOURCE_DIR is the repository
// (its configs/*.yaml are seeds of the configuration target).
#include <cstdio>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "config/config_io.h"
#include "core/hf_config.h"
#include "core/safetensors.h"
#include "data/list_example.pb.h"
#include "data/manifest.h"
#include "data/record_format.h"
#include "data/record_writer.h"
#include "nlohmann/json.hpp"

namespace alro {
namespace {

void Check(const absl::Status& status) {
  if (status.ok()) return;
  std::fprintf(stderr, "alro_fuzz_seeds: %s\n", std::string(status.message()).c_str());
  std::exit(1);
}

void Seed(const std::string& out, const std::string& target, const std::string& name, const std::string& bytes) {
  Check(MakeDirectories(JoinPath(out, target)));
  Check(WriteFileAtomically(JoinPath(JoinPath(out, target), name), bytes));
}

data::proto::ListExample Example(int i) {
  data::proto::ListExample ex;
  ex.set_schema_version(data::kSchemaVersion);
  ex.set_example_id(absl::StrCat("train/u", i, "/0"));
  ex.set_user_id(absl::StrCat("u", i));
  ex.set_split(data::proto::SPLIT_TRAIN);
  for (int h = 0; h < 2; ++h) {
    data::proto::Interaction* x = ex.add_history();
    x->mutable_item()->set_item_id(absl::StrCat("m", h));
    x->mutable_item()->set_title("Heat");
    x->mutable_item()->set_year(1995);
    x->set_rating(4.5f);
    x->set_timestamp(100 + h);
  }
  for (int c = 0; c < 3; ++c) {
    data::proto::Interaction* x = ex.add_candidates();
    x->mutable_item()->set_item_id(absl::StrCat("m", 10 + c));
    x->mutable_item()->set_title(absl::StrCat("Toy Story ", c));
    x->mutable_item()->add_genres("Animation");
    x->set_rating(float(c + 1));
  }
  return ex;
}

void RecordSeeds(const std::string& out) {
  std::string shard;
  std::vector<uint64_t> offsets;
  for (int i = 0; i < 3; ++i) {
    offsets.push_back(shard.size());
    data::AppendRecordFrame(Example(i).SerializeAsString(), &shard);
  }
  Seed(out, "record_reader", "three_records.rec", shard);
  Seed(out, "record_reader", "empty_payload.rec", [] {
    std::string s;
    data::AppendRecordFrame("", &s);
    return s;
  }());
  Seed(out, "shard_index", "three_records.rec.idx", data::EncodeShardIndex(offsets, shard.size()));
  Seed(out, "shard_index", "empty.rec.idx", data::EncodeShardIndex({}, 0));

  data::Manifest m;
  m.format = data::kManifestFormat;
  m.schema_version = data::kSchemaVersion;
  m.tokenizer = data::kTokenizerName;
  m.tokenizer_bytes = 1234;
  m.tokenizer_crc32c = 0xdeadbeef;
  for (const char* split : {"train", "valid", "test"}) {
    data::SplitInfo s;
    s.name = split;
    s.records = 3;
    s.shards.push_back({absl::StrCat(split, "-00000.rec"), 3, shard.size(), crc32c::Value(shard)});
    m.splits.push_back(s);
  }
  m.created_by = {{"command", "alro convert --format movielens"}, {"inputs", nlohmann::json::array()}};
  m.stats = {{"users", 3}};
  Seed(out, "manifest", "manifest.json", data::ManifestToJson(m));
  m.item_tokens = {"1193", "661"};  // alro convert --item-tokens
  Seed(out, "manifest", "manifest_item_tokens.json", data::ManifestToJson(m));
}

void ModelSeeds(const std::string& out) {
  const std::string tmp = JoinPath(out, "tmp.safetensors");
  Check(core::WriteSafetensors(tmp,
                               {{"model.embed_tokens.weight", at::arange(6, at::kFloat).reshape({2, 3})},
                                {"model.norm.weight", at::ones({4}, at::kBFloat16)},
                                {"ids", at::arange(4, at::kLong).reshape({2, 2})},
                                {"empty", at::zeros({0, 3}, at::kHalf)}},
                               {{"format", "pt"}}));
  absl::StatusOr<std::string> bytes = ReadFileToString(tmp);
  Check(bytes.status());
  Seed(out, "safetensors", "four_tensors.safetensors", *bytes);
  Check(RemoveAll(tmp));
  for (const char* preset : {"tiny", "llama2-7b", "llama3-8b"}) {
    config::ModelConfig m;
    config::ApplyModelPreset(preset, &m);
    Seed(out, "hf_config", absl::StrCat(preset, ".json"), core::HfConfigJson(m, "bfloat16").dump(2));
  }
}

void ConfigSeeds(const std::string& out, const std::string& source_dir) {
  Seed(out, "config", "defaults.yaml", config::ConfigToYaml(config::Config()));
  for (const char* name : {"tiny.yaml", "llama2-7b-8gpu.yaml"}) {
    absl::StatusOr<std::string> text = ReadFileToString(JoinPath(JoinPath(source_dir, "configs"), name));
    Check(text.status());
    Seed(out, "config", name, *text);
    Seed(out, "config", absl::StrCat("set_", name), "#set model.lora.rank=4\n" + *text);
  }
}

void JsonlSeeds(const std::string& out) {
  nlohmann::json request = {{"id", "u1"}, {"user", "u1"}};
  request["history"] = {{{"title", "Heat"}, {"year", 1995}, {"rating", 4.5}, {"timestamp", 100}}};
  request["candidates"] = {{{"id", "m7"}, {"title", "Up"}, {"year", 2009}, {"genres", {"Animation"}}},
                           {{"id", "m8"}, {"title", "Heat"}, {"category", "Movies"}}};
  Seed(out, "rank_request", "request.json", request.dump());
  Seed(out, "rankings_jsonl", "rankings.jsonl",
       "{\"labels\": [5, 3, 4]}\n"
       "{\"scores\": [0.1, 2.0, 0.7], \"labels\": [3, 5, 4], \"list_id\": \"u1\", \"items\": [1, 2, 3]}\n"
       "{\"scores\": [2.0, 0.1, 0.7], \"labels\": [5, 3, 4], \"list_id\": \"u1\", \"items\": [2, 1, 3]}\n\n"
       "{\"labels\": [0, 0], \"list_id\": 7}\n");
}

}  // namespace
}  // namespace alro

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: alro_fuzz_seeds OUT_DIR SOURCE_DIR\n");
    return 2;
  }
  alro::RecordSeeds(argv[1]);
  alro::ModelSeeds(argv[1]);
  alro::ConfigSeeds(argv[1], argv[2]);
  alro::JsonlSeeds(argv[1]);
  return 0;
}
