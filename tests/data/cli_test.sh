#!/usr/bin/env bash
# tests/data/cli_test.sh ALRO WORKDIR [MPIRUN...]: `alro convert` and `alro
# data inspect|verify` as a user runs them, on a small ml-latest-style
# fixture: conversion, byte-identical reconversion, verify OK, inspect
# output, verify failing (exit 1, naming the record) after a flipped bit,
# item tokens appended to a base tokenizer (--base-tokenizer), and, given an mpirun command, `mpirun -np 2 alro convert` writing the same
# bytes as one process with one thread.
set -euo pipefail
ALRO="$1"
WORK="$2"
shift 2
MPIRUN=("$@")
rm -rf "$WORK" && mkdir -p "$WORK/in"

{
  echo "movieId,title,genres"
  for i in $(seq 1 30); do echo "$i,\"Movie $i, The ($((1970 + i)))\",Drama|Comedy"; done
} > "$WORK/in/movies.csv"
{
  echo "userId,movieId,rating,timestamp"
  for u in $(seq 1 12); do
    for i in $(seq 1 $((8 + u))); do echo "$u,$(( (u * 7 + i) % 30 + 1 )),$(( (u + i) % 5 + 1 )).0,$((1000 + i))"; done
  done
  echo "1,2,oops,5"
} > "$WORK/in/ratings.csv"

for out in a b; do
  "$ALRO" convert --format movielens --input "$WORK/in" --output "$WORK/$out" --num-candidates 3 \
      --vocab-size 150 > "$WORK/convert_$out.txt"
done
grep -q "1 bad rating" "$WORK/convert_a.txt" || { cat "$WORK/convert_a.txt"; echo "bad row not reported"; exit 1; }
# Byte-identical output; the manifests differ only in the recorded command (--output).
for f in "$WORK"/a/*.rec "$WORK"/a/*.idx "$WORK"/a/tokenizer.model; do cmp "$f" "$WORK/b/$(basename "$f")"; done
diff <(grep -v '"command"' "$WORK/a/manifest.json") <(grep -v '"command"' "$WORK/b/manifest.json")
"$ALRO" data verify "$WORK/a" | grep -q "OK:"
grep -q "peak memory" "$WORK/convert_a.txt" || { cat "$WORK/convert_a.txt"; echo "no peak memory in the summary"; exit 1; }
if [ "${#MPIRUN[@]}" -gt 0 ]; then
  "$ALRO" convert --format movielens --input "$WORK/in" --output "$WORK/np1" --num-candidates 3 \
      --vocab-size 150 --partitions 3 --threads 1 > "$WORK/convert_np1.txt"
  "${MPIRUN[@]}" -np 2 "$ALRO" convert --format movielens --input "$WORK/in" --output "$WORK/np2" \
      --num-candidates 3 --vocab-size 150 --partitions 3 --threads 2 > "$WORK/convert_np2.txt"
  grep -q "2 rank(s) x 2 thread(s)" "$WORK/convert_np2.txt" || { cat "$WORK/convert_np2.txt"; exit 1; }
  [ "$(ls "$WORK/np1")" = "$(ls "$WORK/np2")" ] || { ls "$WORK/np1" "$WORK/np2"; exit 1; }
  for f in "$WORK"/np1/*.rec "$WORK"/np1/*.idx "$WORK"/np1/tokenizer.model; do cmp "$f" "$WORK/np2/$(basename "$f")"; done
  diff <(grep -v '"command"' "$WORK/np1/manifest.json") <(grep -v '"command"' "$WORK/np2/manifest.json")
fi
# Item tokens for a pretrained model: its tokenizer (here a's) plus the item
# pieces at the end, byte for byte an extension of it.
"$ALRO" convert --format movielens --input "$WORK/in" --output "$WORK/items" --num-candidates 3 \
    --vocab-size 0 --item-tokens 3 --base-tokenizer "$WORK/a/tokenizer.model" > "$WORK/convert_items.txt"
grep -q "+ 4 item pieces at its end" "$WORK/convert_items.txt" || { cat "$WORK/convert_items.txt"; exit 1; }
cmp -n "$(stat -c %s "$WORK/a/tokenizer.model")" "$WORK/a/tokenizer.model" "$WORK/items/tokenizer.model"
grep -q '"item_tokens"' "$WORK/items/manifest.json" || { cat "$WORK/items/manifest.json"; exit 1; }
"$ALRO" data verify "$WORK/items" | grep -q "OK:"
"$ALRO" data inspect "$WORK/a" > "$WORK/inspect.txt"
for want in "split train" "split valid" "split test" "candidate ratings" "Answer:"; do
  grep -q "$want" "$WORK/inspect.txt" || { cat "$WORK/inspect.txt"; echo "inspect lacks '$want'"; exit 1; }
done
# Flip one bit in the middle of the first training shard: verify must fail.
/usr/bin/python3 - "$WORK/a/train-00000.rec" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x01
open(p, "wb").write(b)
PY
set +e
"$ALRO" data verify "$WORK/a" > "$WORK/verify_bad.txt" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || { cat "$WORK/verify_bad.txt"; echo "verify exit $rc, wanted 1"; exit 1; }
grep -q "at byte offset" "$WORK/verify_bad.txt" || { cat "$WORK/verify_bad.txt"; exit 1; }
echo "cli_test.sh: convert, reconvert, inspect and verify behave"
