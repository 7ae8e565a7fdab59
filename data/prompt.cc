// data/prompt.cc: template parsing, token caches and rendering.
#include "data/prompt.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/status.h"
#include "data/random.h"
#include "data/utf8.h"

namespace alro::data {
namespace {

struct Placeholder {
  const char* name;
  int kind;
};

}  // namespace

std::string ItemDisplayTitle(const proto::Item& item, size_t max_chars) {
  std::string title = item.year() > 0 ? absl::StrCat(item.title(), " (", item.year(), ")") : item.title();
  return TruncateUtf8(title, max_chars);
}

std::string FormatRating(float rating) {
  if (rating == static_cast<float>(static_cast<int64_t>(rating))) return absl::StrCat(static_cast<int64_t>(rating));
  return absl::StrFormat("%.1f", rating);
}

std::string FormatItemCount(int64_t count) {
  if (count <= 0) return "0";
  int64_t bucket = 1;
  for (int64_t decade = 1; decade <= count; decade *= 10) {
    for (int64_t step : {1, 2, 5}) {
      if (step * decade <= count) bucket = step * decade;
    }
  }
  return absl::StrCat(bucket);
}

std::string FormatItemMean(const proto::ItemStats& stats, double prior_mean, double shrinkage) {
  const double weight = static_cast<double>(stats.count()) + shrinkage;
  if (weight <= 0.0) return "-";
  const double mean = (static_cast<double>(stats.mean()) * static_cast<double>(stats.count()) +
                       prior_mean * shrinkage) / weight;
  return absl::StrFormat("%.1f", mean);
}

std::string ItemCountText(const proto::Interaction& interaction) {
  return FormatItemCount(interaction.item_stats().count());
}

std::string ItemMeanText(const config::PromptConfig& prompt, const proto::Interaction& interaction) {
  return FormatItemMean(interaction.item_stats(), prompt.stats_prior_mean, prompt.stats_shrinkage);
}

bool LineUsesItemStats(const std::string& line) {
  return absl::StrContains(line, "{count}") || absl::StrContains(line, "{mean}");
}

bool PromptUsesItemStats(const config::PromptConfig& prompt) {
  return LineUsesItemStats(prompt.history_line) || LineUsesItemStats(prompt.candidate_line);
}

bool PromptUsesItemTokens(const config::PromptConfig& prompt) {
  return absl::StrContains(prompt.history_line, "{item}") || absl::StrContains(prompt.candidate_line, "{item}");
}

std::vector<int32_t> TieRanks(uint64_t tie_seed, int32_t m) {
  // A seeded shuffle of 0..m-1: original candidate i gets rank result[i].
  constexpr uint64_t kTieStream = 0x746965ull;  // "tie"
  std::vector<int32_t> ranks(static_cast<size_t>(std::max<int32_t>(m, 0)));
  std::iota(ranks.begin(), ranks.end(), 0);
  Rng rng(HashCombine(tie_seed, kTieStream));
  rng.Shuffle(&ranks);
  return ranks;
}

uint64_t EvalTieSeed(const std::string& example_id) { return HashString(example_id); }

std::vector<std::string> PromptLiterals(const config::PromptConfig& prompt) {
  std::vector<std::string> out;
  for (const std::string* text : {&prompt.header, &prompt.history_line, &prompt.candidate_line, &prompt.answer_prefix}) {
    std::string plain = absl::StrReplaceAll(
        *text, {{"{title}", " "}, {"{rating}", " "}, {"{id}", " "}, {"{count}", " "}, {"{mean}", " "}, {"{item}", " "}});
    plain = std::string(absl::StripAsciiWhitespace(plain));
    if (!plain.empty()) out.push_back(plain);
  }
  return out;
}

absl::Status CheckPromptCoverage(const config::PromptConfig& prompt, std::shared_ptr<const Tokenizer> tokenizer,
                                 const proto::ListExample* sample, const RenderOptions& options) {
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const PromptRenderer> renderer,
                        PromptRenderer::Create(prompt, tokenizer, options));
  if (sample != nullptr) {
    ALRO_ASSIGN_OR_RETURN(RenderedExample rendered, renderer->Render(*sample));
    const std::vector<int32_t>& t = rendered.tokens;
    for (size_t i = 0; i < t.size(); ++i) {
      if (!tokenizer->IsUnknown(t[i])) continue;
      // Context around the unknown token, for the message.
      constexpr size_t kContextTokens = 6;
      const size_t from = i > kContextTokens ? i - kContextTokens : 0;
      const std::vector<int32_t> around(t.begin() + static_cast<std::ptrdiff_t>(from),
                                        t.begin() + static_cast<std::ptrdiff_t>(std::min(t.size(), i + kContextTokens)));
      return InvalidArgument(absl::StrCat("a prompt rendered with tokenizer ", tokenizer->name(),
                                          " has an unknown token near \"", tokenizer->Decode(around), "\""),
                             "use a tokenizer trained on text with these characters, or change the prompt");
    }
  }
  for (const std::string& literal : PromptLiterals(prompt)) {
    for (int32_t id : tokenizer->Encode(literal)) {
      if (tokenizer->IsUnknown(id)) {
        return InvalidArgument(absl::StrCat("the prompt text '", literal, "' has characters that tokenizer ",
                                            tokenizer->name(), " does not know (it encodes them to the unknown token)"),
                               "use a tokenizer trained on text with these characters, or change the prompt");
      }
    }
  }
  return absl::OkStatus();
}

