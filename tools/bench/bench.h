/*
 * bench.h - esfs-bench's shared pieces: the options, the append harness
 * that drives every durable-append benchmark (through the mount, the
 * library, a plain file, PostgreSQL) the same way, latency statistics, the
 * payload and the one-line key=value result that tools/bench/run.sh parses.
 *
 * Harness contract: C writer threads; writer w appends to the streams
 * k < S with k % C == w (or, when S < C or --one-stream, to shared
 * streams), round-robin, E/C events each; every append is timed on its own
 * thread with CLOCK_MONOTONIC from just before the call to its return. A
 * target opens its own descriptors/connections in each writer's thread
 * before the start barrier; nothing is timed before it.
 */
#ifndef ESFS_BENCH_H
#define ESFS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_NAME_MAX 128

struct bench_opts {
    const char *mode;
    const char *dir;      /* mount point (append, watch, read), store (lib, fill) */
    const char *path;     /* plain file (file, read) */
    const char *prefix;   /* stream names: prefix + number */
    const char *conninfo; /* PostgreSQL */
    const char *fsync;    /* file: "group" or "each" */
    const char *sync;     /* lib, fill: "always", "none" */
    uint64_t events;      /* E */
    unsigned streams;     /* S */
    unsigned writers;     /* C */
    size_t payload_bytes; /* length of each payload (without '\n') */
    bool expect;          /* check the expected version on every append */
    bool expect_xattr;    /* mount: check and append in one setxattr (user.esfs.append.N) */
    bool one_stream;      /* every writer appends to stream prefix + "0" */
    double max_seconds;   /* a writer stops after this long (0: never) */
    unsigned watchers;    /* watch */
    unsigned rounds;      /* watch */
    size_t read_bytes;    /* read size of read and watch */
    bool prealloc;        /* file: zero-fill first, then overwrite in place */
    bool crash;           /* fill: end with _exit, without closing the store */
};

struct bench_writer;
struct bench_run;

/* A system under test. Every hook but append may be NULL. */
struct bench_target {
    const char *name;
    /* once, before the writers start; may set run->shared */
    int (*setup)(struct bench_run *r);
    /* in the writer's own thread, before the start barrier */
    int (*writer_open)(struct bench_writer *w);
    /* one durable append of line[0..len) (payload + '\n') to the writer's
     * stream k, with the expected version (or -1): 0 or -errno */
    int (*append)(struct bench_writer *w, size_t k, const char *line, size_t len, int64_t expected);
    void (*writer_close)(struct bench_writer *w);
    /* after the writers; prints extra " key=value" pairs to stdout */
    void (*report)(struct bench_run *r);
    int (*teardown)(struct bench_run *r);
};

struct bench_writer {
    unsigned id;
    struct bench_run *run;
    size_t n_streams;
    char (*names)[BENCH_NAME_MAX]; /* the streams it appends to */
    uint64_t *versions;            /* events each holds (for --expect) */
    uint64_t n_todo, n_done, n_errors;
    int first_error; /* errno of the first failure */
    int64_t *lat_ns;
    int64_t end_ns;
    void *state; /* the target's */
};

struct bench_run {
    const struct bench_opts *o;
    const struct bench_target *t;
    struct bench_writer *writers;
    void *shared; /* the target's */
};

/* ---- harness.c ---- */
int64_t bench_now_ns(void);
/* Writes a JSON payload of exactly want bytes (at least ~60) into buf,
 * followed by '\n' (not counted). buf holds want + 1 bytes. */
size_t bench_payload(char *buf, size_t want, unsigned writer, uint64_t seq);
/* Stream name number k. */
void bench_stream_name(const struct bench_opts *o, uint64_t k, char *buf, size_t cap);
/* Runs the append benchmark of target t and prints its result line.
 * Returns 0, or 1 when something failed (reported on stderr). */
int bench_run_appends(const struct bench_opts *o, const struct bench_target *t);
/* Sorts lat and prints " <prefix>p50_us=... p99_us p999_us max_us". */
void bench_print_latency(const char *prefix, int64_t *lat, size_t n);
/* Reads a gauge or counter from the mount's .esfs/metrics; -1 on failure. */
double bench_metric(const char *mount, const char *name);

/* ---- targets ---- */
extern const struct bench_target bench_target_mount;
extern const struct bench_target bench_target_lib;
extern const struct bench_target bench_target_file;
#ifdef ESFS_BENCH_HAVE_PQ
extern const struct bench_target bench_target_pg;
#endif

/* ---- other modes ---- */
int bench_fill(const struct bench_opts *o);  /* target_lib.c */
int bench_read(const struct bench_opts *o);  /* read.c */
int bench_watch(const struct bench_opts *o); /* watch.c */

#endif
