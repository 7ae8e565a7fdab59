// train/vocab_growth.cc: the checks and the title pieces behind a grown
// vocabulary.
#include "train/vocab_growth.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status.h"
#include "core/hf_config.h"
#include "data/dataset.h"
#include "data/item_tokens.h"
#include "data/loader.h"
#include "data/manifest.h"
#include "data/prompt.h"
#include "data/tokenizer.h"

namespace alro::train {
namespace {

constexpr char kGrowthHint[] =
    "convert the data set with `alro convert ... --vocab-size 0 --item-tokens N --base-tokenizer "
    "PRETRAINED/tokenizer.model` and leave model.tokenizer empty (the data set's tokenizer is then the "
    "checkpoint's plus the item pieces), or use the tokenizer the checkpoint was trained with";

// The title each of `items` is shown with, read from the training split
// (every item with a token is a candidate of some training list; the most
// frequent ones come early, so the scan usually stops soon). "" for an item
// the split does not show.
absl::StatusOr<std::vector<std::string>> ItemTitles(const config::Config& config,
                                                    const std::vector<std::string>& items) {
  absl::flat_hash_map<std::string, size_t> wanted;
  for (size_t k = 0; k < items.size(); ++k) wanted.emplace(items[k], k);
  std::vector<std::string> titles(items.size());
  ALRO_ASSIGN_OR_RETURN(data::OnCorrupt on_corrupt, data::ParseOnCorrupt(config.data.on_corrupt));
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const data::SplitReader> split,
                        data::SplitReader::Open(config.data.dir, config.data.train_split, on_corrupt));
  const auto take = [&](const data::proto::Interaction& x) {
    const auto it = wanted.find(x.item().item_id());
    if (it == wanted.end()) return;
    titles[it->second] = data::ItemDisplayTitle(x.item(), static_cast<size_t>(config.prompt.max_title_chars));
    wanted.erase(it);
  };
  data::proto::ListExample example;
  for (int64_t i = 0; i < split->size() && !wanted.empty(); ++i) {
    const absl::Status read = split->Read(i, &example);
    if (!read.ok() && on_corrupt == data::OnCorrupt::kFail) return read;
    if (!read.ok()) continue;
    for (const data::proto::Interaction& x : example.history()) take(x);
    for (const data::proto::Interaction& x : example.candidates()) take(x);
  }
  return titles;
}

// A checkpoint whose vocab_size V exceeds its tokenizer's B pieces (padding
// rows, e.g. `alro convert --vocab-size 200` that yields 175 pieces) puts
// the appended item pieces at ids B.. inside its V rows: nothing would grow,
// and the item tokens would start from padding rows the model never trained,
// not from their titles. Told apart from an export that already holds item
// rows by the checkpoint's own tokenizer, which then has the item pieces.
absl::Status CheckItemRowsWereTrained(const config::Config& config, int64_t checkpoint_vocab,
                                      const data::Tokenizer& tokenizer) {
  const std::string first_piece = data::ItemTokenPieces(1)[0];
  const int32_t first_item = tokenizer.PieceToId(first_piece);
  const std::string own_path = JoinPath(config.model.pretrained, "tokenizer.model");
  if (first_item < 0 || !PathExists(own_path)) return absl::OkStatus();
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const data::Tokenizer> own, data::Tokenizer::Load(own_path));
  if (own->PieceToId(first_piece) >= 0) return absl::OkStatus();
  return UserError(absl::StatusCode::kFailedPrecondition,
                   absl::StrCat("tokenizer ", tokenizer.name(), " puts the item pieces at ids ", first_item, " ... ",
                                tokenizer.vocab_size() - 1, ", inside the ", checkpoint_vocab,
                                " rows of model.pretrained ", JoinPath(config.model.pretrained, "config.json"),
                                " (vocab_size), whose tokenizer ", own_path, " has only ", own->vocab_size(),
                                " pieces: rows from ", own->vocab_size(),
                                " on are padding the model never trained, so the vocabulary would not grow and "
                                "the item tokens would not start from their titles"),
                   absl::StrCat("alro grows only a vocabulary whose rows match its tokenizer: use a checkpoint "
                                "trained with model.vocab_size equal to its tokenizer's size (",
                                own->vocab_size(), " here), or convert without --item-tokens"));
}

}  // namespace

