// data/converters/movielens.cc: the three GroupLens MovieLens layouts.
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status.h"
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

absl::Status ReadItems(const std::string& path, Layout layout, RatingLogBuilder* b) {
  ALRO_ASSIGN_OR_RETURN(LineReader lines, LineReader::Open(path));
  ALRO_RETURN_IF_ERROR(b->AddInputFile(path, "items"));
  absl::string_view line;
  std::vector<std::string> fields;
  while (lines.Next(&line)) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    if (layout == Layout::kMlCsv) {
      if (lines.line_number() == 1 && absl::StartsWith(line, "movieId")) continue;  // header
      if (absl::Status s = SplitCsvLine(line, &fields); !s.ok()) {
        b->drops()->Add("malformed item row", lines.Where(), s.message());
        continue;
      }
      if (fields.size() != 3) {
        b->drops()->Add("malformed item row", lines.Where(),
                        absl::StrCat("expected 3 fields (movieId,title,genres), found ", fields.size()));
        continue;
      }
      b->AddItem(MakeMovie(fields[0], fields[1], fields[2]));
    } else if (layout == Layout::kMl1m) {
      std::vector<absl::string_view> f = SplitOn(line, "::");
      if (f.size() != 3) {
        b->drops()->Add("malformed item row", lines.Where(),
                        absl::StrCat("expected 3 '::'-separated fields, found ", f.size()));
        continue;
      }
      b->AddItem(MakeMovie(std::string(f[0]), std::string(f[1]), f[2]));
    } else {
      std::vector<absl::string_view> f = SplitOn(line, "|");
      if (f.size() != kMl100kItemFixedFields + kMl100kGenres.size()) {
        b->drops()->Add("malformed item row", lines.Where(),
                        absl::StrCat("expected ", kMl100kItemFixedFields + kMl100kGenres.size(),
                                     " '|'-separated fields, found ", f.size()));
        continue;
      }
      std::vector<std::string> genres;
      for (size_t g = 0; g < kMl100kGenres.size(); ++g) {
        if (f[kMl100kItemFixedFields + g] == "1" && g > 0) genres.push_back(kMl100kGenres[g]);
      }
      b->AddItem(MakeMovie(std::string(f[0]), std::string(f[1]), absl::StrJoin(genres, "|")));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadRatings(const std::string& path, Layout layout, RatingLogBuilder* b) {
  ALRO_ASSIGN_OR_RETURN(LineReader lines, LineReader::Open(path));
  ALRO_RETURN_IF_ERROR(b->AddInputFile(path, "ratings"));
  absl::string_view line;
  std::vector<std::string> csv;
  std::vector<absl::string_view> f;
  while (lines.Next(&line)) {
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    if (layout == Layout::kMlCsv && lines.line_number() == 1 && absl::StartsWith(line, "userId")) continue;
    b->CountRow();
    if (layout == Layout::kMlCsv) {
      if (absl::Status s = SplitCsvLine(line, &csv); !s.ok()) {
        b->drops()->Add("malformed rating row", lines.Where(), s.message());
        continue;
      }
      f.assign(csv.begin(), csv.end());
    } else {
      f = SplitOn(line, layout == Layout::kMl1m ? "::" : "\t");
    }
    if (f.size() != 4) {
      b->drops()->Add("malformed rating row", lines.Where(),
                      absl::StrCat("expected 4 fields (user, movie, rating, timestamp), found ", f.size()));
      continue;
    }
    b->AddRatingText(std::string(absl::StripAsciiWhitespace(f[0])), std::string(absl::StripAsciiWhitespace(f[1])),
                     f[2], f[3], lines.Where());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RatingLog> ReadMovieLens(const std::string& input, DropReport* drops) {
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
    RatingLogBuilder builder(drops);
    // Items first, so that ratings can be checked against them.
    ALRO_RETURN_IF_ERROR(ReadItems(items, l.layout, &builder));
    ALRO_RETURN_IF_ERROR(ReadRatings(ratings, l.layout, &builder));
    return builder.Finish();
  }
  return UserError(absl::StatusCode::kNotFound,
                   absl::StrCat("no MovieLens layout found in ", dir,
                                ": expected ratings.csv+movies.csv, ratings.dat+movies.dat or u.data+u.item"),
                   "point --input at the unpacked MovieLens directory, or run scripts/get_movielens.sh");
}

}  // namespace alro::data
