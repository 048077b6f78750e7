/*
 * test_powerloss.c - power loss at every I/O step of appends, seals, index
 * checkpoints and recovery, through the simulator of tests/support/
 * powerloss.h, for each sync mode's promise:
 *   always: no acknowledged event is lost;
 *   batch:  events acknowledged before the last completed fdatasync of the
 *           wal survive; later ones may be lost, the log stays a prefix;
 *   none:   any suffix may be lost; what remains is a valid prefix.
 * After each crash the store is reopened with the real seam and checked by
 * plw_check() (positions 1..m without gaps, byte-exact prefix of what was
 * attempted, both views and the index agree, verify clean).
 *
 * Knobs (docs/recovery.md): ESFS_POWERLOSS_SEED, ESFS_POWERLOSS_APPENDS
 * (appends per phase, default 12), ESFS_POWERLOSS_STRIDE (test every n-th
 * step, default 1), ESFS_POWERLOSS_ALL_MODES=1 (every tear mode at every
 * step instead of one per step, in turn).
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "esfs/esfs.h"
#include "pl_workload.h"
#include "support/powerloss.h"
#include "support/tmpdir.h"

static uint64_t g_seed;
static uint64_t g_points, g_acked, g_survived;

static const char *sync_name(enum es_sync s)
{
    return s == ES_SYNC_ALWAYS ? "always" : s == ES_SYNC_BATCH ? "batch:1" : "none";
}

static const enum pl_mode all_modes[] = {PL_CLEAN, PL_PREFIX, PL_PAGES, PL_CHAOS};

/* One crash: workload armed at step k, power loss torn by mode, check.
 * Returns false when the workload finished before step k. */
static bool crash_once(struct plw_run *r, const char *test, uint64_t k, enum pl_mode mode,
                       int appends)
{
    uint64_t seed = g_seed ^ (k * 0x100000001b3ull) ^ (uint64_t)mode;
    snprintf(r->ctx, sizeof(r->ctx), "%s: sync %s, crash at step %llu, %s, seed %llu", test,
             sync_name(r->sync), (unsigned long long)k, powerloss_mode_name(mode),
             (unsigned long long)g_seed);
    powerloss_start(r->root);
    powerloss_arm(k);
    plw_workload(r, appends);
    bool crashed = powerloss_crashed();
    if (!crashed)
        powerloss_crash(); /* a power loss after a clean close */
    snprintf(r->ctx, sizeof(r->ctx), "%s: sync %s, crash at %s, %s, seed %llu (k=%llu)", test,
             sync_name(r->sync), powerloss_crash_what(), powerloss_mode_name(mode),
             (unsigned long long)g_seed, (unsigned long long)k);
    r->final_wal_syncs = powerloss_syncs("/store/wal/");
    powerloss_apply(mode, seed);
    powerloss_stop();
    size_t m = plw_check(r);
    g_points++;
    g_acked += r->n_acked;
    g_survived += m;
    plw_reset(r);
    tmpdir_remove(r->store);
    return crashed;
}

