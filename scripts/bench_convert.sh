#!/usr/bin/env bash
# scripts/bench_convert.sh ALRO INPUT_DIR WORK_DIR [ROUNDS] [CONFIGS...]:
# times `alro convert` on a MovieLens-layout input (e.g. one written by
# scripts/gen_movielens.py) under several configurations, interleaved round
# by round (a shared machine's speed drifts), each under /usr/bin/time -v.
#
# Per run it prints wall seconds, ratings/s, ratings/s per core, CPU seconds
# (user + sys of the process tree, ranks included), CPU microseconds per
# rating, peak resident memory of the largest process (time -v) and as
# alro reports it per rank, the seconds of each conversion phase (from
# alro's log), and how loaded the machine was: the load average before and
# after, and the cores other processes kept busy during the run (from
# /proc/stat, minus this run's own CPU time).
#
# Then, per configuration, the medians over the rounds, and per
# configuration other than the first its speed-up over the first: the
# median of the per-round ratios of ratings/s (each round's runs ran back
# to back) and of CPU time per rating. Last, it checks that every run wrote
# the same bytes as the first configuration's run of the same round
# (records, indexes, tokenizer, and the manifest apart from its command
# line) and exits non-zero if not.
#
# A configuration is "RANKSxTHREADS", e.g. 1x1 1x2 2x1 (default: those).
# Extra `alro convert` flags go in CONVERT_FLAGS (e.g. "--memory-limit 256M").
# KEEP_OUTPUT=1 keeps the last round's outputs (they are deleted otherwise).
#
#   scripts/bench_convert.sh build/launch/alro runs/data/ml5m runs/bench5m 3 1x1 1x2 2x1
#   scripts/bench_convert.sh build/launch/alro-convert ...   # the same without LibTorch
set -euo pipefail
ALRO="$1"
INPUT="$2"
WORK="$3"
ROUNDS="${4:-3}"
shift $(( $# < 4 ? $# : 4 ))
CONFIGS=("$@")
[ "${#CONFIGS[@]}" -gt 0 ] || CONFIGS=(1x1 1x2 2x1)
MPIRUN=(mpirun --oversubscribe --bind-to none)
[ "$(id -u)" = 0 ] && MPIRUN+=(--allow-run-as-root)
TICKS=$(getconf CLK_TCK)
mkdir -p "$WORK"
RESULTS="$WORK/results.tsv"
printf "config\tround\twall_s\tratings\tcpu_s\trss_kib\trank_peak\tload_before\tload_after\tothers_cores\tphases\n" \
    > "$RESULTS"

# Busy jiffies of the whole machine (user nice system irq softirq steal).
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
load1() { cut -d' ' -f1 /proc/loadavg; }

# Exits non-zero unless data sets $1 and $2 hold the same bytes.
same_output() {
  local f
  for f in "$1"/*.rec "$1"/*.idx "$1"/tokenizer.model; do
    cmp -s "$f" "$2/$(basename "$f")" || { echo "DIFFERENT: $2/$(basename "$f")"; return 1; }
  done
  [ "$(ls "$1" | wc -l)" = "$(ls "$2" | wc -l)" ] || { echo "DIFFERENT: file count of $2"; return 1; }
  diff -q <(grep -v '"command"' "$1/manifest.json") <(grep -v '"command"' "$2/manifest.json") > /dev/null ||
    { echo "DIFFERENT: $2/manifest.json"; return 1; }
}

# Seconds of each phase from rank 0's log (its lines carry the time of day;
# the parse and split phases' last lines give their own duration): items
# (reading movies.csv), parse, serial (between parse and split: exchanging
# the counts, item statistics, training and checking the tokenizer), split,
# and rest (process start and exit, renaming shards, input checksums, the
# manifest: the wall time not in the others).
phase_seconds() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import re, sys
marks, seconds = {}, {}
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"\[\w (\d+):(\d+):([\d.]+) r0\] convert: (.*)", line)
    if not m:
        continue
    t = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    if "first" in marks and t < marks["first"]:
        t += 86400  # past midnight
    marks.setdefault("first", t)
    if "spilling sorted runs every" in m.group(4):
        marks["items"] = t
    done = re.match(r"(parse|split) .*\| ([\d.]+) s \| done", m.group(4))
    if done:
        marks[done.group(1)], seconds[done.group(1)] = t, float(done.group(2))
try:
    items = marks["items"] - marks["first"]
    serial = marks["split"] - seconds["split"] - marks["parse"]
    rest = float(sys.argv[2]) - items - seconds["parse"] - serial - seconds["split"]
    print("items=%.1f,parse=%.1f,serial=%.1f,split=%.1f,rest=%.1f"
          % (items, seconds["parse"], serial, seconds["split"], rest))
except KeyError as e:
    print("phases-unknown(no %s)" % e)
EOF
}

identical=1
for round in $(seq 1 "$ROUNDS"); do
  for config in "${CONFIGS[@]}"; do
    ranks="${config%x*}"
    threads="${config#*x}"
    out="$WORK/out-$config"
    log="$WORK/run-$config-$round"
    rm -rf "$out"
    launcher=()
    [ "$ranks" -gt 1 ] && launcher=("${MPIRUN[@]}" -np "$ranks")
    load_before=$(load1)
    ticks_before=$(busy_ticks)
    # shellcheck disable=SC2086
    /usr/bin/time -v "${launcher[@]}" "$ALRO" convert --format movielens --input "$INPUT" --output "$out" \
        --threads "$threads" ${CONVERT_FLAGS:-} > "$log.out" 2> "$log.err"
    ticks_after=$(busy_ticks)
    load_after=$(load1)
    ratings=$(sed -n 's/.* in [0-9.]* s: \([0-9]*\) ratings.*/\1/p' "$log.out")
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log.err" |
           awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    # mpirun waits for its ranks, so time -v counts their CPU and their peak.
    cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$log.err")
    rss_kib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log.err")
    rank_peak=$(sed -n 's/.*peak memory \([0-9.]* [KMG]iB\) per rank.*/\1/p' "$log.out" | tr -d ' ')
    others=$(awk -v a="$ticks_before" -v b="$ticks_after" -v t="$TICKS" -v cpu="$cpu" -v w="$wall" \
             'BEGIN { o = ((b - a) / t - cpu) / w; printf "%.2f", o < 0 ? 0 : o }')
    phases=$(phase_seconds "$log.err" "$wall")
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$config" "$round" "$wall" "$ratings" "$cpu" "$rss_kib" \
        "$rank_peak" "$load_before" "$load_after" "$others" "$phases" >> "$RESULTS"
    awk -v c="$config" -v r="$round" -v w="$wall" -v n="$ratings" -v k=$(( ranks * threads )) -v cpu="$cpu" \
        -v rss="$rss_kib" -v p="$rank_peak" -v lb="$load_before" -v la="$load_after" -v o="$others" -v ph="$phases" \
        'BEGIN { printf "%-5s round %d: %6.1f s  %8.0f ratings/s  %8.0f /s/core  cpu %6.1f s (%.2f us/rating)  " \
                        "peak %.0f MiB (rank %s)  %s  load %s -> %s, others %s cores\n",
                        c, r, w, n / w, n / w / k, cpu, cpu / n * 1e6, rss / 1024, p, ph, lb, la, o }'
    if [ "$config" != "${CONFIGS[0]}" ]; then
      same_output "$WORK/out-${CONFIGS[0]}" "$out" || identical=0
    fi
  done
done

/usr/bin/python3 - "$RESULTS" "${CONFIGS[@]}" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
configs = sys.argv[2:]
by = {c: {int(r["round"]): r for r in rows if r["config"] == c} for c in configs}
def rate(r): return float(r["ratings"]) / float(r["wall_s"])
def cpu_per(r): return float(r["cpu_s"]) / float(r["ratings"])
rounds = len(by[configs[0]])
print(f"medians over {rounds} rounds:")
for c in configs:
    rs = list(by[c].values())
    ranks, threads = (int(x) for x in c.split("x"))
    wall = statistics.median(float(r["wall_s"]) for r in rs)
    rt = statistics.median(rate(r) for r in rs)
    print(f"  {c:5} {wall:7.1f} s  {rt:9.0f} ratings/s  {rt / (ranks * threads):9.0f} ratings/s/core  "
          f"cpu {statistics.median(float(r['cpu_s']) for r in rs):7.1f} s "
          f"({statistics.median(cpu_per(r) for r in rs) * 1e6:.2f} us/rating)  "
          f"peak {max(int(r['rss_kib']) for r in rs) / 1024:.0f} MiB  "
          f"others busy {statistics.median(float(r['others_cores']) for r in rs):.2f} cores")
    phases = [dict(kv.split("=") for kv in r["phases"].split(",")) for r in rs if "=" in r["phases"]]
    if phases:
        print("        phases (s): " + "  ".join(
            f"{k} {statistics.median(float(p[k]) for p in phases):.1f}" for k in phases[0]))
base = configs[0]
for c in configs[1:]:
    speed = [rate(by[c][k]) / rate(by[base][k]) for k in by[base] if k in by[c]]
    cpu = [cpu_per(by[c][k]) / cpu_per(by[base][k]) for k in by[base] if k in by[c]]
    print(f"  {c} / {base}: ratings/s x{statistics.median(speed):.2f} (rounds: "
          + " ".join(f"{s:.2f}" for s in speed)
          + f"); CPU time per rating x{statistics.median(cpu):.2f}")
EOF

[ "${KEEP_OUTPUT:-0}" = 1 ] || for config in "${CONFIGS[@]}"; do rm -rf "$WORK/out-$config"; done
if [ "$identical" = 1 ]; then
  echo "identical output in every round: ${CONFIGS[*]}"
else
  echo "OUTPUT DIFFERS between configurations (see DIFFERENT lines above)"
  exit 1
fi
