#!/usr/bin/python3
"""scripts/plot_metrics.py: turns a run's metrics.jsonl into PNG plots.

    /usr/bin/python3 scripts/plot_metrics.py runs/tiny/metrics.jsonl [--out DIR]
    /usr/bin/python3 scripts/plot_metrics.py A/metrics.jsonl --compare B/metrics.jsonl \
        --labels float32,bf16 [--out DIR]

metrics.jsonl is written by `alro train` (train/metrics_log.h): one JSON
object per line with "kind": "train" (step, loss and each term, lr, grad_norm,
tokens_per_s, lists_per_s, mfu) or "kind": "eval" (step, split, ndcg@k, hr@k,
mrr, ...). Writes losses.png, validation.png and throughput.png next to the
file (or into --out) and prints their paths. Uses Debian's python3-matplotlib
with the non-interactive Agg backend, so it runs on headless machines.

--compare writes loss_comparison.png instead: the total loss of both runs
(each step thin, its 10-step moving mean thick) and prints the relative gap
of the moving means at ten steps (docs/performance.md, the bf16 curve).
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# Keys of a train line that are not loss terms.
NON_LOSS_KEYS = {"kind", "step", "lr", "grad_norm", "tokens_per_s", "lists_per_s", "mfu",
                 "eta_s", "elapsed_s", "skipped"}
FIGURE_SIZE = (7.0, 4.0)
DPI = 120


def read_metrics(path):
    """Returns (train rows, eval rows); names the line of a malformed row."""
    train, evals = [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{number}: not JSON ({e})\n  HINT: is this a metrics.jsonl from `alro train`?")
            if row.get("kind") == "train":
                train.append(row)
            elif row.get("kind") == "eval":
                evals.append(row)
    return train, evals


def series(rows, key):
    points = [(r["step"], r[key]) for r in rows if key in r and r[key] is not None]
    return [p[0] for p in points], [p[1] for p in points]


def plot_losses(train, out):
    fig, ax = plt.subplots(figsize=FIGURE_SIZE)
    keys = sorted({k for r in train for k in r if k not in NON_LOSS_KEYS and isinstance(r[k], (int, float))})
    for key in keys:
        x, y = series(train, key)
        ax.plot(x, y, label=key, linewidth=2.0 if key == "loss" else 1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("training loss and its terms")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)
    plt.close(fig)


def plot_validation(evals, out):
    fig, ax = plt.subplots(figsize=FIGURE_SIZE)
    keys = sorted({k for r in evals for k in r if k.startswith("ndcg@") or k == "mrr"},
                  key=lambda k: (k == "mrr", int(k.split("@")[1]) if "@" in k else 0))
    for key in keys:
        x, y = series(evals, key)
        ax.plot(x, y, marker="o", label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("metric")
    ax.set_title("validation ranking metrics")
    ax.grid(alpha=0.3)
    if keys:
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)
    plt.close(fig)


def moving_mean(values, window=10):
    return [sum(values[max(0, i - window + 1):i + 1]) / len(values[max(0, i - window + 1):i + 1])
            for i in range(len(values))]


def plot_loss_comparison(runs, out):
    """runs: [(label, train rows)]; returns [(step, mean of each run)] at ten steps."""
    fig, ax = plt.subplots(figsize=FIGURE_SIZE)
    means = []
    for (label, train), color in zip(runs, ("tab:blue", "tab:orange")):
        x, y = series(train, "loss")
        ax.plot(x, y, color=color, alpha=0.3, linewidth=0.8)
        ax.plot(x, moving_mean(y), color=color, linewidth=2.0, label=f"{label}, 10-step mean")
        means.append((x, moving_mean(y)))
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(" vs ".join(label for label, _ in runs))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    n = min(len(m[1]) for m in means)
    return [(means[0][0][i], [m[1][i] for m in means]) for i in range(9, n, max(1, n // 10))]


def plot_throughput(train, out):
    fig, ax = plt.subplots(figsize=FIGURE_SIZE)
    x, y = series(train, "tokens_per_s")
    ax.plot(x, y, color="tab:blue", label="tokens/s")
    ax.set_xlabel("step")
    ax.set_ylabel("tokens/s", color="tab:blue")
    ax2 = ax.twinx()
    x, y = series(train, "lr")
    ax2.plot(x, y, color="tab:orange", label="learning rate")
    ax2.set_ylabel("learning rate", color="tab:orange")
    ax.set_title("throughput and learning rate")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=DPI)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics", help="metrics.jsonl written by alro train")
    parser.add_argument("--out", help="output directory (default: next to the metrics file)")
    parser.add_argument("--compare", help="a second run's metrics.jsonl: plot both losses instead")
    parser.add_argument("--labels", default="first,second", help="the two runs' names with --compare")
    args = parser.parse_args()
    runs = []
    for path in [args.metrics] + ([args.compare] if args.compare else []):
        if not os.path.isfile(path):
            sys.exit(f"{path}: no such file\n  HINT: pass logging.dir/metrics.jsonl of a run")
        train, evals = read_metrics(path)
        if not train:
            sys.exit(f"{path}: no training lines\n  HINT: the run logs every logging.every_steps steps")
        runs.append((train, evals))
    train, evals = runs[0]
    out_dir = args.out or os.path.dirname(os.path.abspath(args.metrics))
    os.makedirs(out_dir, exist_ok=True)
    if args.compare:
        labels = args.labels.split(",")
        if len(labels) != 2:
            sys.exit(f"--labels {args.labels}: give two names, e.g. --labels float32,bf16")
        path = os.path.join(out_dir, "loss_comparison.png")
        for step, (a, b) in plot_loss_comparison(list(zip(labels, (r[0] for r in runs))), path):
            print(f"step {step}: {labels[0]} {a:.4f} {labels[1]} {b:.4f} relative gap {abs(b - a) / abs(a):.4f}")
        print(path)
        return
    written = []
    for name, fn, rows in (("losses.png", plot_losses, train), ("validation.png", plot_validation, evals),
                           ("throughput.png", plot_throughput, train)):
        path = os.path.join(out_dir, name)
        fn(rows, path)
        written.append(path)
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