std::vector<int32_t> TrueOrder(const std::vector<float>& ratings, const std::vector<int32_t>& tie_ranks) {
  std::vector<int32_t> order(ratings.size());
  std::iota(order.begin(), order.end(), 0);
  const auto tie = [&](int32_t i) { return tie_ranks.empty() ? i : tie_ranks[static_cast<size_t>(i)]; };
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    if (ratings[a] != ratings[b]) return ratings[a] > ratings[b];
    return tie(a) < tie(b);
  });
  return order;
}

absl::StatusOr<PromptRenderer::Line> PromptRenderer::ParseLine(const std::string& text, const std::string& key,
                                                               const std::vector<Segment::Kind>& allowed,
                                                               const Tokenizer& tokenizer) {
  static constexpr Placeholder kPlaceholders[] = {
      {"{title}", Segment::kTitle}, {"{rating}", Segment::kRating}, {"{id}", Segment::kId},
      {"{count}", Segment::kCount}, {"{mean}", Segment::kMean}, {"{item}", Segment::kItem}};
  Line line;
  size_t pos = 0;
  const auto add_text = [&](absl::string_view literal) {
    literal = absl::StripAsciiWhitespace(literal);
    if (literal.empty()) return;
    line.push_back({Segment::kText, std::string(literal), tokenizer.Encode(literal)});
  };
  while (pos < text.size()) {
    const size_t open = text.find('{', pos);
    if (open == std::string::npos) {
      add_text(absl::string_view(text).substr(pos));
      break;
    }
    add_text(absl::string_view(text).substr(pos, open - pos));
    bool matched = false;
    for (const Placeholder& p : kPlaceholders) {
      if (text.compare(open, std::strlen(p.name), p.name) != 0) continue;
      const auto kind = static_cast<Segment::Kind>(p.kind);
      if (std::find(allowed.begin(), allowed.end(), kind) == allowed.end()) break;
      line.push_back({kind, "", {}});
      pos = open + std::strlen(p.name);
      matched = true;
      break;
    }
    if (!matched) {
      return InvalidArgument(absl::StrCat("prompt.", key, ": unknown or misplaced placeholder at \"",
                                          text.substr(open), "\""),
                             "history_line may use {title} {rating} {count} {mean} {item}; candidate_line {id} {title} {count} "
                             "{mean} {item}");
    }
  }
  return line;
}

