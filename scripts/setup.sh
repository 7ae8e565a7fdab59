#!/usr/bin/env bash
# scripts/setup.sh: installs everything alro needs on a fresh Debian 12 machine.
#
# Idempotent and non-interactive: run it as often as you like. Everything comes
# from Debian's archive; NCCL/CUDA are optional and used when already installed.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # the framework's dependencies
  libtorch-dev libopenblas0-openmp
  libopenmpi-dev openmpi-bin
  libprotobuf-dev protobuf-compiler
  libyaml-cpp-dev libabsl-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsentencepiece-dev
  # the fuzz targets (scripts/fuzz.sh): clang with libFuzzer and the sanitizers
  clang libclang-rt-dev
  # independent references used by the tests, and the plotting script
  python3 python3-torch python3-numpy python3-crcmod python3-matplotlib
  # the default MovieLens data set ships inside R's dslabs package
  r-base-core r-cran-dslabs
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
