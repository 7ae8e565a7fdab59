#!/usr/bin/env bash
# bench/distributed/run_allreduce_bench.sh: the all-reduce benchmark with 2
# and 4 ranks over MPI (float32, then bfloat16 through the custom MPI op).
#
#   [GLIBC_TUNABLES=...] [DTYPES="float bfloat16"] bench/distributed/run_allreduce_bench.sh [BUILD_DIR] [MAX_MIB]
set -euo pipefail
build=${1:-build}
max_mib=${2:-256}
flags=(--oversubscribe --bind-to none --mca mpi_yield_when_idle 1 -x OMP_NUM_THREADS=1)
[ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
# Some VMs run glibc's `rep movsb` memcpy path (4 KiB..~1 MiB) at well under
# 1 GB/s; GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=2097152 avoids it.
# It changes the baseline and MPI's own copies alike, so it is passed through.
[ -n "${GLIBC_TUNABLES:-}" ] && flags+=(-x GLIBC_TUNABLES)
for np in 2 4; do
  for dtype in ${DTYPES:-float bfloat16}; do
    mpirun "${flags[@]}" -np "$np" "$build/bench/distributed/allreduce_bench" --dtype "$dtype" --max-mib "$max_mib"
  done
done
