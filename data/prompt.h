// data/prompt.h: renders a list-wise example into prompt tokens at load time.
//
// The template (config::PromptConfig) is, line by line:
//
//   <bos>header
//   history_line        for each of the last max_history ratings, oldest first
//   candidate_line      for each presentation slot j, led by identifier j
//   answer_prefix ID ID ... ID <eos>    identifiers in true order
//
// Lines end with the tokenizer's newline token. The true order is rating
// descending; equal ratings are ordered by a seeded random draw over the
// list's original candidates (TieRanks(tie_seed, m)), so the target never
// depends on the presentation slot and every permuted copy rendered with the
// same tie_seed has the same answer items. Text pieces are tokenized once and cached: each item's title, each
// rating, each fixed piece of the template; identifiers are inserted by id,
// so an identifier is always exactly one token and rendering a permuted copy
// only concatenates cached pieces.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "data/item_tokens.h"
#include "data/list_example.pb.h"
#include "data/rendered_example.h"
#include "data/tokenizer.h"

namespace alro::data {

/// The title shown for an item: "Title (Year)" (year when known), cut to
/// `max_chars` characters.
std::string ItemDisplayTitle(const proto::Item& item, size_t max_chars);

/// A rating as the prompt shows it: "4", "3.5".
std::string FormatRating(float rating);

/// {count}: an item's rating count rounded down to 0, 1, 2, 5, 10, 20, 50,
/// 100, ... (few distinct values, so each is one token).
std::string FormatItemCount(int64_t count);

/// {mean}: an item's mean rating shrunk toward `prior_mean` by `shrinkage`
/// pseudo-ratings, with one decimal ("3.7"); "-" when the item has no
/// rating and no shrinkage.
std::string FormatItemMean(const proto::ItemStats& stats, double prior_mean, double shrinkage);

/// The texts {count} and {mean} render for `interaction` under `prompt`.
std::string ItemCountText(const proto::Interaction& interaction);
std::string ItemMeanText(const config::PromptConfig& prompt, const proto::Interaction& interaction);

/// True when a template line shows item statistics ({count} or {mean}).
bool LineUsesItemStats(const std::string& line);
/// True when the history or candidate line shows item statistics.
bool PromptUsesItemStats(const config::PromptConfig& prompt);

/// True when the history or candidate line shows item tokens ({item}).
bool PromptUsesItemTokens(const config::PromptConfig& prompt);

/// The tie order of a list of m original candidates under `tie_seed`:
/// result[i] is original candidate i's rank among equal ratings (lower
/// first), a permutation of 0..m-1.
std::vector<int32_t> TieRanks(uint64_t tie_seed, int32_t m);

/// The tie seed of an evaluation list: fixed per example id.
uint64_t EvalTieSeed(const std::string& example_id);

/// The fixed words of the template (header, line texts, answer prefix),
/// used as tokenizer training text.
std::vector<std::string> PromptLiterals(const config::PromptConfig& prompt);

/// Options of a PromptRenderer beyond the prompt template.
struct RenderOptions {
  /// Longest rendering allowed; the oldest history lines are left out until
  /// the prompt fits. 0 = no limit.
  int64_t max_tokens = 0;
  /// The data set's item tokens, needed when a line shows {item}
  /// (OpenRenderer builds it from the manifest); nullptr = none.
  std::shared_ptr<const ItemTokenTable> item_tokens;
};

/// Checks that `tokenizer` can render `prompt` as a job will: the template
/// parses, every identifier is one token (PromptRenderer::Create), no fixed
/// word of the template encodes to the unknown token, and neither does the
/// rendering of `sample` (a list built from the data set's items and
/// values, so every placeholder's text is tried; nullptr = none), with
/// `options` (item tokens) as the job will have them. The
/// converter runs it on the tokenizer it trains, before writing any shard.
absl::Status CheckPromptCoverage(const config::PromptConfig& prompt, std::shared_ptr<const Tokenizer> tokenizer,
                                 const proto::ListExample* sample = nullptr, const RenderOptions& options = {});

/// Renders ListExamples with one template and tokenizer. Thread-safe.
class PromptRenderer {
 public:
  /// Checks the template (placeholders {title} {rating} {count} {mean}
  /// {item} in history_line, {id} {title} {count} {mean} {item} in
  /// candidate_line), that each identifier is one token, and that
  /// options.item_tokens is given when a line shows {item}.
  static absl::StatusOr<std::shared_ptr<const PromptRenderer>> Create(const config::PromptConfig& prompt,
                                                                      std::shared_ptr<const Tokenizer> tokenizer,
                                                                      const RenderOptions& options = {});

  /// Renders `example` with its candidates shown in the order
  /// `permutation` (slot j shows candidate permutation[j]; empty = stored
  /// order); equal ratings are ordered by TieRanks(tie_seed, m). Fails if
  /// the list has more candidates than identifiers, the permutation is not
  /// one, the template shows item statistics the record lacks, or the
  /// prompt cannot fit max_tokens.
  absl::StatusOr<RenderedExample> Render(const proto::ListExample& example,
                                         const std::vector<int32_t>& permutation = {},
                                         int32_t copy_index = 0, uint64_t tie_seed = 0) const;

  /// Token id of each identifier, slot order.
  const std::vector<int32_t>& identifier_ids() const { return identifier_ids_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const config::PromptConfig& prompt() const { return prompt_; }

 private:
  // A template line: fixed text and placeholders.
  struct Segment {
    enum Kind { kText, kTitle, kRating, kId, kCount, kMean, kItem } kind;
    std::string text;              // kText: the literal
    std::vector<int32_t> tokens;   // kText: its tokens
  };
  using Line = std::vector<Segment>;

  PromptRenderer() = default;
  static absl::StatusOr<Line> ParseLine(const std::string& text, const std::string& key,
                                        const std::vector<Segment::Kind>& allowed, const Tokenizer& tokenizer);
  const std::vector<int32_t>& TitleTokens(const proto::Item& item) const;
  const std::vector<int32_t>& RatingTokens(float rating) const;
  const std::vector<int32_t>& CachedTokens(const std::string& text) const;
  void AppendLine(const Line& line, const proto::Interaction& interaction, int32_t id,
                  std::vector<int32_t>* out) const;

  config::PromptConfig prompt_;
  RenderOptions options_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::vector<int32_t> identifier_ids_;
  Line header_;
  Line history_;
  Line candidate_;
  Line answer_prefix_;
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> title_cache_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> rating_cache_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> text_cache_;  // {count} {mean}
};

/// The prompt of `example` as text, for people (`alro data inspect`): the
/// same template, identifiers and answer that Render() tokenizes; {item}
/// shows "<item:ID>" (the item's id, whether or not it has a token).
std::string RenderPromptText(const config::PromptConfig& prompt, const proto::ListExample& example);

/// The true order of a list: candidate indices by rating descending, equal
/// ratings by `tie_ranks` (lower first; empty = index order).
std::vector<int32_t> TrueOrder(const std::vector<float>& ratings, const std::vector<int32_t>& tie_ranks = {});

}  // namespace alro::data