static void crash_every_step(enum es_sync sync, const char *test)
{
    int appends = (int)plw_env("ESFS_POWERLOSS_APPENDS", 12);
    uint64_t stride = plw_env("ESFS_POWERLOSS_STRIDE", 1);
    bool every_mode = plw_env("ESFS_POWERLOSS_ALL_MODES", 0) != 0;
    if (stride == 0)
        stride = 1;
    struct plw_run r;
    plw_init(&r, "powerloss", sync);
    uint64_t points0 = g_points, acked0 = g_acked, survived0 = g_survived;
    uint64_t k;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (k = 1;; k += stride) {
        bool more = true;
        if (every_mode) {
            for (size_t i = 0; i < 4; i++)
                more &= crash_once(&r, test, k, all_modes[i], appends);
        } else {
            more = crash_once(&r, test, k, all_modes[(k / stride) % 4], appends);
        }
        if (!more)
            break;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("[ powerloss ] %s: sync %s, %llu crash points (steps 1..%llu, stride %llu), "
                  "%llu acknowledged events checked, %llu survived, %.1f s, seed %llu\n",
                  test, sync_name(sync), (unsigned long long)(g_points - points0),
                  (unsigned long long)k, (unsigned long long)stride,
                  (unsigned long long)(g_acked - acked0),
                  (unsigned long long)(g_survived - survived0),
                  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
                  (unsigned long long)g_seed);
    plw_release(&r);
}

static void test_powerloss_always_every_step(void **state)
{
    (void)state;
    crash_every_step(ES_SYNC_ALWAYS, "always_every_step");
}

static void test_powerloss_batch_every_step(void **state)
{
    (void)state;
    crash_every_step(ES_SYNC_BATCH, "batch_every_step");
}

static void test_powerloss_none_every_step(void **state)
{
    (void)state;
    crash_every_step(ES_SYNC_NONE, "none_every_step");
}

/* A crash during recovery from a crash: the first power loss tears the
 * tail (so recovery has a cut to make and a lost+found file to write), then
 * every step of the recovery open, a probe append and the close is a crash
 * point of its own. */
static void test_powerloss_during_recovery(void **state)
{
    (void)state;
    int appends = (int)plw_env("ESFS_POWERLOSS_APPENDS", 12);
    uint64_t stride = plw_env("ESFS_POWERLOSS_STRIDE", 1) * 5;
    struct plw_run first, r, holder;
    plw_init(&first, "pl-rec1", ES_SYNC_ALWAYS);
    plw_init(&r, "pl-rec2", ES_SYNC_ALWAYS);
    plw_init(&holder, "pl-saved", ES_SYNC_ALWAYS); /* its store/ keeps the crashed state */
    const char *saved = holder.store;
    uint64_t points = 0, nested = 0;
    for (uint64_t k = 3;; k += stride) {
        snprintf(first.ctx, sizeof(first.ctx), "during_recovery: first crash at step %llu",
                 (unsigned long long)k);
        powerloss_start(first.root);
        powerloss_arm(k);
        plw_workload(&first, appends);
        bool crashed = powerloss_crashed();
        powerloss_crash();
        char what[PATH_MAX + 64];
        snprintf(what, sizeof(what), "%s", powerloss_crash_what());
        first.final_wal_syncs = powerloss_syncs("/store/wal/");
        powerloss_apply(PL_PREFIX, g_seed ^ k);
        powerloss_stop();
        if (tree_copy(first.store, saved) != 0 && file_size(first.store) >= 0)
            fail_msg("copying %s", first.store);
        for (uint64_t j = 1;; j++) {
            tmpdir_remove(r.store);
            if (file_size(saved) >= 0 && tree_copy(saved, r.store) != 0)
                fail_msg("restoring %s", saved);
            plw_copy_record(&r, &first);
            enum pl_mode mode = j % 2 ? PL_CLEAN : PL_PAGES;
            snprintf(r.ctx, sizeof(r.ctx),
                     "during_recovery: first crash at %s (torn-prefix), then recovery step %llu "
                     "(%s), seed %llu (k=%llu)",
                     what, (unsigned long long)j, powerloss_mode_name(mode),
                     (unsigned long long)g_seed, (unsigned long long)k);
            powerloss_start(r.root);
            powerloss_arm(j);
            plw_probe_phase(&r);
            bool again = powerloss_crashed();
            powerloss_crash();
            r.final_wal_syncs = powerloss_syncs("/store/wal/");
            powerloss_apply(mode, g_seed ^ k ^ (j << 32));
            powerloss_stop();
            plw_check(&r);
            nested++;
            g_acked += r.n_acked;
            if (!again)
                break;
        }
        points++;
        plw_reset(&first);
        tmpdir_remove(first.store);
        tmpdir_remove(saved);
        if (!crashed)
            break;
    }
    print_message("[ powerloss ] during_recovery: %llu first crashes x every recovery step = "
                  "%llu crash points, seed %llu\n",
                  (unsigned long long)points, (unsigned long long)nested,
                  (unsigned long long)g_seed);
    g_points += nested;
    plw_release(&first);
    plw_release(&r);
    plw_release(&holder);
}

/* The first position of the last wal file of store (0: none). */
static uint64_t last_wal(const char *store)
{
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof(dir), "%s/wal", store);
    DIR *d = opendir(dir);
    uint64_t last = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        unsigned long long v;
        if (strlen(de->d_name) == 24 && sscanf(de->d_name, "%20llu.wal", &v) == 1 && v > last)
            last = v;
    }
    if (d)
        closedir(d);
    return last;
}

