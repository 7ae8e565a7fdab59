#!/usr/bin/env bash
# tests/distributed/expect_abort.sh: runs a command that must FAIL, within a
# time limit, printing a message that matches a pattern.
#
#   expect_abort.sh MAX_SECONDS REGEX command args...
#
# Passes when the command exits non-zero in at most MAX_SECONDS and its
# combined output matches REGEX (grep -E). A hard `timeout` well above
# MAX_SECONDS keeps a hung job from hanging the test suite.
#
# ALRO_TEST_TIME_SCALE (an integer, default 1) multiplies MAX_SECONDS: under
# AddressSanitizer each rank takes 20-30 s just to start on a loaded 2-core
# machine (scripts/sanitize.sh sets 4), which says nothing about how fast
# the job aborts once it runs.
set -u
max_seconds=$(($1 * ${ALRO_TEST_TIME_SCALE:-1})); regex=$2; shift 2
hard_limit=$((max_seconds * 3 + 30))
out=$(mktemp)
start_ms=$(($(date +%s%N) / 1000000))
timeout --kill-after=5 "$hard_limit" "$@" >"$out" 2>&1
rc=$?
elapsed_ms=$(($(date +%s%N) / 1000000 - start_ms))
elapsed="$((elapsed_ms / 1000)).$(printf %03d $((elapsed_ms % 1000)))"
cat "$out"
echo "expect_abort: exit status $rc after ${elapsed}s (limit ${max_seconds}s)"
status=0
if [ "$rc" -eq 0 ]; then echo "expect_abort: FAIL: the job succeeded but had to fail"; status=1; fi
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then echo "expect_abort: FAIL: the job hung"; status=1; fi
if [ "$elapsed_ms" -gt $((max_seconds * 1000)) ]; then echo "expect_abort: FAIL: too slow"; status=1; fi
if ! grep -Eq "$regex" "$out"; then echo "expect_abort: FAIL: output does not match: $regex"; status=1; fi
rm -f "$out"
exit $status
