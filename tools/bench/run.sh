#!/usr/bin/env bash
# run.sh - the esfs benchmark, one command: measures esfs through real
# mounts and, in the same run on the same disk, the baselines a user would
# compare it with (a plain file with group commit and with one fdatasync
# per event, PostgreSQL 15 with a message-db-style write_message, the
# library alone), with several repetitions, and prints markdown tables
# (median and min-max). docs/performance.md explains every figure.
#
# Cleans up after itself, also on failure or Ctrl-C: unmounts its mounts,
# stops its own daemons and its own PostgreSQL cluster (by pid), deletes its
# temporary directory. Needs root (FUSE mounts) and /dev/fuse.
#
#   tools/bench/run.sh [options]       full run (16 min on a quiet 2-core VM,
#                                      up to 45 min when it is loaded)
#   tools/bench/run.sh --smoke         tiny parameters, checks that
#                                      everything runs (no timing checks)
# Options:
#   --reps N            repetitions (default 3)
#   --streams S         streams (default 1000)
#   --events E          events per append run (default 100000)
#   --writers "C..."    writer counts (default "1 4 16 64")
#   --big-events N      events of the recovery/read store (default 1000000)
#   --big-streams N     its streams (default 100000)
#   --watchers N        watchers of the fan-out test (default 1000)
#   --max-seconds T     cap of each slow run (per-event fsync, PostgreSQL,
#                       one writer on one stream; default 20)
#   --dir DIR           where the temporary directory goes (default
#                       /var/tmp); this is the disk that is measured
#   --build-dir DIR     build tree (default build-bench; a full run builds
#                       esfs and esfs-bench there first, -j2)
#   --no-pg             skip PostgreSQL
#   --out FILE          also write the report to FILE
#   --raw FILE          also write every raw result line to FILE
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
COMMAND="tools/bench/run.sh $*"
SMOKE=0
REPS=3
STREAMS=1000
EVENTS=100000
WRITERS="1 4 16 64"
LIB_WRITERS="1 16"
BIG_EVENTS=1000000
BIG_STREAMS=100000
WATCHERS=1000
ROUNDS=20
ROUNDS_ONE=200
MAX_S=20
KILL_APPENDS=20000
PARENT=${TMPDIR:-/var/tmp}
BUILD=$ROOT/build-bench
WITH_PG=1
OUT=""
RAW=""

die() {
    echo "run.sh: $*" >&2
    exit 1
}
while [ $# -gt 0 ]; do
    case $1 in
    --smoke) SMOKE=1 ;;
    --reps) REPS=$2; shift ;;
    --streams) STREAMS=$2; shift ;;
    --events) EVENTS=$2; shift ;;
    --writers) WRITERS=$2; shift ;;
    --big-events) BIG_EVENTS=$2; shift ;;
    --big-streams) BIG_STREAMS=$2; shift ;;
    --watchers) WATCHERS=$2; shift ;;
    --max-seconds) MAX_S=$2; shift ;;
    --dir) PARENT=$2; shift ;;
    --build-dir) BUILD=$2; shift ;;
    --no-pg) WITH_PG=0 ;;
    --out) OUT=$2; shift ;;
    --raw) RAW=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
if [ $SMOKE = 1 ]; then
    REPS=1 STREAMS=8 EVENTS=400 WRITERS="1 4" LIB_WRITERS="1 4" BIG_EVENTS=20000
    BIG_STREAMS=2000 WATCHERS=20 ROUNDS=3 ROUNDS_ONE=10 MAX_S=2 KILL_APPENDS=400
fi

# ---- preconditions (exit 77: ctest reports the smoke test as skipped) ----
if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: needs root (FUSE mounts, a private PostgreSQL under its own user); skipped" >&2
    exit 77
fi
if [ ! -e /dev/fuse ]; then
    echo "run.sh: /dev/fuse is missing; skipped" >&2
    exit 77
fi
ESFS=$BUILD/src/cli/esfs
BENCH=$BUILD/tools/bench/esfs-bench
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

pg_bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}
if [ $WITH_PG = 1 ] && [ $SMOKE = 0 ]; then
    missing=()
    for p in postgresql libpq-dev; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi
if [ $SMOKE = 0 ]; then
    log "building in $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$BUILD" -j2 --target esfs esfs-bench >/dev/null