absl::StatusOr<std::shared_ptr<const PromptRenderer>> PromptRenderer::Create(
    const config::PromptConfig& prompt, std::shared_ptr<const Tokenizer> tokenizer, const RenderOptions& options) {
  std::shared_ptr<PromptRenderer> r(new PromptRenderer());
  r->prompt_ = prompt;
  r->options_ = options;
  r->tokenizer_ = std::move(tokenizer);
  ALRO_ASSIGN_OR_RETURN(r->identifier_ids_, r->tokenizer_->IdentifierIds(prompt.identifiers));
  using K = Segment::Kind;
  ALRO_ASSIGN_OR_RETURN(r->header_, ParseLine(prompt.header, "header", {}, *r->tokenizer_));
  ALRO_ASSIGN_OR_RETURN(r->history_, ParseLine(prompt.history_line, "history_line",
                                               {K::kTitle, K::kRating, K::kCount, K::kMean, K::kItem},
                                               *r->tokenizer_));
  ALRO_ASSIGN_OR_RETURN(r->candidate_, ParseLine(prompt.candidate_line, "candidate_line",
                                                 {K::kId, K::kTitle, K::kCount, K::kMean, K::kItem}, *r->tokenizer_));
  if (std::none_of(r->candidate_.begin(), r->candidate_.end(), [](const Segment& s) { return s.kind == K::kId; })) {
    return InvalidArgument("prompt.candidate_line has no {id}", "each candidate line must be led by its identifier");
  }
  ALRO_ASSIGN_OR_RETURN(r->answer_prefix_, ParseLine(prompt.answer_prefix, "answer_prefix", {}, *r->tokenizer_));
  if (PromptUsesItemTokens(prompt) && options.item_tokens == nullptr) {
    return UserError(absl::StatusCode::kFailedPrecondition,
                     "the prompt shows {item}, but the data set has no item tokens",
                     "convert the data set with `alro convert --item-tokens N`, or remove {item} from "
                     "prompt.history_line and prompt.candidate_line");
  }
  return std::shared_ptr<const PromptRenderer>(std::move(r));
}

const std::vector<int32_t>& PromptRenderer::TitleTokens(const proto::Item& item) const {
  const std::string title = ItemDisplayTitle(item, static_cast<size_t>(prompt_.max_title_chars));
  std::lock_guard<std::mutex> lock(cache_mu_);
  auto it = title_cache_.find(title);
  if (it == title_cache_.end()) it = title_cache_.emplace(title, tokenizer_->Encode(title)).first;
  return it->second;  // unordered_map nodes are stable
}

const std::vector<int32_t>& PromptRenderer::CachedTokens(const std::string& text) const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  auto it = text_cache_.find(text);
  if (it == text_cache_.end()) it = text_cache_.emplace(text, tokenizer_->Encode(text)).first;
  return it->second;
}

const std::vector<int32_t>& PromptRenderer::RatingTokens(float rating) const {
  const std::string text = FormatRating(rating);
  std::lock_guard<std::mutex> lock(cache_mu_);
  auto it = rating_cache_.find(text);
  if (it == rating_cache_.end()) it = rating_cache_.emplace(text, tokenizer_->Encode(text)).first;
  return it->second;
}

void PromptRenderer::AppendLine(const Line& line, const proto::Interaction& interaction, int32_t id,
                                std::vector<int32_t>* out) const {
  for (const Segment& s : line) {
    switch (s.kind) {
      case Segment::kText: out->insert(out->end(), s.tokens.begin(), s.tokens.end()); break;
      case Segment::kTitle: {
        const std::vector<int32_t>& t = TitleTokens(interaction.item());
        out->insert(out->end(), t.begin(), t.end());
        break;
      }
      case Segment::kRating: {
        const std::vector<int32_t>& t = RatingTokens(interaction.rating());
        out->insert(out->end(), t.begin(), t.end());
        break;
      }
      case Segment::kId: out->push_back(id); break;
      case Segment::kItem: out->push_back(options_.item_tokens->TokenOf(interaction.item().item_id())); break;
      case Segment::kCount: {
        const std::vector<int32_t>& t = CachedTokens(ItemCountText(interaction));
        out->insert(out->end(), t.begin(), t.end());
        break;
      }
      case Segment::kMean: {
        const std::vector<int32_t>& t = CachedTokens(ItemMeanText(prompt_, interaction));
        out->insert(out->end(), t.begin(), t.end());
        break;
      }
    }
  }
  if (tokenizer_->newline_id() >= 0) out->push_back(tokenizer_->newline_id());
}

