// core/prefix_sharing.h: inference over rows that begin with the same tokens
// computes those tokens once.
//
// The presentation orders of one list (`alro eval --orders`, `alro rank
// --bootstrap`) render the same instruction and rated history; only the
// candidate block and the answer differ. PlanPrefixSharing finds, by
// comparing tokens, a prefix length P and groups of rows whose first P
// tokens are equal; ForwardSharingPrefix runs each group's prefix once (one
// forward of [groups, P]), copies its keys/values into every row of the
// group's KV cache, and runs only the rows' suffixes [P, T) over the whole
// batch. Attention reads exactly the keys and values the unshared forward
// computes, at the same positions, so the results equal it up to float
// rounding (tests/core/prefix_sharing_test.cc).
//
// This is the inference form of train/shared_prefix_layout.h (which packs
// a list and its permuted copies into one row for training); core cannot use
// that one (it works on rendered lists, and core must not depend on train).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "core/decoder.h"
#include "core/kv_cache.h"

namespace alro::core {

/// When inference shares prompt prefixes.
enum class PrefixSharing {
  /// Share when it saves at least kAutoMinSavedShare of the prompt tokens:
  /// below that, the extra forward's fixed cost eats the saving.
  kAuto,
  /// Share whenever two rows have a common first token.
  kAlways,
  /// Every row runs its whole prompt (the reference).
  kNever,
};

/// The share of a batch's prompt tokens that kAuto wants saved.
inline constexpr double kAutoMinSavedShare = 0.25;

/// "auto", "always" or "never"; a user error naming `key` otherwise.
absl::StatusOr<PrefixSharing> ParsePrefixSharing(const std::string& text, const std::string& key);

/// Which rows compute which prefix once.
struct PrefixPlan {
  /// P: tokens [0, P) are computed once per group (0 = no sharing).
  int64_t length = 0;
  /// [G]: the row whose first P tokens group g computes.
  std::vector<int64_t> sources;
  /// [B]: the group of each row; rows of one group have equal first P tokens.
  std::vector<int64_t> group;
  /// Prompt tokens saved: P x (B - G).
  int64_t saved_tokens() const { return length * (static_cast<int64_t>(group.size()) - static_cast<int64_t>(sources.size())); }
};

/// The plan for tokens [B, T] int64 (any device) whose first `max_length`
/// tokens may be shared (a caller that needs the hidden state of position p
/// passes at most p). Among all P in [1, max_length] it picks the one that
/// saves the most tokens, P x (B - number of distinct P-token prefixes);
/// kNever, or a saving of zero (or below kAuto's threshold), gives length 0.
/// Deterministic, so every tensor-parallel rank makes the same plan.
PrefixPlan PlanPrefixSharing(const at::Tensor& tokens, int64_t max_length, PrefixSharing mode);

/// Runs tokens [B, T] through `model` into `cache` (empty, batch B, capacity
/// >= T), each group's prefix once (see the file comment), and returns the
/// hidden states of positions [plan.length, T): [B, T - plan.length, H].
/// With plan.length 0 this is model.Forward(tokens, cache). Without
/// gradients (the cache is written in place). Collective over the
/// tensor-parallel group like Decoder::Forward.
at::Tensor ForwardSharingPrefix(Decoder& model, const at::Tensor& tokens, const PrefixPlan& plan, KVCache* cache);

}  // namespace alro::core
