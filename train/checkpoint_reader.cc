// train/checkpoint_reader.cc: opening a checkpoint's manifest and assembling
// any slice of a stored tensor from the shards that overlap it.
#include "train/checkpoint_reader.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/json_util.h"
#include "common/status.h"
#include "train/checkpoint_format.h"

namespace alro::train {
namespace {

std::string FormatShape(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) absl::StrAppend(&s, i ? ", " : "", shape[i]);
  return s + "]";
}

}  // namespace

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
  const int ndim = static_cast<int>(stored.shape.size());
  const int need_dim = shard.split_dim;
  auto mismatch = [&]() {
    return UserError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat(dir_, ": tensor ", shard.name, " is stored with global shape ",
                                  FormatShape(stored.shape), " but this model needs ", FormatShape(shard.global_shape),
                                  " (local slice ", FormatShape(target.sizes().vec()), " at offset ", shard.offset,
                                  " of dim ", need_dim, ")"),
                     "the model shape must match the checkpoint's config.yaml; only the parallel layout may differ");
  };
  if (target.dim() != ndim) return mismatch();
  // The region this rank needs, in global coordinates, clipped to what is
  // stored; along the split dimension the stored extent may be shorter
  // (vocabulary padding for another tensor-parallel size).
  std::vector<int64_t> lo(ndim, 0), hi(ndim, 0);
  for (int d = 0; d < ndim; ++d) {
    if (d == need_dim) {
      lo[d] = shard.offset;
      hi[d] = std::min(shard.offset + target.size(d), stored.shape[d]);
    } else {
      if (target.size(d) != stored.shape[d]) return mismatch();
      hi[d] = stored.shape[d];
    }
  }
  int64_t expected = 1;
  for (int d = 0; d < ndim; ++d) expected *= std::max<int64_t>(0, hi[d] - lo[d]);

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

absl::StatusOr<std::string> CheckpointReader::RankState(const std::string& key, int world_rank) const {
  const int rank = world_rank < saved_world_size_ ? world_rank : 0;
  ALRO_ASSIGN_OR_RETURN(const core::SafetensorsReader* file, File(rank_files_.at(rank)));
  ALRO_ASSIGN_OR_RETURN(at::Tensor bytes, file->Read(kStatePrefix + key));
  bytes = bytes.contiguous();
  return std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), bytes.numel());
}

}  // namespace alro::train
