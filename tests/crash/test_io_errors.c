/*
 * test_io_errors.c - EIO from fsync, through the power-loss simulator, which
 * drops a failed file's dirty pages as Linux does (they never reach the
 * disk, even when a later fsync succeeds). Proves the rule of docs/
 * recovery.md: a failed fsync of the log poisons the store (appends fail
 * with ES_EFAILED, reads go on, close reports it) and nothing acknowledged
 * before a successful sync is lost after the power goes; a failed fsync of
 * a sealed segment or of the index is not fatal and loses nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "esfs/esfs.h"
#include "pl_workload.h"
#include "support/powerloss.h"
#include "support/tmpdir.h"

static uint64_t g_seed, g_points, g_acked;

/* The published all view holds exactly the acknowledged events. */
static void check_reads_go_on(struct plw_run *r, struct es_store *s)
{
    size_t lines = 0;
    char buf[8192];
    uint64_t off = 0;
    ssize_t n;
    while ((n = es_store_read_view(s, ES_VIEW_ALL, NULL, 0, off, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
        off += (uint64_t)n;
    }
    if (n < 0)
        plw_fail(r, "reading a poisoned store: %s", es_strerror((int)n));
    if (lines != r->n_acked)
        plw_fail(r, "a poisoned store serves %zu events, %zu were acknowledged", lines, r->n_acked);
}

struct eio_plan {
    int appends;                /* per run */
    int seal_every;             /* explicit seal after every n-th append (0: never) */
    uint32_t batch_ms;          /* ES_SYNC_BATCH interval */
    uint64_t checkpoint_events; /* index checkpoint interval */
    uint64_t crash_window;      /* also crash at each of this many steps after the EIO */
};

static const struct eio_plan plan_default = {30, 9, 1, 4, 0};
/* Few syncs: segments rotate by size with unsynced events in them; the
 * power goes at every step after the failed sync, before or while the
 * rotated segment is sealed. */
static const struct eio_plan plan_rotate = {70, 0, 10000, 100000, 40};

struct eio_result {
    bool hit;          /* the EIO happened */
    uint64_t hit_step; /* at this step */
    uint64_t steps;    /* steps of the run */
    bool poisoned;
};

/* One run: the nth fsync of a file whose path holds `which` fails with EIO
 * (and, with crash_at, the power goes at that step), appends and seals go
 * on around it, then a power loss and the check. */
static void eio_run(struct plw_run *r, const char *which, bool log_sync,
                    const struct eio_plan *plan, uint64_t nth, uint64_t crash_at, enum pl_mode mode,
                    struct eio_result *out)
{
    memset(out, 0, sizeof(*out));
    powerloss_start(r->root);
    powerloss_arm(crash_at);
    powerloss_fail_sync(which, nth);
    struct es_options o;
    plw_options(&o, r->sync);
    o.sync_batch_ms = plan->batch_ms;
    o.checkpoint_events = plan->checkpoint_events;
    struct es_store *s = NULL;
    int rc = es_store_open(r->store, &o, &s);
    for (int i = 0; rc == 0 && i < plan->appends; i++) {
        rc = plw_append(r, s, i % 4 == 3 ? 2 : 1);
        if (rc == 0 && plan->seal_every && i % plan->seal_every == plan->seal_every - 1)
            rc = es_store_seal(s);
        struct es_metrics m;
        es_store_metrics(s, &m);
        if (rc == 0 && !m.poisoned)
            continue;
        if (powerloss_crashed())
            break; /* the machine is dead: whatever fails now fails */
        if (!log_sync) {
            /* a sealed segment or the index: reported, not fatal */
            if (m.poisoned)
                plw_fail(r, "a failed fsync of %s poisoned the store", which);
            if (rc != -EIO)
                plw_fail(r, "unexpected failure %s", es_strerror(rc));
            rc = 0;
            continue;
        }
        if (!m.poisoned) {
            /* a seal whose rotation sync failed with nothing unsynced */
            if (rc != -EIO)
                plw_fail(r, "unexpected failure %s (%s)", es_strerror(rc), es_error_detail());
            rc = 0;
            continue;
        }
        out->poisoned = true;
        if (rc != 0 && rc != -EIO && rc != ES_EFAILED)
            plw_fail(r, "the failing append returned %s", es_strerror(rc));
        rc = plw_append(r, s, 1);
        if (rc != ES_EFAILED)
            plw_fail(r, "append to a poisoned store returned %s, not ES_EFAILED", es_strerror(rc));
        rc = es_store_seal(s);
        if (rc != ES_EFAILED)
            plw_fail(r, "seal of a poisoned store returned %s", es_strerror(rc));
        if (r->sync == ES_SYNC_ALWAYS)
            check_reads_go_on(r, s);
        break;
    }
    if (s) {
        rc = es_store_close(s);
        if (out->poisoned && rc != ES_EFAILED)
            plw_fail(r, "closing a poisoned store returned %s", es_strerror(rc));
        /* the close's own sync may be the one that fails */
        if (!out->poisoned && rc != 0 && log_sync && !powerloss_crashed() &&
            !(rc == ES_EFAILED && powerloss_sync_failed()))
            plw_fail(r, "close failed without poisoning: %s", es_strerror(rc));
    }
    out->hit = powerloss_sync_failed();
    out->hit_step = powerloss_sync_failed_step();
    out->steps = powerloss_steps();
    powerloss_crash();
    snprintf(r->ctx + strlen(r->ctx), sizeof(r->ctx) - strlen(r->ctx), " [%s]",
             powerloss_crash_what());
    r->final_wal_syncs = powerloss_syncs("/store/wal/");
    powerloss_apply(mode, g_seed ^ nth ^ (crash_at << 20));
    powerloss_stop();
    plw_check(r);
    g_points++;
    g_acked += r->n_acked;
    plw_reset(r);
    tmpdir_remove(r->store);
}

/* EIO at each fsync of a file whose path holds `which` in turn. */
static void eio_every_sync(enum es_sync sync, const char *which, bool log_sync,
                           const struct eio_plan *plan, const char *test)
{
    struct plw_run r;
    plw_init(&r, "eio", sync);
    uint64_t nth, crashes = 0;
    size_t poisoned_runs = 0;
    for (nth = 1;; nth++) {
        enum pl_mode mode = nth % 2 ? PL_CLEAN : PL_PAGES;
        snprintf(r.ctx, sizeof(r.ctx), "%s: fsync %llu of %s fails with EIO, then %s, seed %llu",
                 test, (unsigned long long)nth, which, powerloss_mode_name(mode),
                 (unsigned long long)g_seed);
        struct eio_result res;
        eio_run(&r, which, log_sync, plan, nth, 0, mode, &res);
        poisoned_runs += res.poisoned;
        if (!res.hit)
            break;
        uint64_t last = res.hit_step + plan->crash_window;
        if (last > res.steps)
            last = res.steps;
        for (uint64_t k = res.hit_step + 1; k <= last; k++) {
            snprintf(r.ctx, sizeof(r.ctx),
                     "%s: fsync %llu of %s fails with EIO (step %llu), power lost at step %llu, "
                     "%s, seed %llu",
                     test, (unsigned long long)nth, which, (unsigned long long)res.hit_step,
                     (unsigned long long)k, powerloss_mode_name(mode), (unsigned long long)g_seed);
            struct eio_result res2;
            eio_run(&r, which, log_sync, plan, nth, k, mode, &res2);
            crashes++;
        }
    }
    print_message("[ io_errors ] %s: EIO at each of %llu fsyncs of %s (%zu poisoned the "
                  "store), %llu power losses after them, seed %llu\n",
                  test, (unsigned long long)(nth - 1), which, poisoned_runs,
                  (unsigned long long)crashes, (unsigned long long)g_seed);
    plw_release(&r);
}

/* Every fdatasync of the active segment under --sync=always. */
static void test_io_errors_wal_fsync_always(void **state)
{
    (void)state;
    eio_every_sync(ES_SYNC_ALWAYS, "/store/wal/", true, &plan_default, "wal_fsync_always");
    eio_every_sync(ES_SYNC_ALWAYS, "/store/wal/", true, &plan_rotate, "wal_fsync_always_rotate");
}

/* Under batch the failed sync may be the one a rotation makes before the
 * next segment starts: events acknowledged before it were never synced,
 * and a later successful fsync does not bring dropped pages back. */
static void test_io_errors_wal_fsync_batch(void **state)
{
    (void)state;
    eio_every_sync(ES_SYNC_BATCH, "/store/wal/", true, &plan_default, "wal_fsync_batch");
    eio_every_sync(ES_SYNC_BATCH, "/store/wal/", true, &plan_rotate, "wal_fsync_batch_rotate");
}

static void test_io_errors_wal_fsync_none(void **state)
{
    (void)state;
    eio_every_sync(ES_SYNC_NONE, "/store/wal/", true, &plan_default, "wal_fsync_none");
    eio_every_sync(ES_SYNC_NONE, "/store/wal/", true, &plan_rotate, "wal_fsync_none_rotate");
}

/* A sealed segment's fsync fails: the seal fails, the wal stays the truth,
 * a later seal succeeds. */
static void test_io_errors_seal_fsync(void **state)
{
    (void)state;
    eio_every_sync(ES_SYNC_ALWAYS, "/store/tmp/", false, &plan_default, "seal_fsync");
}

/* An index file's or the checkpoint's fsync fails: the checkpoint is
 * skipped, the store goes on, the next open catches up or rebuilds. */
static void test_io_errors_index_fsync(void **state)
{
    (void)state;
    eio_every_sync(ES_SYNC_ALWAYS, "/store/index/", false, &plan_default, "index_fsync");
}

static int teardown(void **state)
{
    (void)state;
    plw_cleanup_all();
    return 0;
}

int main(void)
{
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    g_seed = plw_env("ESFS_POWERLOSS_SEED", (uint64_t)time(NULL));
    print_message("[ io_errors ] seed %llu (ESFS_POWERLOSS_SEED=%llu to repeat)\n",
                  (unsigned long long)g_seed, (unsigned long long)g_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_io_errors_wal_fsync_always, teardown),
        cmocka_unit_test_teardown(test_io_errors_wal_fsync_batch, teardown),
        cmocka_unit_test_teardown(test_io_errors_wal_fsync_none, teardown),
        cmocka_unit_test_teardown(test_io_errors_seal_fsync, teardown),
        cmocka_unit_test_teardown(test_io_errors_index_fsync, teardown),
    };
    if (getenv("ESFS_CRASH_ONLY"))
        cmocka_set_test_filter(getenv("ESFS_CRASH_ONLY"));
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    print_message("[ io_errors ] total: %llu fault points, %llu acknowledged events checked\n",
                  (unsigned long long)g_points, (unsigned long long)g_acked);
    return rc;
}
