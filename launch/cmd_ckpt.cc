// launch/cmd_ckpt.cc: `alro ckpt`: inspect, reshard or export a checkpoint.
//
//   alro ckpt inspect runs/tiny/checkpoints/step_00000200 [--all] [--json]
//   alro ckpt inspect runs/tiny/checkpoints            (the newest complete one)
//   alro ckpt reshard SRC --out DIR --dp 1 --tp 2
//   alro ckpt export SRC --out hf_model/ [--dtype bfloat16]
//
// Single process, no mpirun needed; the checkpoint may come from any shape.
#include <cstdio>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/status.h"
#include "core/hf_checkpoint.h"
#include "data/manifest.h"
#include "data/tokenizer.h"
#include "distributed/process_grid.h"
#include "distributed/runtime.h"
#include "launch/command_util.h"
#include "launch/commands.h"
#include "train/checkpoint_dirs.h"
#include "train/checkpoint_reader.h"
#include "train/checkpoint_reshard.h"
#include "train/model_loading.h"

namespace alro::launch {
namespace {

std::string Shape(const std::vector<int64_t>& shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

int Inspect(const train::CheckpointReader& reader, bool all, bool json) {
  const nlohmann::json& m = reader.manifest();
  if (json) {
    std::printf("%s\n", m.dump(2).c_str());
    return kExitOk;
  }
  const nlohmann::json grid = m.value("grid", nlohmann::json::object());
  std::printf("checkpoint:   %s\n", reader.dir().c_str());
  std::printf("step:         %lld\n", static_cast<long long>(reader.step()));
  std::printf("saved by:     %d ranks = dp %d x tp %d\n", grid.value("world_size", 0), grid.value("data_parallel", 0),
              grid.value("tensor_parallel", 0));
  std::printf("code:         %s (torch %s)\n", m.value("code_version", "?").c_str(),
              m.value("torch_version", "?").c_str());
  std::printf("config hash:  %s   data manifest: %s\n", m.value("config_hash", "?").c_str(),
              m.value("data_manifest_hash", "?").c_str());
  const nlohmann::json extra = m.value("extra", nlohmann::json::object());
  if (extra.contains("last_terms")) std::printf("last losses:  %s\n", extra["last_terms"].dump().c_str());
  int64_t params = 0, moments = 0, count = 0;
  std::vector<std::string> lines;
  for (const std::string& name : reader.TensorNames()) {
    const std::vector<int64_t> shape = *reader.GlobalShape(name);
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    const bool is_moment = name.rfind("optimizer.", 0) == 0;
    (is_moment ? moments : params) += numel;
    ++count;
    const nlohmann::json& t = m["tensors"][name];
    if (all || !is_moment) {
      lines.push_back(absl::StrFormat("  %-55s %-14s %s split %d, %d shard(s)", name, Shape(shape),
                                      t.value("dtype", "?"), reader.SplitDim(name), t["shards"].size()));
    }
  }
  std::printf("tensors:      %lld (%lld model values, %lld optimizer-moment values)\n", (long long)count,
              (long long)params, (long long)moments);
  std::printf("rank state:   %s\n", absl::StrJoin(reader.RankStateKeys(0), ", ").c_str());
  for (const std::string& line : lines) std::printf("%s\n", line.c_str());
  if (!all) std::printf("  (optimizer moments hidden; --all lists them)\n");
  return kExitOk;
}

// The tokenizer file that goes next to an export: model.tokenizer, else the
// one `alro convert` trained into data.dir.
std::string TokenizerFile(const config::Config& cfg) {
  if (!cfg.model.tokenizer.empty()) return cfg.model.tokenizer;
  absl::StatusOr<data::Manifest> manifest = data::ReadManifest(cfg.data.dir);
  if (manifest.ok() && !manifest->tokenizer.empty()) return JoinPath(cfg.data.dir, manifest->tokenizer);
  return "";
}

// What to do when the tokenizer export would copy is not the checkpoint's.
constexpr char kExportTokenizerHint[] =
    "export copies model.tokenizer of the checkpoint's config.yaml, else data.dir's tokenizer.model: put the "
    "file the model was trained with back there (a data set converted again with the same command and options "
    "writes it again), then export again";

int Export(const train::CheckpointReader& reader, const std::string& out, const std::string& dtype_name) {
  dist::MpiRuntime mpi;
  absl::StatusOr<config::Config> cfg = train::ConfigFromCheckpoint(reader, /*world_size=*/1, /*tensor_parallel=*/1);
  if (!cfg.ok()) return ReportStatus("ckpt export", cfg.status());
  dist::ProcessGrid grid = dist::ProcessGrid::CreateSingleProcess();
  absl::StatusOr<std::shared_ptr<core::Decoder>> model = train::LoadModelFromCheckpoint(reader, cfg->model, grid);
  if (!model.ok()) return ReportStatus("ckpt export", model.status());
  core::HfSaveOptions options;
  if (dtype_name == "bfloat16") {
    options.dtype = at::kBFloat16;
  } else if (dtype_name == "float16") {
    options.dtype = at::kHalf;
  } else if (dtype_name != "float32") {
    return ReportStatus("ckpt export", InvalidArgument("--dtype must be float32, bfloat16 or float16"));
  }
  options.tokenizer_model = TokenizerFile(*cfg);
  if (!options.tokenizer_model.empty()) {
    // The copy must be the file the model learnt its token ids from: a data
    // set re-converted since (other --vocab-size, --item-tokens) has another.
    absl::StatusOr<std::shared_ptr<const data::Tokenizer>> tokenizer = data::Tokenizer::Load(options.tokenizer_model);
    if (!tokenizer.ok()) return ReportStatus("ckpt export", tokenizer.status());
    // The default hint names --set, which export does not take.
    const absl::Status same = train::CheckCheckpointTokenizer(reader, **tokenizer, kExportTokenizerHint);
    if (!same.ok()) return ReportStatus("ckpt export", same);
  }
  const absl::Status saved = core::SaveHfCheckpoint(out, **model, options);
  if (!saved.ok()) return ReportStatus("ckpt export", saved);
  std::printf("exported step %lld to %s (Hugging Face layout%s, %s)\n", static_cast<long long>(reader.step()),
              out.c_str(), cfg->model.lora.enabled ? ", LoRA merged" : "", dtype_name.c_str());
  return kExitOk;
}

}  // namespace

int RunCkpt(int argc, char** argv) {
  cli::CommandLine command_line("alro ckpt inspect|reshard|export DIR [flags]",
                                "Inspects, reshards or exports a checkpoint (DIR is a step_NNNNNNNN directory, or a "
                                "checkpoint.dir, meaning its newest complete checkpoint).");
  command_line.Positional("action", "inspect | reshard | export")
      .Positional("dir", "checkpoint directory")
      .Flag("out", "", "reshard: checkpoint root to write; export: Hugging Face model directory to write")
      .Flag("dp", "1", "reshard: data-parallel size of the target layout")
      .Flag("tp", "1", "reshard: tensor-parallel size of the target layout")
      .Flag("dtype", "float32", "export: float32 | bfloat16 | float16")
      .Switch("all", "inspect: also list the optimizer moments")
      .Switch("json", "inspect: print the manifest as JSON");
  if (int code = ParseOrExit(command_line, argc, argv); code >= 0) return code;
  const std::string action = command_line.GetPositional("action");
  if (action != "inspect" && action != "reshard" && action != "export") {
    return ReportStatus("ckpt", InvalidArgument("unknown action '" + action + "'", "use inspect, reshard or export"));
  }
  absl::StatusOr<train::CheckpointReader> reader =
      train::CheckpointReader::Open(train::ResolveCheckpointDir(command_line.GetPositional("dir")));
  if (!reader.ok()) return ReportStatus("ckpt " + action, reader.status());
  if (action == "inspect") return Inspect(*reader, command_line.GetSwitch("all"), command_line.GetSwitch("json"));
  const std::string out = command_line.Get("out");
  if (out.empty()) return ReportStatus("ckpt " + action, InvalidArgument("--out is required"));
  if (action == "export") return Export(*reader, out, command_line.Get("dtype"));
  absl::StatusOr<int64_t> dp = command_line.GetInt("dp");
  absl::StatusOr<int64_t> tp = command_line.GetInt("tp");
  if (!dp.ok()) return ReportStatus("ckpt reshard", dp.status());
  if (!tp.ok()) return ReportStatus("ckpt reshard", tp.status());
  if (*dp < 1 || *tp < 1) return ReportStatus("ckpt reshard", InvalidArgument("--dp and --tp must be >= 1"));
  absl::StatusOr<std::string> written =
      train::ReshardCheckpoint(*reader, out, static_cast<int>(*dp), static_cast<int>(*tp));
  if (!written.ok()) return ReportStatus("ckpt reshard", written.status());
  std::printf("wrote %s laid out for dp %lld x tp %lld\n", written->c_str(), (long long)*dp, (long long)*tp);
  return kExitOk;
}

}  // namespace alro::launch
