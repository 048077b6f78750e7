#!/usr/bin/env bash
# shell_test.sh - the ordinary Unix tools as esfs clients, through a real
# mount: echo >>, cat, tail -f (sees a later append without restarting),
# tail -n, head, wc, grep, dd skip=, getfattr/setfattr, noclobber (O_EXCL),
# `esfs append --expect` (exit 0, and 3 on a conflict), `esfs seal`, cat of
# a watch file, the refusals as the shell prints them, `esfs umount`, then
# `esfs dump` equal to `cat all`, `esfs verify` exit 0, and a remount that
# serves the same bytes.
#
# usage: shell_test.sh ESFS_BINARY   (exit 0 pass, 1 fail, 77 skipped)
set -euo pipefail

ESFS=${1:?usage: shell_test.sh ESFS_BINARY}
ESFS=$(realpath "$ESFS")

skip() { echo "SKIP: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "end-to-end tests need root for FUSE mounts"
[ -c /dev/fuse ] || skip "/dev/fuse is missing"
for tool in fusermount3 getfattr setfattr mountpoint dd tail timeout; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/esfs-shell-XXXXXX")
MNT=$TMP/es
STORE=$TMP/store
LOG=$TMP/daemon.log
mkdir -p "$MNT"
# sanitizer reports of every esfs process (the daemon's stderr is /dev/null)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$TMP/san"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$TMP/san"
DAEMON=
WATCHDOG=
STEP=start

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +e
  [ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
  # background readers of this script
  local jobs_left
  jobs_left=$(jobs -p)
  [ -n "$jobs_left" ] && kill $jobs_left 2>/dev/null
  if mountpoint -q "$MNT" 2>/dev/null || [ -n "$(grep -F " $MNT " /proc/self/mounts || true)" ]; then
    if ! timeout 60 "$ESFS" umount "$MNT"; then
      echo "cleanup: esfs umount failed: killing the daemon, fusermount3 -uz" >&2
      [ -n "$DAEMON" ] && kill -KILL "$DAEMON" 2>/dev/null
      fusermount3 -uz "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
      rc=1
    fi
  fi
  if compgen -G "$TMP/san.*" >/dev/null; then
    echo "FAIL: sanitizer reports:" >&2
    cat "$TMP"/san.* >&2
    rc=1
  fi
  if [ "$rc" != 0 ]; then
    echo "FAIL at step '$STEP' (exit $rc); daemon log:" >&2
    tail -n 30 "$LOG" >&2 2>/dev/null || true
  fi
  if [ -n "${E2E_KEEP:-}" ]; then
    echo "keeping $TMP" >&2
  elif ! grep -qF " $MNT " /proc/self/mounts; then
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

fail() { echo "FAIL: $STEP: $*" >&2; exit 1; }
step() { STEP=$*; echo "-- $STEP"; }
# expect_eq WHAT ACTUAL EXPECTED
expect_eq() { [ "$2" == "$3" ] || fail "$1: got '$2', expected '$3'"; }
# expect_same_file WHAT A B
expect_same_file() { cmp -s "$2" "$3" || fail "$1: $2 and $3 differ: $(cmp "$2" "$3" 2>&1 | head -1)"; }

mount_es() {
  "$ESFS" mount --log-file="$LOG" "$@" "$STORE" "$MNT" || fail "esfs mount"
  DAEMON=$(getfattr --absolute-names --only-values -n user.esfs.pid "$MNT")
  [ -n "$DAEMON" ] || fail "no user.esfs.pid"
  # the watchdog: a hung daemon is killed, which ends every request in
  # flight, so the script fails instead of hanging
  [ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
  (
    exec >/dev/null 2>&1
    trap 'kill $sleeper; exit 0' TERM
    sleep 150 & sleeper=$!
    wait $sleeper
    kill -KILL "$DAEMON"; fusermount3 -uz "$MNT"; kill -TERM $$
  ) &
  WATCHDOG=$!
}

umount_es() {
  timeout 60 "$ESFS" umount "$MNT" || fail "esfs umount"
  # gone, or a zombie its new parent has not reaped yet
  if [ -e "/proc/$DAEMON" ] && ! grep -q '^State:.*Z' "/proc/$DAEMON/status" 2>/dev/null; then
    fail "the daemon $DAEMON is still running after esfs umount"
  fi
  ! mountpoint -q "$MNT" || fail "$MNT is still mounted"
  [ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
  WATCHDOG=
  DAEMON=
}

# read_lines FD N OUTFILE: reads N lines from FD (30 s each at most)
read_lines() {
  local fd=$1 n=$2 out=$3 line i
  : > "$out"
  for ((i = 0; i < n; i++)); do
    IFS= read -r -t 30 -u "$fd" line || fail "line $((i + 1)) of $n did not arrive"
    printf '%s\n' "$line" >> "$out"
  done
}

step "mount"
mount_es
S=$MNT/streams/Clock
EXP=$TMP/expected

step "echo >> and cat"
: > "$EXP"
for i in $(seq 1 25); do
  echo "{\"type\":\"Tick\",\"n\":$i}" >> "$S"
  echo "{\"type\":\"Tick\",\"n\":$i}" >> "$EXP"
done
printf 'plain text, no newline' >> "$S"
printf 'plain text, no newline\n' >> "$EXP"
cat "$S" > "$TMP/got"
expect_same_file "cat of the stream" "$TMP/got" "$EXP"
expect_eq "ls streams" "$(ls "$MNT/streams")" "Clock"

step "wc, head, tail -n, grep, dd skip="
expect_eq "wc -l stream" "$(wc -l < "$S")" 26
expect_eq "wc -c stream" "$(wc -c < "$S")" "$(wc -c < "$EXP")"
expect_eq "wc -l all" "$(wc -l < "$MNT/all")" 26
expect_eq "stat -c %s" "$(stat -c %s "$S")" "$(wc -c < "$EXP")"
expect_eq "head -n 3" "$(head -n 3 "$S")" "$(head -n 3 "$EXP")"
expect_eq "head -c 17" "$(head -c 17 "$S")" "$(head -c 17 "$EXP")"
expect_eq "tail -n 5" "$(tail -n 5 "$S")" "$(tail -n 5 "$EXP")"
expect_eq "tail -c 40" "$(tail -c 40 "$S")" "$(tail -c 40 "$EXP")"
expect_eq "tail -n 2 all" "$(tail -n 2 "$MNT/all" | cut -d, -f1)" $'{"pos":25\n{"pos":26'
expect_eq "grep -c stream" "$(grep -c '"n":1[0-9]}' "$S")" 10
expect_eq "grep -c all" "$(grep -c '"type":"Tick"' "$MNT/all")" 25
expect_eq "grep all" "$(grep '"pos":26,' "$MNT/all" | sed 's/"ts":"[^"]*"/TS/')" \
  '{"pos":26,"stream":"Clock","ver":26,"type":"",TS,"data":"plain text, no newline"}'
expect_eq "dd skip= bs=1" "$(dd if="$S" bs=1 skip=100 count=50 status=none)" \
  "$(tail -c +101 "$EXP" | head -c 50)"
dd if="$MNT/all" bs=7 skip=11 status=none > "$TMP/dd_all"
tail -c +78 "$MNT/all" > "$TMP/tail_all"
expect_same_file "dd skip= on all" "$TMP/dd_all" "$TMP/tail_all"

step "getfattr and setfattr"
expect_eq "user.esfs.version" "$(getfattr --absolute-names --only-values -n user.esfs.version "$S")" 26
getfattr --absolute-names -d "$S" | grep -q '^user.esfs.version="26"$' || fail "getfattr -d lists no version"
setfattr -n user.esfs.expected_version -v 26 "$S" || fail "setfattr of an expected version"
setfattr -n user.esfs.expected_version -v any "$S" || fail "setfattr any"
out=$(setfattr -n user.esfs.expected_version -v banana "$S" 2>&1) && fail "setfattr banana worked"
[[ $out == *"Invalid argument"* ]] || fail "setfattr banana said: $out"
out=$(setfattr -n user.esfs.version -v 3 "$S" 2>&1) && fail "setting the version worked"
[[ $out == *"Operation not permitted"* ]] || fail "setfattr of the version said: $out"

step "esfs append --expect"
"$ESFS" append --expect 26 "$S" '{"type":"Tock"}' || fail "append --expect 26"
echo '{"type":"Tock"}' >> "$EXP"
expect_eq "version after append --expect" "$(getfattr --absolute-names --only-values -n user.esfs.version "$S")" 27
rc=0
err=$("$ESFS" append --expect 26 "$S" '{"type":"Late"}' 2>&1) || rc=$?
expect_eq "exit status of a conflict" "$rc" 3
[[ $err == *27* ]] || fail "the conflict message does not name version 27: $err"
expect_eq "version after a conflict" "$(getfattr --absolute-names --only-values -n user.esfs.version "$S")" 27
"$ESFS" append --expect 0 "$MNT/streams/Fresh" 'first' || fail "append --expect 0 on a new stream"
rc=0; "$ESFS" append --expect 0 "$MNT/streams/Fresh" 'again' 2>/dev/null || rc=$?
expect_eq "append --expect 0 on an existing stream" "$rc" 3
printf 'second\nthird\n' | "$ESFS" append --expect 1 "$MNT/streams/Fresh" || fail "append from stdin"
expect_eq "Fresh" "$(cat "$MNT/streams/Fresh")" $'first\nsecond\nthird'
"$ESFS" append "$MNT/streams/Fresh" 'fourth' || fail "append without --expect"
expect_eq "Fresh version" "$(getfattr --absolute-names --only-values -n user.esfs.version "$MNT/streams/Fresh")" 4

step "noclobber (O_CREAT|O_EXCL)"
( set -o noclobber; echo x > "$S" ) 2>/dev/null && fail "noclobber > on an existing stream worked"
( set -o noclobber; echo new > "$MNT/streams/Clobber" ) || fail "noclobber > on a new stream"
expect_eq "Clobber" "$(cat "$MNT/streams/Clobber")" new

step "refusals as the shell reports them"
out=$( { echo x >> "$MNT/all"; } 2>&1) && fail "echo >> all worked"
[[ $out == *"Operation not permitted"* || $out == *"Permission denied"* ]] || fail "echo >> all: $out"
out=$(rm -f "$S" 2>&1) && fail "rm of a stream worked"
out=$( { echo x >> "$MNT/streams/.hidden"; } 2>&1) && fail "a stream named .hidden was created"
[[ $out == *"Invalid argument"* ]] || fail "echo >> .hidden: $out"
out=$(mv "$S" "$MNT/streams/Moved" 2>&1) && fail "mv of a stream worked"
out=$( { : > "$S"; } 2>&1) && fail "truncating a stream with > worked"
expect_eq "stream intact" "$(wc -l < "$S")" 27

step "tail -f sees a later append"
mkfifo "$TMP/tail.fifo"
tail -f -s 0.2 "$S" > "$TMP/tail.fifo" &
TAIL=$!
exec 5< "$TMP/tail.fifo"
read_lines 5 10 "$TMP/tail10"
tail -n 10 "$EXP" > "$TMP/exp10"
expect_same_file "the first 10 lines of tail -f" "$TMP/tail10" "$TMP/exp10"
echo '{"type":"Later"}' >> "$S"
echo '{"type":"Later"}' >> "$EXP"
read_lines 5 1 "$TMP/later"
expect_eq "tail -f, the later append" "$(cat "$TMP/later")" '{"type":"Later"}'
kill "$TAIL"; wait "$TAIL" 2>/dev/null || true
exec 5<&-

step "tail -f on all"
mkfifo "$TMP/tail_all.fifo"
tail -n 1 -f -s 0.2 "$MNT/all" > "$TMP/tail_all.fifo" &
TAIL=$!
exec 5< "$TMP/tail_all.fifo"
read_lines 5 1 "$TMP/t1"
grep -q '"type":"Later"' "$TMP/t1" || fail "tail -n 1 -f all began with $(cat "$TMP/t1")"
echo 'from elsewhere' >> "$MNT/streams/Other"
read_lines 5 1 "$TMP/t2"
grep -q '"stream":"Other".*"data":"from elsewhere"}$' "$TMP/t2" || fail "tail -f all: $(cat "$TMP/t2")"
kill "$TAIL"; wait "$TAIL" 2>/dev/null || true
exec 5<&-

step "cat of a watch file: history, then live, then Ctrl-C"
mkfifo "$TMP/watch.fifo"
# job control on: a background job of a script would otherwise ignore SIGINT
set -m
cat "$MNT/watch/streams/Clock" > "$TMP/watch.fifo" &
WATCH=$!
set +m
exec 6< "$TMP/watch.fifo"
read_lines 6 "$(wc -l < "$EXP")" "$TMP/watched"
expect_same_file "watch history" "$TMP/watched" "$EXP"
echo '{"type":"Live"}' >> "$S"
echo '{"type":"Live"}' >> "$EXP"
read_lines 6 1 "$TMP/live"
expect_eq "watch, the live event" "$(cat "$TMP/live")" '{"type":"Live"}'
kill -INT "$WATCH"
# cat's end closes the fifo: end-of-file (1), not a timeout (>128)
rc=0; IFS= read -r -t 5 -u 6 line || rc=$?
expect_eq "cat gone within 5 s of SIGINT (read status)" "$rc" 1
rc=0; wait "$WATCH" || rc=$?
expect_eq "exit status of cat after SIGINT" "$rc" 130
exec 6<&-

step "esfs seal and .esfs/"
"$ESFS" seal "$MNT" || fail "esfs seal"
ls "$STORE/segments/" | grep -q '\.seg$' || fail "no sealed segment in $STORE/segments"
echo '{"type":"AfterSeal"}' >> "$S"
echo '{"type":"AfterSeal"}' >> "$EXP"
echo seal > "$MNT/.esfs/seal" || fail "echo > .esfs/seal"
grep -q '^esfs_events_total [0-9]' "$MNT/.esfs/metrics" || fail "no esfs_events_total in metrics"
grep -q '^esfs_sealed_segments 2$' "$MNT/.esfs/metrics" || fail "metrics: $(grep sealed_segments "$MNT/.esfs/metrics")"
cat "$S" > "$TMP/got"
expect_same_file "the stream after the seals" "$TMP/got" "$EXP"

step "umount, dump, verify"
cat "$MNT/all" > "$TMP/all"
for s in Clock Fresh Clobber Other; do cat "$MNT/streams/$s" > "$TMP/stream.$s"; done
umount_es
"$ESFS" dump "$STORE" > "$TMP/dump" || fail "esfs dump"
expect_same_file "esfs dump vs cat all" "$TMP/dump" "$TMP/all"
"$ESFS" dump "$STORE" --stream Fresh > "$TMP/dump_fresh" || fail "esfs dump --stream"
grep '"stream":"Fresh"' "$TMP/all" > "$TMP/all_fresh" || true
expect_same_file "esfs dump --stream" "$TMP/dump_fresh" "$TMP/all_fresh"
"$ESFS" dump "$STORE" --from 20 > "$TMP/dump_from" || fail "esfs dump --from"
tail -n +20 "$TMP/all" > "$TMP/all_from"
expect_same_file "esfs dump --from 20" "$TMP/dump_from" "$TMP/all_from"
"$ESFS" verify "$STORE" > "$TMP/verify" 2>&1 || { cat "$TMP/verify" >&2; fail "esfs verify"; }

step "remount: the same bytes, positions continue"
mount_es
cat "$MNT/all" > "$TMP/all2"
expect_same_file "all after a remount" "$TMP/all2" "$TMP/all"
for s in Clock Fresh Clobber Other; do
  cat "$MNT/streams/$s" > "$TMP/got"
  expect_same_file "streams/$s after a remount" "$TMP/got" "$TMP/stream.$s"
done
n=$(wc -l < "$TMP/all")
echo 'after remount' >> "$S"
tail -n 1 "$MNT/all" | grep -q "^{\"pos\":$((n + 1)),\"stream\":\"Clock\",\"ver\":$(wc -l < "$EXP" | awk '{print $1 + 1}')," ||
  fail "the next event is not at pos $((n + 1)): $(tail -n 1 "$MNT/all")"
umount_es
"$ESFS" verify "$STORE" > "$TMP/verify" 2>&1 || { cat "$TMP/verify" >&2; fail "esfs verify after remount"; }

STEP=done
echo "shell_test: all checks passed"
