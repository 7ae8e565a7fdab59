#!/usr/bin/env bash
# launch/mpirun_multinode.sh: N nodes x G GPUs with OpenMPI, from a hostfile.
#
#   HOSTFILE=hosts.txt NODES=4 launch/mpirun_multinode.sh configs/llama2-7b-8gpu.yaml
#
# hosts.txt has one line per node: "node01 slots=8". Tensor-parallel groups
# are consecutive ranks, and --map-by ppr:G:node fills node after node, so a
# tensor-parallel group (tp <= G) never crosses a node. Set IFACE to the
# network interface the nodes share (see launch/README.md for the usual
# multi-node problems).
set -euo pipefail
CONFIG=${1:?usage: $0 CONFIG.yaml [--set key=value ...]}
shift
ALRO=${ALRO:-build/launch/alro}
HOSTFILE=${HOSTFILE:?set HOSTFILE to a file with one "host slots=G" line per node}
NODES=${NODES:?set NODES to the number of nodes}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CORES_PER_RANK=${CORES_PER_RANK:-8}
IFACE=${IFACE:-eth0}

exec mpirun -np $(( NODES * GPUS_PER_NODE )) --hostfile "$HOSTFILE" \
  --map-by "ppr:${GPUS_PER_NODE}:node:PE=${CORES_PER_RANK}" --bind-to core \
  --mca btl_tcp_if_include "$IFACE" --mca oob_tcp_if_include "$IFACE" \
  -x NCCL_SOCKET_IFNAME="$IFACE" -x NCCL_DEBUG="${NCCL_DEBUG:-WARN}" \
  -x OMP_NUM_THREADS="$CORES_PER_RANK" -x LD_LIBRARY_PATH -x PATH \
  "$ALRO" train --config "$CONFIG" --resume auto "$@"
