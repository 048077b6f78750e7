/*
 * pl_workload.h - a deterministic library workload for the power-loss tests
 * (appends, multi-event appends, seals, index checkpoints), the record of
 * what was attempted and acknowledged, and the check of a recovered store.
 *
 * The workload runs on one thread, so the attempted events form one
 * sequence and a recovered store must hold a prefix of it: the events at
 * positions 1..m are attempts 0..m-1, byte for byte. How long the prefix
 * must be depends on the sync mode (plw_required).
 */
#ifndef ES_TEST_PL_WORKLOAD_H
#define ES_TEST_PL_WORKLOAD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esfs/esfs.h"

struct plw_attempt {
    char stream[16];
    char *payload;
    size_t len;
    bool acked;
    uint64_t wal_syncs_at_ack; /* wal fsyncs completed when the ack came */
};

struct plw_run {
    char root[PATH_MAX];       /* the simulator's root */
    char store[PATH_MAX + 16]; /* root/store, created by the library */
    enum es_sync sync;
    struct plw_attempt *a;
    size_t n, cap;
    size_t n_acked;
    bool stopped; /* an append or seal failed (after the crash) */
    uint64_t final_wal_syncs;
    /* probes: events appended to stream "probe" by later phases */
    struct plw_attempt *probe;
    size_t n_probe, cap_probe;
    char ctx[1024]; /* what is being tested, printed on failure */
};

/* Creates root (a fresh temporary directory); the store is root/store. */
void plw_init(struct plw_run *r, const char *tag, enum es_sync sync);
/* Forgets the attempts (keeps the directory). */
void plw_reset(struct plw_run *r);
/* Removes the directory and frees everything. */
void plw_release(struct plw_run *r);
/* For a cmocka teardown: uninstalls the simulator and removes the
 * directories of runs not released (a failed test), unless ESFS_CRASH_KEEP
 * is set. */
void plw_cleanup_all(void);

/* Store options of the workload: 64 KiB segments, a checkpoint every 4
 * events, the given sync mode (batch: 1 ms). */
void plw_options(struct es_options *o, enum es_sync sync);

/* Opens, appends (single and 3-event appends to streams s0..s2, payloads of
 * 100..2600 bytes, some JSON), seals every 7th append, closes; twice (the
 * second open recovers a cleanly closed store). Stops at the first failure,
 * which must come after the simulated crash. */
void plw_workload(struct plw_run *r, int appends_per_phase);

/* One append of n_events (1..4) workload events to stream s<n % 3>,
 * recorded as attempts (and as acknowledged when it returns 0). */
int plw_append(struct plw_run *r, struct es_store *s, size_t n_events);

/* Opens (recovering), appends one probe event, closes. A failure must come
 * after a simulated crash. */
void plw_probe_phase(struct plw_run *r);

/* The number of leading attempts that must have survived: all acknowledged
 * ones under ES_SYNC_ALWAYS; under batch and none those acknowledged before
 * a wal fsync that completed. Call after setting final_wal_syncs. */
size_t plw_required(const struct plw_run *r);

/* Opens the store with the real seam and checks it: the open succeeds; the
 * events (through a cursor, and through es_store_scan without indexes) are
 * positions 1..m without gaps, attempts 0..m-1 in order and byte for byte
 * with versions 1, 2, 3 per stream, plus acknowledged probes; m >=
 * plw_required(); the all view and every stream view equal what the events
 * render to; one more append gets position m+1; the store closes cleanly;
 * es_store_verify() returns 0; a read-only open serves the same. Returns m. */
size_t plw_check(struct plw_run *r);

/* Replaces dst's record of attempts by a copy of src's (directories are
 * not touched). */
void plw_copy_record(struct plw_run *dst, const struct plw_run *src);

/* Fails the running cmocka test with r->ctx and the message. */
void plw_fail(const struct plw_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* An environment knob: its value, or def when unset. */
uint64_t plw_env(const char *name, uint64_t def);

#endif