absl::StatusOr<RenderedExample> PromptRenderer::Render(const proto::ListExample& example,
                                                       const std::vector<int32_t>& permutation,
                                                       int32_t copy_index, uint64_t tie_seed) const {
  const int32_t m = example.candidates_size();
  const auto lacks_stats = [](const auto& interactions) {
    return std::any_of(interactions.begin(), interactions.end(),
                       [](const proto::Interaction& x) { return !x.has_item_stats(); });
  };
  if ((LineUsesItemStats(prompt_.candidate_line) && lacks_stats(example.candidates())) ||
      (LineUsesItemStats(prompt_.history_line) && lacks_stats(example.history()))) {
    return UserError(absl::StatusCode::kFailedPrecondition,
                     absl::StrCat("example ", example.example_id(),
                                  " has no item statistics, but the prompt shows {count} or {mean}"),
                     "convert the data set with `alro convert --item-stats true` (alro rank: give every history "
                     "and candidate object \"rating_count\" and \"mean_rating\"), or remove {count} {mean} from "
                     "prompt.history_line and prompt.candidate_line");
  }
  if (m > static_cast<int32_t>(identifier_ids_.size())) {
    return InvalidArgument(absl::StrCat("example ", example.example_id(), " has ", m, " candidates but only ",
                                        identifier_ids_.size(), " prompt identifiers"),
                           "add prompt.identifiers or convert with a smaller --num-candidates");
  }
  RenderedExample out;
  out.example_id = example.example_id();
  out.copy_index = copy_index;
  out.permutation = permutation;
  if (out.permutation.empty()) {
    out.permutation.resize(static_cast<size_t>(m));
    std::iota(out.permutation.begin(), out.permutation.end(), 0);
  }
  std::vector<bool> seen(static_cast<size_t>(m), false);
  if (static_cast<int32_t>(out.permutation.size()) != m) {
    return absl::InvalidArgumentError(absl::StrCat("permutation of size ", out.permutation.size(), " for ", m,
                                                   " candidates of ", example.example_id()));
  }
  for (int32_t p : out.permutation) {
    if (p < 0 || p >= m || seen[static_cast<size_t>(p)]) {
      return absl::InvalidArgumentError(absl::StrCat("not a permutation of 0..", m - 1, " for ", example.example_id()));
    }
    seen[static_cast<size_t>(p)] = true;
  }

  // Candidates and answer first: their size decides how much history fits.
  std::vector<int32_t> candidates;
  const std::vector<int32_t> tie_ranks = TieRanks(tie_seed, m);
  for (int32_t j = 0; j < m; ++j) {
    const int32_t original = out.permutation[static_cast<size_t>(j)];
    const proto::Interaction& c = example.candidates(original);
    AppendLine(candidate_, c, identifier_ids_[static_cast<size_t>(j)], &candidates);
    out.identifier_ids.push_back(identifier_ids_[static_cast<size_t>(j)]);
    out.ratings.push_back(c.rating());
    out.tie_ranks.push_back(tie_ranks[static_cast<size_t>(original)]);
  }
  std::vector<int32_t> head;
  if (tokenizer_->bos_id() >= 0) head.push_back(tokenizer_->bos_id());
  AppendLine(header_, proto::Interaction(), 0, &head);

  const int history_size = example.history_size();
  const int first = std::max<int>(0, history_size - static_cast<int>(prompt_.max_history));
  std::vector<std::vector<int32_t>> history_lines;
  for (int h = first; h < history_size; ++h) {
    history_lines.emplace_back();
    AppendLine(history_, example.history(h), 0, &history_lines.back());
  }
  // Answer: slots by rating descending; equal ratings by the tie draw.
  std::vector<int32_t> tail;
  for (const Segment& s : answer_prefix_) tail.insert(tail.end(), s.tokens.begin(), s.tokens.end());
  const std::vector<int32_t> slots = TrueOrder(out.ratings, out.tie_ranks);
  const size_t answer_len = static_cast<size_t>(m) + (tokenizer_->eos_id() >= 0 ? 1 : 0);

  // Leave out the oldest history lines until the prompt fits.
  size_t fixed = head.size() + candidates.size() + tail.size() + answer_len;
  size_t skip = 0;
  size_t history_tokens = 0;
  for (const auto& l : history_lines) history_tokens += l.size();
  if (options_.max_tokens > 0) {
    while (fixed + history_tokens > static_cast<size_t>(options_.max_tokens) && skip < history_lines.size()) {
      history_tokens -= history_lines[skip++].size();
    }
    if (fixed + history_tokens > static_cast<size_t>(options_.max_tokens)) {
      return InvalidArgument(absl::StrCat("example ", example.example_id(), " needs ", fixed,
                                          " tokens without any history, more than max_tokens ", options_.max_tokens),
                             "raise model.max_seq_len, lower prompt.max_title_chars or use fewer candidates");
    }
  }
  out.tokens.reserve(fixed + history_tokens);
  out.tokens.insert(out.tokens.end(), head.begin(), head.end());
  for (size_t h = skip; h < history_lines.size(); ++h) {
    out.tokens.insert(out.tokens.end(), history_lines[h].begin(), history_lines[h].end());
  }
  out.tokens.insert(out.tokens.end(), candidates.begin(), candidates.end());
  out.tokens.insert(out.tokens.end(), tail.begin(), tail.end());
  out.loss_mask.assign(out.tokens.size(), 0);
  for (int32_t slot : slots) {
    out.answer_positions.push_back(static_cast<int32_t>(out.tokens.size()));
    out.tokens.push_back(identifier_ids_[static_cast<size_t>(slot)]);
    out.loss_mask.push_back(1);
  }
  if (tokenizer_->eos_id() >= 0) {
    out.tokens.push_back(tokenizer_->eos_id());
    out.loss_mask.push_back(1);
  }
  return out;
}

