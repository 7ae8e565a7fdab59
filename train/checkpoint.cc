// train/checkpoint.cc: writing, listing, pruning and reading sharded
// checkpoints (layout and guarantees in checkpoint.h).
#include "train/checkpoint.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/json_util.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/torch_compat.h"
#include "train/fault_injection.h"

#ifndef ALRO_GIT_COMMIT
#define ALRO_GIT_COMMIT "unknown"
#endif
#ifndef ALRO_VERSION
#define ALRO_VERSION "0.0.0"
#endif

namespace alro::train {
namespace {

constexpr char kStepPrefix[] = "step_";
constexpr char kTmpSuffix[] = ".tmp";
constexpr char kManifestFile[] = "manifest.json";
constexpr char kConfigFile[] = "config.yaml";
// safetensors "__metadata__" keys of a rank file.
constexpr char kShardTableKey[] = "alro.shards";
constexpr char kRankKey[] = "alro.rank";
// Per-rank state blobs are stored as U8 tensors with this name prefix.
constexpr char kStatePrefix[] = "__state__.";
constexpr int kStepDigits = 8;

std::string RankFileName(int world_rank) { return absl::StrFormat("rank_%05d.safetensors", world_rank); }

// Parses "step_00000050" (exactly; not "step_00000050.tmp") into 50.
bool ParseStepDirName(absl::string_view name, int64_t* step) {
  if (!absl::StartsWith(name, kStepPrefix)) return false;
  name.remove_prefix(sizeof(kStepPrefix) - 1);
  if (name.empty() || name.find_first_not_of("0123456789") != absl::string_view::npos) return false;
  return absl::SimpleAtoi(name, step);
}

// Every rank learns whether any rank failed: a flag all-reduced with max.
// The local error wins; otherwise the message names the failing rank.
absl::Status AgreeOnStatus(dist::Communicator& world, const absl::Status& local, absl::string_view what) {
  at::Tensor flag = at::full({1}, local.ok() ? int64_t{0} : int64_t{world.rank() + 1}, at::kLong);
  world.AllReduce(flag, dist::ReduceOp::kMax);
  if (!local.ok()) return local;
  const int64_t failed = flag.item<int64_t>();
  if (failed == 0) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("checkpoint: rank ", failed - 1, " failed while ", what, "; see its error above"));
}

// Which rank writes tensor number `index` of the (identical) tensor list:
// split tensors by every tensor-parallel rank of replica index % dp; a
// replicated tensor by one rank of that replica, again round-robin.
bool WritesTensor(const dist::GridLayout& layout, int world_rank, size_t index, const core::ShardedParameter& t) {
  const dist::GridPosition pos = layout.Locate(world_rank);
  if (static_cast<int>(index % layout.dp_size()) != pos.dp_rank) return false;
  return t.split_dim >= 0 || static_cast<int>(index % layout.tp_size) == pos.tp_rank;
}

at::Tensor BytesToTensor(const std::string& bytes) {
  at::Tensor t = at::empty({static_cast<int64_t>(bytes.size())}, at::kByte);
  if (!bytes.empty()) std::memcpy(t.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  return t;
}

// Writes this rank's safetensors file: its shards, its state blobs, and the
// shard table in the metadata.
absl::Status WriteRankFile(const std::string& path, const CheckpointContents& contents, const dist::GridLayout& layout,
                           int world_rank) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  nlohmann::json table = nlohmann::json::array();
  for (size_t i = 0; i < contents.tensors.size(); ++i) {
    const core::ShardedParameter& t = contents.tensors[i];
    if (!WritesTensor(layout, world_rank, i, t)) continue;
    // Rows past the global extent (vocabulary padding of the last
    // tensor-parallel shard) are not saved; readers zero-fill them.
    const int64_t length =
        t.split_dim >= 0 ? std::max<int64_t>(0, std::min(t.tensor.size(t.split_dim), t.global_shape[t.split_dim] - t.offset))
                         : 0;
    table.push_back({{"name", t.name},
                     {"dim", t.split_dim},
                     {"offset", t.split_dim >= 0 ? t.offset : 0},
                     {"length", length},
                     {"shape", t.global_shape}});
    at::Tensor local = t.split_dim >= 0 ? t.tensor.detach().narrow(t.split_dim, 0, length) : t.tensor.detach();
    tensors.emplace_back(t.name, local.contiguous());
  }
  nlohmann::json state_keys = nlohmann::json::array();
  for (const auto& [key, blob] : contents.rank_state) {
    tensors.emplace_back(kStatePrefix + key, BytesToTensor(blob));
    state_keys.push_back(key);
  }
  const dist::GridPosition pos = layout.Locate(world_rank);
  const nlohmann::json rank = {{"world_rank", world_rank},
                               {"dp_rank", pos.dp_rank},
                               {"tp_rank", pos.tp_rank},
                               {"state_keys", state_keys}};
  return core::WriteSafetensors(path, tensors, {{kShardTableKey, table.dump()}, {kRankKey, rank.dump()}});
}

// Rank 0: merges the shard tables of every rank file into the manifest.
absl::StatusOr<nlohmann::json> BuildManifest(const std::string& tmp_dir, const CheckpointContents& contents,
                                             const dist::GridLayout& layout) {
  nlohmann::json tensors = nlohmann::json::object();
  nlohmann::json ranks = nlohmann::json::array();
  for (int r = 0; r < layout.world_size; ++r) {
    const std::string file = RankFileName(r);
    ALRO_ASSIGN_OR_RETURN(core::SafetensorsReader reader, core::SafetensorsReader::Open(JoinPath(tmp_dir, file)));
    auto table_it = reader.metadata().find(kShardTableKey);
    auto rank_it = reader.metadata().find(kRankKey);
    if (table_it == reader.metadata().end() || rank_it == reader.metadata().end()) {
      return absl::DataLossError(absl::StrCat(reader.path(), ": no alro shard table in __metadata__"));
    }
    ALRO_ASSIGN_OR_RETURN(nlohmann::json table, ParseJson(table_it->second, reader.path()));
    ALRO_ASSIGN_OR_RETURN(nlohmann::json rank, ParseJson(rank_it->second, reader.path()));
    rank["file"] = file;
    ranks.push_back(rank);
    for (const nlohmann::json& entry : table) {
      const std::string name = entry.at("name").get<std::string>();
      const core::StTensorInfo* info = reader.Find(name);
      if (info == nullptr) return absl::DataLossError(absl::StrCat(reader.path(), ": lists ", name, " but lacks it"));
      nlohmann::json& t = tensors[name];
      if (t.is_null()) {
        t = {{"shape", entry.at("shape")}, {"dtype", core::StDtypeName(info->dtype)}, {"shards", nlohmann::json::array()}};
      } else if (t.at("shape") != entry.at("shape")) {
        return absl::InternalError(absl::StrCat("checkpoint: ranks disagree on the global shape of ", name));
      }
      t["shards"].push_back(
          {{"file", file}, {"dim", entry.at("dim")}, {"offset", entry.at("offset")}, {"length", entry.at("length")}});
    }
  }
  // Every tensor must be covered exactly once: a gap here is a bug in the
  // writer assignment, caught before the checkpoint is declared complete.
  for (auto& [name, t] : tensors.items()) {
    const nlohmann::json& shards = t.at("shards");
    const int dim = shards.at(0).at("dim").get<int>();
    if (dim < 0) {
      if (shards.size() != 1) return absl::InternalError(absl::StrCat("checkpoint: ", name, " written twice"));
      continue;
    }
    int64_t total = 0;
    for (const nlohmann::json& s : shards) total += s.at("length").get<int64_t>();
    const int64_t extent = t.at("shape").at(dim).get<int64_t>();
    if (total != extent) {
      return absl::InternalError(
          absl::StrCat("checkpoint: shards of ", name, " cover ", total, " of ", extent, " rows along dim ", dim));
    }
  }
  return nlohmann::json{{"format", kCheckpointFormat},
                        {"format_version", kCheckpointFormatVersion},
                        {"complete", true},
                        {"step", contents.step},
                        {"code_version", CodeVersion()},
                        {"torch_version", compat::TorchVersionString()},
                        {"config_file", kConfigFile},
                        {"config_hash", absl::StrFormat("%016x", contents.config_hash)},
                        {"data_manifest_hash", contents.data_manifest_hash},
                        {"tokenizer", contents.tokenizer},
                        {"created_unix", static_cast<int64_t>(std::time(nullptr))},
                        {"grid",
                         {{"world_size", layout.world_size},
                          {"data_parallel", layout.dp_size()},
                          {"tensor_parallel", layout.tp_size}}},
                        {"ranks", ranks},
                        {"tensors", tensors},
                        {"extra", contents.extra}};
}

// Rank 0: manifest and config into the temporary directory, then the rename
// that makes the checkpoint complete, then retention.
absl::Status Publish(const std::string& root, const std::string& tmp_dir, const std::string& final_dir,
                     const CheckpointContents& contents, const RetentionPolicy& retention,
                     const dist::GridLayout& layout) {
  ALRO_ASSIGN_OR_RETURN(nlohmann::json manifest, BuildManifest(tmp_dir, contents, layout));
  ALRO_RETURN_IF_ERROR(WriteFileAtomically(JoinPath(tmp_dir, kConfigFile), contents.config_yaml));
  ALRO_RETURN_IF_ERROR(WriteFileAtomically(JoinPath(tmp_dir, kManifestFile), manifest.dump(1)));
  ALRO_RETURN_IF_ERROR(SyncDirectory(tmp_dir));
  if (PathExists(final_dir)) {
    // A checkpoint of this step from an earlier attempt (e.g. resumed from an
    // older one on purpose): the new one replaces it.
    ALRO_LOG(WARNING) << "checkpoint: replacing existing " << final_dir;
    ALRO_RETURN_IF_ERROR(RemoveAll(final_dir));
  }
  ALRO_RETURN_IF_ERROR(RenameDurably(tmp_dir, final_dir));
  return ApplyRetention(root, retention);
}

std::string FormatShape(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) absl::StrAppend(&s, i ? ", " : "", shape[i]);
  return s + "]";
}

}  // namespace

