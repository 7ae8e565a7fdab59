#!/usr/bin/python3
"""scripts/ablation_report.py: the tables and bar chart of scripts/ablation.sh.

    /usr/bin/python3 scripts/ablation_report.py runs/ablation

Reads every runs/ablation/VARIANT-sSEED/test_{decode,single_step}.json that
`alro eval --json` wrote, and writes runs/ablation/report.md (mean +- std over
seeds of NDCG@1/5/10, MRR, Kendall tau, the position-bias figures, the
bootstrap order, next to the reference orders) and runs/ablation/ablation.png.
"""
import glob
import json
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

VARIANTS = ["lm", "lm_sll", "lm_psl", "alro", "lm_first_slot", "alro_first_slot"]
METRICS = ["ndcg@1", "ndcg@5", "ndcg@10", "mrr", "kendall_tau"]
BIAS = ["ndcg@10_std", "pairwise_kendall_tau"]
REFERENCES = ["random", "popularity", "item_mean", "mf"]


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def load(root):
    runs = {}
    for path in sorted(glob.glob(os.path.join(root, "*-s*", "test_*.json"))):
        run = os.path.basename(os.path.dirname(path))
        variant, seed = run.rsplit("-s", 1)
        mode = os.path.basename(path)[len("test_"):-len(".json")]
        with open(path) as f:
            runs.setdefault((variant, mode), []).append((seed, json.load(f)))
    return runs


def read_ms(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "runs/ablation"
    runs = load(root)
    if not runs:
        sys.exit(f"ablation_report: no test_*.json under {root}: run scripts/ablation.sh first")
    lines = []
    # One line per run directory (scripts/ablation.sh writes it when it
    # trains the run); the older layout kept a single machine.txt at the root.
    machines = {}
    for path in sorted(glob.glob(os.path.join(root, "*", "machine.txt")) + [os.path.join(root, "machine.txt")]):
        if os.path.exists(path):
            machines.setdefault(open(path).read().strip(), []).append(os.path.basename(os.path.dirname(path)))
    for machine, names in machines.items():
        lines += [f"{machine} ({', '.join(names)})", ""]
    for mode in ["decode", "single_step"]:
        lines += [f"### {mode}", "",
                  "| order | seeds | " + " | ".join(METRICS) + " | " + " | ".join(BIAS) + " | same answer |",
                  "|---" * (len(METRICS) + len(BIAS) + 3) + "|"]
        references = None
        for variant in VARIANTS:
            entries = runs.get((variant, mode), [])
            if not entries:
                continue
            models = [e["model"] for _, e in entries]
            cells = [mean_std([m.get(k) for m in models]) for k in METRICS]
            cells += [mean_std([m.get("position_bias", {}).get(k) for m in models]) for k in BIAS]
            cells.append(mean_std([m.get("same_answer_share") for m in models]))
            lines.append(f"| {variant} | {len(entries)} | " + " | ".join(cells) + " |")
            if variant == "lm" and all("bootstrap" in m for m in models):
                boot = [m["bootstrap"] for m in models]
                lines.append(f"| lm, bootstrap B=5 | {len(entries)} | " +
                             " | ".join(mean_std([b.get(k) for b in boot]) for k in METRICS) +
                             " | - | - | - |")
            references = references or entries[0][1]
        for name in REFERENCES:
            if references and name in references:
                r = references[name]
                lines.append(f"| {name} | - | " + " | ".join(mean_std([r.get(k)]) for k in METRICS) + " | - | - | - |")
        lines.append("")
    # Time per list: one decode pass against the 5-order bootstrap.
    lines += ["### time", "", "| variant | one pass (s) | 5 orders (s) | ratio |", "|---|---|---|---|"]
    for variant in VARIANTS:
        one, five = [], []
        for d in sorted(glob.glob(os.path.join(root, f"{variant}-s*"))):
            a, b = read_ms(os.path.join(d, "one_pass_ms")), read_ms(os.path.join(d, "eval_decode_ms"))
            if a and b:
                one.append(a / 1000)
                five.append(b / 1000)
        if one:
            lines.append(f"| {variant} | {statistics.median(one):.1f} | {statistics.median(five):.1f} | "
                         f"{statistics.median(five) / statistics.median(one):.2f} |")
    report = os.path.join(root, "report.md")
    with open(report, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(report)

    # Bar chart: test NDCG@5 and NDCG@10 (decode) per variant, with the references.
    fig, ax = plt.subplots(figsize=(8.0, 4.0))
    names, values, errors = [], {k: [] for k in ["ndcg@5", "ndcg@10"]}, {k: [] for k in ["ndcg@5", "ndcg@10"]}
    reference_row = None
    for variant in VARIANTS:
        entries = runs.get((variant, "decode"), [])
        if not entries:
            continue
        names.append(variant)
        reference_row = reference_row or entries[0][1]
        for k in values:
            v = [e["model"].get(k) for _, e in entries if e["model"].get(k) is not None]
            values[k].append(statistics.mean(v))
            errors[k].append(statistics.stdev(v) if len(v) > 1 else 0.0)
    for name in REFERENCES:
        if reference_row and name in reference_row:
            names.append(name)
            for k in values:
                values[k].append(reference_row[name].get(k) or 0.0)
                errors[k].append(0.0)
    width = 0.4
    xs = range(len(names))
    for offset, k in ((-width / 2, "ndcg@5"), (width / 2, "ndcg@10")):
        ax.bar([x + offset for x in xs], values[k], width, yerr=errors[k], label=f"test {k}", capsize=3)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, rotation=20)
    low = min(min(v) for v in values.values() if v)
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    ax.set_title("ALRO ablation, MovieLens latest-small, test split (decode)")
    ax.legend()
    fig.tight_layout()
    png = os.path.join(root, "ablation.png")
    fig.savefig(png, dpi=120)
    print(png)


if __name__ == "__main__":
    main()
