// data/rendered_example.h: one list rendered into tokens, as the trainer
// consumes it (the cross-module contract; data/loader.h re-exports it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace alro::data {

/// A prompt with its answer, tokenized. The model predicts tokens[t] from
/// position t-1, so the logits for answer slot k are taken at position
/// answer_positions[k] - 1.
struct RenderedExample {
  std::string example_id;
  std::vector<int32_t> tokens;
  /// m entries: index in `tokens` of the k-th answer identifier token.
  std::vector<int32_t> answer_positions;
  /// m entries: the token id that labels presentation slot j.
  std::vector<int32_t> identifier_ids;
  /// m entries: rating of the item shown at slot j.
  std::vector<float> ratings;
  /// m entries: slot j shows original candidate permutation[j]; identity
  /// for the original rendering.
  std::vector<int32_t> permutation;
  /// m entries: tie rank of the item shown at slot j (0..m-1, a seeded
  /// draw per list; data/prompt.h). Equal ratings are ordered by it in the
  /// answer and in SLL's true ranks, never by presentation slot.
  std::vector<int32_t> tie_ranks;
  /// 0 for the original, 1..P for the permuted copies.
  int32_t copy_index = 0;
  /// 1 for real examples; 0 for the padding the evaluation reader adds.
  float weight = 1.0f;
  /// tokens.size() entries: 1 on the answer (identifiers and the final EOS),
  /// 0 on the prompt: the language-model loss mask.
  std::vector<uint8_t> loss_mask;
};

/// One batch: for each list, the original rendering then its P permuted
/// copies (so lists.size() = lists x (1 + P)).
struct Batch {
  std::vector<RenderedExample> lists;
};

}  // namespace alro::data
