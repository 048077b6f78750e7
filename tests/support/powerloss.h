/*
 * powerloss.h - a power-loss simulator behind the I/O seam (src/base/io.h),
 * in the manner of SQLite's test6.c crash VFS.
 *
 * It tracks, under one root directory, what a sudden power loss would keep:
 *   - per file, the content as of its last successful fsync/fdatasync (index
 *     files written through a shared mapping included: their content is read
 *     back at the fsync that follows the msync);
 *   - per directory, which entries exist durably: a create, rename or unlink
 *     becomes durable only with an fsync of that directory (strict POSIX:
 *     no file system journal is assumed to help).
 * powerloss_apply() then rewrites the real tree to that durable state, with
 * unsynced writes optionally torn (see enum pl_mode).
 *
 * Crash points: every seam call that changes the disk or its durability is
 * a numbered step (open with O_CREAT or O_TRUNC, pwrite, fsync, fdatasync,
 * ftruncate, fallocate, rename, unlink, mkdir). powerloss_arm(k) makes step
 * k and every later one fail with EIO without touching the disk: the
 * machine is dead from step k on, whatever the library does next. Reads,
 * fstat, close and the clock are not steps and keep working.
 *
 * fsync and fdatasync are not passed to the disk (the simulator decides
 * what is durable), which keeps thousands of crash runs fast.
 *
 * Usage: powerloss_start(root); powerloss_arm(k); ...drive the library...;
 * close every store; powerloss_apply(mode, seed); powerloss_stop(); then
 * reopen with the real seam. Thread-safe (one lock around every call).
 */
#ifndef ES_TEST_POWERLOSS_H
#define ES_TEST_POWERLOSS_H

#include <stdbool.h>
#include <stdint.h>

enum pl_mode {
    PL_CLEAN,  /* exactly what was synced */
    PL_PREFIX, /* plus, per file, a random prefix of its unsynced tail */
    PL_PAGES,  /* each unsynced 4 KiB page kept or dropped at random, the size
                  from either state (a grown file's missing pages read as
                  zeros) */
    PL_CHAOS,  /* PL_PAGES, and each unsynced directory change kept or
                  dropped at random, independently */
};

/* Records the tree under root (which must exist) as durable and installs
 * the simulator as the I/O seam. */
void powerloss_start(const char *root);
/* Uninstalls the seam (es_io_set(NULL)) and forgets everything. */
void powerloss_stop(void);

/* Crash at step k (1-based; 0: never). Resets the step counter. */
void powerloss_arm(uint64_t k);
/* Crash now (from the test). */
void powerloss_crash(void);
bool powerloss_crashed(void);
/* Steps counted since the last arm. */
uint64_t powerloss_steps(void);
/* What the crash interrupted, e.g. "fdatasync store/wal/...1.wal"
 * ("" before a crash). */
const char *powerloss_crash_what(void);

/* Makes the nth (1-based) fsync or fdatasync of a file whose path contains
 * path_contains fail with EIO, once, as Linux does after a failed
 * writeback: the file's dirty pages at that moment are dropped (they never
 * become durable, even if a later fsync succeeds), unless written again. */
void powerloss_fail_sync(const char *path_contains, uint64_t nth);
/* Whether the failure set by powerloss_fail_sync() happened. */
bool powerloss_sync_failed(void);
/* The step at which it happened (0: not yet). */
uint64_t powerloss_sync_failed_step(void);
/* Successful fsync/fdatasync calls on files whose path contains the text,
 * since powerloss_start(). */
uint64_t powerloss_syncs(const char *path_contains);

/* Rewrites the tree under root to the durable state (torn per mode, random
 * choices from seed), then takes that state as the new durable one and
 * disarms (the simulator may be used for another crash). No store may be
 * open. */
void powerloss_apply(enum pl_mode mode, uint64_t seed);

const char *powerloss_mode_name(enum pl_mode mode);

#endif
