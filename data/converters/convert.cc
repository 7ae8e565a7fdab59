// data/converters/convert.cc: the conversion pipeline.
#include "data/converters/convert.h"

#include <array>
#include <chrono>
#include <map>
#include <set>
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/status.h"
#include "data/converters/formats.h"
#include "data/prompt.h"
#include "data/record_format.h"
#include "data/tokenizer.h"

namespace alro::data {
namespace {

constexpr std::array<const char*, 3> kSplitNames = {"train", "valid", "test"};

int SplitSlot(proto::Split split) {
  return split == proto::SPLIT_TRAIN ? 0 : split == proto::SPLIT_VALID ? 1 : 2;
}

// Makes `dir` ready: creates it, or clears an earlier alro data set from it
// (manifest first, so a crash in between leaves no manifest that lies).
absl::Status PrepareOutput(const std::string& dir) {
  if (!PathExists(dir)) return MakeDirectories(dir);
  if (!IsDirectory(dir)) {
    return InvalidArgument(absl::StrCat("--output ", dir, " is a file"), "name a directory");
  }
  ALRO_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(dir));
  for (const std::string& name : names) {
    const bool ours = name == kManifestName || name == kTokenizerName || absl::EndsWith(name, kShardSuffix) ||
                      absl::EndsWith(name, kIndexSuffix) || absl::StrContains(name, ".tmp.");
    if (!ours) {
      return UserError(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat("--output ", dir, " contains '", name, "', which is not part of an alro data set"),
                       "convert into an empty or new directory");
    }
  }
  const std::string manifest = JoinPath(dir, kManifestName);
  if (PathExists(manifest)) ALRO_RETURN_IF_ERROR(RemoveAll(manifest));
  for (const std::string& name : names) {
    if (name != kManifestName) ALRO_RETURN_IF_ERROR(RemoveAll(JoinPath(dir, name)));
  }
  return SyncDirectory(dir);
}

absl::StatusOr<RatingLog> ReadInput(const ConvertOptions& o, DropReport* drops) {
  if (o.format == "movielens") return ReadMovieLens(o.input, drops);
  if (o.format == "amazon") return ReadAmazon(o.input, o.metadata, drops);
  if (o.format == "jsonl") return ReadGenericJsonl(o.input, o.metadata, drops);
  return InvalidArgument(absl::StrCat("--format '", o.format, "' is unknown"), "use movielens, amazon or jsonl");
}

// The text the tokenizer is trained on, weighted roughly as prompts will
// show it (SentencePiece counts repeated sentences): each item's display
// title once per rating of it, each rating value once per use, and the
// prompt's fixed words once per ten ratings, which makes them single pieces
// early. With item statistics, each {count} and {mean} text once per use.
// Sentences come in a fixed order, so training is deterministic.
std::vector<std::string> TokenizerCorpus(const RatingLog& log, const config::PromptConfig& prompt,
                                         const std::map<std::string, int64_t>& stat_text_uses) {
  constexpr int64_t kRatingsPerLiteral = 10;
  std::vector<int64_t> item_uses(log.items.size(), 0);
  std::map<std::string, int64_t> rating_uses;
  int64_t total = 0;
  for (const auto& [user, events] : log.users) {
    for (const RatingEvent& e : events) {
      ++item_uses[static_cast<size_t>(e.item)];
      ++rating_uses[FormatRating(e.rating)];
      ++total;
    }
  }
  std::vector<std::string> sentences;
  const auto add = [&](const std::string& s, int64_t times) {
    for (int64_t k = 0; k < times && !s.empty(); ++k) sentences.push_back(s);
  };
  for (const std::string& literal : PromptLiterals(prompt)) add(literal, std::max<int64_t>(1, total / kRatingsPerLiteral));
  for (size_t i = 0; i < log.items.size(); ++i) {
    if (log.items[i].title().empty()) continue;
    add(ItemDisplayTitle(log.items[i], static_cast<size_t>(prompt.max_title_chars)), std::max<int64_t>(1, item_uses[i]));
  }
  for (const auto& [text, uses] : rating_uses) add(text, uses);
  for (const auto& [text, uses] : stat_text_uses) add(text, uses);
  return sentences;
}

}  // namespace

