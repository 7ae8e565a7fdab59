#!/usr/bin/env bash
# scripts/fuzz.sh: builds the libFuzzer targets (fuzz/) with clang into
# build-fuzz/ (or $ALRO_FUZZ_BUILD_DIR), writes their seed corpora with the
# project's own writers, replays every regression input (fuzz/regressions/),
# then fuzzes each target.
#
#   scripts/fuzz.sh                 CI: a fixed number of runs per target
#   scripts/fuzz.sh --runs N        N runs per target
#   scripts/fuzz.sh --seconds S     S seconds per target (a longer hunt)
#   scripts/fuzz.sh --seconds S --only config   one target
#
# Findings are written to build-fuzz/findings/<target>/ (crash-*, leak-*,
# timeout-*); a run with findings exits non-zero. Turn each into a regression
# input under fuzz/regressions/<target>/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${ALRO_FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${ALRO_BUILD_JOBS:-$(nproc)}
# CI budget: about 1.5 minutes of fuzzing for all eight targets together, so
# each target gets the runs it does in roughly ten seconds on one core (the
# YAML configuration is by far the slowest to parse and round-trip).
declare -A CI_RUNS=([record_reader]=5000 [shard_index]=30000 [manifest]=5000 [safetensors]=3000
                    [hf_config]=5000 [config]=800 [rank_request]=5000 [rankings_jsonl]=5000)
RUNS=""
SECONDS_PER_TARGET=0
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --seconds) SECONDS_PER_TARGET=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    *) echo "usage: scripts/fuzz.sh [--runs N | --seconds S] [--only TARGET]" >&2; exit 2 ;;
  esac
done
TARGETS=(record_reader shard_index manifest safetensors hf_config config rank_request rankings_jsonl)
[ -n "$ONLY" ] && TARGETS=("$ONLY")

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALRO_FUZZ=ON \
      -DALRO_BUILD_TESTS=OFF -DALRO_BUILD_BENCHMARKS=OFF ${ALRO_FUZZ_CMAKE_ARGS:-}
fi
cmake --build "$BUILD_DIR" -j "$JOBS" --target fuzz_all

SEEDS="$BUILD_DIR/seeds"
rm -rf "$SEEDS"
"$BUILD_DIR/fuzz/alro_fuzz_seeds" "$SEEDS" "$PWD"

# One thread, no leak check at exit of the process (LeakSanitizer still runs
# per input inside libFuzzer), every UBSan report fatal.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1

status=0
printf "%-16s %10s %8s %s\n" target executions seconds result
for t in "${TARGETS[@]}"; do
  bin="$BUILD_DIR/fuzz/fuzz_$t"
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
  findings="$BUILD_DIR/findings/$t"
  mkdir -p "$findings"
  # Regression inputs: each must run clean.
  if compgen -G "fuzz/regressions/$t/*" > /dev/null; then
    if ! "$bin" "${dict[@]}" fuzz/regressions/$t/* > "$findings/regressions.log" 2>&1; then
      echo "$t: a regression input fails again:"; tail -n 40 "$findings/regressions.log"; status=1; continue
    fi
  fi
  corpus="$BUILD_DIR/corpus/$t"
  mkdir -p "$corpus"
  limit=(-runs="${RUNS:-${CI_RUNS[$t]}}")
  # A fixed seed keeps CI runs repeatable; longer hunts draw a new one each time.
  [ "$SECONDS_PER_TARGET" = 0 ] && limit+=(-seed=1)
  [ "$SECONDS_PER_TARGET" != 0 ] && limit=(-max_total_time="$SECONDS_PER_TARGET")
  start=$(date +%s)
  if "$bin" "${dict[@]}" "${limit[@]}" -max_len=16384 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$findings/" "$corpus" "$SEEDS/$t" > "$findings/fuzz.log" 2>&1; then
    result=clean
  else
    result="FINDINGS (see $findings)"; status=1
    tail -n 40 "$findings/fuzz.log"
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$findings/fuzz.log" | tail -1)
  printf "%-16s %10s %8s %s\n" "$t" "${runs:-?}" "$(( $(date +%s) - start ))" "$result"
done
exit $status
