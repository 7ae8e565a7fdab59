#!/usr/bin/env python3
"""scripts/gen_movielens.py: writes a synthetic data set in the GroupLens
ml-latest / ml-25m CSV layout, of any size, for conversion benchmarks and
scale tests:

  OUT_DIR/movies.csv    movieId,title,genres   ("Title (Year)", quoted when it has a comma)
  OUT_DIR/ratings.csv   userId,movieId,rating,timestamp   (grouped by user, like GroupLens)

Items are drawn with a Zipf-like popularity, ratings (0.5 to 5 in halves)
from a per-item mean plus noise, timestamps rise per user. The same
arguments always write the same bytes (seeded generator).

  python3 scripts/gen_movielens.py --ratings 5500000 --users 50000 --items 20000 OUT_DIR
  python3 scripts/gen_movielens.py --ratings 25000000 --users 162000 --items 62000 OUT_DIR
  python3 scripts/gen_movielens.py --shuffle ...   # rows in random order instead

Only the Python standard library is used.
"""
import argparse
import bisect
import itertools
import os
import random

WORDS = ("Toy Story Heat Casino Balto Nixon Sabrina Jumanji Money Train Copycat Assassins Powder Leaving "
         "Vegas Othello Now Then Dead Man Walking Across Sea Time Dangerous Minds Twelve Monkeys Babe "
         "Clueless Cry Beloved Country Richard Pocahontas Persuasion City Lost Children Shanghai Triad "
         "Dracula Moonlight Unforgettable Sudden Death Waiting Exhale Father Bride Grumpier Old Men "
         "Night Falls Manhattan Big Green Home Holidays Postman Indian Cupboard White Balloon Antonia "
         "Line Angels Outfield Kicking Screaming Things Done Denver Brothers McMullen Bed Roses").split()
GENRES = ("Action Adventure Animation Children Comedy Crime Documentary Drama Fantasy Film-Noir Horror "
          "Musical Mystery Romance Sci-Fi Thriller War Western").split()
# Users rate at least this many movies (MovieLens keeps users with 20+).
MIN_RATINGS_PER_USER = 20
ZIPF_EXPONENT = 1.0
BATCH_LINES = 100000


def title_of(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 4))]
    text = " ".join(words)
    if rng.random() < 0.1:
        text = words[-1] + ", The" if len(words) == 1 else text + ", The"
    return f"{text} ({rng.randint(1920, 2020)})"


def csv_field(text):
    return '"' + text.replace('"', '""') + '"' if ("," in text or '"' in text) else text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--ratings", type=int, default=5_500_000, help="total ratings (approximately)")
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shuffle", action="store_true", help="write rating rows in random order")
    args = ap.parse_args()
    if args.ratings < args.users * MIN_RATINGS_PER_USER:
        ap.error(f"--ratings must be at least {MIN_RATINGS_PER_USER} x --users")
    if args.items < MIN_RATINGS_PER_USER * 4:
        ap.error(f"--items must be at least {MIN_RATINGS_PER_USER * 4}")
    rng = random.Random(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)

    item_mean = []
    with open(os.path.join(args.out_dir, "movies.csv"), "w", encoding="utf-8") as f:
        f.write("movieId,title,genres\n")
        for i in range(1, args.items + 1):
            genres = "|".join(sorted(rng.sample(GENRES, rng.randint(1, 3))))
            f.write(f"{i},{csv_field(title_of(rng))},{genres}\n")
            item_mean.append(rng.uniform(2.0, 4.5))

    # Zipf-like popularity: item k drawn with weight 1 / (k + 1)^s.
    cumulative = list(itertools.accumulate(1.0 / (k + 1) ** ZIPF_EXPONENT for k in range(args.items)))
    total_weight = cumulative[-1]
    # Ratings per user: the minimum plus a share of the rest, heavy-tailed.
    extra = args.ratings - args.users * MIN_RATINGS_PER_USER
    shares = [rng.paretovariate(1.5) for _ in range(args.users)]
    share_sum = sum(shares)
    counts = [MIN_RATINGS_PER_USER + int(extra * s / share_sum) for s in shares]
    counts = [min(c, args.items // 2) for c in counts]

    rows = []
    out = open(os.path.join(args.out_dir, "ratings.csv"), "w", encoding="utf-8")
    out.write("userId,movieId,rating,timestamp\n")
    written = 0
    for user, n in enumerate(counts, start=1):
        chosen = set()
        while len(chosen) < n:
            chosen.add(bisect.bisect_left(cumulative, rng.random() * total_weight) + 1)
        # Rated in a random order over time, listed by movie id (as GroupLens does).
        in_time_order = list(chosen)
        rng.shuffle(in_time_order)
        t = rng.randint(800_000_000, 1_500_000_000)
        when = {}
        for item in in_time_order:
            t += rng.randint(1, 100_000)
            when[item] = t
        lines = []
        for item in sorted(chosen):
            r = min(5.0, max(0.5, round((item_mean[item - 1] + rng.gauss(0.0, 0.9)) * 2) / 2))
            lines.append(f"{user},{item},{r:.1f},{when[item]}\n")
        if args.shuffle:
            rows.extend(lines)
        else:
            out.writelines(lines)
        written += n
    if args.shuffle:
        rng.shuffle(rows)
        for k in range(0, len(rows), BATCH_LINES):
            out.writelines(rows[k:k + BATCH_LINES])
    out.close()
    print(f"wrote {written} ratings of {args.users} users on {args.items} movies to {args.out_dir}")


if __name__ == "__main__":
    main()
