#!/usr/bin/env bash
# tests/train/crash_resume_test.sh: the `alro` binary end to end under mpirun
# on a synthetic data set:
#   1. rank 1 is SIGKILLed while the step-4 checkpoint is being written
#      (ALRO_FAULT=kill_during_save:1:4): the job fails, step 2 stays the
#      newest complete checkpoint, step 4 does not exist;
#   2. launch/run_until_done.sh relaunches with --resume auto: the run resumes
#      from step 2 and finishes (step 6 checkpoint, torn .tmp removed);
#   3. alro eval (with baselines; with and without shared prompt prefixes:
#      the same rankings), alro rank (plain, bootstrap, single-step; alone,
#      at dp 2, at tp 2, sharing prefixes or not: the same answers), alro ckpt
#      inspect / reshard (then eval at tp 2) / export give valid outputs.
#
#   crash_resume_test.sh ALRO MAKE_SYNTHETIC_DATA MPIEXEC SOURCE_DIR
set -euo pipefail
ALRO=$1
MAKE_DATA=$2
MPIEXEC=$3
SRC=$4
PY=/usr/bin/python3
W=$(mktemp -d /tmp/alro_crash_resume.XXXXXX)
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; for f in "$W"/*.log; do echo "== $f" >&2; tail -n 30 "$f" >&2; done; exit 1; }

MPI=("$MPIEXEC" --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY=PASSIVE)
[ "$(id -u)" = 0 ] && MPI+=(--allow-run-as-root)

# The synthetic rating log (raw CSVs) comes from the tests' generator; the
# shards and tokenizer come from `alro convert`, as a user makes them.
"$MAKE_DATA" "$W/ds" > "$W/data.log" 2>&1 || fail "synthetic data"
"$ALRO" convert --format movielens --input "$W/ds/raw" --output "$W/ds/cli" --num-candidates 4 --max-history 3 \
    --stride 2 --vocab-size 200 >> "$W/data.log" 2>&1 || fail "alro convert"
cat > "$W/run.yaml" <<YAML
model: {preset: custom, vocab_size: 256, hidden_size: 32, intermediate_size: 64, num_layers: 2,
        num_heads: 4, num_kv_heads: 2, max_seq_len: 256, seed: 7}
data: {dir: $W/ds/cli, shuffle_buffer: 16, prefetch_batches: 0}
prompt: {max_history: 3, max_title_chars: 24}
schedule: {steps: 6, warmup_steps: 2, micro_batch_size: 2, global_batch_size: 4}
checkpoint: {dir: $W/ckpt, every_steps: 2, keep_last: 2}
logging: {dir: $W/log, every_steps: 1, eval_every_steps: 0, eval_lists: 8, ndcg_k: [1, 3]}
YAML

# 1. A rank dies while the step-4 checkpoint is being written.
if ALRO_FAULT=kill_during_save:1:4 "${MPI[@]}" -x ALRO_FAULT -np 2 "$ALRO" train --config "$W/run.yaml" \
    > "$W/crash.log" 2>&1; then
  fail "the job with a killed rank exited 0"
fi
[ -f "$W/ckpt/step_00000002/manifest.json" ] || fail "step 2 checkpoint missing after the crash"
[ ! -e "$W/ckpt/step_00000004" ] || fail "an incomplete step 4 checkpoint is visible"
[ -d "$W/ckpt/step_00000004.tmp" ] || fail "expected the torn step 4 attempt (.tmp) to be left behind"

# 2. Relaunch until done: resumes from step 2 and completes.
RETRY_DELAY_S=0 "$SRC/launch/run_until_done.sh" --max-attempts 2 -- "${MPI[@]}" -np 2 "$ALRO" train \
    --config "$W/run.yaml" > "$W/resume.log" 2>&1 || fail "resumed run failed"
grep -q "resumed from $W/ckpt/step_00000002" "$W/resume.log" || fail "did not resume from step 2"
[ -f "$W/ckpt/step_00000006/manifest.json" ] || fail "no final step 6 checkpoint"
[ ! -e "$W/ckpt/step_00000004.tmp" ] || fail "torn .tmp directory not cleaned up"
$PY - "$W/log/metrics.jsonl" <<'PY' || fail "metrics.jsonl"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
steps = [r["step"] for r in rows if r["kind"] == "train"]
assert steps == sorted(set(steps)) and steps[-1] == 6, steps
assert any(r["kind"] == "eval" for r in rows)
PY

# 3a. Evaluation with the reference orders, in 3 presentation orders per list;
# its rankings file read back by `alro metrics` gives the same metrics.
for mode in decode single_step; do
  "$ALRO" eval --checkpoint "$W/ckpt" --split test --baselines --orders 3 --mode $mode --json "$W/eval.json" \
      --output "$W/rankings.jsonl" > "$W/eval.log" 2>&1 || fail "alro eval ($mode)"
  "$ALRO" metrics --input "$W/rankings.jsonl" --k 1,3 > "$W/metrics.json" 2> "$W/metrics.log" \
      || fail "alro metrics on eval's rankings ($mode)"
  # The 3 orders of a list computing their common prefix once, or each its
  # whole prompt: the same rankings and metrics.
  for sharing in always never; do
    "$ALRO" eval --checkpoint "$W/ckpt" --split test --orders 3 --mode $mode --shared-prefix $sharing \
        --json "$W/eval_$sharing.json" --output "$W/rankings_$sharing.jsonl" > "$W/eval_$sharing.log" 2>&1 \
        || fail "alro eval --shared-prefix $sharing ($mode)"
  done
  $PY - "$W/eval.json" "$W/eval_always.json" "$W/eval_never.json" "$W/rankings.jsonl" "$W/rankings_always.jsonl" \
      "$W/rankings_never.jsonl" <<'PY' || fail "eval with and without shared prefixes differ ($mode)"
import json, sys
def flat(d, key=""):
    if isinstance(d, dict):
        for k, v in d.items():
            yield from flat(v, key + "/" + k)
    elif isinstance(d, (int, float)):
        yield key, float(d)
base = dict(flat(json.load(open(sys.argv[1]))["model"]))
for other in sys.argv[2:4]:
    alt = dict(flat(json.load(open(other))["model"]))
    assert alt.keys() == base.keys(), other
    for k in base:
        assert abs(alt[k] - base[k]) < 1e-9, (other, k, alt[k], base[k])
rows = [json.loads(l) for l in open(sys.argv[4])]
for other in sys.argv[5:]:
    alt = [json.loads(l) for l in open(other)]
    assert len(alt) == len(rows), other
    for a, r in zip(alt, rows):
        assert a["example_id"] == r["example_id"] and a["order"] == r["order"], (other, a, r)
        assert all(abs(x - y) < 1e-4 for x, y in zip(a["scores"], r["scores"])), (other, a, r)
PY
  $PY - "$W/eval.json" "$W/rankings.jsonl" "$W/metrics.json" <<'PY' || fail "eval output ($mode)"
import json, sys
e = json.load(open(sys.argv[1]))
for col in ("model", "random", "popularity", "item_mean", "mf"):
    assert 0.0 <= e[col]["ndcg@1"] <= 1.0 and e[col]["lists"] > 0, (col, e[col])
m = e["model"]
assert m["orders"] == 3 and 0.0 < m["same_answer_share"] <= 1.0, m
assert "ndcg@1_std" in m["position_bias"] and -1.0 <= m["position_bias"]["pairwise_kendall_tau"] <= 1.0, m
assert m["bootstrap"]["lists"] == m["lists"], m
for line in open(sys.argv[2]):
    r = json.loads(line)
    assert sorted(r["order"]) == list(range(len(r["order"]))), r
    # Higher scores are better: the order sorts the scores (ties: earlier slot).
    assert r["order"] == sorted(range(len(r["scores"])), key=lambda j: (-r["scores"][j], j)), r
text = open(sys.argv[3]).read()
metrics = json.loads(text[text.index("{"):])
for key in ("ndcg@1", "ndcg@3", "mrr"):
    assert abs(metrics[key] - m[key]) < 1e-9, (key, metrics[key], m[key])
PY
done

# 3b. Ranking requests, plain and bootstrap.
cat > "$W/requests.jsonl" <<'JSONL'
{"id": "r1", "history": [{"title": "Film 3, part 0", "year": 1983, "rating": 5}], "candidates": [{"id": "a", "title": "Film 7, part 1"}, {"id": "b", "title": "Film 8, part 2"}, {"id": "c", "title": "Film 9, part 0"}]}
{"id": "r2", "history": [], "candidates": [{"id": "x", "title": "Film 1, part 1"}, {"id": "y", "title": "Film 2, part 2"}, {"id": "z", "title": "Film 3, part 0"}, {"id": "w", "title": "Film 4, part 1"}]}

{"id": "r3", "history": [{"title": "Film 2, part 2", "rating": 1}], "candidates": [{"id": "p", "title": "Film 5, part 0"}, {"id": "q", "title": "Film 6, part 1"}]}
JSONL
# Each mode alone, then at dp 2 (replicas share the requests), at tp 2, and
# with and without shared prompt prefixes: the same answers in input order.
for extra in "" "--bootstrap 3" "--mode single_step" "--bootstrap 3 --mode single_step"; do
  # shellcheck disable=SC2086
  "$ALRO" rank --checkpoint "$W/ckpt" --input "$W/requests.jsonl" --output "$W/ranked.jsonl" $extra \
      > "$W/rank.log" 2>&1 || fail "alro rank $extra"
  # shellcheck disable=SC2086
  "${MPI[@]}" -np 2 "$ALRO" rank --checkpoint "$W/ckpt" --input "$W/requests.jsonl" \
      --output "$W/ranked_dp2.jsonl" $extra > "$W/rank_dp2.log" 2>&1 || fail "alro rank at dp 2 $extra"
  # shellcheck disable=SC2086
  "${MPI[@]}" -np 2 "$ALRO" rank --checkpoint "$W/ckpt" --input "$W/requests.jsonl" --tp 2 --shared-prefix always \
      --output "$W/ranked_tp2.jsonl" $extra > "$W/rank_tp2.log" 2>&1 || fail "alro rank at tp 2 $extra"
  # Orders computing their common prefix once, or each its whole prompt.
  for sharing in always never; do
    # shellcheck disable=SC2086
    "$ALRO" rank --checkpoint "$W/ckpt" --input "$W/requests.jsonl" --output "$W/ranked_$sharing.jsonl" $extra \
        --shared-prefix $sharing > "$W/rank_$sharing.log" 2>&1 || fail "alro rank --shared-prefix $sharing $extra"
  done
  $PY - "$W/requests.jsonl" "$W/ranked.jsonl" "$W/ranked_dp2.jsonl" "$W/ranked_tp2.jsonl" "$W/ranked_always.jsonl" \
      "$W/ranked_never.jsonl" <<'PY' || fail "rank output ($extra)"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
outs = [json.loads(l) for l in open(sys.argv[2])]
assert len(outs) == len(reqs)
for q, o in zip(reqs, outs):
    assert o["id"] == q["id"]
    assert sorted(x["candidate"] for x in o["ranking"]) == sorted(c["id"] for c in q["candidates"]), o
for other in sys.argv[3:]:
    alt = [json.loads(l) for l in open(other)]
    assert [o["id"] for o in alt] == [o["id"] for o in outs], other
    for a, o in zip(alt, outs):
        assert [x["candidate"] for x in a["ranking"]] == [x["candidate"] for x in o["ranking"]], (other, a, o)
        assert all(abs(x["score"] - y["score"]) < 1e-4 for x, y in zip(a["ranking"], o["ranking"])), (other, a, o)
PY
done
# Scores mean the same in every mode: higher = ranked earlier.
for extra in "" "--bootstrap 3" "--mode single_step"; do
  # shellcheck disable=SC2086
  "$ALRO" rank --checkpoint "$W/ckpt" --input "$W/requests.jsonl" --output "$W/ranked.jsonl" $extra \
      > "$W/rank.log" 2>&1 || fail "alro rank $extra"
  $PY - "$W/ranked.jsonl" <<'PY' || fail "rank scores do not descend ($extra)"
import json, sys
for line in open(sys.argv[1]):
    s = [x["score"] for x in json.loads(line)["ranking"]]
    assert all(a >= b for a, b in zip(s, s[1:])), s
PY
done
# An unwritable output is refused before anything is ranked.
if "$ALRO" rank --checkpoint "$W/ckpt" --input "$W/requests.jsonl" --output "$W/no/such/dir/out.jsonl" \
    > "$W/unwritable.log" 2>&1; then fail "unwritable rank output accepted"; fi
grep -q "cannot be written" "$W/unwritable.log" || fail "unwritable output error is unclear"
echo '{"id": "bad", "candidates": 3}' > "$W/bad.jsonl"
if "$ALRO" rank --checkpoint "$W/ckpt" --input "$W/bad.jsonl" > "$W/bad.log" 2>&1; then fail "bad request accepted"; fi
grep -q "bad.jsonl:1" "$W/bad.log" || fail "bad request error does not name file:line"

# 3c. Checkpoint tools: inspect, reshard to tp 2 and evaluate there, export.
"$ALRO" ckpt inspect "$W/ckpt" > "$W/inspect.log" 2>&1 || fail "ckpt inspect"
grep -q "step: *6" "$W/inspect.log" || fail "inspect does not show step 6"
"$ALRO" ckpt reshard "$W/ckpt" --out "$W/tp2" --dp 1 --tp 2 > "$W/reshard.log" 2>&1 || fail "ckpt reshard"
"${MPI[@]}" -np 2 "$ALRO" eval --checkpoint "$W/tp2" --tp 2 --split test --json "$W/eval_tp2.json" \
    > "$W/eval_tp2.log" 2>&1 || fail "eval of the resharded checkpoint at tp 2"
"$ALRO" ckpt export "$W/ckpt" --out "$W/hf" > "$W/export.log" 2>&1 || fail "ckpt export"
[ -f "$W/hf/config.json" ] || fail "export wrote no config.json"
ls "$W/hf"/*.safetensors > /dev/null || fail "export wrote no safetensors"
# 3d. eval and rank refuse a tokenizer other than the one the checkpoint
# records (here a valid SentencePiece model of another conversion).
"$ALRO" convert --format movielens --input "$W/ds/raw" --output "$W/ds/other" --num-candidates 4 --max-history 3 \
    --stride 2 --vocab-size 150 >> "$W/data.log" 2>&1 || fail "alro convert (other tokenizer)"
if "$ALRO" eval --checkpoint "$W/ckpt" --split test --set model.tokenizer="$W/ds/other/tokenizer.model" \
    > "$W/eval_other_tok.log" 2>&1; then fail "eval accepted another tokenizer"; fi
grep -q "was trained with tokenizer" "$W/eval_other_tok.log" || fail "eval: no tokenizer mismatch message"
if "$ALRO" rank --checkpoint "$W/ckpt" --input "$W/requests.jsonl" --set model.tokenizer="$W/ds/other/tokenizer.model" \
    > "$W/rank_other_tok.log" 2>&1; then fail "rank accepted another tokenizer"; fi
grep -q "was trained with tokenizer" "$W/rank_other_tok.log" || fail "rank: no tokenizer mismatch message"
if "$ALRO" train --config "$W/run.yaml" --set model.tokenizer="$W/ds/other/tokenizer.model" --set schedule.steps=8 --resume auto \
    > "$W/resume_other_tok.log" 2>&1; then fail "a resume accepted another tokenizer"; fi
grep -q "was trained with tokenizer" "$W/resume_other_tok.log" || fail "resume: no tokenizer mismatch message"

# 3e. model.pretrained: the exported checkpoint's config.json defines the
# shape. Unset keys come from it (the plan names the source); an edited
# config.json that contradicts the job's keys stops the job naming both.
cat > "$W/pre.yaml" <<YAML
model: {pretrained: $W/hf, seed: 7}
data: {dir: $W/ds/cli, shuffle_buffer: 16, prefetch_batches: 0}
prompt: {max_history: 3, max_title_chars: 24}
schedule: {steps: 1, warmup_steps: 0, micro_batch_size: 2, global_batch_size: 4}
logging: {dir: $W/log_pre, every_steps: 1, eval_every_steps: 0, eval_lists: 8, ndcg_k: [1, 3]}
YAML
"$ALRO" train --config "$W/pre.yaml" --dry-run --world 2 > "$W/pre_plan.log" 2>&1 || fail "pretrained plan"
grep -Eq "model.num_heads +4 +$W/hf/config.json \(num_attention_heads\)" "$W/pre_plan.log" || fail "plan sources"
"${MPI[@]}" -np 2 "$ALRO" train --config "$W/pre.yaml" > "$W/pre_train.log" 2>&1 || fail "training from the export"
cp -r "$W/hf" "$W/hf_edit"
$PY - "$W/hf_edit/config.json" <<'PY' || fail "editing config.json"
import json, sys
c = json.load(open(sys.argv[1]))
c.update(num_attention_heads=2, num_key_value_heads=2, rope_theta=12345.0)
json.dump(c, open(sys.argv[1], "w"))
PY
sed "s|pretrained: $W/hf,|pretrained: $W/hf_edit, num_heads: 4,|" "$W/pre.yaml" > "$W/pre_edit.yaml"
if "${MPI[@]}" -np 2 "$ALRO" train --config "$W/pre_edit.yaml" > "$W/pre_edit.log" 2>&1; then
  fail "training accepted a config.json that contradicts the configuration"
fi
grep -q "model.num_heads: $W/pre_edit.yaml:1 says 4, but $W/hf_edit/config.json says num_attention_heads = 2" \
    "$W/pre_edit.log" || fail "contradiction message"

echo "crash_resume_test: OK"
