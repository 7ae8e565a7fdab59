// launch/cmd_convert.cc: `alro convert`: rating logs (MovieLens, Amazon,
// generic JSONL) -> list-wise record shards, manifest and tokenizer
// (data/converters/convert.h does the work; docs/data.md describes it).
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "config/config_io.h"
#include "data/converters/convert.h"
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

absl::Status Run(const cli::CommandLine& cl, int argc, char** argv) {
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
  if (cl.Has("config")) {
    // The prompt the tokenizer must cover (identifiers, fixed words).
    ALRO_ASSIGN_OR_RETURN(config::Config config, config::LoadConfig(cl.Get("config")));
    o.prompt = config.prompt;
  }
  o.command_line = CommandText(argc, argv);
  ALRO_ASSIGN_OR_RETURN(data::ConvertSummary s, data::ConvertDataset(o));
  std::printf("converted %s in %.1f s: %lld ratings of %lld users -> %s\n", o.input.c_str(), s.seconds,
              static_cast<long long>(s.ratings), static_cast<long long>(s.users), o.output.c_str());
  for (const data::SplitInfo& split : s.manifest.splits) {
    uint64_t bytes = 0;
    for (const data::ShardInfo& sh : split.shards) bytes += sh.bytes;
    std::printf("  %-5s %8lld lists in %zu shards (%s bytes)\n", split.name.c_str(),
                static_cast<long long>(split.records), split.shards.size(), absl::StrCat(bytes).c_str());
  }
  if (!s.manifest.tokenizer.empty()) {
    std::printf("  tokenizer: %s/%s (%d pieces requested)\n", o.output.c_str(), s.manifest.tokenizer.c_str(),
                o.vocab_size);
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
      .Flag("config", "", "a job config whose prompt (identifiers, words) the tokenizer must cover");
  if (int code = ParseOrExit(cl, argc, argv); code >= 0) return code;
  return ReportStatus("convert", Run(cl, argc, argv));
}

}  // namespace alro::launch