std::string CheckpointPath(const std::string& root, int64_t step) {
  return JoinPath(root, absl::StrFormat("%s%0*d", kStepPrefix, kStepDigits, step));
}

nlohmann::json TokenizerIdentity(const std::string& name, uint64_t bytes, uint32_t crc32c) {
  return nlohmann::json{{"name", name}, {"bytes", bytes}, {"crc32c", absl::StrFormat("%08x", crc32c)}};
}

std::string CodeVersion() { return absl::StrCat(ALRO_VERSION, "+", ALRO_GIT_COMMIT); }

std::string DataManifestHash(const std::string& data_dir) {
  absl::StatusOr<std::string> bytes = ReadFileToString(JoinPath(data_dir, "manifest.json"));
  if (!bytes.ok()) return "";
  return absl::StrFormat("crc32c:%08x", crc32c::Value(*bytes));
}

absl::StatusOr<std::string> SaveCheckpoint(const std::string& root, const CheckpointContents& contents,
                                           const RetentionPolicy& retention, dist::ProcessGrid& grid) {
  const std::string final_dir = CheckpointPath(root, contents.step);
  const std::string tmp_dir = final_dir + kTmpSuffix;
  absl::Status status;
  if (grid.world_rank() == 0) {
    status = MakeDirectories(root);
    if (status.ok()) status = RemoveAll(tmp_dir);  // a torn attempt at this same step
    if (status.ok()) status = MakeDirectories(tmp_dir);
  }
  ALRO_RETURN_IF_ERROR(AgreeOnStatus(grid.world(), status, "creating " + tmp_dir));

  status = WriteRankFile(JoinPath(tmp_dir, RankFileName(grid.world_rank())), contents, grid.layout(), grid.world_rank());
  if (FaultRequested("kill_during_save", grid.world_rank(), contents.step)) {
    ALRO_LOG(WARNING) << "fault injection: rank " << grid.world_rank() << " killed while saving step "
                      << contents.step;
    std::raise(SIGKILL);
  }
  ALRO_RETURN_IF_ERROR(AgreeOnStatus(grid.world(), status, "writing its checkpoint shard"));

  if (grid.world_rank() == 0) status = Publish(root, tmp_dir, final_dir, contents, retention, grid.layout());
  ALRO_RETURN_IF_ERROR(AgreeOnStatus(grid.world(), status, "publishing " + final_dir));
  return final_dir;
}

