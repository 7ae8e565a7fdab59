#!/usr/bin/env bash
# scripts/demo.sh: the README's main job, end to end, on a fresh Debian 12
# machine:
#   1. install what is missing and build the `alro` binary;
#   2. MovieLens latest-small from Debian's r-cran-dslabs (scripts/get_movielens.sh);
#   3. alro convert -> list-wise record shards + a SentencePiece tokenizer;
#   4. train configs/tiny.yaml from scratch with `mpirun -np 2` on the CPU
#      (about 6 minutes at ~1,000 lists/s; checkpoints every 1000 steps, resumable);
#   5. alro eval on the test split, next to four reference orders computed
#      in the same run (random, popularity, item mean, matrix factorisation),
#      then once more ranking by first-slot scores (--mode single_step);
#   6. PNG plots of the losses, validation metrics and throughput.
#
# Everything lands in runs/ (git-ignored; the MovieLens terms forbid
# redistributing the data). Re-running resumes or reuses what is there;
# `rm -rf runs/tiny` retrains from scratch.
#
# Environment: DEMO_RANKS (default 2), DEMO_STEPS (default: the config's),
# ALRO_BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."

RANKS=${DEMO_RANKS:-2}
BUILD_DIR=${ALRO_BUILD_DIR:-build}
ALRO="$BUILD_DIR/launch/alro"
CONFIG=configs/tiny.yaml
RAW=runs/data/raw/ml-latest-small
# The data set the config trains on (data.dir).
DATA=$(sed -n 's/^ *dir: *\(runs\/data\/[^ ]*\).*/\1/p' "$CONFIG" | head -1)
RUN=runs/tiny
EXTRA=()
[ -n "${DEMO_STEPS:-}" ] && EXTRA+=(--set "schedule.steps=$DEMO_STEPS")

say() { printf '\n== %s\n' "$*"; }

say "1/6 setup and build"
bash scripts/setup.sh
bash scripts/build.sh --target alro

say "2/6 MovieLens latest-small (from Debian's r-cran-dslabs)"
bash scripts/get_movielens.sh "$RAW"

say "3/6 convert to list-wise record shards"
if [ -f "$DATA/manifest.json" ]; then
  echo "convert: $DATA already holds a converted data set"
else
  # Identifiers as ordinary pieces: shorter prompts (capital letters stay
  # inside titles, docs/data.md). Item statistics as of each list's time:
  # the prompt shows each candidate's mean rating and rating count, the only
  # item knowledge a model trained from scratch can read (docs/data.md).
  "$ALRO" convert --format movielens --input "$RAW" --output "$DATA" --config "$CONFIG" \
    --identifier-symbols false --item-stats true
fi

MPI=(mpirun -np "$RANKS" --bind-to none -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY=PASSIVE)
[ "$(nproc)" -lt "$RANKS" ] && MPI+=(--oversubscribe)
[ "$(id -u)" = 0 ] && MPI+=(--allow-run-as-root)

say "4/6 train $CONFIG with ${MPI[*]} (resumes from $RUN/checkpoints when there is a checkpoint)"
start=$(date +%s)
"${MPI[@]}" "$ALRO" train --config "$CONFIG" --resume auto "${EXTRA[@]}"
echo "training took $(( $(date +%s) - start )) s"

say "5/6 evaluate on the test split against four reference orders"
"${MPI[@]}" "$ALRO" eval --checkpoint "$RUN/checkpoints" --split test --baselines \
  --json "$RUN/eval_test.json" --output "$RUN/test_rankings.jsonl"
# The same model ranking by one forward (the first answer slot's scores),
# which configs/tiny.yaml also trains (objective.single_step_weight).
"${MPI[@]}" "$ALRO" eval --checkpoint "$RUN/checkpoints" --split test --mode single_step \
  --json "$RUN/eval_test_single_step.json"

say "6/6 plots"
/usr/bin/python3 scripts/plot_metrics.py "$RUN/metrics.jsonl"

cat <<EOF

Done. What is where:
  $RUN/metrics.jsonl          one line per logged step and per validation
  $RUN/*.png                  losses, validation metrics, throughput (paths above)
  $RUN/eval_test.json         the first table above as JSON (alro and the reference orders)
  $RUN/eval_test_single_step.json  the second (ranking by first-slot scores)
  $RUN/test_rankings.jsonl    every test list's ranking
  $RUN/checkpoints/           sharded checkpoints (alro ckpt inspect $RUN/checkpoints)
Export for Hugging Face tools:  $ALRO ckpt export $RUN/checkpoints --out $RUN/hf
EOF
