#!/usr/bin/env bash
# scripts/build.sh: configures and builds alro into build/ (or $ALRO_BUILD_DIR).
# Usage: scripts/build.sh [extra cmake --build args, e.g. --target alro]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${ALRO_BUILD_DIR:-build}
JOBS=${ALRO_BUILD_JOBS:-$(nproc)}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$BUILD_DIR" -j "$JOBS" "$@"
