#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang and runs each one
# for a while, starting from the seed corpora in tests/fuzz/seeds/<harness>/.
#
#   tools/fuzz.sh [SECONDS]      seconds per harness (default 20, or
#                                $ESFS_FUZZ_SECONDS); CI runs the default
#   ESFS_FUZZ_JOBS=N             parallel build jobs (default 2)
#   ESFS_FUZZ_KEEP=1             keep the working corpora (path printed)
#
# A longer run, e.g. an hour per harness:   tools/fuzz.sh 3600
# Reproduce a crash:   build-fuzz/tests/fuzz/fuzz_<h> <crash-file>
# Crash inputs are written to build-fuzz/fuzz-artifacts/. The working corpora
# live in a temporary directory; new inputs worth keeping can be minimised
# with -merge=1 into tests/fuzz/seeds/<harness>/ by hand.
# Exit status: 0 when no harness found a crash, leak or timeout.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
secs="${1:-${ESFS_FUZZ_SECONDS:-20}}"
jobs="${ESFS_FUZZ_JOBS:-2}"
build="$root/build-fuzz"
harnesses=(frame json segment lines)

command -v clang >/dev/null || { echo "fuzz: clang is needed (tools/deps.sh installs it)" >&2; exit 1; }

echo "== building the fuzz harnesses in $build (clang, ASan+UBSan, libFuzzer)"
# -Wno-unknown-warning-option: the common warning list has gcc-only options.
CC=clang CFLAGS="-Wno-unknown-warning-option" \
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DESFS_FUZZ=ON -DESFS_TESTS=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target "${harnesses[@]/#/fuzz_}"

# tmpfs when there is one: the segment harness writes a store per input
base="${TMPDIR:-/tmp}"
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
work=$(mktemp -d "$base/esfs-fuzz.XXXXXX")
cleanup() {
  if [ "${ESFS_FUZZ_KEEP:-0}" = 1 ]; then echo "corpora kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=()
for h in "${harnesses[@]}"; do
  mkdir -p "$work/corpus-$h" "$work/tmp-$h"
  log="$work/fuzz_$h.log"
  echo "== fuzz_$h: $secs s"
  rc=0
  TMPDIR="$work/tmp-$h" "$build/tests/fuzz/fuzz_$h" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/fuzz_$h-" \
    "$work/corpus-$h" "$root/tests/fuzz/seeds/fuzz_$h" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  corpus=$(find "$work/corpus-$h" -type f | wc -l)
  echo "fuzz_$h: ${execs:-?} executions, $corpus new corpus inputs, exit $rc"
  if [ "$rc" -ne 0 ]; then
    failed+=("fuzz_$h")
    grep -E "ERROR|SUMMARY|Test unit written|==[0-9]+==" "$log" | head -n 20 || true
    tail -n 40 "$log"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $artifacts)" >&2
  exit 1
fi
echo "fuzz: no crashes"
