#!/usr/bin/env bash
# launch/mpirun_1node_8gpu.sh: one node with 8 GPUs, 8 ranks (one per GPU).
#
#   launch/mpirun_1node_8gpu.sh configs/llama2-7b-8gpu.yaml [--set key=value ...]
#
# Ranks are bound to cores (--map-by ppr:8:node:PE=N gives each rank N cores);
# alro picks GPU local_rank for each rank (MPI_COMM_TYPE_SHARED split), so
# CUDA_VISIBLE_DEVICES is left alone. The run resumes from the newest complete
# checkpoint when there is one (--resume auto); wrap this script in
# launch/run_until_done.sh to relaunch after a failure.
set -euo pipefail
CONFIG=${1:?usage: $0 CONFIG.yaml [--set key=value ...]}
shift
ALRO=${ALRO:-build/launch/alro}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CORES=$(nproc)
PE=$(( CORES / GPUS_PER_NODE > 0 ? CORES / GPUS_PER_NODE : 1 ))

exec mpirun -np "$GPUS_PER_NODE" \
  --map-by "ppr:${GPUS_PER_NODE}:node:PE=${PE}" --bind-to core --report-bindings \
  -x OMP_NUM_THREADS="$PE" -x NCCL_DEBUG="${NCCL_DEBUG:-WARN}" \
  "$ALRO" train --config "$CONFIG" --resume auto "$@"
