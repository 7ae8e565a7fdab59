// data/converters/rating_log.cc: ItemTable and the row validation of RowSink.
#include "data/converters/rating_log.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace alro::data {
namespace {

// Bytes of one id index slot (key string, value, control byte, load slack).
constexpr int64_t kIndexEntryBytes = 48;

}  // namespace

void ItemTable::Add(proto::Item item) {
  auto it = index_.find(item.item_id());
  if (it != index_.end()) {
    proto::Item& existing = items_[static_cast<size_t>(it->second)];
    if (existing.title().empty() && !item.title().empty()) existing = std::move(item);
    return;
  }
  index_.emplace(item.item_id(), static_cast<int32_t>(items_.size()));
  items_.push_back(std::move(item));
}

int32_t ItemTable::Find(absl::string_view item_id) const {
  auto it = index_.find(item_id);
  return it == index_.end() ? -1 : it->second;
}

int64_t ItemTable::ApproxBytes() const {
  int64_t bytes = static_cast<int64_t>(items_.capacity() * sizeof(proto::Item));
  for (const proto::Item& item : items_) {
    bytes += static_cast<int64_t>(item.SpaceUsedLong() - sizeof(proto::Item)) + kIndexEntryBytes +
             static_cast<int64_t>(item.item_id().size());
  }
  return bytes;
}

void RowSink::AddRating(absl::string_view user_id, absl::string_view item_id, double rating, int64_t timestamp) {
  if (user_id.empty()) return Drop("empty user id", "the user id is empty");
  if (item_id.empty()) return Drop("empty item id", "the item id is empty");
  if (!std::isfinite(rating)) return Drop("bad rating", "the rating is not a finite number");
  Accept(user_id, item_id, static_cast<float>(rating), timestamp);
}

void RowSink::AddRatingText(absl::string_view user_id, absl::string_view item_id, absl::string_view rating,
                            absl::string_view timestamp) {
  double r = 0;
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(rating), &r) || !std::isfinite(r)) {
    return Drop("bad rating", absl::StrCat("rating '", rating, "' is not a number"));
  }
  int64_t t = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(timestamp), &t)) {
    double td = 0;  // some exports write timestamps as floats
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(timestamp), &td) || !std::isfinite(td)) {
      return Drop("bad timestamp", absl::StrCat("timestamp '", timestamp, "' is not an integer"));
    }
    t = static_cast<int64_t>(td);
  }
  AddRating(user_id, item_id, r, t);
}

void SplitTitleYear(const std::string& text, std::string* title, int32_t* year) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  *year = 0;
  // "Title (1995)" and "Title (1995-2000)" (TV series) keep the first year.
  if (t.size() >= 7 && t.back() == ')') {
    const size_t open = t.rfind('(');
    if (open != absl::string_view::npos && t.size() - open >= 6) {
      absl::string_view inside = t.substr(open + 1, t.size() - open - 2);
      int32_t y = 0;
      if (inside.size() >= 4 && absl::SimpleAtoi(inside.substr(0, 4), &y) && y >= 1000 && y <= 9999 &&
          (inside.size() == 4 || inside[4] == '-' || inside[4] == '\xe2')) {
        *year = y;
        t = absl::StripTrailingAsciiWhitespace(t.substr(0, open));
      }
    }
  }
  *title = std::string(t);
}

}  // namespace alro::data
