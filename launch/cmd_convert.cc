// launch/cmd_convert.cc: `alro convert`: rating logs (MovieLens, Amazon,
// generic JSONL) -> list-wise record shards, manifest and tokenizer
// (data/converters/convert.h does the work; docs/data.md describes it).
#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "config/config_io.h"
#include "data/converters/convert.h"
#include "data/converters/convert_mpi.h"
#include "data/converters/progress.h"
#include "distributed/runtime.h"
#include "launch/command_util.h"
#include "launch/commands.h"

namespace alro::launch {
namespace {

// The command line as typed, for the manifest's created_by.
std::string CommandText(int argc, char** argv) {
  std::string out = "alro convert";
  for (int i = 0; i < argc; ++i) absl::StrAppend(&out, " ", argv[i]);
  return out;
}

// "512M", "2G", "1.5G", "300000000": bytes; "0" = automatic.
absl::StatusOr<int64_t> ParseBytes(const std::string& text) {
  std::string t = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  double scale = 1;
  if (!t.empty() && (t.back() == 'B')) t.pop_back();
  if (!t.empty() && (t.back() == 'K' || t.back() == 'M' || t.back() == 'G' || t.back() == 'T')) {
    scale = t.back() == 'K' ? 1024.0 : t.back() == 'M' ? 1048576.0 : t.back() == 'G' ? 1073741824.0 : 1099511627776.0;
    t.pop_back();
  }
  double value = 0;
  if (!absl::SimpleAtod(t, &value) || value < 0) {
    return InvalidArgument(absl::StrCat("--memory-limit '", text, "' is not a size"), "write e.g. 512M, 2G or 0 (auto)");
  }
  return static_cast<int64_t>(value * scale);
}

absl::Status Run(const cli::CommandLine& cl, int argc, char** argv, data::ConvertGroup* group) {
  data::ConvertOptions o;
  o.format = cl.Get("format");
  o.input = cl.Get("input");
  o.metadata = cl.Get("metadata");
  o.output = cl.Get("output");
  ALRO_ASSIGN_OR_RETURN(o.split.num_candidates, cl.GetInt("num-candidates"));
  ALRO_ASSIGN_OR_RETURN(o.split.max_history, cl.GetInt("max-history"));
  ALRO_ASSIGN_OR_RETURN(o.split.min_ratings, cl.GetInt("min-ratings"));
  ALRO_ASSIGN_OR_RETURN(o.split.stride, cl.GetInt("stride"));
  ALRO_ASSIGN_OR_RETURN(int64_t seed, cl.GetInt("seed"));
  ALRO_ASSIGN_OR_RETURN(int64_t shard_records, cl.GetInt("shard-records"));
  ALRO_ASSIGN_OR_RETURN(int64_t shard_bytes, cl.GetInt("shard-bytes"));
  ALRO_ASSIGN_OR_RETURN(int64_t vocab_size, cl.GetInt("vocab-size"));
  if (seed < 0 || shard_records <= 0 || shard_bytes <= 0 || vocab_size < 0) {
    return InvalidArgument("--seed, --shard-records, --shard-bytes and --vocab-size must not be negative "
                           "(shard limits must be positive)");
  }
  o.split.seed = static_cast<uint64_t>(seed);
  o.limits.max_records = static_cast<uint64_t>(shard_records);
  o.limits.max_bytes = static_cast<uint64_t>(shard_bytes);
  o.vocab_size = static_cast<int32_t>(vocab_size);
  const std::string symbols = cl.Get("identifier-symbols");
  if (symbols != "true" && symbols != "false") return InvalidArgument("--identifier-symbols takes true or false");
  o.identifiers_as_symbols = symbols == "true";
  const std::string item_stats = cl.Get("item-stats");
  if (item_stats != "true" && item_stats != "false") return InvalidArgument("--item-stats takes true or false");
  o.split.item_stats = item_stats == "true";
  ALRO_ASSIGN_OR_RETURN(o.item_tokens, cl.GetInt("item-tokens"));
  o.base_tokenizer = cl.Get("base-tokenizer");
  if (cl.Has("config")) {
    // The prompt the tokenizer must cover (identifiers, fixed words).
    ALRO_ASSIGN_OR_RETURN(config::Config config, config::LoadConfig(cl.Get("config")));
    o.prompt = config.prompt;
  }
  ALRO_ASSIGN_OR_RETURN(int64_t threads, cl.GetInt("threads"));
  ALRO_ASSIGN_OR_RETURN(o.partitions, cl.GetInt("partitions"));
  ALRO_ASSIGN_OR_RETURN(o.memory_limit, ParseBytes(cl.Get("memory-limit")));
  if (threads < 0) return InvalidArgument("--threads must not be negative", "0 uses every core");
  o.threads = static_cast<int>(threads);
  o.scratch = cl.Get("scratch");
  o.group = group;
  o.command_line = CommandText(argc, argv);
  ALRO_ASSIGN_OR_RETURN(data::ConvertSummary s, data::ConvertDataset(o));
  if (group->rank() != 0) return absl::OkStatus();
  const int cores = s.threads * s.ranks;
  std::printf("converted %s in %.1f s: %lld ratings of %lld users -> %s\n", o.input.c_str(), s.seconds,
              static_cast<long long>(s.ratings), static_cast<long long>(s.users), o.output.c_str());
  std::printf("  %d rank(s) x %d thread(s), %lld partition(s): %s ratings/s, %s ratings/s per core; peak memory "
              "%s per rank (limit %s), %lld sorted runs spilled\n",
              s.ranks, s.threads, static_cast<long long>(s.partitions),
              data::HumanCount(static_cast<double>(s.ratings) / std::max(s.seconds, 1e-9)).c_str(),
              data::HumanCount(static_cast<double>(s.ratings) / std::max(s.seconds, 1e-9) / cores).c_str(),
              data::HumanBytes(static_cast<double>(s.peak_memory_bytes)).c_str(),
              data::HumanBytes(static_cast<double>(s.memory_limit)).c_str(), static_cast<long long>(s.spilled_runs));
  for (const data::SplitInfo& split : s.manifest.splits) {
    uint64_t bytes = 0;
    for (const data::ShardInfo& sh : split.shards) bytes += sh.bytes;
    std::printf("  %-5s %8lld lists in %zu shards (%s bytes)\n", split.name.c_str(),
                static_cast<long long>(split.records), split.shards.size(), absl::StrCat(bytes).c_str());
  }
  if (!s.manifest.tokenizer.empty()) {
    if (o.base_tokenizer.empty()) {
      std::printf("  tokenizer: %s/%s (%d pieces requested)\n", o.output.c_str(), s.manifest.tokenizer.c_str(),
                  o.vocab_size);
    } else {
      std::printf("  tokenizer: %s/%s (%s + %lld item pieces at its end)\n", o.output.c_str(),
                  s.manifest.tokenizer.c_str(), o.base_tokenizer.c_str(), static_cast<long long>(o.item_tokens + 1));
    }
  }
  std::printf("%s\n", s.drops.Summary().c_str());
  return absl::OkStatus();
}

}  // namespace

int RunConvert(int argc, char** argv) {
  cli::CommandLine cl("alro convert --format movielens|amazon|jsonl --input PATH --output DIR",
                      "convert rating logs into list-wise record shards, a manifest and a tokenizer "
                      "(docs/data.md).");
  cl.Flag("format", "movielens", "movielens (layout detected from the files), amazon, or jsonl")
      .Flag("input", "", "MovieLens directory, Amazon reviews JSON lines, or generic JSONL file")
      .Flag("metadata", "", "item metadata JSON lines (amazon: required; jsonl: optional)")
      .Flag("output", "", "data set directory to write (empty, new, or an earlier alro data set)")
      .Flag("num-candidates", "10", "m: candidates per list")
      .Flag("max-history", "20", "H: history ratings stored per list")
      .Flag("min-ratings", "0", "drop users with fewer ratings; 0 = 2m+1, the least a split needs")
      .Flag("stride", "0", "step between training windows; 0 = m (no overlap)")
      .Flag("seed", "42", "seed of the candidates' presentation-order shuffle")
      .Flag("shard-records", "100000", "records per shard at most")
      .Flag("shard-bytes", "268435456", "bytes per shard at most")
      .Flag("vocab-size", "1024", "pieces of the SentencePiece model trained on the titles; 0 = none")
      .Flag("identifier-symbols", "true",
            "true: prompt identifiers are user-defined symbols; false: ordinary pieces (shorter titles)")
      .Flag("item-stats", "false",
            "true: store each item's rating count and mean as of the list's time, for the prompt's {count} {mean}")
      .Flag("item-tokens", "0",
            "N: the N items most often candidates of training lists get a token of their own, for the prompt's "
            "{item}; 0 = none")
      .Flag("base-tokenizer", "",
            "with --item-tokens N and --vocab-size 0: a pretrained model's tokenizer.model; the data set's "
            "tokenizer is it plus the N+1 item pieces at its end (model.pretrained then grows its vocabulary)")
      .Flag("config", "", "a job config whose prompt (identifiers, words) the tokenizer must cover")
      .Flag("threads", "0", "worker threads per rank; 0 = every core")
      .Flag("memory-limit", "0",
            "memory budget per rank (e.g. 512M, 4G); 0 = a quarter of the machine's memory, at most 512M")
      .Flag("partitions", "0", "user partitions, each with its own shards; 0 = from the input size")
      .Flag("scratch", "", "directory for sorted runs (default: inside --output); every rank must see it");
  if (int code = ParseOrExit(cl, argc, argv); code >= 0) return code;
  // Under mpirun every rank converts its share; alone this is a world of one.
  dist::MpiRuntime mpi(&argc, &argv);
  data::MpiConvertGroup group(MPI_COMM_WORLD);
  const absl::Status status = Run(cl, argc, argv, &group);
  // An error every rank saw alike is printed by rank 0; a rank's own failure
  // by that rank.
  if (status.ok() || group.rank() == 0 || status.code() != absl::StatusCode::kAborted) {
    return ReportStatus("convert", status);
  }
  return kExitFailure;
}

}  // namespace alro::launch