fi
[ -x "$ESFS" ] && [ -x "$BENCH" ] || die "$ESFS or $BENCH is missing: build first"
PG_BIN=""
if [ $WITH_PG = 1 ]; then
    PG_BIN=$(pg_bindir || true)
    if [ -z "$PG_BIN" ]; then
        echo "run.sh: PostgreSQL is not installed: its part is skipped" >&2
        WITH_PG=0
    elif ! "$BENCH" features | grep -qw pg; then
        echo "run.sh: esfs-bench was built without libpq: the PostgreSQL part is skipped" >&2
        WITH_PG=0
    fi
fi

# ---- the temporary directory and the cleanup that always runs ----
mkdir -p "$PARENT"
WORK=$(mktemp -d "$PARENT/esfs-bench.XXXXXX")
chmod 711 "$WORK" # the PostgreSQL user must reach its data directory
RES=$WORK/results.tsv
: >"$RES"
MOUNTS=()
DAEMONS=()
PG_DATA=""
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    for m in "${MOUNTS[@]}"; do
        if mountpoint -q "$m" 2>/dev/null; then
            "$ESFS" umount "$m" >/dev/null 2>&1 || fusermount3 -u -z "$m" >/dev/null 2>&1 ||
                umount -l "$m" >/dev/null 2>&1
        fi
    done
    for p in "${DAEMONS[@]}"; do
        if [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -q "$ESFS"; then
            kill -9 "$p" 2>/dev/null
        fi
    done
    declare -F pg_stop >/dev/null && pg_stop
    [ -n "$RAW" ] && [ -f "$RES" ] && cat "$WORK/raw.txt" "$RES" >"$RAW" 2>/dev/null
    rm -rf "$WORK"
    [ $rc -ne 0 ] && echo "run.sh: failed (exit $rc); cleaned up" >&2
    exit $rc
}
on_int() { exit 130; }
on_term() { exit 143; }
trap cleanup EXIT
trap on_int INT
trap on_term TERM

