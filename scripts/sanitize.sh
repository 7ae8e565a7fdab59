#!/usr/bin/env bash
# scripts/sanitize.sh: builds the test suite with AddressSanitizer and
# UndefinedBehaviorSanitizer (-DALRO_SANITIZE=ON) into build-asan/ (or
# $ALRO_ASAN_BUILD_DIR) and runs it; multi-rank tests run at 2 ranks only.
#
#   scripts/sanitize.sh                    every test binary
#   ALRO_ASAN_TARGETS="foundation_tests data_tests" scripts/sanitize.sh -R '^(foundation|data)_tests|data_mpi'
#                                          build and run a subset (ctest -R)
#
# UB is fatal (-fno-sanitize-recover=all). Open MPI's own leaks, which alro
# cannot free, are suppressed in scripts/sanitize.supp; every other leak fails
# (LibTorch, OpenMP, protobuf and SentencePiece leaked nothing in any run, so
# they are not suppressed). The SentencePiece module loads under the
# sanitizers through dlmopen (data/sentencepiece_module.cc says why).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${ALRO_ASAN_BUILD_DIR:-build-asan}
JOBS=${ALRO_BUILD_JOBS:-$(nproc)}
# -O1 -g1 instead of RelWithDebInfo's -O2 -g: every translation unit is
# recompiled with instrumentation, and on a 2-core machine the LibTorch ones
# dominate the run; -O1 is what the ASan documentation recommends, and -g1
# keeps the line tables the reports' stacks need without the full debug info
# of LibTorch's headers. NDEBUG stays defined as in the normal build, so the
# tests exercise the same code paths.
ASAN_OPT_FLAGS="-O1 -g1 -DNDEBUG"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALRO_SANITIZE=ON \
      -DALRO_BUILD_BENCHMARKS=OFF -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$ASAN_OPT_FLAGS" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="$ASAN_OPT_FLAGS" ${ALRO_ASAN_CMAKE_ARGS:-}
fi
targets=()
for t in ${ALRO_ASAN_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$BUILD_DIR" -j "$JOBS" "${targets[@]}"
# ASan's own allocator check of the whole suite; LibTorch's dlopen'ed
# libraries (OpenBLAS, OpenMP) need the runtime preloaded when a Python
# reference is started from a test, hence verify_asan_link_order=0.
# fast_unwind_on_malloc=0: Open MPI is built without frame pointers and
# unloads its components at MPI_Finalize, so the fast unwinder records one
# "<unknown module>" frame for its allocations and no suppression can match
# them (every MPI test binary then failed on ~120 KB of Open MPI's own leaks);
# the DWARF unwinder sees libmpi/libopen-pal on the stack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:verify_asan_link_order=0:detect_odr_violation=0:fast_unwind_on_malloc=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/sanitize.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Time limits of tests that measure how fast a failing job ends
# (tests/distributed/expect_abort.sh): instrumented ranks start 5-10x slower.
export ALRO_TEST_TIME_SCALE=${ALRO_TEST_TIME_SCALE:-4}
cd "$BUILD_DIR"
# The 1- and 4-rank variants of the MPI tests repeat the 2-rank one at more
# cost under the sanitizers.
ctest --output-on-failure --timeout 1800 -E '_np(1|3|4)$' "$@"
