#!/usr/bin/env bash
# tests/data/convert_memory_test.sh ALRO WORKDIR [ALRO_CONVERT]: --memory-limit is a hard
# cap on `alro convert`'s peak resident memory. On a generated MovieLens-
# layout data set (scripts/gen_movielens.py):
#   - a limit below what the process needs fails before any work, naming the
#     minimum and a HINT;
#   - a limit just above that minimum (so that the parse threads spill
#     small sorted runs) holds: the peak alro reports (getrusage) and the one
#     /usr/bin/time -v measures are at most the limit, at 1 and 2 threads,
#     and so does one with the tokenizer trained (2 threads);
#   - the output is byte-identical to a run with the default limit;
#   - given ALRO_CONVERT (the binary without LibTorch), the same with it:
#     its minimum is some 150 MiB lower, and its output the same bytes.
set -euo pipefail
ALRO="$1"
WORK="$2"
ALRO_CONVERT="${3:-}"
BIN=("$ALRO" convert)
HERE="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$WORK" && mkdir -p "$WORK"
/usr/bin/python3 "$HERE/../../scripts/gen_movielens.py" --ratings 300000 --users 3000 --items 3000 "$WORK/in" \
    > /dev/null
BASE=(--format movielens --input "$WORK/in" --num-candidates 5)

# Runs `alro convert` under /usr/bin/time -v with the given flags into
# $WORK/$1 and checks that both peaks (alro's own, from getrusage, and time
# -v's) stay within the limit given in MiB as $2 and that the output is
# byte-identical to $WORK/$3's; prints the peaks and the sorted runs.
capped() {
  local name="$1" out="$WORK/$1" limit_mib="$2" reference="$WORK/$3"
  shift 3
  /usr/bin/time -v "${BIN[@]}" "${BASE[@]}" --output "$out" --memory-limit "${limit_mib}M" "$@" \
      > "$out.txt" 2> "$out.err" || { cat "$out.txt" "$out.err"; exit 1; }
  local limit=$((limit_mib * 1024 * 1024))
  local reported
  reported=$(sed -n 's/.*rank 0 peak resident memory \([0-9]*\) bytes, limit \([0-9]*\) bytes.*/\1 \2/p' "$out.err")
  [ -n "$reported" ] || { cat "$out.txt" "$out.err"; echo "no peak in the log"; exit 1; }
  local peak logged_limit
  read -r peak logged_limit <<< "$reported"
  [ "$logged_limit" = "$limit" ] || { echo "limit $logged_limit, wanted $limit"; exit 1; }
  local time_kib
  time_kib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out.err")
  runs=$(sed -n 's/.*, \([0-9]*\) sorted runs spilled.*/\1/p' "$out.txt")
  echo "$name ($*): limit $limit_mib MiB, peak $((peak / 1048576)) MiB (alro), $((time_kib / 1024)) MiB (time -v)," \
       "$runs sorted runs"
  [ "$peak" -le "$limit" ] || { cat "$out.err"; echo "alro's peak $peak exceeds the limit $limit"; exit 1; }
  [ $((time_kib * 1024)) -le "$limit" ] || { echo "time -v peak ${time_kib} KiB exceeds the limit $limit"; exit 1; }
  for f in "$reference"/*.rec "$reference"/*.idx; do cmp "$f" "$out/$(basename "$f")"; done
  if [ -e "$reference/tokenizer.model" ]; then cmp "$reference/tokenizer.model" "$out/tokenizer.model"; fi
  [ "$(ls "$reference" | wc -l)" = "$(ls "$out" | wc -l)" ] || { ls "$reference" "$out"; exit 1; }
  diff <(grep -v '"command"' "$reference/manifest.json") <(grep -v '"command"' "$out/manifest.json")
}

# Returns (echoes) the minimum in MiB that a too small limit is refused with,
# after checking the refusal: a message with the minimum and a HINT, no shard.
minimum_mib() {
  local out="$WORK/tiny"
  set +e
  "${BIN[@]}" "${BASE[@]}" --output "$out" --memory-limit 8M "$@" > "$out.txt" 2>&1
  local rc=$?
  set -e
  [ "$rc" -ne 0 ] || { cat "$out.txt"; echo "an 8 MiB limit was accepted" >&2; exit 1; }
  grep -q "is below the minimum of this conversion" "$out.txt" || { cat "$out.txt" >&2; exit 1; }
  grep -q "HINT: raise --memory-limit to at least" "$out.txt" || { cat "$out.txt" >&2; exit 1; }
  if [ -e "$out/manifest.json" ] || ls "$out"/*.rec > /dev/null 2>&1; then
    echo "a refused conversion wrote shards" >&2
    exit 1
  fi
  sed -n 's/.*minimum of this conversion, \([0-9]*\) MiB.*/\1/p' "$out.txt" | head -1
}

# Parsing and the split under a limit 4 MiB above the minimum: each parse
# thread spills every 5 MiB (no tokenizer: it would reserve more).
"${BIN[@]}" "${BASE[@]}" --output "$WORK/reference" --threads 1 --vocab-size 0 > "$WORK/reference.txt" 2>&1
for threads in 1 2; do
  minimum=$(minimum_mib --threads "$threads" --vocab-size 0)
  [ -n "$minimum" ] || { echo "no minimum in MiB in the message"; exit 1; }
  capped "spills$threads" $((minimum + 4)) reference --threads "$threads" --vocab-size 0
  # Without a spill each parse thread writes one run (one partition here).
  [ "$runs" -gt "$threads" ] || { echo "only $runs runs at $threads thread(s): the limit forced no spills"; exit 1; }
done

# The tokenizer, trained while the split runs, within its reserve.
"${BIN[@]}" "${BASE[@]}" --output "$WORK/reference_tok" --threads 1 --vocab-size 300 > "$WORK/reference_tok.txt" 2>&1
minimum=$(minimum_mib --threads 2 --vocab-size 300)
capped "tokenizer" $((minimum + 4)) reference_tok --threads 2 --vocab-size 300
if [ -n "$ALRO_CONVERT" ]; then
  BIN=("$ALRO_CONVERT")
  alro_minimum=$minimum
  minimum=$(minimum_mib --threads 2 --vocab-size 300)
  [ "$minimum" -lt $((alro_minimum - 100)) ] || { echo "alro-convert needs $minimum MiB, alro $alro_minimum"; exit 1; }
  capped "tokenizer_lean" $((minimum + 4)) reference_tok --threads 2 --vocab-size 300
  minimum=$(minimum_mib --threads 2 --vocab-size 0)
  capped "spills_lean" $((minimum + 4)) reference --threads 2 --vocab-size 0
  [ "$runs" -gt 2 ] || { echo "only $runs runs at 2 threads: the limit forced no spills"; exit 1; }
fi
echo "convert_memory_test.sh: the peak stays within --memory-limit and the output is unchanged"
