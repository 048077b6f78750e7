#!/usr/bin/env bash
# Sets everything up and runs every test: unit, crash and end-to-end tests
# (real FUSE mounts), twice: a normal build and an AddressSanitizer +
# UndefinedBehaviorSanitizer build. Also checks formatting and runs short
# fuzz and crash loops. Exit status 0 only when all pass.
#   ESFS_SKIP_SANITIZE=1   only the normal build
#   ESFS_SKIP_FUZZ=1       no fuzzing (default: 10 s per harness)
#   ESFS_JOBS=N            parallel build jobs (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/deps.sh
jobs="${ESFS_JOBS:-$(nproc)}"

run_build() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j 1 --timeout 900)
}

echo "== format check"
./tools/check-format.sh

echo "== normal build and tests"
run_build build

if [ "${ESFS_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  run_build build-asan -DESFS_SANITIZE=ON
fi
if [ "${ESFS_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzzing (${ESFS_FUZZ_SECONDS:-10} s per harness; tools/fuzz.sh 3600 for a long run)"
  ESFS_FUZZ_SECONDS="${ESFS_FUZZ_SECONDS:-10}" ./tools/fuzz.sh
fi
echo "== all tests passed"
