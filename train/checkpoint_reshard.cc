// train/checkpoint_reshard.cc: rewriting a checkpoint for another layout,
// one target rank file at a time, through the writer's protocol.
#include "train/checkpoint_reshard.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "common/file_util.h"
#include "common/status.h"
#include "distributed/process_grid.h"
#include "train/checkpoint_format.h"
#include "train/checkpoint_writer.h"

namespace alro::train {

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
      core::ShardedParameter shard{
          .name = name, .split_dim = src.SplitDim(name), .global_shape = shape, .trainable = false};
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
    ALRO_RETURN_IF_ERROR(WriteRankFile(tmp_dir, contents, layout, r));
  }
  ALRO_RETURN_IF_ERROR(
      PublishCheckpoint(dst_root, tmp_dir, final_dir, contents, RetentionPolicy{INT64_MAX, 0}, layout));
  return final_dir;
}

}  // namespace alro::train