std::vector<int64_t> ListCompleteCheckpoints(const std::string& root) {
  std::vector<int64_t> steps;
  absl::StatusOr<std::vector<std::string>> names = ListDirectory(root);
  if (!names.ok()) return steps;
  for (const std::string& name : *names) {
    int64_t step = 0;
    if (!ParseStepDirName(name, &step)) continue;
    absl::StatusOr<nlohmann::json> manifest = ReadJsonFile(JoinPath(JoinPath(root, name), kManifestFile));
    if (!manifest.ok() || !manifest->is_object() || !manifest->value("complete", false)) continue;
    steps.push_back(step);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

absl::StatusOr<std::optional<std::string>> ResolveResume(const std::string& resume, const std::string& root) {
  if (resume.empty() || resume == "none") return std::optional<std::string>();
  if (resume == "auto") {
    if (root.empty()) {
      return UserError(absl::StatusCode::kInvalidArgument, "checkpoint.resume=auto but checkpoint.dir is empty",
                       "set checkpoint.dir to the run's checkpoint directory");
    }
    const std::vector<int64_t> steps = ListCompleteCheckpoints(root);
    if (steps.empty()) return std::optional<std::string>();
    return std::optional<std::string>(CheckpointPath(root, steps.back()));
  }
  absl::StatusOr<nlohmann::json> manifest = ReadJsonFile(JoinPath(resume, kManifestFile));
  if (!manifest.ok() || !manifest->is_object() || !manifest->value("complete", false)) {
    return UserError(absl::StatusCode::kNotFound,
                     absl::StrCat("checkpoint.resume: ", resume, " is not a complete checkpoint (no complete ",
                                  kManifestFile, ")"),
                     "pass a step_NNNNNNNN directory, or --resume auto to pick the newest complete one");
  }
  return std::optional<std::string>(resume);
}

absl::Status ApplyRetention(const std::string& root, const RetentionPolicy& retention) {
  const std::vector<int64_t> steps = ListCompleteCheckpoints(root);
  const size_t keep_last = static_cast<size_t>(std::max<int64_t>(retention.keep_last, 1));
  for (size_t i = 0; i < steps.size(); ++i) {
    const bool recent = i + keep_last >= steps.size();
    const bool milestone = retention.keep_every > 0 && steps[i] % retention.keep_every == 0;
    if (recent || milestone) continue;
    ALRO_LOG(DEBUG) << "checkpoint: retention removes " << CheckpointPath(root, steps[i]);
    ALRO_RETURN_IF_ERROR(RemoveAll(CheckpointPath(root, steps[i])));
  }
  // Torn attempts: a save that crashed before its rename. Only rank 0 calls
  // this, after its own rename, so no save is in progress.
  ALRO_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(root));
  for (const std::string& name : names) {
    int64_t step = 0;
    if (absl::EndsWith(name, kTmpSuffix) &&
        ParseStepDirName(absl::string_view(name).substr(0, name.size() - (sizeof(kTmpSuffix) - 1)), &step)) {
      ALRO_LOG(INFO) << "checkpoint: removing incomplete " << JoinPath(root, name);
      ALRO_RETURN_IF_ERROR(RemoveAll(JoinPath(root, name)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReshardCheckpoint(const CheckpointReader& src, const std::string& dst_root,
                                              int data_parallel, int tensor_parallel) {
  ALRO_ASSIGN_OR_RETURN(dist::GridLayout layout, dist::MakeGridLayout(int64_t{data_parallel} * tensor_parallel,
                                                                      tensor_parallel));
  CheckpointContents contents;
  contents.step = src.step();
  ALRO_ASSIGN_OR_RETURN(contents.config_yaml, src.ConfigYaml());
  contents.data_manifest_hash = src.manifest().value("data_manifest_hash", "");
  contents.tokenizer = src.manifest().value("tokenizer", nlohmann::json::object());
  contents.extra = src.manifest().value("extra", nlohmann::json::object());
  contents.extra["resharded_from"] = src.dir();
  const std::string final_dir = CheckpointPath(dst_root, src.step());
  const std::string tmp_dir = final_dir + kTmpSuffix;
  ALRO_RETURN_IF_ERROR(MakeDirectories(dst_root));
  ALRO_RETURN_IF_ERROR(RemoveAll(tmp_dir));
  ALRO_RETURN_IF_ERROR(MakeDirectories(tmp_dir));
  for (int r = 0; r < layout.world_size; ++r) {
    const dist::GridPosition pos = layout.Locate(r);
    contents.tensors.clear();
    contents.rank_state.clear();
    for (const std::string& name : src.TensorNames()) {
      ALRO_ASSIGN_OR_RETURN(std::vector<int64_t> shape, src.GlobalShape(name));
      core::ShardedParameter shard{name, at::Tensor(), src.SplitDim(name), shape, 0, false, false};
      std::vector<int64_t> local = shape;
      if (shard.split_dim >= 0) {
        const int64_t per = (shape[shard.split_dim] + tensor_parallel - 1) / tensor_parallel;
        local[shard.split_dim] = per;
        shard.offset = per * pos.tp_rank;
      }
      ALRO_ASSIGN_OR_RETURN(core::StDtype dtype,
                            core::ParseStDtype(src.manifest()["tensors"][name].value("dtype", "F32")));
      shard.tensor = at::zeros(local, core::StDtypeToScalarType(dtype));
      ALRO_RETURN_IF_ERROR(src.LoadInto(shard));
      contents.tensors.push_back(std::move(shard));
    }
    const int from = r < src.saved_world_size() ? r : 0;
    for (const std::string& key : src.RankStateKeys(from)) {
      ALRO_ASSIGN_OR_RETURN(contents.rank_state[key], src.RankState(key, from));
    }
    ALRO_RETURN_IF_ERROR(WriteRankFile(JoinPath(tmp_dir, RankFileName(r)), contents, layout, r));
  }
  ALRO_RETURN_IF_ERROR(Publish(dst_root, tmp_dir, final_dir, contents, RetentionPolicy{INT64_MAX, 0}, layout));
  return final_dir;
}

// ---------------------------------------------------------------- reading

absl::StatusOr<CheckpointReader> CheckpointReader::Open(const std::string& dir) {
  const std::string path = JoinPath(dir, kManifestFile);
  absl::StatusOr<nlohmann::json> manifest = ReadJsonFile(path);
  if (!manifest.ok()) {
    return Annotate(manifest.status(), absl::StrCat("checkpoint ", dir, " is not complete or not a checkpoint"));
  }
  CheckpointReader reader;
  reader.dir_ = dir;
  reader.manifest_ = std::move(*manifest);
  const nlohmann::json& m = reader.manifest_;
  auto bad = [&](absl::string_view what) {
    return UserError(absl::StatusCode::kDataLoss, absl::StrCat(path, ": ", what),
                     "the checkpoint is damaged or was not written by alro; pick another one");
  };
  if (!m.is_object() || m.value("format", "") != kCheckpointFormat) return bad("\"format\" is not alro-checkpoint");
  if (m.value("format_version", 0) != kCheckpointFormatVersion) {
    return bad(absl::StrCat("format_version ", m.value("format_version", 0), " is not ", kCheckpointFormatVersion));
  }
  if (!m.value("complete", false)) return bad("\"complete\" is not true");
  try {
    reader.step_ = m.at("step").get<int64_t>();
    for (const nlohmann::json& rank : m.at("ranks")) {
      const int r = rank.at("world_rank").get<int>();
      if (r < 0 || r >= static_cast<int>(m.at("ranks").size())) return bad(absl::StrCat("rank ", r, " out of range"));
      if (reader.rank_files_.size() <= static_cast<size_t>(r)) reader.rank_files_.resize(r + 1);
      reader.rank_files_[r] = rank.at("file").get<std::string>();
    }
    reader.saved_world_size_ = static_cast<int>(reader.rank_files_.size());
    for (const auto& [name, t] : m.at("tensors").items()) {
      StoredTensor stored;
      stored.shape = t.at("shape").get<std::vector<int64_t>>();
      for (const nlohmann::json& s : t.at("shards")) {
        StoredShard shard{s.at("file").get<std::string>(), s.at("dim").get<int>(), s.at("offset").get<int64_t>(),
                          s.at("length").get<int64_t>()};
        if (shard.dim >= static_cast<int>(stored.shape.size())) {
          return bad(absl::StrCat("tensor ", name, ": shard dim ", shard.dim, " out of range"));
        }
        stored.shards.push_back(std::move(shard));
      }
      if (stored.shards.empty()) return bad(absl::StrCat("tensor ", name, " has no shards"));
      reader.tensors_.emplace(name, std::move(stored));
    }
  } catch (const nlohmann::json::exception& e) {
    return bad(absl::StrCat("missing or mistyped key (", e.what(), ")"));
  }
  return reader;
}

absl::StatusOr<std::string> CheckpointReader::ConfigYaml() const {
  return ReadFileToString(JoinPath(dir_, manifest_.value("config_file", kConfigFile)));
}

bool CheckpointReader::Has(const std::string& name) const { return tensors_.count(name) > 0; }

std::vector<std::string> CheckpointReader::TensorNames() const {
  std::vector<std::string> names;
  for (const auto& [name, t] : tensors_) names.push_back(name);
  return names;
}

int CheckpointReader::SplitDim(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? -1 : it->second.shards.front().dim;
}

std::vector<std::string> CheckpointReader::RankStateKeys(int world_rank) const {
  std::vector<std::string> keys;
  for (const nlohmann::json& rank : manifest_.value("ranks", nlohmann::json::array())) {
    if (rank.value("world_rank", -1) != world_rank) continue;
    for (const nlohmann::json& key : rank.value("state_keys", nlohmann::json::array())) keys.push_back(key);
  }
  return keys;
}

absl::StatusOr<std::vector<int64_t>> CheckpointReader::GlobalShape(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) return absl::NotFoundError(absl::StrCat(dir_, ": no tensor ", name));
  return it->second.shape;
}

absl::StatusOr<const core::SafetensorsReader*> CheckpointReader::File(const std::string& file) const {
  auto it = files_.find(file);
  if (it != files_.end()) return it->second.get();
  ALRO_ASSIGN_OR_RETURN(core::SafetensorsReader reader, core::SafetensorsReader::Open(JoinPath(dir_, file)));
  auto shared = std::make_shared<core::SafetensorsReader>(std::move(reader));
  files_.emplace(file, shared);
  return shared.get();
}

absl::Status CheckpointReader::LoadInto(const core::ShardedParameter& shard) const {
  auto it = tensors_.find(shard.name);
  if (it == tensors_.end()) {
    return UserError(absl::StatusCode::kNotFound, absl::StrCat(dir_, ": the checkpoint has no tensor ", shard.name),
                     "the model configuration (layers, LoRA, tie_embeddings) must match the checkpoint's config.yaml");
  }
  const StoredTensor& stored = it->second;
  const at::Tensor& target = shard.tensor;
  const int rank = static_cast<int>(stored.shape.size());
  const int need_dim = shard.split_dim;
  auto mismatch = [&]() {
    return UserError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat(dir_, ": tensor ", shard.name, " is stored with global shape ",
                                  FormatShape(stored.shape), " but this model needs ", FormatShape(shard.global_shape),
                                  " (local slice ", FormatShape(target.sizes().vec()), " at offset ", shard.offset,
                                  " of dim ", need_dim, ")"),
                     "the model shape must match the checkpoint's config.yaml; only the parallel layout may differ");
  };
  if (target.dim() != rank) return mismatch();
  // The region this rank needs, in global coordinates, clipped to what is
  // stored; along the split dimension the stored extent may be shorter
  // (vocabulary padding for another tensor-parallel size).
  std::vector<int64_t> lo(rank, 0), hi(rank, 0);
  for (int d = 0; d < rank; ++d) {
    if (d == need_dim) {
      lo[d] = shard.offset;
      hi[d] = std::min(shard.offset + target.size(d), stored.shape[d]);
    } else {
      if (target.size(d) != stored.shape[d]) return mismatch();
      hi[d] = stored.shape[d];
    }
  }
  int64_t expected = 1;
  for (int d = 0; d < rank; ++d) expected *= std::max<int64_t>(0, hi[d] - lo[d]);

  at::NoGradGuard no_grad;
  if (need_dim >= 0 && hi[need_dim] - lo[need_dim] < target.size(need_dim)) target.zero_();
  int64_t copied = 0;
  for (const StoredShard& s : stored.shards) {
    ALRO_ASSIGN_OR_RETURN(const core::SafetensorsReader* file, File(s.file));
    const int sd = s.dim;
    at::Tensor piece;
    at::Tensor dst = target;
    if (sd >= 0) {
      const int64_t a = std::max(s.offset, lo[sd]);
      const int64_t b = std::min(s.offset + s.length, hi[sd]);
      if (b <= a) continue;
      ALRO_ASSIGN_OR_RETURN(piece, file->ReadSlice(shard.name, sd, a - s.offset, b - a));
      dst = dst.narrow(sd, a - lo[sd], b - a);
      if (need_dim >= 0 && need_dim != sd) piece = piece.narrow(need_dim, lo[need_dim], hi[need_dim] - lo[need_dim]);
    } else if (need_dim >= 0) {
      if (hi[need_dim] <= lo[need_dim]) continue;
      ALRO_ASSIGN_OR_RETURN(piece, file->ReadSlice(shard.name, need_dim, lo[need_dim], hi[need_dim] - lo[need_dim]));
    } else {
      ALRO_ASSIGN_OR_RETURN(piece, file->Read(shard.name));
    }
    if (need_dim >= 0 && need_dim != sd) dst = dst.narrow(need_dim, 0, hi[need_dim] - lo[need_dim]);
    if (dst.sizes() != piece.sizes()) {
      return absl::DataLossError(absl::StrCat(dir_, "/", s.file, ": shard of ", shard.name, " has shape ",
                                              FormatShape(piece.sizes().vec()), ", expected ",
                                              FormatShape(dst.sizes().vec())));
    }
    dst.copy_(piece);
    copied += piece.numel();
  }
  if (copied != expected) {
    return absl::DataLossError(absl::StrCat(dir_, ": the stored shards of ", shard.name, " cover ", copied, " of the ",
                                            expected, " elements this rank needs; the manifest is inconsistent"));
  }
  return absl::OkStatus();
}

absl::StatusOr<at::Tensor> CheckpointReader::ReadFull(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) return absl::NotFoundError(absl::StrCat(dir_, ": no tensor ", name));
  ALRO_ASSIGN_OR_RETURN(const core::SafetensorsReader* file, File(it->second.shards.front().file));
  const core::StTensorInfo* info = file->Find(name);
  if (info == nullptr) {
    return absl::DataLossError(absl::StrCat(file->path(), ": lacks ", name, " listed in the manifest"));
  }
  at::Tensor full = at::empty(it->second.shape, core::StDtypeToScalarType(info->dtype));
  ALRO_RETURN_IF_ERROR(LoadInto(core::ShardedParameter{name, full, -1, it->second.shape, 0, false, false}));
  return full;
}

absl::StatusOr<std::string> CheckpointReader::RankState(const std::string& key, int world_rank) const {
  const int rank = world_rank < saved_world_size_ ? world_rank : 0;
  ALRO_ASSIGN_OR_RETURN(const core::SafetensorsReader* file, File(rank_files_.at(rank)));
  ALRO_ASSIGN_OR_RETURN(at::Tensor bytes, file->Read(kStatePrefix + key));
  bytes = bytes.contiguous();
  return std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), bytes.numel());
}

}  // namespace alro::train
