// data/item_tokens.cc: item token pieces, the item -> token table, and the
// choice of the most-rated items.
#include "data/item_tokens.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace alro::data {

std::string ItemTokenPiece(int64_t rank) { return absl::StrCat("<item_", rank, ">"); }

std::vector<std::string> ItemTokenPieces(int64_t count) {
  std::vector<std::string> pieces;
  for (int64_t k = 1; k <= count; ++k) pieces.push_back(ItemTokenPiece(k));
  pieces.emplace_back(kOtherItemPiece);
  return pieces;
}

absl::StatusOr<std::shared_ptr<const ItemTokenTable>> ItemTokenTable::Create(const std::vector<std::string>& items,
                                                                             const Tokenizer& tokenizer,
                                                                             const std::string& source) {
  std::shared_ptr<ItemTokenTable> table(new ItemTokenTable());
  const std::vector<std::string> pieces = ItemTokenPieces(static_cast<int64_t>(items.size()));
  std::vector<int32_t> ids;
  for (const std::string& piece : pieces) {
    const int32_t id = tokenizer.PieceToId(piece);
    if (id < 0 || tokenizer.IsUnknown(id)) {
      return UserError(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat(source, " gives ", items.size(), " item tokens, but tokenizer ", tokenizer.name(),
                                    " has no piece '", piece, "'"),
                       "use the tokenizer that `alro convert --item-tokens N` wrote with this data set, or a prompt "
                       "without {item}");
    }
    ids.push_back(id);
  }
  table->other_token_ = ids.back();
  for (size_t k = 0; k < items.size(); ++k) {
    if (!table->token_of_.emplace(items[k], ids[k]).second) {
      return UserError(absl::StatusCode::kDataLoss,
                       absl::StrCat(source, ": item '", items[k], "' is listed twice in item_tokens"),
                       "re-run `alro convert`; the list is written by the converter and must not be edited");
    }
  }
  return std::shared_ptr<const ItemTokenTable>(std::move(table));
}

int32_t ItemTokenTable::TokenOf(absl::string_view item_id) const {
  const auto it = token_of_.find(item_id);
  return it == token_of_.end() ? other_token_ : it->second;
}

std::vector<std::string> MostRatedItems(const std::vector<std::string>& ids, const std::vector<int64_t>& counts,
                                        int64_t n) {
  std::vector<size_t> order(ids.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (counts[a] != counts[b]) return counts[a] > counts[b];
    return ids[a] < ids[b];
  });
  std::vector<std::string> out;
  for (size_t i : order) {
    if (static_cast<int64_t>(out.size()) >= n || counts[i] <= 0) break;
    out.push_back(ids[i]);
  }
  return out;
}

}  // namespace alro::data
