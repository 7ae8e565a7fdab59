#!/usr/bin/env bash
# tests/train/grown_vocab_cli_test.sh: item tokens with a pretrained model,
# end to end with the `alro` binary on the tests' synthetic MovieLens-layout
# rating log (issue 11, docs/data.md "Item tokens with a pretrained model"):
#   a. a base data set (its own SentencePiece tokenizer of B pieces), a tiny
#      model of vocab_size B trained on it, exported: the "pretrained" model;
#      `alro ckpt export` refuses a tokenizer other than the one the
#      checkpoint was trained with (file, both CRC32Cs, HINT);
#   b. the same input converted with --item-tokens K --base-tokenizer and a
#      prompt that shows {item} in history and candidate lines; training
#      from the export (at tensor-parallel 2) grows the vocabulary to B+K+1,
#      and the log says so; a config.json whose vocab_size pads past its
#      tokenizer (item pieces would land in never-trained rows) is refused;
#   c. `alro rank` on requests naming items by id: every candidate scored,
#      higher = better (decode and single-step); same titles everywhere, so only {item} tells the
#      candidates apart: naming tokenized items changes the scores against
#      naming unknown ids (fails if {item} were ignored or every id mapped to
#      <item_other>), swapping two tokenized items between slots changes
#      them, and permuting unknown ids does not (they share <item_other>);
#      checked on single-step scores (decode scores follow the decoded order);
#   d. `alro ckpt export` of the grown checkpoint: config.json vocab_size is
#      the grown model's, tokenizer.model is byte for byte the items data
#      set's, and as model.pretrained it trains without growth and ranks.
#
#   grown_vocab_cli_test.sh ALRO MAKE_SYNTHETIC_DATA MPIEXEC
set -euo pipefail
ALRO=$1
MAKE_DATA=$2
MPIEXEC=$3
PY=/usr/bin/python3
K=6  # item tokens
W=$(mktemp -d /tmp/alro_grown_vocab.XXXXXX)
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; for f in "$W"/*.log; do echo "== $f" >&2; tail -n 30 "$f" >&2; done; exit 1; }

MPI=("$MPIEXEC" --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY=PASSIVE)
[ "$(id -u)" = 0 ] && MPI+=(--allow-run-as-root)

# The number of pieces of a SentencePiece model, by hand-written protobuf
# wire decoding (ModelProto field 1 = pieces), independent of alro.
pieces() {
  $PY - "$1" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
def varint(i):
    r = s = 0
    while True:
        c = b[i]; i += 1; r |= (c & 0x7F) << s; s += 7
        if c < 0x80: return r, i
i = n = 0
while i < len(b):
    key, i = varint(i)
    kind = key & 7
    if kind == 0: _, i = varint(i)
    elif kind == 1: i += 8
    elif kind == 5: i += 4
    elif kind == 2:
        size, i = varint(i)
        n += key >> 3 == 1
        i += size
    else: raise SystemExit("bad wire type %d" % kind)
print(n)
PY
}

# a. The pretrained model: its own tokenizer, vocab_size = its piece count.
"$MAKE_DATA" "$W/ds" > "$W/data.log" 2>&1 || fail "synthetic data"
"$ALRO" convert --format movielens --input "$W/ds/raw" --output "$W/ds/base" --num-candidates 4 --max-history 3 \
    --stride 2 --vocab-size 200 >> "$W/data.log" 2>&1 || fail "alro convert (base)"
B=$(pieces "$W/ds/base/tokenizer.model")
cat > "$W/base.yaml" <<YAML
model: {preset: custom, vocab_size: $B, hidden_size: 32, intermediate_size: 64, num_layers: 2,
        num_heads: 4, num_kv_heads: 2, max_seq_len: 256, seed: 7}
data: {dir: $W/ds/base, shuffle_buffer: 16, prefetch_batches: 0}
prompt: {max_history: 3, max_title_chars: 24}
schedule: {steps: 2, warmup_steps: 1, micro_batch_size: 2, global_batch_size: 4}
checkpoint: {dir: $W/ckpt_base, every_steps: 2, keep_last: 2}
logging: {dir: $W/log_base, every_steps: 1, eval_every_steps: 0, eval_lists: 8, ndcg_k: [1, 3]}
YAML
"$ALRO" train --config "$W/base.yaml" > "$W/train_base.log" 2>&1 || fail "training the base model"
"$ALRO" ckpt export "$W/ckpt_base" --out "$W/hf_base" > "$W/export_base.log" 2>&1 || fail "exporting the base model"
cmp "$W/hf_base/tokenizer.model" "$W/ds/base/tokenizer.model" || fail "the export's tokenizer is not the data set's"

# b. Item tokens appended to the pretrained tokenizer; training from the
# export grows the vocabulary.
cat > "$W/items.yaml" <<YAML
model: {pretrained: $W/hf_base, seed: 7}
data: {dir: $W/ds/items, shuffle_buffer: 16, prefetch_batches: 0}
prompt: {max_history: 3, max_title_chars: 24, history_line: "watched {item} {title} rated {rating}",
         candidate_line: "{id}: {item} {title}"}
parallel: {tensor_parallel: 2}
schedule: {steps: 2, warmup_steps: 1, micro_batch_size: 2, global_batch_size: 2}
checkpoint: {dir: $W/ckpt_items, every_steps: 2, keep_last: 2}
logging: {dir: $W/log_items, every_steps: 1, eval_every_steps: 0, eval_lists: 8, ndcg_k: [1, 3]}
YAML
"$ALRO" convert --format movielens --input "$W/ds/raw" --output "$W/ds/items" --num-candidates 4 --max-history 3 \
    --stride 2 --vocab-size 0 --item-tokens $K --base-tokenizer "$W/hf_base/tokenizer.model" --config "$W/items.yaml" \
    >> "$W/data.log" 2>&1 || fail "alro convert (item tokens)"
GROWN=$((B + K + 1))
[ "$(pieces "$W/ds/items/tokenizer.model")" = "$GROWN" ] || fail "the items tokenizer does not have $GROWN pieces"
"${MPI[@]}" -np 2 "$ALRO" train --config "$W/items.yaml" > "$W/train_items.log" 2>&1 || fail "training from the export"
grep -q "grows from $B ($W/hf_base/config.json) to $GROWN" "$W/train_items.log" || fail "the plan shows no growth"
grep -q "vocabulary grown from $B to $GROWN rows" "$W/train_items.log" || fail "the load reports no growth"
# The export's tokenizer itself, but a config.json with padding rows past it:
# the item pieces would land in rows the model never trained.
mkdir "$W/hf_pad" && cp "$W/hf_base"/* "$W/hf_pad/"
sed -i "s/\"vocab_size\": $B/\"vocab_size\": $((B + 16))/" "$W/hf_pad/config.json"
if "$ALRO" train --config "$W/items.yaml" --set model.pretrained="$W/hf_pad" --dry-run > "$W/pad.log" 2>&1; then
  fail "item pieces inside a padded vocabulary were accepted"
fi
grep -q "inside the $((B + 16)) rows of model.pretrained $W/hf_pad/config.json" "$W/pad.log" || fail "padding message"
grep -q "HINT: .*equal to its tokenizer's size ($B here)" "$W/pad.log" || fail "padding hint"

# c. Requests naming items by id: tokenized ones (the manifest's item_tokens)
# and ones without a token. Every title is the same, so {item} alone tells
# the candidates apart.
$PY - "$W/ds/items/manifest.json" "$W/ds/raw/movies.csv" "$W/requests.jsonl" <<'PY' || fail "writing requests"
import csv, json, sys
tokenized = json.load(open(sys.argv[1]))["item_tokens"]
movies = [r["movieId"] for r in csv.DictReader(open(sys.argv[2]))]
t1, t2 = tokenized[0], tokenized[1]
u = [m for m in movies if m not in tokenized][:3] + ["999999"]
history = [{"id": tokenized[2], "title": "Same film", "rating": 5}, {"id": u[2], "title": "Same film", "rating": 1}]
def req(rid, ids):
    return {"id": rid, "history": history, "candidates": [{"id": i, "title": "Same film"} for i in ids]}
with open(sys.argv[3], "w") as f:
    for r in (req("tok", [t1, t2, u[0], u[1]]), req("swap", [t2, t1, u[0], u[1]]),
              req("unk", [u[3], u[2], u[0], u[1]]), req("unk_perm", [u[1], u[3], u[2], u[0]])):
        f.write(json.dumps(r) + "\n")
PY
for mode in decode single_step; do
  "$ALRO" rank --checkpoint "$W/ckpt_items" --input "$W/requests.jsonl" --output "$W/ranked_$mode.jsonl" \
      --mode $mode > "$W/rank.log" 2>&1 || fail "alro rank ($mode)"
  $PY - "$W/requests.jsonl" "$W/ranked_$mode.jsonl" $mode <<'PY' || fail "rank output ($mode)"
import json, sys
reqs = {q["id"]: q for q in map(json.loads, open(sys.argv[1]))}
outs = {o["id"]: o for o in map(json.loads, open(sys.argv[2]))}
assert sorted(outs) == sorted(reqs), outs.keys()
by_slot = {}
for rid, o in outs.items():
    ids = [c["id"] for c in reqs[rid]["candidates"]]
    assert sorted(x["candidate"] for x in o["ranking"]) == sorted(ids), o
    s = [x["score"] for x in o["ranking"]]
    assert all(a >= b for a, b in zip(s, s[1:])), ("scores do not descend", o)
    score = {x["candidate"]: x["score"] for x in o["ranking"]}
    by_slot[rid] = [score[i] for i in ids]
def differ(a, b):
    return max(abs(x - y) for x, y in zip(by_slot[a], by_slot[b])) > 1e-6
# Decode-mode scores come from the decoded order (a tiny model answers one
# slot sequence); single-step scores are the model's own, so they must move.
if sys.argv[3] == "decode":
    sys.exit(0)
assert differ("tok", "unk"), ("naming tokenized items renders the prompt of unknown ones", by_slot)
assert differ("tok", "swap"), ("swapping two tokenized items changes nothing", by_slot)
assert not differ("unk", "unk_perm"), ("ids without a token are not one <item_other>", by_slot)
PY
done

# d. The grown export: grown vocab_size, the items tokenizer, loads back.
"$ALRO" ckpt export "$W/ckpt_items" --out "$W/hf_items" > "$W/export_items.log" 2>&1 || fail "exporting the grown model"
$PY - "$W/hf_items/config.json" "$W/ckpt_items" <<'PY' || fail "grown config.json"
import glob, json, sys, re
exported = json.load(open(sys.argv[1]))["vocab_size"]
cfg = open(sorted(glob.glob(sys.argv[2] + "/step_*/config.yaml"))[-1]).read()
trained = int(re.search(r"vocab_size: (\d+)", cfg).group(1))
assert exported == trained, (exported, trained)
PY
grep -q "\"vocab_size\": $GROWN\b\|\"vocab_size\": $((GROWN + GROWN % 2))\b" "$W/hf_items/config.json" \
    || fail "exported vocab_size is not the grown size (tensor-parallel 2 pads to even)"
