/*
 * target_lib.c - the library alone, without FUSE: es_store_append from
 * every writer thread on a store opened in-process (ES_SYNC_ALWAYS unless
 * --sync says otherwise), and the "fill" mode that builds a large store
 * quickly (async appends, a bounded number in flight, ES_SYNC_NONE by
 * default; es_store_close makes it durable and checkpoints the indexes;
 * with --crash it exits without closing, leaving the store as a killed
 * daemon would: the index checkpoint behind the log).
 */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esfs/esfs.h"

static int parse_sync(const char *s, enum es_sync *out)
{
    if (!s || !strcmp(s, "always"))
        *out = ES_SYNC_ALWAYS;
    else if (!strcmp(s, "none"))
        *out = ES_SYNC_NONE;
    else
        return -EINVAL;
    return 0;
}

static int open_store(const struct bench_opts *o, enum es_sync dflt, struct es_store **out)
{
    struct es_options opt;
    es_options_init(&opt);
    opt.sync = dflt;
    if (o->sync && parse_sync(o->sync, &opt.sync) != 0) {
        fprintf(stderr, "esfs-bench: --sync is always or none\n");
        return -EINVAL;
    }
    int rc = es_store_open(o->dir, &opt, out);
    if (rc)
        fprintf(stderr, "esfs-bench: opening the store %s: %s (%s)\n", o->dir, es_strerror(rc),
                es_error_detail());
    return rc;
}

static int lib_setup(struct bench_run *r)
{
    struct es_store *s;
    int rc = open_store(r->o, ES_SYNC_ALWAYS, &s);
    if (rc)
        return rc;
    r->shared = s;
    return 0;
}

static int lib_writer_open(struct bench_writer *w)
{
    if (!w->run->o->expect)
        return 0;
    for (size_t k = 0; k < w->n_streams; k++) {
        struct es_stream_info si;
        if (es_store_stream_info(w->run->shared, w->names[k], strlen(w->names[k]), &si) == 0)
            w->versions[k] = si.version;
    }
    return 0;
}

static int lib_append(struct bench_writer *w, size_t k, const char *line, size_t len,
                      int64_t expected)
{
    struct es_payload p = {line, len - 1}; /* without the '\n' */
    struct es_append_result res;
    int rc = es_store_append(w->run->shared, w->names[k], strlen(w->names[k]), &p, 1,
                             expected >= 0 ? expected : ES_VERSION_ANY, &res);
    return rc ? -es_errno(rc) : 0;
}

static void lib_report(struct bench_run *r)
{
    struct es_metrics m;
    es_store_metrics(r->shared, &m);
    printf(" fsyncs=%" PRIu64 " group_commits=%" PRIu64 " events_per_fsync=%.2f", m.fsyncs,
           m.batches, m.fsyncs ? (double)m.events / (double)m.fsyncs : 0.0);
}

static int lib_teardown(struct bench_run *r)
{
    int rc = es_store_close(r->shared);
    r->shared = NULL;
    if (rc)
        fprintf(stderr, "esfs-bench: closing the store: %s\n", es_strerror(rc));
    return rc;
}

const struct bench_target bench_target_lib = {
    .name = "lib",
    .setup = lib_setup,
    .writer_open = lib_writer_open,
    .append = lib_append,
    .report = lib_report,
    .teardown = lib_teardown,
};

/* ---- fill ---- */

#define FILL_WINDOW 4096

struct fill_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned in_flight;
    uint64_t failed;
    int first_rc;
};

static void fill_done(void *arg, int rc, const struct es_append_result *res)
{
    (void)res;
    struct fill_state *f = arg;
    pthread_mutex_lock(&f->lock);
    f->in_flight--;
    if (rc && f->failed++ == 0)
        f->first_rc = rc;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->lock);
}

int bench_fill(const struct bench_opts *o)
{
    struct es_store *s;
    if (open_store(o, ES_SYNC_NONE, &s) != 0)
        return 1;
    struct fill_state f = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    char *line = malloc(o->payload_bytes + 2);
    if (!line) {
        es_store_close(s);
        return 1;
    }
    int64_t t0 = bench_now_ns();
    int status = 0;
    for (uint64_t i = 0; i < o->events; i++) {
        char name[BENCH_NAME_MAX];
        bench_stream_name(o, i % o->streams, name, sizeof(name));
        size_t len = bench_payload(line, o->payload_bytes, 0, i);
        struct es_payload p = {line, len};
        struct es_append a = {.stream = name,
                              .stream_len = strlen(name),
                              .events = &p,
                              .n_events = 1,
                              .expected_version = ES_VERSION_ANY,
                              .done = fill_done,
                              .done_arg = &f};
        pthread_mutex_lock(&f.lock);
        while (f.in_flight >= FILL_WINDOW)
            pthread_cond_wait(&f.cond, &f.lock);
        f.in_flight++;
        pthread_mutex_unlock(&f.lock);
        int rc = es_store_append_async(s, &a);
        if (rc) {
            fprintf(stderr, "esfs-bench: fill: append: %s\n", es_strerror(rc));
            pthread_mutex_lock(&f.lock);
            f.in_flight--;
            pthread_mutex_unlock(&f.lock);
            status = 1;
            break;
        }
    }
    pthread_mutex_lock(&f.lock);
    while (f.in_flight > 0)
        pthread_cond_wait(&f.cond, &f.lock);
    pthread_mutex_unlock(&f.lock);
    int64_t t1 = bench_now_ns();
    if (o->crash && f.failed == 0 && status == 0) {
        printf("mode=fill events=%" PRIu64 " streams=%u payload=%zu elapsed_s=%.3f crashed=1\n",
               o->events, o->streams, o->payload_bytes, (double)(t1 - t0) / 1e9);
        fflush(stdout);
        _exit(0); /* the writes are in the file; no checkpoint, no close */
    }
    int rc = es_store_close(s);
    int64_t t2 = bench_now_ns();
    if (rc || f.failed) {
        fprintf(stderr, "esfs-bench: fill: %" PRIu64 " appends failed (%s); close: %s\n", f.failed,
                es_strerror(f.first_rc), es_strerror(rc));
        status = 1;
    }
    double secs = (double)(t1 - t0) / 1e9;
    printf("mode=fill events=%" PRIu64 " streams=%u payload=%zu elapsed_s=%.3f events_per_s=%.0f"
           " close_s=%.3f\n",
           o->events, o->streams, o->payload_bytes, secs, secs > 0 ? (double)o->events / secs : 0,
           (double)(t2 - t1) / 1e9);
    free(line);
    return status;
}
