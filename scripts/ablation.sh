#!/usr/bin/env bash
# scripts/ablation.sh: the ALRO ablation on MovieLens latest-small, one
# command, resumable (docs/results.md shows its output).
#
# Trains configs/tiny.yaml in six objective variants x SEEDS seeds with
# `mpirun -np RANKS`, evaluates each on the test split with 5 presentation
# orders per list (position bias, and the bootstrap order of the LM-only
# model) in decode and single-step mode, times one pass against the
# bootstrap, and writes runs/ablation/report.md and runs/ablation/ablation.png
# (scripts/ablation_report.py).
#
#   variant          what is trained
#   lm               plain fine-tuning: L_LM only, no permuted copies
#   lm_sll           L_LM + SLL
#   lm_psl           L_LM + PSL (one permuted copy per list)
#   alro             L_LM + SLL + PSL (the paper's objective)
#   lm_first_slot    L_LM + LambdaLoss on the first answer slot's scores
#   alro_first_slot  L_LM + SLL + PSL + first-slot LambdaLoss
#                    (configs/tiny.yaml as shipped)
#
# Re-running skips finished trainings and evaluations (a killed training
# resumes from its newest checkpoint). Environment: SEEDS (default "1 2 3"),
# ABLATION_OUT (default runs/ablation),
# VARIANTS (default all six), RANKS (default 2), STEPS (default: the
# config's), ALRO_BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS=${SEEDS:-"1 2 3"}
VARIANTS=${VARIANTS:-"lm lm_sll lm_psl alro lm_first_slot alro_first_slot"}
RANKS=${RANKS:-2}
ALRO="${ALRO_BUILD_DIR:-build}/launch/alro"
CONFIG=configs/tiny.yaml
OUT=${ABLATION_OUT:-runs/ablation}
ORDERS=5

# Every variant sets all four objective weights, so that the table does not
# change meaning when configs/tiny.yaml's objective does.
variant_overrides() {
  case "$1" in
    lm) echo "objective.sll_weight=0 objective.psl_weight=0 objective.psl_copies=0 objective.single_step_weight=0" ;;
    lm_sll) echo "objective.sll_weight=1 objective.psl_weight=0 objective.psl_copies=0 objective.single_step_weight=0" ;;
    lm_psl) echo "objective.sll_weight=0 objective.psl_weight=0.5 objective.psl_copies=1 objective.single_step_weight=0" ;;
    alro) echo "objective.sll_weight=1 objective.psl_weight=0.5 objective.psl_copies=1 objective.single_step_weight=0" ;;
    lm_first_slot) echo "objective.sll_weight=0 objective.psl_weight=0 objective.psl_copies=0 objective.single_step_weight=1" ;;
    alro_first_slot) echo "objective.sll_weight=1 objective.psl_weight=0.5 objective.psl_copies=1 objective.single_step_weight=1" ;;
    *) echo "ablation: unknown variant '$1'" >&2; exit 2 ;;
  esac
}

MPI=(mpirun -np "$RANKS" --bind-to none -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY=PASSIVE)
[ "$(nproc)" -lt "$RANKS" ] && MPI+=(--oversubscribe)
[ "$(id -u)" = 0 ] && MPI+=(--allow-run-as-root)

if [ ! -x "$ALRO" ]; then bash scripts/build.sh --target alro; fi
bash scripts/get_movielens.sh runs/data/raw/ml-latest-small
DATA=$(sed -n 's/^ *dir: *\(runs\/data\/[^ ]*\).*/\1/p' "$CONFIG" | head -1)
if [ ! -f "$DATA/manifest.json" ]; then
  echo "ablation: $DATA is missing: run scripts/demo.sh once (it converts the data set)" >&2
  exit 1
fi
mkdir -p "$OUT"
# Each run records the machine and commit it was trained on: runs resumed or
# added by a later invocation may come from another machine.
machine_line() {
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ); commit $(git rev-parse --short HEAD)"
}

for variant in $VARIANTS; do
  for seed in $SEEDS; do
    run="$OUT/$variant-s$seed"
    sets=(--set "model.seed=$seed" --set "data.seed=$seed" --set "logging.dir=$run" --set "checkpoint.dir=$run/checkpoints")
    for kv in $(variant_overrides "$variant"); do sets+=(--set "$kv"); done
    [ -n "${STEPS:-}" ] && sets+=(--set "schedule.steps=$STEPS")
    if [ ! -f "$run/trained" ]; then
      echo "== train $variant seed $seed"
      mkdir -p "$run" && machine_line > "$run/machine.txt"
      start=$(date +%s%N)
      "${MPI[@]}" "$ALRO" train --config "$CONFIG" --resume auto "${sets[@]}"
      echo $(( ($(date +%s%N) - start) / 1000000 )) > "$run/train_ms"
      touch "$run/trained"
    fi
    for mode in decode single_step; do
      json="$run/test_${mode}.json"
      [ -f "$json" ] && continue
      echo "== eval $variant seed $seed ($mode, $ORDERS orders)"
      start=$(date +%s%N)
      "${MPI[@]}" "$ALRO" eval --checkpoint "$run/checkpoints" --split test --mode "$mode" --orders "$ORDERS" \
        --baselines --json "$json.tmp" > "$run/test_${mode}.txt"
      echo $(( ($(date +%s%N) - start) / 1000000 )) > "$run/eval_${mode}_ms"
      mv "$json.tmp" "$json"
    done
    # One pass (the stored order only), timed against the 5-order bootstrap above.
    if [ ! -f "$run/one_pass_ms" ]; then
      start=$(date +%s%N)
      "${MPI[@]}" "$ALRO" eval --checkpoint "$run/checkpoints" --split test --mode decode --json "$run/one_pass.json" \
        > /dev/null
      echo $(( ($(date +%s%N) - start) / 1000000 )) > "$run/one_pass_ms"
    fi
  done
done

/usr/bin/python3 scripts/ablation_report.py "$OUT"
