#!/usr/bin/env bash
# A long run of the crash tests (tests/crash, docs/recovery.md): many more
# SIGKILL rounds, every tear mode at every power-loss step with a bigger
# workload, the full 100,000 streams, and each test repeated with fresh
# seeds. Needs root and /dev/fuse like the CI run. Each test prints its seed;
# set it (ESFS_CRASH_SEED, ESFS_POWERLOSS_SEED) to repeat a failure.
#   ESFS_CRASH_REPEAT=N     repetitions of the whole set (default 3)
#   ESFS_BUILD_DIR=DIR      build directory (default build-crash-long)
#   ESFS_SANITIZE=ON        build with ASan + UBSan
#   ESFS_JOBS=N             build jobs (default 2)
# Any of the knobs below may be set to override the long-run value.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${ESFS_BUILD_DIR:-build-crash-long}"
cmake -S . -B "$build" -DESFS_SANITIZE="${ESFS_SANITIZE:-OFF}" >/dev/null
cmake --build "$build" -j "${ESFS_JOBS:-2}"

export ESFS_CRASH_ROUNDS="${ESFS_CRASH_ROUNDS:-300}"       # SIGKILL rounds
export ESFS_CRASH_WRITERS="${ESFS_CRASH_WRITERS:-6}"       # writer processes
export ESFS_CRASH_MAX_MS="${ESFS_CRASH_MAX_MS:-1500}"      # longest run before a kill
export ESFS_POWERLOSS_APPENDS="${ESFS_POWERLOSS_APPENDS:-40}" # appends per workload phase
export ESFS_POWERLOSS_ALL_MODES="${ESFS_POWERLOSS_ALL_MODES:-1}" # every tear mode per step
export ESFS_CRASH_STREAMS="${ESFS_CRASH_STREAMS:-100000}"  # streams made by one process
export ESFS_HOSTILE_ROUNDS="${ESFS_HOSTILE_ROUNDS:-30}"    # hostile rounds for the RSS check
export ESFS_BACKUP_COPIES="${ESFS_BACKUP_COPIES:-30}"      # copies at random moments
if [ "${ESFS_SANITIZE:-OFF}" = ON ]; then
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi

log="$build/crash-long.log"
: > "$log"
for i in $(seq 1 "${ESFS_CRASH_REPEAT:-3}"); do
  echo "== crash tests, repetition $i (full output in $log)"
  status=0
  (cd "$build" && ctest -L crash --output-on-failure -V --timeout 0) >> "$log" 2>&1 || status=$?
  grep -E '\[ [a-z_]+ \]|Test +#|tests passed' "$log" | tail -n 40
  if [ "$status" -ne 0 ]; then
    echo "== repetition $i failed; the seeds to repeat it are in $log"
    exit 1
  fi
done
echo "== all crash repetitions passed"
