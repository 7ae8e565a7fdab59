#!/usr/bin/env bash
# scripts/demo.sh: the README's main job. Installs and builds what is missing,
# then validates configs/tiny.yaml and prints the plan of the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh --target alro
./build/launch/alro train --config configs/tiny.yaml --dry-run --no-path-check --world 2
