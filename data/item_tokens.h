// data/item_tokens.h: item tokens, a vocabulary token of their own for the
// N most-rated items of a data set's training split (prompt placeholder
// {item}; docs/data.md, "Item tokens").
//
// The tokenizer holds N generic pieces <item_1> ... <item_N> (ranked by
// training ratings, most first) and <item_other>, which every other item
// shares. Which item each piece stands for is the manifest's `item_tokens`
// list (entry k-1 is the item id of <item_k>): `alro convert --item-tokens N`
// trains the tokenizer before it knows the training split's counts, and
// records the assignment once every user is split. Items keep their rows
// when a data set is re-used, because the list is part of the data set.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/tokenizer.h"

namespace alro::data {

/// The piece every item without a token of its own is shown as.
inline constexpr char kOtherItemPiece[] = "<item_other>";

/// The piece of the item ranked `rank` (1 = most training ratings).
std::string ItemTokenPiece(int64_t rank);

/// The pieces a tokenizer needs for `count` item tokens: <item_1> ...
/// <item_count>, then <item_other>. The converter trains them as
/// user-defined symbols.
std::vector<std::string> ItemTokenPieces(int64_t count);

/// Maps item ids to their token ids under one tokenizer. Immutable.
class ItemTokenTable {
 public:
  /// `items[k]` is the id of the item shown as <item_{k+1}> (the manifest's
  /// `item_tokens`). Fails, naming `source` (where the list came from), when
  /// the tokenizer lacks one of the pieces or an item id repeats.
  static absl::StatusOr<std::shared_ptr<const ItemTokenTable>> Create(const std::vector<std::string>& items,
                                                                      const Tokenizer& tokenizer,
                                                                      const std::string& source);

  /// The token of `item_id`: its own, or <item_other>'s.
  int32_t TokenOf(absl::string_view item_id) const;
  /// Items with a token of their own.
  int64_t size() const { return static_cast<int64_t>(token_of_.size()); }

 private:
  ItemTokenTable() = default;
  absl::flat_hash_map<std::string, int32_t> token_of_;
  int32_t other_token_ = -1;
};

/// The N item ids with the most training ratings, most first; equal counts
/// by item id (bytewise), so the choice never depends on the input's order
/// or its partitioning. `counts[i]` is the training ratings of `ids[i]`;
/// items with no training rating never get a token.
std::vector<std::string> MostRatedItems(const std::vector<std::string>& ids, const std::vector<int64_t>& counts,
                                        int64_t n);

}  // namespace alro::data
