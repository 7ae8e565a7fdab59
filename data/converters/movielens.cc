// data/converters/movielens.cc: the three GroupLens MovieLens layouts.
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status.h"
#include "data/converters/chunked_input.h"
#include "data/converters/csv.h"
#include "data/converters/formats.h"

namespace alro::data {
namespace {

// ml-100k's u.item ends with one 0/1 flag per genre, in this order
// (the data set's u.genre file).
constexpr std::array<const char*, 19> kMl100kGenres = {
    "unknown", "Action",   "Adventure", "Animation", "Children's", "Comedy",   "Crime",
    "Documentary", "Drama", "Fantasy",  "Film-Noir", "Horror",     "Musical",  "Mystery",
    "Romance",  "Sci-Fi",   "Thriller", "War",       "Western"};
// Leading fields of a u.item line before the genre flags.
constexpr size_t kMl100kItemFixedFields = 5;
// Fields of a rating row: user, movie, rating, timestamp.
constexpr size_t kRatingFields = 4;
constexpr char kNoGenres[] = "(no genres listed)";

enum class Layout { kMl100k, kMl1m, kMlCsv };

struct LayoutFiles {
  Layout layout;
  const char* ratings;
  const char* items;
};

constexpr LayoutFiles kLayouts[] = {
    {Layout::kMlCsv, "ratings.csv", "movies.csv"},
    {Layout::kMl1m, "ratings.dat", "movies.dat"},
    {Layout::kMl100k, "u.data", "u.item"},
};

proto::Item MakeMovie(const std::string& id, const std::string& raw_title, absl::string_view genres_text) {
  proto::Item item;
  item.set_item_id(id);
  std::string title;
  int32_t year = 0;
  SplitTitleYear(ToUtf8(raw_title), &title, &year);
  item.set_title(title);
  item.set_year(year);
  if (!genres_text.empty() && genres_text != kNoGenres) {
    for (absl::string_view g : absl::StrSplit(genres_text, '|')) {
      if (!g.empty()) item.add_genres(std::string(g));
    }
  }
  return item;
}

class MovieLens : public InputFormat {
 public:
  MovieLens(Layout layout, std::string ratings, std::string items)
      : layout_(layout), ratings_(std::move(ratings)), items_(std::move(items)) {}

  std::vector<InputFile> Files() const override { return {{"items", items_}, {"ratings", ratings_}}; }
  const std::string& ratings_path() const override { return ratings_; }

  absl::Status ReadItems(ItemTable* items, DropReport* drops) const override {
    std::vector<std::string> fields;
    return ForEachLine(items_, [&](absl::string_view line, int64_t number) {
      if (absl::StripAsciiWhitespace(line).empty()) return;
      const auto where = [&] { return absl::StrCat(items_, ":", number); };
      if (layout_ == Layout::kMlCsv) {
        if (number == 1 && absl::StartsWith(line, "movieId")) return;  // header
        if (absl::Status s = SplitCsvLine(line, &fields); !s.ok()) {
          return drops->Add("malformed item row", where(), s.message());
        }
        if (fields.size() != 3) {
          return drops->Add("malformed item row", where(),
                            absl::StrCat("expected 3 fields (movieId,title,genres), found ", fields.size()));
        }
        items->Add(MakeMovie(fields[0], fields[1], fields[2]));
      } else if (layout_ == Layout::kMl1m) {
        std::vector<absl::string_view> f = SplitOn(line, "::");
        if (f.size() != 3) {
          return drops->Add("malformed item row", where(),
                            absl::StrCat("expected 3 '::'-separated fields, found ", f.size()));
        }
        items->Add(MakeMovie(std::string(f[0]), std::string(f[1]), f[2]));
      } else {
        std::vector<absl::string_view> f = SplitOn(line, "|");
        if (f.size() != kMl100kItemFixedFields + kMl100kGenres.size()) {
          return drops->Add("malformed item row", where(),
                            absl::StrCat("expected ", kMl100kItemFixedFields + kMl100kGenres.size(),
                                         " '|'-separated fields, found ", f.size()));
        }
        std::vector<std::string> genres;
        for (size_t g = 0; g < kMl100kGenres.size(); ++g) {
          if (f[kMl100kItemFixedFields + g] == "1" && g > 0) genres.push_back(kMl100kGenres[g]);
        }
        items->Add(MakeMovie(std::string(f[0]), std::string(f[1]), absl::StrJoin(genres, "|")));
      }
    });
  }

  bool ParseRating(absl::string_view line, bool first_line, RowSink* sink) const override {
    if (layout_ == Layout::kMlCsv && first_line && absl::StartsWith(line, "userId")) return false;
    std::array<absl::string_view, kRatingFields> f;
    size_t n = 0;
    if (layout_ == Layout::kMlCsv && line.find('"') != absl::string_view::npos) {
      // Rare: quoted fields need the full CSV splitter.
      std::vector<std::string> csv;
      if (absl::Status s = SplitCsvLine(line, &csv); !s.ok()) {
        sink->Drop("malformed rating row", std::string(s.message()));
        return true;
      }
      if (csv.size() != kRatingFields) return WrongFieldCount(csv.size(), sink);
      sink->AddRatingText(absl::StripAsciiWhitespace(csv[0]), absl::StripAsciiWhitespace(csv[1]), csv[2], csv[3]);
      return true;
    }
    const absl::string_view separator = layout_ == Layout::kMlCsv ? "," : layout_ == Layout::kMl1m ? "::" : "\t";
    // Splits without allocating: ratings rows are the bulk of the input.
    size_t start = 0;
    while (true) {
      const size_t at = line.find(separator, start);
      if (n < kRatingFields) f[n] = line.substr(start, at == absl::string_view::npos ? at : at - start);
      ++n;
      if (at == absl::string_view::npos) break;
      start = at + separator.size();
    }
    if (n != kRatingFields) return WrongFieldCount(n, sink);
    sink->AddRatingText(absl::StripAsciiWhitespace(f[0]), absl::StripAsciiWhitespace(f[1]), f[2], f[3]);
    return true;
  }

 private:
  static bool WrongFieldCount(size_t found, RowSink* sink) {
    sink->Drop("malformed rating row",
               absl::StrCat("expected 4 fields (user, movie, rating, timestamp), found ", found));
    return true;
  }

  Layout layout_;
  std::string ratings_;
  std::string items_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<InputFormat>> OpenMovieLens(const std::string& input) {
  const std::string dir = IsDirectory(input) ? input : DirName(input);
  for (const LayoutFiles& l : kLayouts) {
    const std::string ratings = JoinPath(dir, l.ratings);
    const std::string items = JoinPath(dir, l.items);
    if (!PathExists(ratings)) continue;
    if (!PathExists(items)) {
      return UserError(absl::StatusCode::kNotFound,
                       absl::StrCat("MovieLens input ", dir, " has ", l.ratings, " but not ", l.items),
                       "the converter needs the movie titles too; copy the whole MovieLens directory");
    }
    return std::unique_ptr<InputFormat>(new MovieLens(l.layout, ratings, items));
  }
  return UserError(absl::StatusCode::kNotFound,
                   absl::StrCat("no MovieLens layout found in ", dir,
                                ": expected ratings.csv+movies.csv, ratings.dat+movies.dat or u.data+u.item"),
                   "point --input at the unpacked MovieLens directory, or run scripts/get_movielens.sh");
}

}  // namespace alro::data
