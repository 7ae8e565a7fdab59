#!/usr/bin/env bash
# scripts/test.sh: the README's test command. On a fresh Debian 12 machine it
# installs the dependencies, builds everything and runs the whole test suite
# (unit tests, and multi-rank tests under mpirun with 1, 2 and 4 ranks).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd "${ALRO_BUILD_DIR:-build}"
# Tests run one at a time: the multi-rank ones already use every core.
ctest --output-on-failure --timeout 900 "$@"
cd - > /dev/null
# Every parser of user files under libFuzzer + ASan + UBSan for a fixed
# number of runs from the seed corpora, after replaying the regression
# inputs (a clang build of its own in build-fuzz/; docs/contributing.md says
# what it costs). ALRO_FUZZ=0 skips it.
if [ "${ALRO_FUZZ:-1}" = 1 ]; then
  bash scripts/fuzz.sh
fi