absl::StatusOr<std::optional<VocabGrowthPlan>> PlanVocabGrowth(const config::Config& config,
                                                               int64_t checkpoint_vocab,
                                                               const data::Tokenizer& tokenizer) {
  const int64_t pieces = tokenizer.vocab_size();
  const std::string config_json = JoinPath(config.model.pretrained, "config.json");
  if (pieces <= checkpoint_vocab) {
    ALRO_RETURN_IF_ERROR(CheckItemRowsWereTrained(config, checkpoint_vocab, tokenizer));
    return std::nullopt;
  }
  const std::string mismatch = absl::StrCat("tokenizer ", tokenizer.name(), " has ", pieces,
                                            " pieces, but model.pretrained ", config_json, " has vocab_size ",
                                            checkpoint_vocab);
  absl::StatusOr<data::Manifest> manifest = absl::NotFoundError("data.dir is empty");
  if (!config.data.dir.empty()) manifest = data::ReadManifest(config.data.dir);
  const size_t items = manifest.ok() ? manifest->item_tokens.size() : 0;
  const std::vector<std::string> item_pieces = data::ItemTokenPieces(static_cast<int64_t>(items));
  bool exact = items > 0 && pieces == checkpoint_vocab + static_cast<int64_t>(item_pieces.size());
  for (size_t k = 0; exact && k < item_pieces.size(); ++k) {
    exact = tokenizer.PieceToId(item_pieces[k]) == checkpoint_vocab + static_cast<int64_t>(k);
  }
  if (!exact) {
    return UserError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat(mismatch, ". A pretrained vocabulary grows only by exactly the data set's item "
                                  "pieces <item_1> ... <item_N>, <item_other> at ids ", checkpoint_vocab,
                                  " and up; ",
                                  manifest.ok() ? absl::StrCat("data set ", config.data.dir, " lists ", items,
                                                               " item tokens")
                                                : absl::StrCat("the data set's manifest: ", manifest.status().message())),
                     kGrowthHint);
  }
  if (config.model.lora.enabled) {
    return UserError(absl::StatusCode::kFailedPrecondition,
                     absl::StrCat(mismatch, ": the vocabulary would grow by ", item_pieces.size(),
                                  " item tokens, but model.lora.enabled freezes the embedding and the LM head, so "
                                  "their new rows would never learn"),
                     "set model.lora.enabled=false (full fine-tuning), or convert without --item-tokens");
  }
  ALRO_ASSIGN_OR_RETURN(std::vector<std::string> titles, ItemTitles(config, manifest->item_tokens));
  VocabGrowthPlan plan;
  plan.growth.checkpoint_vocab = checkpoint_vocab;
  int64_t from_all = 0;
  for (const std::string& title : titles) {
    std::vector<int32_t> ids;
    if (!title.empty()) {
      for (int32_t id : tokenizer.Encode(title)) {
        if (id < checkpoint_vocab && !tokenizer.IsUnknown(id)) ids.push_back(id);
      }
    }
    from_all += ids.empty() ? 1 : 0;
    plan.growth.sources.push_back(std::move(ids));
  }
  plan.growth.sources.emplace_back();  // <item_other> stands for every other item
  plan.reason = absl::StrCat("grows from ", checkpoint_vocab, " (", config_json, ") to ", pieces, ": tokenizer ",
                             tokenizer.name(), " adds ", items, " item tokens and ", data::kOtherItemPiece,
                             " (data set ", config.data.dir, "); an item's new row starts as the mean of its "
                             "title's pieces, ", data::kOtherItemPiece, "'s as the mean of all rows");
  if (from_all > 0) absl::StrAppend(&plan.reason, " (so do ", from_all, " items without a title or whose title has no old piece)");
  return plan;
}

absl::StatusOr<std::optional<VocabGrowthPlan>> ResolveVocabGrowth(config::Config* config) {
  if (config->model.pretrained.empty()) return std::nullopt;
  // Item tokens come from a data set; a plan without data.dir or
  // model.tokenizer (`alro train --dry-run` on a checkpoint alone) has no
  // tokenizer to grow by.
  if (config->data.dir.empty() && config->model.tokenizer.empty()) return std::nullopt;
  ALRO_ASSIGN_OR_RETURN(core::HfModelShape shape, core::ReadHfConfig(config->model.pretrained));
  ALRO_ASSIGN_OR_RETURN(std::shared_ptr<const data::Tokenizer> tokenizer, data::OpenTokenizer(*config));
  ALRO_ASSIGN_OR_RETURN(std::optional<VocabGrowthPlan> plan,
                        PlanVocabGrowth(*config, shape.model.vocab_size, *tokenizer));
  if (plan) config->model.vocab_size = plan->growth.grown_vocab();
  return plan;
}

}  // namespace alro::train