absl::StatusOr<ConvertSummary> ConvertDataset(const ConvertOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  ALRO_ASSIGN_OR_RETURN(SplitOptions split, ResolveSplitOptions(options.split));
  if (options.output.empty()) return InvalidArgument("--output is required", "name the data set directory");
  if (options.input.empty()) return InvalidArgument("--input is required", "name the input file or directory");
  if (split.num_candidates > static_cast<int64_t>(options.prompt.identifiers.size())) {
    return InvalidArgument(absl::StrCat("--num-candidates ", split.num_candidates, " exceeds the ",
                                        options.prompt.identifiers.size(), " prompt identifiers"),
                           "lower --num-candidates or add prompt.identifiers");
  }
  if (PromptUsesItemStats(options.prompt) && !split.item_stats) {
    return InvalidArgument("the prompt of --config shows item statistics ({count} or {mean}) but --item-stats is false",
                           "convert with --item-stats true, or use a prompt without {count} {mean}");
  }
  ConvertSummary summary;
  ALRO_LOG(INFO) << "convert: reading " << options.format << " input " << options.input;
  ALRO_ASSIGN_OR_RETURN(RatingLog log, ReadInput(options, &summary.drops));
  for (const auto& [user, events] : log.users) summary.ratings += static_cast<int64_t>(events.size());
  ALRO_LOG(INFO) << "convert: " << log.rows_read << " rating rows, " << summary.ratings << " kept, "
                 << log.users.size() << " users, " << log.items.size() << " items";
  if (summary.ratings == 0) {
    return UserError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("no valid ratings in ", options.input, "\n", summary.drops.Summary()),
                     "check --format and the input files");
  }

  ALRO_RETURN_IF_ERROR(PrepareOutput(options.output));
  std::vector<ShardedRecordWriter> writers;
  for (const char* name : kSplitNames) {
    ALRO_ASSIGN_OR_RETURN(ShardedRecordWriter w, ShardedRecordWriter::Create(options.output, name, options.limits));
    writers.push_back(std::move(w));
  }
  std::map<std::string, int64_t> rating_histogram;
  std::set<std::string> users_with_lists;
  std::set<std::string> items_used;
  int64_t uninformative_lists = 0;
  std::map<std::string, int64_t> stat_text_uses;  // {count} {mean} texts, for the tokenizer
  std::string payload;
  ALRO_RETURN_IF_ERROR(SplitRatingLog(log, split, &summary.drops, [&](const proto::ListExample& ex) -> absl::Status {
    users_with_lists.insert(ex.user_id());
    bool all_equal = true;
    for (const proto::Interaction& c : ex.candidates()) {
      ++rating_histogram[FormatRating(c.rating())];
      items_used.insert(c.item().item_id());
      all_equal &= c.rating() == ex.candidates(0).rating();
    }
    uninformative_lists += all_equal ? 1 : 0;
    if (split.item_stats) {
      for (const auto* interactions : {&ex.history(), &ex.candidates()}) {
        for (const proto::Interaction& x : *interactions) {
          ++stat_text_uses[ItemCountText(x)];
          ++stat_text_uses[ItemMeanText(options.prompt, x)];
        }
      }
    }
    payload.clear();
    if (!ex.SerializeToString(&payload)) return absl::InternalError("serialising a ListExample failed");
    return writers[static_cast<size_t>(SplitSlot(ex.split()))].Write(payload);
  }));

  Manifest& manifest = summary.manifest;
  manifest.format = kManifestFormat;
  manifest.schema_version = kSchemaVersion;
  for (size_t s = 0; s < kSplitNames.size(); ++s) {
    SplitInfo info;
    info.name = kSplitNames[s];
    info.records = writers[s].records();
    ALRO_ASSIGN_OR_RETURN(info.shards, writers[s].Finish());
    manifest.splits.push_back(std::move(info));
  }

  if (options.vocab_size > 0) {
    TokenizerTrainingOptions t;
    t.vocab_size = options.vocab_size;
    if (options.identifiers_as_symbols) t.user_defined_symbols = options.prompt.identifiers;
    t.user_defined_symbols.push_back(kNewlinePiece);
    // Item statistics as single pieces: digits are split otherwise, and a
    // model comparing "4.3" with "3.5" digit by digit learns far slower.
    for (const auto& [text, uses] : stat_text_uses) t.user_defined_symbols.push_back(text);
    const std::vector<std::string> corpus = TokenizerCorpus(log, options.prompt, stat_text_uses);
    ALRO_LOG(INFO) << "convert: training a " << options.vocab_size << "-piece SentencePiece model on "
                   << corpus.size() << " sentences";
    ALRO_ASSIGN_OR_RETURN(std::string model, TrainTokenizer(corpus, t));
    ALRO_RETURN_IF_ERROR(WriteFileAtomically(JoinPath(options.output, kTokenizerName), model));
    manifest.tokenizer = kTokenizerName;
    manifest.tokenizer_bytes = model.size();
    manifest.tokenizer_crc32c = crc32c::Value(model);
  }

  summary.users = static_cast<int64_t>(users_with_lists.size());
  summary.items = static_cast<int64_t>(items_used.size());
  manifest.created_by = {
      {"command", options.command_line},
      {"format", options.format},
      {"inputs", log.inputs},
      {"options",
       {{"num_candidates", split.num_candidates},
        {"max_history", split.max_history},
        {"min_ratings", split.min_ratings},
        {"stride", split.stride},
        {"seed", split.seed},
        {"shard_records", options.limits.max_records},
        {"shard_bytes", options.limits.max_bytes},
        {"vocab_size", options.vocab_size},
        {"identifiers_as_symbols", options.identifiers_as_symbols},
        {"item_stats", split.item_stats}}}};
  nlohmann::json histogram = nlohmann::json::object();
  for (const auto& [rating, count] : rating_histogram) histogram[rating] = count;
  manifest.stats = {{"rating_rows", log.rows_read},
                    {"ratings_kept", summary.ratings},
                    {"users_with_lists", summary.users},
                    {"candidate_items", summary.items},
                    {"lists_with_all_ratings_equal", uninformative_lists},
                    {"candidate_rating_histogram", histogram},
                    {"dropped", summary.drops.counts()}};
  // Last: a directory with a manifest is a complete data set.
  ALRO_RETURN_IF_ERROR(WriteManifest(options.output, manifest));
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace alro::data
