#!/usr/bin/env bash
# bench/train/decode_sharing_bench.sh: wall time of `alro eval --orders P`
# (or `alro rank --bootstrap P`) with the orders' common prompt prefix
# computed once (--shared-prefix auto / always) and without (never).
# Configurations are interleaved within each round; prints every run, the
# median per configuration, the median and range of the per-round ratios
# against `never`, and the machine's load average before each round. Checks
# that every configuration reports the same metrics (or answers).
#
#   bench/train/decode_sharing_bench.sh ALRO CHECKPOINT [ROUNDS] [ORDERS] [LISTS] [MODE] [REQUESTS]
#
# With REQUESTS (a JSONL file of `alro rank` requests) it times
# `alro rank --bootstrap ORDERS`; otherwise `alro eval --orders ORDERS
# --lists LISTS` on the test split. MODE: decode (default) or single_step.
# Run with OMP_NUM_THREADS=1 for one thread.
set -euo pipefail
ALRO=$1
CKPT=$2
ROUNDS=${3:-5}
ORDERS=${4:-8}
LISTS=${5:-32}
MODE=${6:-decode}
REQUESTS=${7:-}
W=$(mktemp -d /tmp/alro_decode_sharing.XXXXXX)
trap 'rm -rf "$W"' EXIT
CONFIGS=(never auto always)

run() {  # run CONFIG ROUND -> seconds on stdout
  local sharing=$1 round=$2 start end
  start=$(date +%s.%N)
  if [ -n "$REQUESTS" ]; then
    "$ALRO" rank --checkpoint "$CKPT" --input "$REQUESTS" --bootstrap "$ORDERS" --mode "$MODE" \
      --shared-prefix "$sharing" --output "$W/out_${sharing}_$round.jsonl" > "$W/log_${sharing}_$round" 2>&1
  else
    "$ALRO" eval --checkpoint "$CKPT" --split test --lists "$LISTS" --orders "$ORDERS" --mode "$MODE" \
      --shared-prefix "$sharing" --json "$W/out_${sharing}_$round.json" > "$W/log_${sharing}_$round" 2>&1
  fi
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}

echo "checkpoint $CKPT, ${REQUESTS:+rank --bootstrap }${REQUESTS:-eval --orders} $ORDERS, mode $MODE, $ROUNDS rounds"
for round in $(seq 1 "$ROUNDS"); do
  line="round $round (load $(cut -d' ' -f1-3 /proc/loadavg)):"
  for sharing in "${CONFIGS[@]}"; do
    t=$(run "$sharing" "$round") || { cat "$W/log_${sharing}_$round" >&2; exit 1; }
    echo "$sharing $round $t" >> "$W/times"
    line+=" $sharing $(printf '%.2f' "$t") s"
  done
  echo "$line"
done

python3 - "$W" "$ROUNDS" "${CONFIGS[@]}" <<'PY'
import glob, json, os, statistics, sys
w, rounds, configs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
t = {}
for line in open(os.path.join(w, "times")):
    c, r, s = line.split()
    t[(c, int(r))] = float(s)
for c in configs:
    med = statistics.median(t[(c, r)] for r in range(1, rounds + 1))
    ratios = [t[(c, r)] / t[("never", r)] for r in range(1, rounds + 1)]
    print(f"{c:7s} median {med:7.2f} s   / never: median {statistics.median(ratios):.2f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f})")
# Every configuration must give the same result.
def load(path):
    if path.endswith(".json"):
        return json.load(open(path))["model"]
    return [[x["candidate"] for x in json.loads(l)["ranking"]] for l in open(path)]
ref = None
for path in sorted(glob.glob(os.path.join(w, "out_*"))):
    got = load(path)
    if ref is None:
        ref = got
    elif isinstance(got, dict):
        bad = [k for k in ref if isinstance(ref[k], (int, float)) and abs(got[k] - ref[k]) > 1e-9]
        assert not bad, (path, bad)
    else:
        assert got == ref, path
print("results identical across configurations and rounds")
PY
