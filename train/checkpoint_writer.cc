// train/checkpoint_writer.cc: rank files, the manifest and the atomic
// publication of a checkpoint (protocol in checkpoint_writer.h).
#include "train/checkpoint_writer.h"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <ctime>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_util.h"
#include "common/json_util.h"
#include "common/logging.h"
#include "common/status.h"
#include "common/torch_compat.h"
#include "core/safetensors.h"
#include "distributed/agreement.h"
#include "train/checkpoint_format.h"
#include "train/checkpoint_identity.h"
#include "train/fault_injection.h"

namespace alro::train {
namespace {

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

}  // namespace

absl::Status WriteRankFile(const std::string& tmp_dir, const CheckpointContents& contents,
                           const dist::GridLayout& layout, int world_rank) {
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
  return core::WriteSafetensors(JoinPath(tmp_dir, RankFileName(world_rank)), tensors,
                                {{kShardTableKey, table.dump()}, {kRankKey, rank.dump()}});
}

absl::Status PublishCheckpoint(const std::string& root, const std::string& tmp_dir, const std::string& final_dir,
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
  ALRO_RETURN_IF_ERROR(dist::AgreeOnStatus(grid.world(), status, "creating " + tmp_dir));

  status = WriteRankFile(tmp_dir, contents, grid.layout(), grid.world_rank());
  if (FaultRequested("kill_during_save", grid.world_rank(), contents.step)) {
    ALRO_LOG(WARNING) << "fault injection: rank " << grid.world_rank() << " killed while saving step "
                      << contents.step;
    std::raise(SIGKILL);
  }
  ALRO_RETURN_IF_ERROR(dist::AgreeOnStatus(grid.world(), status, "writing its checkpoint shard"));

  if (grid.world_rank() == 0) status = PublishCheckpoint(root, tmp_dir, final_dir, contents, retention, grid.layout());
  ALRO_RETURN_IF_ERROR(dist::AgreeOnStatus(grid.world(), status, "publishing " + final_dir));
  return final_dir;
}

}  // namespace alro::train
