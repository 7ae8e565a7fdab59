#!/usr/bin/env python3
"""scripts/shown_mean_order.py: how well the demo's prompt statistic alone ranks.

The demo's prompt shows each candidate's mean rating as of the list's time
(`alro convert --item-stats true`, `{mean}` with `prompt.stats_shrinkage` 5,
one decimal). A model that reads those tokens perfectly can at best order
the candidates by them; this script computes that order's NDCG@1/5/10 on
the valid and test lists of MovieLens latest-small, next to popularity, so
that docs/results.md can say how much of the reachable margin the model
gets. It re-implements the per-user time split of data/converters/splitter.h
(m = 10, test = the last m ratings, valid = the m before) and the cut-off of
data/converters/item_stats.h (all users' ratings strictly earlier than the
list's first candidate) in plain Python, independently of alro's code.

    /usr/bin/python3 scripts/shown_mean_order.py [runs/data/raw/ml-latest-small/ratings.csv]

Ties of the shown value are broken by a seeded random draw (the prompt's
presentation order is random too); the result varies by about +-0.003 with
the seed; the figures are the mean ± std over 5 tie draws.
"""
import bisect
import collections
import csv
import math
import random
import statistics
import sys

M = 10
SHRINKAGE = 5.0
PRIOR_MEAN = 3.5


def ndcg(labels, k):
    gains = [2.0 ** label - 1 for label in labels]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))
    ideal = sorted(gains, reverse=True)
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal[:k]))
    return dcg / idcg if idcg > 0 else None


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "runs/data/raw/ml-latest-small/ratings.csv"
    seeds = 5
    rows = []
    with open(path) as f:
        reader = csv.reader(f)
        next(reader)
        for line, (user, item, rating, ts) in enumerate(reader):
            rows.append((user, item, float(rating), int(ts), line))
    per_user = collections.defaultdict(list)
    per_item = collections.defaultdict(list)
    for user, item, rating, ts, line in rows:
        per_user[user].append((ts, line, item, rating))
        per_item[item].append((ts, rating))
    prefix = {}
    for item, events in per_item.items():
        events.sort()
        times = [t for t, _ in events]
        sums = []
        total = 0.0
        for _, r in events:
            total += r
            sums.append(total)
        prefix[item] = (times, sums)

    def shown_mean(item, t0):
        times, sums = prefix[item]
        n = bisect.bisect_left(times, t0)  # ratings strictly earlier than t0
        s = sums[n - 1] if n > 0 else 0.0
        return round((s + SHRINKAGE * PRIOR_MEAN) / (n + SHRINKAGE), 1)

    lists = {"valid": [], "test": []}
    before = {"valid": [], "test": []}
    for user, events in per_user.items():
        events.sort()
        n = len(events)
        if n < 2 * M + 1:
            continue
        lists["test"].append(events[n - M:])
        lists["valid"].append(events[n - 2 * M:n - M])
        before["test"] += [e[2] for e in events[:n - M]]
        before["valid"] += [e[2] for e in events[:n - 2 * M]]

    for split in ("valid", "test"):
        popularity = collections.Counter(before[split])
        for name, score in (("shown mean", lambda item, t0: shown_mean(item, t0)),
                            ("popularity", lambda item, t0: popularity[item])):
            per_seed = {k: [] for k in (1, 5, 10)}
            for seed in range(seeds):
                rng = random.Random(seed)
                values = {k: [] for k in per_seed}
                for window in lists[split]:
                    t0 = window[0][0]
                    keyed = [(score(item, t0), rng.random(), rating) for _, _, item, rating in window]
                    keyed.sort(key=lambda x: (-x[0], x[1]))
                    labels = [rating for _, _, rating in keyed]
                    for k in values:
                        v = ndcg(labels, k)
                        if v is not None:
                            values[k].append(v)
                for k in values:
                    per_seed[k].append(statistics.mean(values[k]))
            cells = "  ".join(f"NDCG@{k} {statistics.mean(v):.4f} ± {statistics.stdev(v):.4f}" for k, v in per_seed.items())
            print(f"{split:5s} {name:10s} {len(lists[split])} lists  {cells}")


if __name__ == "__main__":
    main()