# ---- helpers ----
REP=0
# rec KEY VALUE: one raw result of this repetition
rec() { printf '%s\t%s\t%s\n' "$1" "$REP" "$2" >>"$RES"; }
# kv LINE KEY: the value of KEY in a result line
kv() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2; exit }'; }
# bench ARGS...: runs esfs-bench, echoes its result line
bench() {
    local out
    if ! out=$("$BENCH" "$@"); then
        die "esfs-bench $* failed"
    fi
    echo "$out" >>"$WORK/raw.txt"
    echo "$out"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
daemon_pid() { getfattr -n user.esfs.pid --only-values "$1" 2>/dev/null; }
rss_mib() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# mount_store STORE MNT [options]: mounts, records the daemon; sets MOUNT_S
mount_store() {
    local store=$1 mnt=$2 t0 t1 pid
    shift 2
    mkdir -p "$mnt"
    MOUNTS+=("$mnt")
    t0=$EPOCHREALTIME
    "$ESFS" mount --log-file="$WORK/esfs.log" "$@" "$store" "$mnt" ||
        die "esfs mount $store failed (log: $WORK/esfs.log)"
    t1=$EPOCHREALTIME
    MOUNT_S=$(elapsed "$t0" "$t1")
    pid=$(daemon_pid "$mnt") || die "no daemon pid on $mnt"
    DAEMONS+=("$pid")
}
unmount() { "$ESFS" umount "$1" || die "esfs umount $1 failed"; }

# ---- PostgreSQL: a private cluster on loopback, its own user ----
PG_PORT=""
PG_USER=postgres
pg_run() {
    if [ "$PG_USER" = root ]; then "$@"; else runuser -u "$PG_USER" -- "$@"; fi
}
pg_start() {
    id "$PG_USER" >/dev/null 2>&1 || die "user $PG_USER is missing (postgresql creates it)"
    PG_DATA=$WORK/pg/data
    mkdir -p "$WORK/pg"
    chown "$PG_USER" "$WORK/pg"
    pg_run "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 >"$WORK/pg/initdb.log" 2>&1 ||
        die "initdb failed: $(tail -3 "$WORK/pg/initdb.log")"
    PG_PORT=$("$BENCH" free-port)
    cat >>"$PG_DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$WORK/pg'
synchronous_commit = on
fsync = on
max_connections = 200
shared_buffers = 256MB
EOF
    pg_run "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK/pg/server.log" -w -t 60 start >/dev/null ||
        die "PostgreSQL did not start: $(tail -5 "$WORK/pg/server.log")"
    PG_CONN="host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres"
}
pg_stop() {
    [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ] || return 0
    pg_run "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 && return 0
    local pid
    pid=$(head -n 1 "$PG_DATA/postmaster.pid")
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    return 0
}

# ---- the machine ----
machine() {
    local src dev
    src=$(findmnt -n -o SOURCE -T "$WORK")
    dev=$(lsblk -n -o PKNAME "$src" 2>/dev/null | head -n 1)
    [ -z "$dev" ] && dev=$(basename "$src")
    echo "- CPU: $(lscpu | awk -F: '/^Model name/ { sub(/^ +/, "", $2); print $2 }'), $(nproc) CPUs" \
        "($(lscpu | awk -F: '/^Hypervisor vendor/ { sub(/^ +/, "", $2); print $2 " guest" }'))"
    echo "- memory: $(free -h | awk '/^Mem:/ { print $2 }')"
    echo "- kernel: $(uname -r); $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "- store file system: $(findmnt -n -o SOURCE,FSTYPE,OPTIONS -T "$WORK" | tr -s ' ')"
    echo "- disk: $(lsblk -d -n -o NAME,SIZE,MODEL "/dev/$dev" 2>/dev/null | tr -s ' ')" \
        "(rotational=$(cat /sys/block/"$dev"/queue/rotational 2>/dev/null)," \
        "write_cache=$(cat /sys/block/"$dev"/queue/write_cache 2>/dev/null)," \
        "scheduler=$(sed 's/.*\[\(.*\)\].*/\1/' /sys/block/"$dev"/queue/scheduler 2>/dev/null));" \
        "ext4 journal: $(ls /proc/fs/jbd2 2>/dev/null | grep -q "^$dev" && echo yes || echo none)"
    echo "- libfuse: $(dpkg-query -W -f='${Version}' libfuse3-3 2>/dev/null);" \
        "PostgreSQL: $([ $WITH_PG = 1 ] && "$PG_BIN/postgres" --version | awk '{ print $3 }' || echo skipped)"
}

# ============================ measurements ============================
log "work directory $WORK"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
MACHINE=$(machine)
if [ $WITH_PG = 1 ]; then
    log "starting a private PostgreSQL cluster"
    pg_start
fi

# append_run KEY LINE: records the figures of an append result line
append_rec() {
    local key=$1 line=$2
    rec "$key.rate" "$(kv "$line" appends_per_s)"
    rec "$key.p50" "$(kv "$line" p50_us)"
    rec "$key.p99" "$(kv "$line" p99_us)"
    rec "$key.p999" "$(kv "$line" p999_us)"
    local epf
    epf=$(kv "$line" events_per_fsync)
    [ -n "$epf" ] && rec "$key.epf" "$epf"
    log "  $key: $(kv "$line" appends_per_s)/s p50 $(kv "$line" p50_us) us p99 $(kv "$line" p99_us) us"
}

common=(--streams "$STREAMS" --events "$EVENTS")
LOADS=""
for REP in $(seq 1 "$REPS"); do
    LOADS="$LOADS $(cut -d' ' -f1 /proc/loadavg)"
    log "repetition $REP of $REPS"
    for C in $WRITERS; do
        # esfs through the mount: without the expected-version check, with it
        # armed by setxattr before each write(2), and with check and append in
        # one setxattr of user.esfs.append.N
        for variant in plain expect xattr; do
            mount_store "$WORK/a.store" "$WORK/a.mnt"
            extra=()
            [ $variant = expect ] && extra=(--expect)
            [ $variant = xattr ] && extra=(--expect-xattr)
            line=$(bench append --dir "$WORK/a.mnt" -c "$C" "${common[@]}" "${extra[@]}")
            unmount "$WORK/a.mnt"
            rm -rf "$WORK/a.store"
            append_rec "esfs_$variant.c$C" "$line"
        done
        # the disk's limit: group commit, and one fdatasync per event
        line=$(bench file --path "$WORK/plain.log" --fsync group -c "$C" "${common[@]}")
        append_rec "file_group.c$C" "$line"
        line=$(bench file --path "$WORK/plain.log" --fsync group --prealloc -c "$C" "${common[@]}")
        append_rec "file_prealloc.c$C" "$line"
        line=$(bench file --path "$WORK/plain.log" --fsync each -c "$C" "${common[@]}" \
            --max-seconds "$MAX_S")
        append_rec "file_each.c$C" "$line"
        rm -f "$WORK/plain.log"
        if [ $WITH_PG = 1 ]; then
            line=$(bench pg --conninfo "$PG_CONN" --expect -c "$C" "${common[@]}" \
                --max-seconds "$MAX_S")
            append_rec "pg.c$C" "$line"
        fi
    done
    for C in $LIB_WRITERS; do
        line=$(bench lib --dir "$WORK/lib.store" -c "$C" "${common[@]}")
        rm -rf "$WORK/lib.store"
        append_rec "lib.c$C" "$line"
    done

    # 16 writers on one stream vs one writer, per-open and shared nodes
    for nodes in per-open shared; do
        mount_store "$WORK/h.store" "$WORK/h.mnt" --stream-nodes=$nodes
        line=$(bench append --dir "$WORK/h.mnt" --one-stream --prefix one1- -c 1 \
            --events "$EVENTS" --max-seconds "$MAX_S")
        append_rec "one_$nodes.c1" "$line"
        line=$(bench append --dir "$WORK/h.mnt" --one-stream --prefix one16- -c 16 \
            --events "$EVENTS" --max-seconds "$MAX_S")
        append_rec "one_$nodes.c16" "$line"
        if [ $nodes = per-open ]; then
            # a single long stream read through the mount vs a plain copy
            # (first read: cold; second: from the page cache, as the plain copy)
            line=$(bench read --dir "$WORK/h.mnt/streams" --prefix one16- --streams 1)
            rec read_long_stream.eps "$(kv "$line" events_per_s)"
            rec read_long_stream.mbps "$(kv "$line" mb_per_s)"
            line=$(bench read --dir "$WORK/h.mnt/streams" --prefix one16- --streams 1)
            rec read_long_stream_warm.mbps "$(kv "$line" mb_per_s)"
            cp "$WORK/h.mnt/streams/one16-0" "$WORK/one16-0"
            bench read --path "$WORK/one16-0" >/dev/null
            line=$(bench read --path "$WORK/one16-0")
            rec read_long_stream_plain.mbps "$(kv "$line" mb_per_s)"
            rm -f "$WORK/one16-0"
        fi
        unmount "$WORK/h.mnt"
        rm -rf "$WORK/h.store"
    done

    # watch fan-out: one watcher, then WATCHERS watchers, on watch/all
    mount_store "$WORK/w.store" "$WORK/w.mnt"
    bench append --dir "$WORK/w.mnt" -c 4 --streams 100 --events 1000 --prefix warm- >/dev/null
    line=$(bench watch --dir "$WORK/w.mnt" --watchers 1 --rounds "$ROUNDS_ONE" --prefix w1-)
    rec watch1.p50 "$(kv "$line" p50_us)"
    rec watch1.p99 "$(kv "$line" p99_us)"
    rec watch1.ack_p50 "$(kv "$line" ack_p50_us)"
    rec watch1.ack_p99 "$(kv "$line" ack_p99_us)"
    log "  watch 1: p99 $(kv "$line" p99_us) us from write, $(kv "$line" ack_p99_us) us from ack"
    line=$(bench watch --dir "$WORK/w.mnt" --watchers "$WATCHERS" --rounds "$ROUNDS" --prefix wN-)
    rec watchN.p50 "$(kv "$line" p50_us)"
    rec watchN.p99 "$(kv "$line" p99_us)"
    rec watchN.all_p50 "$(kv "$line" all_p50_us)"
    rec watchN.all_max "$(kv "$line" all_max_us)"
    rec watchN.allack_p50 "$(kv "$line" allack_p50_us)"
    rec watchN.allack_max "$(kv "$line" allack_max_us)"
    log "  watch $WATCHERS: p50 $(kv "$line" p50_us) us, last watcher max $(kv "$line" all_max_us) us"
    unmount "$WORK/w.mnt"
    rm -rf "$WORK/w.store"
done

# ---- a large store: recovery, reads, RSS, reindex ----
REP=0
BIG=$WORK/big.store
BIGM=$WORK/big.mnt
log "filling a store with $BIG_EVENTS events in $BIG_STREAMS streams (ending in a crash)"
line=$(bench fill --dir "$BIG" --events "$BIG_EVENTS" --streams "$BIG_STREAMS" --prefix big- --crash)
mount_store "$BIG" "$BIGM"
rec restart_crash.s "$MOUNT_S"
rec restart_crash.caught_up "$(grep -o '[0-9]* events caught up' "$WORK/esfs.log" | tail -n 1 | cut -d' ' -f1)"
log "  ready $MOUNT_S s after a crash (fill without close)"
unmount "$BIGM"
N_STREAM_READS=$((BIG_STREAMS < 1000 ? BIG_STREAMS : 1000))
total=$BIG_EVENTS
for REP in $(seq 1 "$REPS"); do
    log "large store, repetition $REP of $REPS"
    mount_store "$BIG" "$BIGM"
    rec restart_clean.s "$MOUNT_S"
    pid=$(daemon_pid "$BIGM")
    rec rss_mount.mib "$(rss_mib "$pid" VmRSS)"
    # cat all, through the mount and from a plain copy in the page cache
    # (the first read after the mount is cold; the second is served from the
    # kernel's page cache, as the plain copy is)
    line=$(bench read --path "$BIGM/all")
    rec read_all.eps "$(kv "$line" events_per_s)"
    rec read_all.mbps "$(kv "$line" mb_per_s)"
    log "  cat all: $(kv "$line" events_per_s) events/s, $(kv "$line" mb_per_s) MB/s (cold)"
    line=$(bench read --path "$BIGM/all")
    rec read_all_warm.mbps "$(kv "$line" mb_per_s)"
    log "  cat all again: $(kv "$line" mb_per_s) MB/s (page cache)"
    cat "$BIGM/all" >"$WORK/all.copy"
    bench read --path "$WORK/all.copy" >/dev/null
    line=$(bench read --path "$WORK/all.copy")
    rec read_all_plain.mbps "$(kv "$line" mb_per_s)"
    rm -f "$WORK/all.copy"
    # single (short) streams, through the mount and from plain copies
    line=$(bench read --dir "$BIGM/streams" --prefix big- --streams "$N_STREAM_READS")
    rec read_streams.eps "$(kv "$line" events_per_s)"
    rec read_streams.fps "$(kv "$line" files_per_s)"
    line=$(bench read --dir "$BIGM/streams" --prefix big- --streams "$N_STREAM_READS")
    rec read_streams_warm.eps "$(kv "$line" events_per_s)"
    mkdir -p "$WORK/streams.copy"
    for ((k = 0; k < N_STREAM_READS; k++)); do
        cat "$BIGM/streams/big-$k" >"$WORK/streams.copy/big-$k"
    done
    bench read --dir "$WORK/streams.copy" --prefix big- --streams "$N_STREAM_READS" >/dev/null
    line=$(bench read --dir "$WORK/streams.copy" --prefix big- --streams "$N_STREAM_READS")
    rec read_streams_plain.eps "$(kv "$line" events_per_s)"
    rm -rf "$WORK/streams.copy"
    # appends through the mount, then kill -9 and time the restart
    bench append --dir "$BIGM" -c 16 --streams "$N_STREAM_READS" --events "$KILL_APPENDS" \
        --prefix big- >/dev/null
    total=$((total + KILL_APPENDS))
    rec rss_after.mib "$(rss_mib "$pid" VmRSS)"
    rec rss_hwm.mib "$(rss_mib "$pid" VmHWM)"
    kill -9 "$pid"
    flock "$BIG/LOCK" true # returns once the killed daemon is gone
    umount -l "$BIGM" 2>/dev/null || fusermount3 -u -z "$BIGM"
    mount_store "$BIG" "$BIGM"
    rec restart_kill.s "$MOUNT_S"
    last=$(awk '$1 == "esfs_last_position" { print $2 }' "$BIGM/.esfs/metrics")
    [ "$last" = "$total" ] || die "after kill -9 the store holds $last events, expected $total"
    log "  ready $MOUNT_S s after kill -9 (all $total events there)"
    unmount "$BIGM"
    line=$("$ESFS" reindex "$BIG" 2>>"$WORK/reindex.log") || die "esfs reindex failed"
    rec reindex.eps "$(grep -o '([0-9]* events/s)' <<<"$line" | tr -dc 0-9)"
    log "  $line"
done
[ $WITH_PG = 1 ] && PG_SETTINGS=$(pg_run "$PG_BIN/psql" -h "$WORK/pg" -p "$PG_PORT" -U postgres -At \
    -c "select string_agg(name || '=' || setting, ', ') from pg_settings where name in
        ('synchronous_commit','fsync','wal_sync_method','full_page_writes','commit_delay',
         'shared_buffers','wal_level')" 2>/dev/null || true)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ============================ the report ============================
# stat3 KEY: "median min max" of the repetitions
stat3() {
    awk -F'\t' -v k="$1" '$1 == k && $3 != "" { print $3 }' "$RES" | sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "nan nan nan"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            print m, v[1], v[NR] }'
}
# num X DEC: X with DEC decimals, thousands separated
num() {
    awk -v x="$1" -v d="$2" 'BEGIN {
        if (x == "nan" || x == "") { printf "-"; exit }
        s = sprintf("%." d "f", x); neg = (s ~ /^-/); if (neg) s = substr(s, 2)
        i = index(s, "."); ip = i ? substr(s, 1, i - 1) : s; fp = i ? substr(s, i) : ""
        o = ""; while (length(ip) > 3) { o = "," substr(ip, length(ip) - 2) o; ip = substr(ip, 1, length(ip) - 3) }
        printf "%s%s%s%s", neg ? "-" : "", ip, o, fp }'
}
# cell KEY DEC: "median (min–max)"
cell() {
    local m lo hi
    read -r m lo hi <<<"$(stat3 "$1")"
    if [ "$m" = nan ]; then printf -- "-"; return; fi
    if [ "$REPS" -gt 1 ] && [ "$lo" != "$hi" ]; then
        printf "%s (%s–%s)" "$(num "$m" "$2")" "$(num "$lo" "$2")" "$(num "$hi" "$2")"
    else
        num "$m" "$2"
    fi
}
med() { stat3 "$1" | cut -d' ' -f1; }
# per-repetition ratios KEY_A / KEY_B -> KEY
ratio_rec() {
    local out=$1 a=$2 b=$3 r
    for r in $(awk -F'\t' -v k="$a" '$1 == k { print $2 }' "$RES"); do
        local va vb
        va=$(awk -F'\t' -v k="$a" -v r="$r" '$1 == k && $2 == r { print $3 }' "$RES")
        vb=$(awk -F'\t' -v k="$b" -v r="$r" '$1 == k && $2 == r { print $3 }' "$RES")
        [ -n "$va" ] && [ -n "$vb" ] && printf '%s\t%s\t%s\n' "$out" "$r" "$(ratio "$va" "$vb")" >>"$RES"
    done
    return 0
}
verdict() { # VALUE OP LIMIT
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
        if (v == "nan" || v == "") { print "-"; exit }
        ok = (op == ">=") ? (v >= l) : (v < l); print ok ? "met" : "**not met**" }'
}
for C in $WRITERS; do
    ratio_rec "r.esfs_file.c$C" "esfs_plain.c$C.rate" "file_group.c$C.rate"
    ratio_rec "r.esfsx_file.c$C" "esfs_expect.c$C.rate" "file_group.c$C.rate"
    ratio_rec "r.esfsx_pg.c$C" "esfs_expect.c$C.rate" "pg.c$C.rate"
    ratio_rec "r.esfs_pg.c$C" "esfs_plain.c$C.rate" "pg.c$C.rate"
    ratio_rec "r.esfsxa_file.c$C" "esfs_xattr.c$C.rate" "file_group.c$C.rate"
    ratio_rec "r.esfsxa_pg.c$C" "esfs_xattr.c$C.rate" "pg.c$C.rate"
