#!/usr/bin/env bash
# scripts/get_movielens.sh [OUT_DIR]: writes MovieLens "latest-small"
# (100,004 ratings, 671 users, 9,066 movies) in the GroupLens ml-latest-small
# CSV layout, taken from Debian's r-cran-dslabs package (dslabs::movielens):
#
#   OUT_DIR/ratings.csv   userId,movieId,rating,timestamp
#   OUT_DIR/movies.csv    movieId,title,genres   (title as "Title (Year)", quoted CSV)
#
# `alro convert --format movielens --input OUT_DIR` then reads it like any
# GroupLens download. Idempotent: an existing complete export is kept.
# The MovieLens terms forbid redistribution: never commit the output
# (runs/ is git-ignored).
set -euo pipefail

OUT_DIR="${1:-runs/data/raw/ml-latest-small}"
# Rows of the complete export (ratings.csv has a header line more).
EXPECTED_RATINGS=100004

if [ -f "$OUT_DIR/ratings.csv" ] && [ -f "$OUT_DIR/movies.csv" ] &&
   [ "$(wc -l < "$OUT_DIR/ratings.csv")" -eq $((EXPECTED_RATINGS + 1)) ]; then
  echo "get_movielens: $OUT_DIR already holds the export"
  exit 0
fi

if ! command -v Rscript > /dev/null || ! Rscript -e 'library(dslabs)' > /dev/null 2>&1; then
  echo "get_movielens: needs Rscript and R's dslabs package: run scripts/setup.sh" \
       "(apt-get install --no-install-recommends r-base-core r-cran-dslabs)" >&2
  exit 1
fi

mkdir -p "$OUT_DIR"
TMP_DIR="$(mktemp -d "$OUT_DIR/.export.XXXXXX")"
trap 'rm -rf "$TMP_DIR"' EXIT

Rscript --vanilla - "$TMP_DIR" <<'RSCRIPT'
args <- commandArgs(trailingOnly = TRUE)
out <- args[1]
suppressPackageStartupMessages(library(dslabs))
data("movielens", package = "dslabs")
m <- movielens
# ratings.csv: one row per rating, in the data set's order.
ratings <- data.frame(userId = m$userId, movieId = m$movieId,
                      rating = m$rating, timestamp = m$timestamp)
# movies.csv: one row per movie; the title carries the year as GroupLens
# writes it ("Toy Story (1995)"); movies without a year keep the bare title.
movies <- unique(data.frame(movieId = m$movieId, title = m$title, year = m$year,
                            genres = as.character(m$genres), stringsAsFactors = FALSE))
movies <- movies[!duplicated(movies$movieId), ]
movies <- movies[order(movies$movieId), ]
movies$title <- ifelse(is.na(movies$year), movies$title,
                       paste0(movies$title, " (", movies$year, ")"))
movies <- movies[, c("movieId", "title", "genres")]
# Ratings as GroupLens prints them ("4.0", "3.5"); quote only what needs it.
ratings$rating <- sprintf("%.1f", ratings$rating)
write.csv(ratings, file.path(out, "ratings.csv"), row.names = FALSE, quote = FALSE, fileEncoding = "UTF-8")
quote_cols <- which(names(movies) %in% c("title", "genres"))
needs <- function(x) grepl('[",\n]', x)
movies$title <- ifelse(needs(movies$title), paste0('"', gsub('"', '""', movies$title), '"'), movies$title)
movies$genres <- ifelse(needs(movies$genres), paste0('"', gsub('"', '""', movies$genres), '"'), movies$genres)
write.table(movies, file.path(out, "movies.csv"), sep = ",", row.names = FALSE, quote = FALSE,
            fileEncoding = "UTF-8")
cat(sprintf("get_movielens: %d ratings, %d users, %d movies\n",
            nrow(ratings), length(unique(ratings$userId)), nrow(movies)))
RSCRIPT

mv -f "$TMP_DIR/movies.csv" "$OUT_DIR/movies.csv"
mv -f "$TMP_DIR/ratings.csv" "$OUT_DIR/ratings.csv"
echo "get_movielens: wrote $OUT_DIR/ratings.csv and $OUT_DIR/movies.csv"
