/*
 * store_util.h - helpers for the storage engine's unit tests: a log
 * collector, opening and filling stores with a deterministic workload,
 * reading whole views, snapshots of everything a reader can see (to compare
 * a store with itself after a rebuild or a reopen), and damaging files on
 * purpose. Failures inside these helpers fail the calling cmocka test.
 */
#ifndef ES_TEST_STORE_UTIL_H
#define ES_TEST_STORE_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esfs/esfs.h"

/* ---- log collector (an es_log_fn) ---- */

struct logcap {
    pthread_mutex_t lock;
    char *text; /* every message, one per line, "<level> <msg>\n" */
    size_t len, cap;
    unsigned n_warn, n_error;
};
void logcap_init(struct logcap *c);
void logcap_release(struct logcap *c);
void logcap_clear(struct logcap *c);
void logcap_fn(void *arg, enum es_log_level level, const char *msg);
/* Whether some message contains needle. */
bool logcap_has(struct logcap *c, const char *needle);

/* ---- per-test fixture ---- */

/* A fresh temporary directory (removed by su_teardown, also when the test
 * fails), a store path inside it, and a log collector. su_teardown also
 * uninstalls the fault-injecting seam. */
struct su_fixture {
    char dir[4096];
    char store[4200];
    struct logcap cap;
};
int su_setup(void **state);
int su_teardown(void **state);

/* ---- stores ---- */

/* es_options_init, plus the collector (may be NULL) and a small cache. */
void su_options(struct es_options *o, struct logcap *cap);
/* Opens, failing the test (with the detail) unless it works. */
struct es_store *su_open(const char *dir, const struct es_options *o);
/* Closes, failing the test unless it returns 0. */
void su_close(struct es_store *s);

/* Appends one event (NUL-terminated payload); fails the test on error.
 * Returns its position. */
uint64_t su_append(struct es_store *s, const char *stream, const char *payload);

/* The deterministic workload: event number i (1-based) goes to stream
 * su_gen_stream(i) and carries su_gen_payload(i): JSON objects with and
 * without a type, plain text, text with quotes, tabs and UTF-8, invalid
 * UTF-8, of varied lengths. */
void su_gen_stream(uint64_t i, unsigned n_streams, char *buf, size_t cap);
size_t su_gen_payload(uint64_t i, char *buf, size_t cap);
/* Appends events first..first+n-1 of the workload, one append each. */
void su_fill(struct es_store *s, uint64_t first, uint64_t n, unsigned n_streams);

/* The whole view (read in chunks of an odd size), malloc'd, NUL-terminated. */
char *su_read_view(struct es_store *s, enum es_view v, const char *name, size_t *len);
/* ES_VIEW_ALL as rendered from a cursor over every event with
 * es_envelope_render (an independent path to the same bytes). */
char *su_render_all(struct es_store *s, size_t *len);

/* Everything a reader sees. */
struct su_stream_snap {
    char name[ES_STREAM_NAME_MAX];
    size_t name_len;
    struct es_stream_info info;
    char *view;
    size_t view_len;
};
struct su_snapshot {
    struct es_log_info li;
    char *all;
    size_t all_len;
    struct su_stream_snap *streams;
    uint32_t n_streams;
};
void su_snapshot_take(struct es_store *s, struct su_snapshot *out);
void su_snapshot_assert_equal(const struct su_snapshot *a, const struct su_snapshot *b);
void su_snapshot_release(struct su_snapshot *snap);

/* Checks positions 1..last with no gap and versions 1..n per stream, by a
 * cursor over the whole log. Returns the number of events. */
uint64_t su_check_sequence(struct es_store *s);

/* ---- files ---- */

/* snprintf into buf, failing the test if it does not fit. */
void su_path(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void su_flip_bit(const char *path, uint64_t off, unsigned bit);
void su_truncate(const char *path, uint64_t len);
/* Appends bytes at the end of path. */
void su_append_bytes(const char *path, const void *data, size_t len);
/* Number of directory entries of dir whose names end with suffix ("" for
 * all but . and ..); 0 when dir is missing. */
unsigned su_count_files(const char *dir, const char *suffix);
/* The greatest name (in strcmp order) ending with suffix; false if none. */
bool su_last_file(const char *dir, const char *suffix, char *name, size_t cap);
/* Whether two files have the same bytes, except that the longer may
 * continue with zero bytes only (index files grow in zeroed steps). */
bool su_files_equal_zero_tail(const char *a, const char *b);

#endif
