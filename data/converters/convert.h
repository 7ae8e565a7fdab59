// data/converters/convert.h: `alro convert` as a library call: read a rating
// log, group it per user with an external sort within a memory budget, split
// each user's ratings in time order, write the train/valid/test shard sets,
// train and check the data set's tokenizer, and write the manifest last.
//
// Parallel: every thread of every rank of a ConvertGroup parses its share of
// the ratings file, and each rank converts a fixed share of the user
// partitions into its own shards; rank 0 then names the shards in partition
// order and writes the manifest.
//
// Deterministic: the same input files and options give byte-identical
// shards, indexes, manifest and tokenizer.model, whatever the number of
// threads, ranks and the memory limit (docs/data.md, "Large data sets").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "data/converters/convert_group.h"
#include "data/converters/splitter.h"
#include "data/drop_report.h"
#include "data/manifest.h"
#include "data/record_writer.h"

namespace alro::data {

/// Everything `alro convert` is told.
struct ConvertOptions {
  std::string format;    ///< movielens | amazon | jsonl
  std::string input;     ///< file or directory
  std::string metadata;  ///< item metadata file (amazon: required; jsonl: optional)
  std::string output;    ///< data set directory to write
  SplitOptions split;
  ShardLimits limits;
  /// Vocabulary of the trained tokenizer; 0 = do not train one.
  int32_t vocab_size = 1024;
  /// Train the prompt identifiers as user-defined symbols (always single
  /// tokens, but then cut out of every word that contains them, e.g. the
  /// "T" of "Toy"); false leaves them ordinary pieces, which the converter
  /// makes sure the tokenizer learns (docs/data.md, Tokenizer).
  bool identifiers_as_symbols = true;
  /// Item tokens (data/item_tokens.h): the tokenizer gets <item_1> ...
  /// <item_N> and <item_other>, and the manifest lists the N items that are
  /// candidates of training lists most often; 0 = none.
  int64_t item_tokens = 0;
  /// With item tokens for a pretrained model: this SentencePiece model
  /// (the checkpoint's tokenizer.model) with the N + 1 item pieces appended
  /// (ids V ... V+N, every existing id unchanged) becomes the data set's
  /// tokenizer instead of a trained one; vocab_size must be 0.
  std::string base_tokenizer;
  /// The prompt whose identifiers and fixed words the tokenizer must cover.
  config::PromptConfig prompt;
  /// The command line, recorded in the manifest.
  std::string command_line;

  /// Worker threads per rank; 0 = every core of the machine.
  int threads = 0;
  /// Memory budget per rank in bytes; 0 = kDefaultMemoryFraction of the
  /// machine's memory, at most kDefaultMemoryCap.
  int64_t memory_limit = 0;
  /// User partitions (each becomes its own shards); 0 = from the input size.
  /// Part of the output's identity: recorded in the manifest.
  int64_t partitions = 0;
  /// Directory for the sorted runs; "" = a directory inside `output`. Every
  /// rank must see it (a shared file system for a multi-node conversion).
  std::string scratch;
  /// Bytes of ratings input per read chunk (tuning and tests; 0 = default).
  /// Does not change the output.
  uint64_t chunk_bytes = 0;
  /// Bytes of buffered rows after which a thread spills a sorted run (tests;
  /// 0 = derived from memory_limit). Does not change the output.
  int64_t spill_bytes = 0;
  /// The most runs one merge reads at once (tests; 0 = as many as the
  /// open-file limit and memory_limit allow, at most kMaxMergeFanIn). More
  /// runs are merged in intermediate passes. Does not change the output.
  int64_t merge_fan_in = 0;
  /// The ranks converting together; nullptr = this process alone.
  ConvertGroup* group = nullptr;
};

/// Default memory budget: this fraction of the machine's memory ...
inline constexpr double kDefaultMemoryFraction = 0.25;
/// ... but no more than this: bigger buffers only save merge work.
inline constexpr int64_t kDefaultMemoryCap = int64_t{512} << 20;

/// What a conversion produced (the same on every rank).
struct ConvertSummary {
  Manifest manifest;
  DropReport drops{"rows"};
  int64_t users = 0;        ///< users with at least one list
  int64_t items = 0;
  int64_t ratings = 0;      ///< ratings that survived validation
  double seconds = 0.0;
  int threads = 0;          ///< per rank
  int ranks = 0;
  int64_t partitions = 0;
  int64_t memory_limit = 0;       ///< the budget used, bytes per rank
  int64_t peak_memory_bytes = 0;  ///< the largest peak resident memory of any rank
  int64_t spilled_runs = 0;       ///< sorted run files written (all ranks)
  int64_t intermediate_runs = 0;  ///< runs written by intermediate merge passes (all ranks)
  int64_t merge_fan_in = 0;       ///< runs one merge read at most (the smallest of any rank)
};

/// Runs the whole conversion; with a group, every rank calls it with the
/// same options. OUTPUT must be empty, absent, or an earlier alro data set
/// (which is replaced: its manifest is removed first).
absl::StatusOr<ConvertSummary> ConvertDataset(const ConvertOptions& options);

}  // namespace alro::data