std::string RenderPromptText(const config::PromptConfig& prompt, const proto::ListExample& example) {
  const auto fill = [&](const std::string& line, const proto::Interaction& it, const std::string& id) {
    return absl::StrReplaceAll(line, {{"{title}", ItemDisplayTitle(it.item(), static_cast<size_t>(prompt.max_title_chars))},
                                      {"{rating}", FormatRating(it.rating())},
                                      {"{count}", ItemCountText(it)},
                                      {"{mean}", ItemMeanText(prompt, it)},
                                      {"{item}", absl::StrCat("<item:", it.item().item_id(), ">")},
                                      {"{id}", id}});
  };
  // An empty header renders no tokens, so the text shows no line for it either.
  std::string out = prompt.header.empty() ? "" : prompt.header + "\n";
  const int first = std::max<int>(0, example.history_size() - static_cast<int>(prompt.max_history));
  for (int h = first; h < example.history_size(); ++h) {
    absl::StrAppend(&out, fill(prompt.history_line, example.history(h), ""), "\n");
  }
  std::vector<float> ratings;
  for (int j = 0; j < example.candidates_size(); ++j) {
    const std::string id = j < static_cast<int>(prompt.identifiers.size()) ? prompt.identifiers[j] : "?";
    absl::StrAppend(&out, fill(prompt.candidate_line, example.candidates(j), id), "\n");
    ratings.push_back(example.candidates(j).rating());
  }
  absl::StrAppend(&out, prompt.answer_prefix);
  for (int32_t j : TrueOrder(ratings, TieRanks(EvalTieSeed(example.example_id()), example.candidates_size()))) {
    absl::StrAppend(&out, " ", j < static_cast<int>(prompt.identifiers.size()) ? prompt.identifiers[j] : "?");
  }
  return out + "\n";
}

}  // namespace alro::data
