// core/hf_checkpoint.cc: loading and saving Hugging Face LLaMA checkpoints.
#include "core/hf_checkpoint.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/json_util.h"
#include "common/logging.h"
#include "common/status.h"
#include "core/hf_config.h"
#include "core/safetensors.h"
#include "core/vocab_growth.h"
#include "distributed/agreement.h"

namespace alro::core {
namespace {

constexpr char kSingleFile[] = "model.safetensors";
constexpr char kIndexFile[] = "model.safetensors.index.json";
constexpr char kConfigFile[] = "config.json";
constexpr char kTokenizerFile[] = "tokenizer.model";
// Buffers some older exports saved with the weights; recomputed, never loaded.
constexpr char kIgnoredSuffix[] = "rotary_emb.inv_freq";
// How many unexpected names an error lists before "...".
constexpr size_t kMaxNamesInError = 5;

// The checkpoint's tensors: name -> file (relative to the directory).
absl::StatusOr<std::map<std::string, std::string>> WeightMap(const std::string& dir,
                                                             std::map<std::string, SafetensorsReader>* readers) {
  std::map<std::string, std::string> where;
  const std::string index_path = JoinPath(dir, kIndexFile);
  if (PathExists(index_path)) {
    ALRO_ASSIGN_OR_RETURN(nlohmann::json index, ReadJsonFile(index_path));
    auto map = index.find("weight_map");
    if (!index.is_object() || map == index.end() || !map->is_object()) {
      return InvalidArgument(absl::StrCat(index_path, ": no \"weight_map\" object"),
                             "the index must map tensor names to shard files");
    }
    for (auto it = map->begin(); it != map->end(); ++it) {
      if (!it.value().is_string() || absl::StrContains(it.value().get<std::string>(), "/")) {
        return InvalidArgument(absl::StrCat(index_path, ": weight_map[\"", it.key(), "\"] = ", it.value().dump(),
                                            " is not a file name in the directory"),
                               "the index must map tensor names to shard files next to it");
      }
      where[it.key()] = it.value().get<std::string>();
    }
  } else if (PathExists(JoinPath(dir, kSingleFile))) {
    ALRO_ASSIGN_OR_RETURN(SafetensorsReader reader, SafetensorsReader::Open(JoinPath(dir, kSingleFile)));
    for (const StTensorInfo& t : reader.tensors()) where[t.name] = kSingleFile;
    readers->emplace(kSingleFile, std::move(reader));
  } else {
    return UserError(absl::StatusCode::kNotFound,
                     absl::StrCat("model directory ", dir, " has neither ", kSingleFile, " nor ", kIndexFile),
                     "download the model's safetensors weights (pytorch_model.bin is not read; convert it with "
                     "transformers' save_pretrained(safe_serialization=True))");
  }
  // Open every shard the index names and check that it holds its tensors.
  for (const auto& [name, file] : where) {
    if (readers->count(file) == 0) {
      ALRO_ASSIGN_OR_RETURN(SafetensorsReader reader, SafetensorsReader::Open(JoinPath(dir, file)));
      readers->emplace(file, std::move(reader));
    }
    if (readers->at(file).Find(name) == nullptr) {
      return UserError(absl::StatusCode::kDataLoss,
                       absl::StrCat(JoinPath(dir, kIndexFile), " maps tensor \"", name, "\" to ", file,
                                    " but that file does not contain it"),
                       "the index and the shards come from different exports; download them again");
    }
  }
  return where;
}

bool IsFloating(StDtype d) {
  return d == StDtype::kF32 || d == StDtype::kBF16 || d == StDtype::kF16 || d == StDtype::kF64;
}

// The tensors with one row per vocabulary entry.
bool IsVocabularyTensor(const std::string& name) {
  return name == "model.embed_tokens.weight" || name == "lm_head.weight";
}

// Rows [0, n) of this rank's vocabulary shard `p` from a checkpoint with
// fewer rows: the checkpoint's rows where it has them, the grown rows past
// its end.
absl::Status LoadGrownShard(const SafetensorsReader& reader, const ShardedParameter& p, const VocabGrowth& growth) {
  const int64_t n = p.valid_length();
  const int64_t old_rows = std::clamp<int64_t>(growth.checkpoint_vocab - p.offset, 0, n);
  p.tensor.zero_();  // padding rows of the vocabulary stay zero
  if (old_rows > 0) {
    ALRO_ASSIGN_OR_RETURN(at::Tensor slice, reader.ReadSlice(p.name, 0, p.offset, old_rows));
    p.tensor.narrow(0, 0, old_rows).copy_(slice);
  }
  if (n > old_rows) {
    ALRO_ASSIGN_OR_RETURN(at::Tensor full, reader.Read(p.name));
    absl::StatusOr<at::Tensor> grown = GrownRows(full, growth);
    ALRO_RETURN_IF_ERROR(Annotate(grown.status(), absl::StrCat("growing ", p.name)));
    const int64_t first_new = p.offset + old_rows - growth.checkpoint_vocab;
    p.tensor.narrow(0, old_rows, n - old_rows).copy_(grown->narrow(0, first_new, n - old_rows));
  }
  return absl::OkStatus();
}

// LoadHfCheckpoint, and LoadGrownHfCheckpoint when `growth` is given.
absl::Status LoadHfCheckpointImpl(const std::string& dir, Decoder& model, const VocabGrowth* growth) {
  ALRO_CHECK(growth == nullptr || growth->grown_vocab() == model.config().vocab_size,
             "vocabulary growth to ", growth->grown_vocab(), " rows for a model of ", model.config().vocab_size);
  std::map<std::string, SafetensorsReader> readers;
  ALRO_ASSIGN_OR_RETURN(auto where, WeightMap(dir, &readers));
  std::vector<ShardedParameter> params;
  for (ShardedParameter& p : model.ShardedParameters()) {
    if (!absl::StrContains(p.name, "lora_")) params.push_back(std::move(p));
  }
  // Check names, shapes and dtypes of everything before copying anything.
  std::set<std::string> expected;
  for (const ShardedParameter& p : params) {
    expected.insert(p.name);
    auto it = where.find(p.name);
    if (it == where.end()) {
      return UserError(absl::StatusCode::kNotFound,
                       absl::StrCat("tensor \"", p.name, "\" is missing from the checkpoint in ", dir, " (",
                                    PathExists(JoinPath(dir, kIndexFile)) ? kIndexFile : kSingleFile, ")"),
                       "the checkpoint does not match the model configuration (num_layers, tie_embeddings?); "
                       "check config.json");
    }
    const std::string path = JoinPath(dir, it->second);
    const StTensorInfo* info = readers.at(it->second).Find(p.name);
    std::vector<int64_t> shape = p.global_shape;
    if (growth != nullptr && IsVocabularyTensor(p.name)) shape[0] = growth->checkpoint_vocab;
    if (info->shape != shape) {
      return InvalidArgument(absl::StrCat("tensor \"", p.name, "\" in ", path, " has shape [",
                                          absl::StrJoin(info->shape, ", "), "], the model expects [",
                                          absl::StrJoin(shape, ", "), "]"),
                             "the checkpoint does not match the model configuration; take the shape from its "
                             "config.json (model.pretrained does this)");
    }
    if (!IsFloating(info->dtype)) {
      return InvalidArgument(absl::StrCat("tensor \"", p.name, "\" in ", path, " has dtype ",
                                          StDtypeName(info->dtype), ", expected a floating-point type"),
                             "weights must be F32, BF16, F16 or F64");
    }
  }
  if (growth != nullptr) {
    for (const std::vector<int32_t>& sources : growth->sources) {
      for (int32_t id : sources) {
        if (id < 0 || id >= growth->checkpoint_vocab) {
          return absl::InvalidArgumentError(absl::StrCat("a new vocabulary row starts from token ", id,
                                                         ", outside the ", growth->checkpoint_vocab, " rows of ",
                                                         dir));
        }
      }
    }
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, file] : where) {
    if (expected.count(name) || absl::EndsWith(name, kIgnoredSuffix)) continue;
    if (name == "lm_head.weight" && model.config().tie_embeddings) continue;
    if (unexpected.size() < kMaxNamesInError) unexpected.push_back(absl::StrCat("\"", name, "\" (", file, ")"));
    else if (unexpected.size() == kMaxNamesInError) unexpected.push_back("...");
  }
  if (!unexpected.empty()) {
    return InvalidArgument(absl::StrCat("checkpoint in ", dir, " has tensors the model does not: ",
                                        absl::StrJoin(unexpected, ", ")),
                           "the checkpoint is not a LLaMA-family model of this configuration (biases? another "
                           "architecture?)");
  }
  at::NoGradGuard no_grad;
  for (const ShardedParameter& p : params) {
    const SafetensorsReader& reader = readers.at(where.at(p.name));
    at::Tensor slice;
    if (p.split_dim < 0) {
      ALRO_ASSIGN_OR_RETURN(slice, reader.Read(p.name));
      p.tensor.copy_(slice);
      continue;
    }
    if (growth != nullptr && IsVocabularyTensor(p.name)) {
      ALRO_RETURN_IF_ERROR(LoadGrownShard(reader, p, *growth));
      continue;
    }
    const int64_t n = p.valid_length();
    ALRO_ASSIGN_OR_RETURN(slice, reader.ReadSlice(p.name, p.split_dim, p.offset, n));
    p.tensor.zero_();  // padding rows of the vocabulary stay zero
    p.tensor.narrow(p.split_dim, 0, n).copy_(slice);
  }
  ALRO_LOG(INFO) << "loaded " << params.size() << " tensors from " << dir
                 << (growth != nullptr ? absl::StrCat(", vocabulary grown from ", growth->checkpoint_vocab, " to ",
                                                      growth->grown_vocab(), " rows")
                                       : "");
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadHfCheckpoint(const std::string& dir, Decoder& model) {
  return LoadHfCheckpointImpl(dir, model, nullptr);
}

absl::Status LoadGrownHfCheckpoint(const std::string& dir, Decoder& model, const VocabGrowth& growth) {
  return LoadHfCheckpointImpl(dir, model, &growth);
}

absl::Status SaveHfCheckpoint(const std::string& dir, Decoder& model, const HfSaveOptions& options) {
  dist::ProcessGrid& grid = model.grid();
  const bool writer = grid.world_rank() == 0;
  absl::Status status;  // the writer's first error; it keeps gathering so peers do not hang
  const auto note = [&status](absl::Status s) {
    if (status.ok() && !s.ok()) status = std::move(s);
  };
  const char* torch_dtype = options.dtype == at::kBFloat16 ? "bfloat16"
                            : options.dtype == at::kHalf   ? "float16"
                                                           : "float32";
  if (grid.dp_rank() == 0) {
    std::vector<ShardedParameter> params = model.ExportParameters();
    // Plan the files: consecutive tensors fill a shard up to max_shard_bytes.
    const int64_t element = at::elementSize(options.dtype);
    std::vector<std::vector<size_t>> files(1);
    uint64_t filled = 0, total = 0;
    for (size_t i = 0; i < params.size(); ++i) {
      uint64_t bytes = element;
      for (int64_t d : params[i].global_shape) bytes *= d;
      if (filled > 0 && filled + bytes > options.max_shard_bytes) {
        files.emplace_back();
        filled = 0;
      }
      files.back().push_back(i);
      filled += bytes;
      total += bytes;
    }
    const auto file_name = [&](size_t k) {
      return files.size() == 1 ? std::string(kSingleFile)
                               : absl::StrFormat("model-%05d-of-%05d.safetensors", k + 1, files.size());
    };
    if (writer) note(MakeDirectories(dir));
    nlohmann::json weight_map = nlohmann::json::object();
    for (size_t k = 0; k < files.size(); ++k) {
      std::vector<SafetensorsWriter::Entry> entries;
      for (size_t i : files[k]) {
        entries.push_back({params[i].name, options.dtype, params[i].global_shape});
        weight_map[params[i].name] = file_name(k);
      }
      absl::StatusOr<SafetensorsWriter> out;
      if (writer && status.ok()) {
        out = SafetensorsWriter::Create(JoinPath(dir, file_name(k)), entries, {{"format", "pt"}});
        note(out.status());
      }
      // One dtype per export, so the writer keeps this order (it sorts by
      // element size only) and every rank gathers in the same sequence.
      for (size_t i : files[k]) {
        const ShardedParameter& p = params[i];
        at::Tensor full = p.tensor.detach().contiguous();
        if (p.split_dim >= 0) {
          full = grid.tp().AllGather(full, p.split_dim).narrow(p.split_dim, 0, p.global_shape[p.split_dim]);
        }
        if (writer && status.ok()) note(out->Append(p.name, full));
      }
      if (writer && status.ok()) note(out->Finish());
    }
    if (writer && status.ok() && files.size() > 1) {
      const nlohmann::json index{{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
      note(WriteFileAtomically(JoinPath(dir, kIndexFile), index.dump(2) + "\n"));
    }
    if (writer && status.ok()) {
      note(WriteFileAtomically(JoinPath(dir, kConfigFile), HfConfigJson(model.config(), torch_dtype).dump(2) + "\n"));
    }
    if (writer && status.ok() && !options.tokenizer_model.empty()) {
      absl::StatusOr<std::string> bytes = ReadFileToString(options.tokenizer_model);
      note(bytes.status());
      if (bytes.ok()) note(WriteFileAtomically(JoinPath(dir, kTokenizerFile), *bytes));
    }
  }
  // Every rank learns whether the writer succeeded.
  const int failed = dist::FirstFailedRank(grid.world(), !status.ok());
  if (!status.ok()) return Annotate(status, absl::StrCat("saving Hugging Face checkpoint to ", dir));
  if (failed >= 0) {
    return absl::InternalError(
        absl::StrCat("rank ", failed, " failed to save the checkpoint to ", dir, "; see its log"));
  }
  if (writer) ALRO_LOG(INFO) << "saved Hugging Face checkpoint to " << dir;
  return absl::OkStatus();
}

}  // namespace alro::core
