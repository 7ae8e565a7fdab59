#!/usr/bin/env bash
# bench/distributed/run_allreduce_bench.sh: the all-reduce benchmark with 2
# and 4 ranks over MPI (float32, then bfloat16 through the custom MPI op).
#
#   bench/distributed/run_allreduce_bench.sh [BUILD_DIR] [MAX_MIB]
set -euo pipefail
build=${1:-build}
max_mib=${2:-256}
flags=(--oversubscribe --bind-to none --mca mpi_yield_when_idle 1 -x OMP_NUM_THREADS=1)
[ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
for np in 2 4; do
  for dtype in float bfloat16; do
    mpirun "${flags[@]}" -np "$np" "$build/bench/distributed/allreduce_bench" --dtype "$dtype" --max-mib "$max_mib"
  done
done
