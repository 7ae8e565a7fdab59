// tests/data/test_util.h: fixtures shared by the data tests: temporary
// directories, synthetic data sets written through the real writer, and a
// small tokenizer trained once per process.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "data/list_example.pb.h"
#include "data/record_writer.h"
#include "data/tokenizer.h"

namespace alro::data::testing {

/// A fresh, empty directory under the test's temp dir.
std::string TempDir(const std::string& name);

/// Writes `contents` to `path` (creating parents), aborting the test on error.
void WriteText(const std::string& path, const std::string& contents);

/// The synthetic list `i` of a split: user "u<i>", m candidates with ratings
/// derived from i, a history of 3.
proto::ListExample SyntheticExample(int64_t i, int m, proto::Split split = proto::SPLIT_TRAIN);

/// Writes a data set whose train split has `n` synthetic lists in shards of
/// `shard_records`, valid has `n_valid`, and a manifest. No tokenizer.
void WriteSyntheticDataset(const std::string& dir, int64_t n, int64_t shard_records, int m = 4,
                           int64_t n_valid = 5);

/// A tokenizer trained (once) on the synthetic titles and the default
/// prompt, with A..T and <nl> as user-defined symbols.
std::shared_ptr<const Tokenizer> SmallTokenizer();

/// Bytes of a file.
std::string ReadBytes(const std::string& path);

}  // namespace alro::data::testing
