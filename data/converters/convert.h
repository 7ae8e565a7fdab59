// data/converters/convert.h: `alro convert` as a library call: read a rating
// log, split it per user in time order, write the train/valid/test shard
// sets, train the data set's tokenizer, and write the manifest last.
//
// Deterministic: the same input files and options give byte-identical
// shards, indexes, manifest and tokenizer.model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
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
  /// "T" of "Toy"); false leaves them ordinary pieces, which identifier
  /// lookup still accepts as one token (docs/data.md, Tokenizer).
  bool identifiers_as_symbols = true;
  /// The prompt whose identifiers and fixed words the tokenizer must cover.
  config::PromptConfig prompt;
  /// The command line, recorded in the manifest.
  std::string command_line;
};

/// What a conversion produced.
struct ConvertSummary {
  Manifest manifest;
  DropReport drops{"rows"};
  int64_t users = 0;        ///< users with at least one list
  int64_t items = 0;
  int64_t ratings = 0;      ///< ratings that survived validation
  double seconds = 0.0;
};

/// Runs the whole conversion. OUTPUT must be empty, absent, or an earlier
/// alro data set (which is replaced: its manifest is removed first).
absl::StatusOr<ConvertSummary> ConvertDataset(const ConvertOptions& options);

}  // namespace alro::data