cmp "$W/hf_items/tokenizer.model" "$W/ds/items/tokenizer.model" || fail "the export's tokenizer is not the items one"
"$ALRO" train --config "$W/items.yaml" --set model.pretrained="$W/hf_items" --set parallel.tensor_parallel=1 \
    --set checkpoint.dir="$W/ckpt_back" --set logging.dir="$W/log_back" > "$W/train_back.log" 2>&1 \
    || fail "training from the grown export"
if grep -q "grows from\|vocabulary grown" "$W/train_back.log"; then fail "the grown export grew again"; fi
"$ALRO" rank --checkpoint "$W/ckpt_back" --input "$W/requests.jsonl" --output "$W/ranked_back.jsonl" \
    > "$W/rank_back.log" 2>&1 || fail "ranking with the model trained from the grown export"
[ "$(wc -l < "$W/ranked_back.jsonl")" = 4 ] || fail "ranking from the grown export lost requests"

# Export refuses a tokenizer other than the checkpoint's: the base data set's
# tokenizer.model replaced by the items one.
cp "$W/ds/base/tokenizer.model" "$W/base_tokenizer.model"
cp "$W/ds/items/tokenizer.model" "$W/ds/base/tokenizer.model"
if "$ALRO" ckpt export "$W/ckpt_base" --out "$W/hf_wrong" > "$W/export_wrong.log" 2>&1; then
  fail "export copied a tokenizer the checkpoint was not trained with"
fi
grep -q "was trained with tokenizer .* but this job's tokenizer $W/ds/base/tokenizer.model" "$W/export_wrong.log" \
    || fail "export: no tokenizer mismatch message naming the file"
grep -q "HINT: export copies" "$W/export_wrong.log" || fail "export: no hint"
[ ! -e "$W/hf_wrong/tokenizer.model" ] || fail "export wrote the wrong tokenizer"
cp "$W/base_tokenizer.model" "$W/ds/base/tokenizer.model"
"$ALRO" ckpt export "$W/ckpt_base" --out "$W/hf_right" > "$W/export_right.log" 2>&1 || fail "export after the fix"

echo "grown_vocab_cli_test: OK"