/* The torn tail cut at recovery is kept in lost+found/ (esfs.h, es_store_
 * open): that copy must survive a power loss right after the recovery. */
static void test_powerloss_cut_tail_survives(void **state)
{
    (void)state;
    struct plw_run r;
    plw_init(&r, "pl-cut", ES_SYNC_ALWAYS);
    snprintf(r.ctx, sizeof(r.ctx), "cut_tail_survives");
    powerloss_start(r.root);
    plw_workload(&r, 3);
    powerloss_stop();
    /* a torn frame at the end of the active segment */
    char wal[PATH_MAX + 64];
    uint64_t first = last_wal(r.store);
    snprintf(wal, sizeof(wal), "%s/wal/%020llu.wal", r.store, (unsigned long long)first);
    int64_t size = file_size(wal);
    if (size < 0)
        plw_fail(&r, "no active segment %s", wal);
    FILE *f = fopen(wal, "ab");
    assert_non_null(f);
    fputs("ESFR\x01torn-frame-bytes", f);
    fclose(f);
    powerloss_start(r.root);
    struct es_options o;
    plw_options(&o, ES_SYNC_ALWAYS);
    struct es_store *s;
    assert_int_equal(es_store_open(r.store, &o, &s), 0);
    assert_int_equal(es_store_close(s), 0);
    powerloss_crash();
    powerloss_apply(PL_CLEAN, 1);
    powerloss_stop();
    char cut[PATH_MAX + 128];
    snprintf(cut, sizeof(cut), "%s/lost+found/%020llu.wal.%lld.cut", r.store,
             (unsigned long long)first, (long long)size);
    size_t len = 0;
    char *kept = file_read_all(cut, &len);
    if (!kept || len != 21 || memcmp(kept, "ESFR\x01torn-frame-bytes", 21) != 0)
        plw_fail(&r, "after a power loss following recovery, %s is %s", cut,
                 kept ? "not the cut bytes" : "gone");
    free(kept);
    plw_check(&r);
    plw_release(&r);
}

static int teardown(void **state)
{
    (void)state;
    plw_cleanup_all();
    return 0;
}

int main(void)
{
    /* the simulator decides what is durable; the real fsyncs of the checks
     * cost nothing on tmpfs */
    if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0)
        setenv("TMPDIR", "/dev/shm", 1);
    g_seed = plw_env("ESFS_POWERLOSS_SEED", (uint64_t)time(NULL));
    print_message("[ powerloss ] seed %llu (ESFS_POWERLOSS_SEED=%llu to repeat)\n",
                  (unsigned long long)g_seed, (unsigned long long)g_seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_powerloss_cut_tail_survives, teardown),
        cmocka_unit_test_teardown(test_powerloss_always_every_step, teardown),
        cmocka_unit_test_teardown(test_powerloss_batch_every_step, teardown),
        cmocka_unit_test_teardown(test_powerloss_none_every_step, teardown),
        cmocka_unit_test_teardown(test_powerloss_during_recovery, teardown),
    };
    if (getenv("ESFS_CRASH_ONLY"))
        cmocka_set_test_filter(getenv("ESFS_CRASH_ONLY"));
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    print_message("[ powerloss ] total: %llu crash points, %llu acknowledged events checked\n",
                  (unsigned long long)g_points, (unsigned long long)g_acked);
    return rc;
}
