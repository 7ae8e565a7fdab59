// train/vocab_growth.h: whether a job with model.pretrained grows the
// checkpoint's vocabulary by the data set's item tokens, and from what
// (docs/data.md, "Item tokens").
//
// A data set converted with `--item-tokens N --base-tokenizer
// CHECKPOINT/tokenizer.model` has the checkpoint's tokenizer plus
// <item_1> ... <item_N>, <item_other> at ids V ... V+N. A job on it with
// model.pretrained = CHECKPOINT builds a model of V + N + 1 tokens; the new
// rows start from the mean of the rows of each item's title pieces
// (core/vocab_growth.h). Only that exact growth is accepted: any other
// difference between the tokenizer's size and the checkpoint's vocab_size
// stays an error naming both sizes and both files.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "core/vocab_growth.h"
#include "data/tokenizer.h"

namespace alro::train {

/// A growth and why it happens.
struct VocabGrowthPlan {
  core::VocabGrowth growth;
  /// One line for the plan and the log: from V to V' and why.
  std::string reason;
};

/// The growth for a job whose checkpoint (model.pretrained) has
/// `checkpoint_vocab` rows and whose tokenizer is `tokenizer`; nullopt when
/// the tokenizer fits the checkpoint. Reads the manifest of data.dir (which
/// items the new pieces stand for, and their titles). An error when the
/// tokenizer is larger than the checkpoint for any other reason, or when the
/// growth meets a setting it cannot work with (LoRA).
absl::StatusOr<std::optional<VocabGrowthPlan>> PlanVocabGrowth(const config::Config& config,
                                                               int64_t checkpoint_vocab,
                                                               const data::Tokenizer& tokenizer);

/// For a configuration whose shape was resolved against model.pretrained
/// (core::ResolveModelShape, so model.vocab_size is the checkpoint's, or
/// already the grown size): opens the job's tokenizer and, when the
/// vocabulary grows, sets model.vocab_size to the grown size. nullopt
/// without model.pretrained, without a tokenizer to read (neither data.dir
/// nor model.tokenizer), or without growth. Idempotent (`alro train` resolves it,
/// and the trainer again for configurations built another way).
absl::StatusOr<std::optional<VocabGrowthPlan>> ResolveVocabGrowth(config::Config* config);

}  // namespace alro::train
