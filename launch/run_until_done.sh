#!/usr/bin/env bash
# launch/run_until_done.sh: relaunches a training command with --resume auto
# until it finishes, so a lost rank or node costs the steps since the last
# checkpoint and nothing else.
#
#   launch/run_until_done.sh [--max-attempts N] [--] mpirun -np 2 build/launch/alro train --config X.yaml
#
# The command is run as given, with "--resume auto" appended when it is not
# already there. Exit status 0 ends the loop; a configuration or usage error
# (exit 2) also ends it, because relaunching cannot fix it; any other failure
# (a killed rank, MPI_Abort, a node lost) relaunches after RETRY_DELAY_S
# seconds, up to --max-attempts times (default 20).
set -uo pipefail
MAX_ATTEMPTS=20
RETRY_DELAY_S=${RETRY_DELAY_S:-5}
readonly EXIT_USAGE=2
while [ $# -gt 0 ]; do
  case "$1" in
    --max-attempts) MAX_ATTEMPTS=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--max-attempts N] [--] COMMAND ..." >&2; exit 2; }
cmd=("$@")
case " ${cmd[*]} " in
  *" --resume "*|*" --resume="*) ;;
  *) cmd+=(--resume auto) ;;
esac
for attempt in $(seq 1 "$MAX_ATTEMPTS"); do
  echo "run_until_done: attempt $attempt/$MAX_ATTEMPTS: ${cmd[*]}" >&2
  "${cmd[@]}"
  rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "run_until_done: finished after $attempt attempt(s)" >&2
    exit 0
  fi
  if [ "$rc" -eq "$EXIT_USAGE" ]; then
    echo "run_until_done: usage or configuration error (exit $rc); not relaunching" >&2
    exit "$rc"
  fi
  echo "run_until_done: attempt $attempt failed with exit $rc; relaunching in ${RETRY_DELAY_S}s" >&2
  sleep "$RETRY_DELAY_S"
done
echo "run_until_done: giving up after $MAX_ATTEMPTS attempts" >&2
exit 1
