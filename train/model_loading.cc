// train/model_loading.cc: configuration and weights from a checkpoint.
#include "train/model_loading.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "common/status.h"
#include "config/config_io.h"
#include "data/loader.h"
#include "distributed/device.h"
#include "train/checkpoint_dirs.h"
#include "train/checkpoint_identity.h"

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

absl::Status CheckCheckpointTokenizer(const CheckpointReader& reader, const data::Tokenizer& tokenizer,
                                      absl::string_view hint) {
  const nlohmann::json recorded = reader.manifest().value("tokenizer", nlohmann::json::object());
  if (!recorded.is_object() || !recorded.contains("crc32c")) {
    ALRO_LOG(WARNING) << "checkpoint " << reader.dir() << " records no tokenizer (written by an older alro); "
                      << "make sure " << tokenizer.name() << " is the one it was trained with";
    return absl::OkStatus();
  }
  const nlohmann::json mine = TokenizerIdentity(tokenizer.name(), tokenizer.size_bytes(), tokenizer.crc32c());
  // json equality: a field of another type (a damaged manifest) differs too.
  if (recorded.value("crc32c", nlohmann::json()) == mine["crc32c"] &&
      recorded.value("bytes", nlohmann::json()) == mine["bytes"]) {
    return absl::OkStatus();
  }
  return UserError(absl::StatusCode::kFailedPrecondition,
                   absl::StrCat("checkpoint ", reader.dir(), " was trained with tokenizer ",
                                recorded.value("name", nlohmann::json("?")).dump(), " (",
                                recorded.value("bytes", nlohmann::json()).dump(), " bytes, CRC32C ",
                                recorded.value("crc32c", nlohmann::json()).dump(), "), but this job's tokenizer ",
                                tokenizer.name(), " has ", tokenizer.size_bytes(), " bytes, CRC32C ",
                                absl::StrFormat("%08x", tokenizer.crc32c()),
                                ": its token ids would mean other pieces than the model learnt"),
                   hint);
}

absl::StatusOr<TrainedModel> LoadTrainedModel(const TrainedModelRequest& request) {
  ALRO_ASSIGN_OR_RETURN(CheckpointReader checkpoint,
                        CheckpointReader::Open(ResolveCheckpointDir(request.checkpoint)));
  ALRO_ASSIGN_OR_RETURN(config::Config cfg, ConfigFromCheckpoint(checkpoint, request.world_size,
                                                                 request.tensor_parallel, request.overrides));
  ALRO_ASSIGN_OR_RETURN(dist::ProcessGrid grid, dist::ProcessGrid::Create(MPI_COMM_WORLD, request.tensor_parallel));
  auto owned_grid = std::make_unique<dist::ProcessGrid>(std::move(grid));
  if (request.before_model) ALRO_RETURN_IF_ERROR(request.before_model(*owned_grid));
  ALRO_ASSIGN_OR_RETURN(c10::Device device, dist::SelectDevice(cfg.parallel.device, request.local_rank));
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<core::Decoder> model,
                        LoadModelFromCheckpoint(checkpoint, cfg.model, *owned_grid, device));
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const data::PromptRenderer> renderer, data::OpenRenderer(cfg));
  ALRO_RETURN_IF_ERROR(CheckCheckpointTokenizer(checkpoint, renderer->tokenizer()));
  return TrainedModel{std::move(checkpoint), std::move(cfg), std::move(owned_grid), device, std::move(model),
                      std::move(renderer)};
}

}  // namespace alro::train
