// train/model_loading.cc: configuration and weights from a checkpoint.
#include "train/model_loading.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "config/config_io.h"

namespace alro::train {

absl::StatusOr<config::Config> ConfigFromCheckpoint(const CheckpointReader& reader, int64_t world_size,
                                                    int64_t tensor_parallel,
                                                    const std::vector<std::string>& overrides) {
  ALRO_ASSIGN_OR_RETURN(std::string yaml, reader.ConfigYaml());
  // The saved layout is the training job's; this job has its own. The
  // global batch only matters for training and is re-derived.
  std::vector<std::string> all = {absl::StrCat("parallel.tensor_parallel=", tensor_parallel),
                                  "parallel.data_parallel=0", "schedule.global_batch_size=0",
                                  "checkpoint.resume=none"};
  all.insert(all.end(), overrides.begin(), overrides.end());
  ALRO_ASSIGN_OR_RETURN(config::Config cfg, config::ParseConfig(yaml, reader.dir() + "/config.yaml", all));
  ALRO_RETURN_IF_ERROR(config::ValidateConfig(cfg, {.world_size = world_size, .check_paths = false}));
  config::ResolveDerived(&cfg, world_size);
  return cfg;
}

absl::StatusOr<std::shared_ptr<core::Decoder>> LoadModelFromCheckpoint(const CheckpointReader& reader,
                                                                      const config::ModelConfig& model,
                                                                      dist::ProcessGrid& grid, c10::Device device) {
  auto decoder = std::make_shared<core::Decoder>(model, grid, /*random_init=*/false, device);
  for (const core::ShardedParameter& p : decoder->ShardedParameters()) {
    ALRO_RETURN_IF_ERROR(Annotate(reader.LoadInto(p), "loading the model"));
  }
  decoder->eval();
  return decoder;
}

}  // namespace alro::train
