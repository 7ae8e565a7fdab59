// tests/train/synthetic_data.h: a small list-wise data set for the training
// tests, written through the data module's own converter (MovieLens CSV
// layout in, record shards + tokenizer out), and a tiny training config.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "config/config.h"

namespace alro::train::testing_util {

/// Candidates per list (m) and history length of the synthetic data set.
inline constexpr int64_t kSyntheticCandidates = 4;
inline constexpr int64_t kSyntheticHistory = 3;

/// Writes the raw rating log, ratings.csv and movies.csv in the GroupLens
/// ml-latest-small layout, into `dir`/raw. Deterministic.
absl::Status WriteSyntheticRatings(const std::string& dir);

/// Writes ratings.csv/movies.csv of kUsers users with a learnable taste
/// (rating depends on user and genre) into `dir`/raw and converts them into
/// `dir`/data (train/valid/test shards, tokenizer). Deterministic.
absl::Status WriteSyntheticDataset(const std::string& dir);

/// A tiny model and short schedule over the data set in `data_dir`: fast
/// enough to train a few steps in well under a second per step.
config::Config TinyTrainConfig(const std::string& data_dir);

}  // namespace alro::train::testing_util