done
ratio_rec r.one_per-open one_per-open.c16.rate one_per-open.c1.rate
ratio_rec r.one_shared one_shared.c16.rate one_shared.c1.rate
ratio_rec r.read_all read_all.mbps read_all_plain.mbps
ratio_rec r.read_all_warm read_all_warm.mbps read_all_plain.mbps
ratio_rec r.read_long read_long_stream.mbps read_long_stream_plain.mbps
ratio_rec r.read_long_warm read_long_stream_warm.mbps read_long_stream_plain.mbps
ratio_rec r.read_streams read_streams.eps read_streams_plain.eps
ratio_rec r.read_streams_warm read_streams_warm.eps read_streams_plain.eps

report() {
    local label
    echo "## Results"
    echo
    echo "Command: \`$COMMAND\` (repetitions: $REPS; streams S=$STREAMS, events E=$EVENTS," \
        "payload 200 bytes; each cell: median (min–max) over the repetitions)"
    echo
    echo "Machine:"
    echo
    echo "$MACHINE"
    echo "- load average (1, 5, 15 min) at start: $LOAD_START; at the start of each" \
        "repetition (1 min):$LOADS; at end: $LOAD_END"
    [ -n "${PG_SETTINGS:-}" ] && echo "- PostgreSQL settings: $PG_SETTINGS"
    echo
    echo "### Durable appends (acknowledged after fdatasync)"
    echo
    echo "| system | writers | appends/s | p50 µs | p99 µs | p999 µs | events/fsync |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for sys in esfs_plain esfs_expect esfs_xattr file_group file_prealloc file_each pg lib; do
        case $sys in
        esfs_plain) label="esfs mount" ;;
        esfs_expect) label="esfs mount + expected version (setxattr, then write)" ;;
        esfs_xattr) label="esfs mount + expected version (one setxattr user.esfs.append.N)" ;;
        file_group) label="plain file, group commit" ;;
        file_prealloc) label="plain file, group commit, preallocated" ;;
        file_each) label="plain file, fdatasync per event" ;;
        pg) label="PostgreSQL write_message" ;;
        lib) label="library (es_store_append)" ;;
        esac
        for C in $WRITERS $LIB_WRITERS; do
            [ "$(med "$sys.c$C.rate")" = nan ] && continue
            grep -q "^$sys.c$C.rate	.*	.*" "$RES" || continue
            echo "| $label | $C | $(cell "$sys.c$C.rate" 0) | $(cell "$sys.c$C.p50" 0)" \
                "| $(cell "$sys.c$C.p99" 0) | $(cell "$sys.c$C.p999" 0) | $(cell "$sys.c$C.epf" 1) |"
        done | sort -u -t'|' -k3,3n
    done
    echo
    echo "### One stream, many writers"
    echo
    echo "| --stream-nodes | 1 writer appends/s | 16 writers appends/s | 16 writers p99 µs | ratio |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    for nodes in per-open shared; do
        echo "| $nodes | $(cell "one_$nodes.c1.rate" 0) | $(cell "one_$nodes.c16.rate" 0)" \
            "| $(cell "one_$nodes.c16.p99" 0) | $(cell "r.one_$nodes" 2) |"
    done
    echo
    echo "### Reads ($BIG_EVENTS events in $BIG_STREAMS streams; read(2) sizes as GNU cat chooses them)"
    echo
    echo "esfs is read twice: first right after the mount (cold: rendered by the daemon), then"
    echo "again (from the kernel's page cache, as the plain copy is)."
    echo
    echo "| read | esfs, cold | esfs, page cache | plain file in page cache | ratio cold | ratio page cache |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    echo "| \`cat all\`, MB/s | $(cell read_all.mbps 0) | $(cell read_all_warm.mbps 0) | $(cell read_all_plain.mbps 0) | $(cell r.read_all 3) | $(cell r.read_all_warm 3) |"
    echo "| $N_STREAM_READS short streams one after the other, events/s | $(cell read_streams.eps 0)" \
        "| $(cell read_streams_warm.eps 0) | $(cell read_streams_plain.eps 0) | $(cell r.read_streams 3) | $(cell r.read_streams_warm 3) |"
    echo "| one long stream ($EVENTS events), MB/s | $(cell read_long_stream.mbps 0)" \
        "| $(cell read_long_stream_warm.mbps 0) | $(cell read_long_stream_plain.mbps 0) | $(cell r.read_long 3) | $(cell r.read_long_warm 3) |"
    echo
    echo "\`cat all\` cold: $(cell read_all.eps 0) events/s; short streams cold: $(cell read_streams.fps 0) streams/s."
    echo
    echo "### Watch fan-out (watch/all)"
    echo
    echo "| watchers | p50 µs from write(2) | p99 µs from write(2) | p99 µs from ack | last watcher, median / max over $ROUNDS rounds, µs |"
    echo "| ---: | ---: | ---: | ---: | ---: |"
    echo "| 1 | $(cell watch1.p50 0) | $(cell watch1.p99 0) | $(cell watch1.ack_p99 0) | |"
    echo "| $WATCHERS | $(cell watchN.p50 0) | $(cell watchN.p99 0) | | $(cell watchN.all_p50 0) / $(cell watchN.all_max 0) |"
    echo
    echo "### Recovery and memory ($BIG_EVENTS events in $BIG_STREAMS streams)"
    echo
    echo "| what | value |"
    echo "| --- | ---: |"
    echo "| ready after a crash with the index checkpoint $(cell restart_crash.caught_up 0) events behind, s | $(cell restart_crash.s 3) |"
    echo "| ready after \`kill -9\` (+$KILL_APPENDS events through the mount per repetition), s | $(cell restart_kill.s 3) |"
    echo "| ready after a clean stop, s | $(cell restart_clean.s 3) |"
    echo "| \`esfs reindex\`, events/s | $(cell reindex.eps 0) |"
    echo "| daemon RSS after mount, MiB | $(cell rss_mount.mib 1) |"
    echo "| daemon RSS after the reads and appends, MiB | $(cell rss_after.mib 1) |"
    echo "| daemon peak RSS (VmHWM), MiB | $(cell rss_hwm.mib 1) |"
    echo
    echo "### Targets"
    echo
    echo "| target | measured (median) | |"
    echo "| --- | ---: | --- |"
    for C in 16 64; do
        case " $WRITERS " in *" $C "*) ;; *) continue ;; esac
        v=$(med "r.esfs_file.c$C")
        echo "| mount appends at C=$C >= 70% of the group-commit file | $(num "$v" 3) | $(verdict "$v" ">=" 0.7) |"
        v=$(med "r.esfsxa_file.c$C")
        echo "| ... with the expected-version check in one request (user.esfs.append.N) | $(num "$v" 3) | $(verdict "$v" ">=" 0.7) |"
        v=$(med "r.esfsx_file.c$C")
        echo "| ... with the check armed by setxattr, then write(2) | $(num "$v" 3) | $(verdict "$v" ">=" 0.7) |"
    done
    if [ $WITH_PG = 1 ]; then
        for C in 64; do
            case " $WRITERS " in *" $C "*) ;; *) continue ;; esac
            v=$(med "r.esfsxa_pg.c$C")
            echo "| mount appends (expected version, one request) at C=$C >= 3x PostgreSQL | $(num "$v" 2)x | $(verdict "$v" ">=" 3) |"
            v=$(med "r.esfsx_pg.c$C")
            echo "| ... (expected version, setxattr then write) | $(num "$v" 2)x | $(verdict "$v" ">=" 3) |"
            v=$(med "r.esfs_pg.c$C")
            echo "| ... without the check (PostgreSQL still checks) | $(num "$v" 2)x | $(verdict "$v" ">=" 3) |"
        done
    fi
    v=$(med r.one_per-open)
    echo "| 16 writers on one stream >= 4x one writer (per-open) | $(num "$v" 2)x | $(verdict "$v" ">=" 4) |"
    v=$(med r.read_all_warm)
    echo "| \`cat all\` >= 30% of a plain file from page cache (both from the page cache) | $(num "$v" 3) | $(verdict "$v" ">=" 0.3) |"
    v=$(med r.read_all)
    echo "| ... esfs cold (first read after the mount) | $(num "$v" 3) | $(verdict "$v" ">=" 0.3) |"
    v=$(med r.read_long_warm)
    echo "| long stream read >= 30% of a plain file (both from the page cache) | $(num "$v" 3) | $(verdict "$v" ">=" 0.3) |"
    v=$(med r.read_long)
    echo "| ... esfs cold | $(num "$v" 3) | $(verdict "$v" ">=" 0.3) |"
    v=$(med watch1.ack_p99)
    echo "| one watcher p99 after the ack < 2 ms | $(num "$v" 0) µs | $(verdict "$v" "<" 2000) |"
    v=$(med watchN.allack_p50)
    echo "| $WATCHERS watchers all have the event < 50 ms after the ack (median round) | $(num "$v" 0) µs | $(verdict "$v" "<" 50000) |"
    v=$(med watchN.allack_max)
    echo "| ... worst of $ROUNDS rounds | $(num "$v" 0) µs | $(verdict "$v" "<" 50000) |"
    v=$(med restart_kill.s)
    echo "| ready < 1 s after kill -9 with $BIG_EVENTS events | $(num "$v" 3) s | $(verdict "$v" "<" 1) |"
    v=$(med restart_crash.s)
    echo "| ... with the checkpoint $(num "$(med restart_crash.caught_up)" 0) events behind | $(num "$v" 3) s | $(verdict "$v" "<" 1) |"
    v=$(med reindex.eps)
    echo "| \`esfs reindex\` >= 1 M events/s | $(num "$v" 0) | $(verdict "$v" ">=" 1000000) |"
    v=$(med rss_hwm.mib)
    echo "| daemon RSS < 256 MiB with $BIG_EVENTS events in $BIG_STREAMS streams | $(num "$v" 0) MiB peak | $(verdict "$v" "<" 256) |"
}
if [ -n "$OUT" ]; then
    report | tee "$OUT"
else
    report
fi
[ $SMOKE = 1 ] && log "smoke run complete (timings are not checked)"
exit 0
