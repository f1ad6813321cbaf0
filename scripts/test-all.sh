#!/usr/bin/env bash
# `make test` after the main build: every ctest suite of build/, then the
# planted-bug and sanitizer runs.
#
# The planted-bug and sanitizer builds are compiled while the main suites run,
# at the lowest CPU priority (nice 19): they take only the CPU the suites
# leave idle (the suites wait on processes, sockets and fsyncs much of the
# time), so the tests keep the machine they are written for. On a 2-core
# machine this takes the sanitizer build's ~11 minutes off the wall time of a
# run instead of adding them after the suites.
set -uo pipefail
cd "$(dirname "$0")/.."

build=${BUILD:-build}
side_log=$(mktemp /tmp/cleave-side-build.XXXXXX.log)

# Its own process group (set -m), so that stopping it stops its compilers too.
set -m
nice -n 19 make --no-print-directory planted-build asan-build > "$side_log" 2>&1 &
side=$!
set +m
trap 'kill -- "-$side" 2>/dev/null' EXIT

ctest --test-dir "$build" --output-on-failure --timeout 1200
suites=$?
# A failing suite fails the run now; the side build is not waited for.
[ "$suites" -eq 0 ] || exit "$suites"

wait "$side"
side_rc=$?
trap - EXIT
if [ "$side_rc" -ne 0 ]; then
  echo "test-all: the planted-bug or sanitizer build failed (exit $side_rc); its output:" >&2
  tail -n 200 "$side_log" >&2
  exit 1
fi
rm -f "$side_log"

make --no-print-directory planted-test asan-test
