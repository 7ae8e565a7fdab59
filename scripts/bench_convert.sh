#!/usr/bin/env bash
# scripts/bench_convert.sh ALRO INPUT_DIR WORK_DIR [ROUNDS] [CONFIGS...]:
# times `alro convert` on a MovieLens-layout input (e.g. one written by
# scripts/gen_movielens.py) under several configurations, interleaved round
# by round (a shared machine's speed drifts), each under /usr/bin/time -v,
# and prints one line per run plus the median of each configuration:
# wall seconds, ratings/s, ratings/s per core, CPU seconds, peak resident
# memory. It also checks that every configuration wrote the same bytes as
# the first (the manifest apart from its command line).
#
# A configuration is "RANKSxTHREADS", e.g. 1x1 1x2 2x1 (default: those).
# Extra `alro convert` flags go in CONVERT_FLAGS (e.g. "--memory-limit 256M").
#
#   scripts/bench_convert.sh build/launch/alro runs/data/raw/synthetic-5m /tmp/bench 3 1x1 1x2 2x1
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
mkdir -p "$WORK"
RESULTS="$WORK/results.tsv"
: > "$RESULTS"

for round in $(seq 1 "$ROUNDS"); do
  for config in "${CONFIGS[@]}"; do
    ranks="${config%x*}"
    threads="${config#*x}"
    out="$WORK/out-$config"
    log="$WORK/run-$config-$round"
    launcher=()
    [ "$ranks" -gt 1 ] && launcher=("${MPIRUN[@]}" -np "$ranks")
    # shellcheck disable=SC2086
    /usr/bin/time -v "${launcher[@]}" "$ALRO" convert --format movielens --input "$INPUT" --output "$out" \
        --threads "$threads" ${CONVERT_FLAGS:-} > "$log.out" 2> "$log.err"
    ratings=$(sed -n 's/.* in [0-9.]* s: \([0-9]*\) ratings.*/\1/p' "$log.out")
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log.err" |
           awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$log.err")
    # Under mpirun, /usr/bin/time sees mpirun; the ranks' own peak is in the summary.
    peak=$(sed -n 's/.*peak memory \([0-9.]* [KMG]iB\) per rank.*/\1/p' "$log.out")
    rss_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log.err")
    cores=$(( ranks * threads ))
    printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$config" "$round" "$wall" "$ratings" "$cpu" "$peak" "$rss_kb" >> "$RESULTS"
    awk -v c="$config" -v r="$round" -v w="$wall" -v n="$ratings" -v k="$cores" -v cpu="$cpu" -v p="$peak" \
        -v rss="$rss_kb" 'BEGIN { printf "%-5s round %d: %6.1f s  %8.0f ratings/s  %8.0f /s/core  cpu %6.1f s  peak %s (time -v: %.0f MiB)\n", c, r, w, n / w, n / w / k, cpu, p, rss / 1024 }'
  done
done

echo "medians over $ROUNDS rounds:"
for config in "${CONFIGS[@]}"; do
  ranks="${config%x*}"
  threads="${config#*x}"
  grep -P "^$config\t" "$RESULTS" | sort -t$'\t' -k3,3 -g |
    awk -F'\t' -v k=$(( ranks * threads )) '{ w[NR] = $3; n = $4; p[NR] = $6 } END {
      m = w[int((NR + 1) / 2)]; printf "  %-5s %6.1f s  %8.0f ratings/s  %8.0f ratings/s/core  peak %s\n", $1, m, n / m, n / m / k, p[NR] }'
done

first="${CONFIGS[0]}"
for config in "${CONFIGS[@]:1}"; do
  for f in "$WORK/out-$first"/*.rec "$WORK/out-$first"/*.idx "$WORK/out-$first"/tokenizer.model; do
    cmp -s "$f" "$WORK/out-$config/$(basename "$f")" || { echo "DIFFERENT: $config $(basename "$f")"; exit 1; }
  done
  diff -q <(grep -v '"command"' "$WORK/out-$first/manifest.json") \
          <(grep -v '"command"' "$WORK/out-$config/manifest.json") > /dev/null ||
    { echo "DIFFERENT: $config manifest.json"; exit 1; }
done
echo "identical output: ${CONFIGS[*]}"
