// data/converters/rating_log.cc: RatingLogBuilder.
#include "data/converters/rating_log.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/status.h"

namespace alro::data {
namespace {

// Chunk size used to checksum input files.
constexpr size_t kChecksumChunk = size_t{1} << 20;

}  // namespace

void RatingLogBuilder::AddItem(proto::Item item) {
  auto it = index_.find(item.item_id());
  if (it != index_.end()) {
    proto::Item& existing = log_.items[static_cast<size_t>(it->second)];
    if (existing.title().empty() && !item.title().empty()) existing = std::move(item);
    return;
  }
  index_.emplace(item.item_id(), static_cast<int32_t>(log_.items.size()));
  log_.items.push_back(std::move(item));
}

void RatingLogBuilder::AddRating(const std::string& user_id, const std::string& item_id, double rating,
                                 int64_t timestamp, const std::string& where) {
  if (user_id.empty()) return drops_->Add("empty user id", where, "the user id is empty");
  if (item_id.empty()) return drops_->Add("empty item id", where, "the item id is empty");
  if (!std::isfinite(rating)) return drops_->Add("bad rating", where, "the rating is not a finite number");
  auto it = index_.find(item_id);
  if (it == index_.end()) {
    // Remember the item so that a later metadata row can still name it;
    // Finish() drops ratings of items that stay without a title.
    proto::Item item;
    item.set_item_id(item_id);
    AddItem(std::move(item));
    it = index_.find(item_id);
  }
  RatingEvent e;
  e.item = it->second;
  e.rating = static_cast<float>(rating);
  e.timestamp = timestamp;
  e.sequence = sequence_++;
  log_.users[user_id].push_back(e);
}

void RatingLogBuilder::AddRatingText(const std::string& user_id, const std::string& item_id,
                                     absl::string_view rating, absl::string_view timestamp,
                                     const std::string& where) {
  double r = 0;
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(rating), &r) || !std::isfinite(r)) {
    return drops_->Add("bad rating", where, absl::StrCat("rating '", rating, "' is not a number"));
  }
  int64_t t = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(timestamp), &t)) {
    double td = 0;  // some exports write timestamps as floats
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(timestamp), &td) || !std::isfinite(td)) {
      return drops_->Add("bad timestamp", where, absl::StrCat("timestamp '", timestamp, "' is not an integer"));
    }
    t = static_cast<int64_t>(td);
  }
  AddRating(user_id, item_id, r, t, where);
}

absl::Status RatingLogBuilder::AddInputFile(const std::string& path, const std::string& role) {
  ALRO_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  uint32_t crc = 0;
  for (size_t off = 0; off < file.size(); off += kChecksumChunk) {
    crc = crc32c::Extend(crc, file.data() + off, std::min(kChecksumChunk, file.size() - off));
  }
  log_.inputs.push_back({{"role", role}, {"path", path}, {"bytes", file.size()},
                         {"crc32c", absl::StrFormat("%08x", crc)}});
  return absl::OkStatus();
}

RatingLog RatingLogBuilder::Finish() {
  for (auto& [user, events] : log_.users) {
    std::vector<RatingEvent> kept;
    kept.reserve(events.size());
    for (const RatingEvent& e : events) {
      const proto::Item& item = log_.items[static_cast<size_t>(e.item)];
      if (item.title().empty()) {
        drops_->Add("rating of an item without a title", absl::StrCat("user ", user),
                    absl::StrCat("item '", item.item_id(), "' has no title in the item/metadata file"));
        continue;
      }
      kept.push_back(e);
    }
    events = std::move(kept);
  }
  return std::move(log_);
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
