/*
 * harness.c - the append harness shared by every durable-append target
 * (bench.h): writer threads released together by a barrier, per-append
 * latencies, exact percentiles, the result line. Also the payload, the
 * stream names and a reader of the mount's .esfs/metrics.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

size_t bench_payload(char *buf, size_t want, unsigned writer, uint64_t seq)
{
    int n = snprintf(buf, want + 1,
                     "{\"type\":\"BenchEvent\",\"writer\":%u,\"seq\":%" PRIu64 ",\"pad\":\"",
                     writer, seq);
    size_t len = n > 0 ? (size_t)n : 0;
    if (len + 2 > want) {
        /* too short for padding: a minimal valid object */
        len = (size_t)snprintf(buf, want + 1, "{\"type\":\"BenchEvent\"}");
        buf[len] = '\n';
        return len;
    }
    size_t pad = want - len - 2;
    memset(buf + len, 'x', pad);
    len += pad;
    buf[len++] = '"';
    buf[len++] = '}';
    buf[len] = '\n';
    return len;
}

void bench_stream_name(const struct bench_opts *o, uint64_t k, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%" PRIu64, o->prefix, k);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v. */
static int64_t pct(const int64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)(p * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

void bench_print_latency(const char *prefix, int64_t *lat, size_t n)
{
    qsort(lat, n, sizeof(*lat), cmp_i64);
    printf(" %sp50_us=%.1f %sp99_us=%.1f %sp999_us=%.1f %smax_us=%.1f", prefix,
           (double)pct(lat, n, 0.50) / 1e3, prefix, (double)pct(lat, n, 0.99) / 1e3, prefix,
           (double)pct(lat, n, 0.999) / 1e3, prefix, n ? (double)lat[n - 1] / 1e3 : 0.0);
}

double bench_metric(const char *mount, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/.esfs/metrics", mount);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    ssize_t n;
    while (text && (n = read(fd, text + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (len + 1 == cap) {
            char *more = realloc(text, cap * 2);
            if (!more) {
                free(text);
                text = NULL;
                break;
            }
            text = more;
            cap *= 2;
        }
    }
    close(fd);
    if (!text)
        return -1;
    text[len] = '\0';
    double v = -1;
    size_t nl = strlen(name);
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line[0] != '#' && !strncmp(line, name, nl) && line[nl] == ' ') {
            v = strtod(line + nl + 1, NULL);
            break;
        }
        line = next;
    }
    free(text);
    return v;
}

/* ---- the writers ---- */

struct shared_start {
    pthread_barrier_t barrier;
    int64_t start_ns, deadline_ns;
};

struct writer_arg {
    struct bench_writer *w;
    struct shared_start *ss;
    int open_rc;
};

static void *writer_main(void *p)
{
    struct writer_arg *a = p;
    struct bench_writer *w = a->w;
    const struct bench_opts *o = w->run->o;
    const struct bench_target *t = w->run->t;
    a->open_rc = t->writer_open ? t->writer_open(w) : 0;
    char *line = malloc(o->payload_bytes + 2);
    if (!line && a->open_rc == 0)
        a->open_rc = -ENOMEM;
    pthread_barrier_wait(&a->ss->barrier);
    if (a->open_rc != 0) {
        if (t->writer_close)
            t->writer_close(w);
        free(line);
        return NULL;
    }
    int64_t deadline = a->ss->deadline_ns;
    for (uint64_t i = 0; i < w->n_todo; i++) {
        size_t k = (size_t)(i % w->n_streams);
        size_t len = bench_payload(line, o->payload_bytes, w->id, i) + 1;
        int64_t expected = o->expect ? (int64_t)w->versions[k] : -1;
        int64_t t0 = bench_now_ns();
        int rc = t->append(w, k, line, len, expected);
        int64_t t1 = bench_now_ns();
        if (rc == 0) {
            w->versions[k]++;
            w->lat_ns[w->n_done++] = t1 - t0;
        } else {
            if (w->n_errors++ == 0)
                w->first_error = -rc;
        }
        if (deadline && t1 > deadline)
            break;
    }
    w->end_ns = bench_now_ns();
    if (t->writer_close)
        t->writer_close(w);
    free(line);
    return NULL;
}

/* Assigns the streams of writer w. */
static int assign_streams(const struct bench_opts *o, struct bench_writer *w)
{
    unsigned C = o->writers, S = o->one_stream ? 1 : o->streams;
    size_t n = 0;
    if (S >= C) {
        for (unsigned k = w->id; k < S; k += C)
            n++;
        if (n > w->n_todo && w->n_todo > 0)
            n = (size_t)w->n_todo; /* streams it would never append to stay closed */
    } else {
        n = 1;
    }
    w->n_streams = n;
    w->names = calloc(n, sizeof(*w->names));
    w->versions = calloc(n, sizeof(*w->versions));
    if (!w->names || !w->versions)
        return -ENOMEM;
    if (S >= C) {
        size_t i = 0;
        for (unsigned k = w->id; k < S && i < n; k += C)
            bench_stream_name(o, k, w->names[i++], BENCH_NAME_MAX);
    } else {
        bench_stream_name(o, w->id % S, w->names[0], BENCH_NAME_MAX);
    }
    return 0;
}

int bench_run_appends(const struct bench_opts *o, const struct bench_target *t)
{
    unsigned C = o->writers;
    unsigned S = o->one_stream ? 1 : o->streams;
    if (o->expect && S < C) {
        fprintf(stderr, "esfs-bench: --expect needs a stream per writer (streams >= writers)\n");
        return 1;
    }
    struct bench_run run = {.o = o, .t = t};
    struct bench_writer *ws = calloc(C, sizeof(*ws));
    struct writer_arg *args = calloc(C, sizeof(*args));
    pthread_t *tids = calloc(C, sizeof(*tids));
    struct shared_start ss = {0};
    int status = 1;
    bool set_up = false;
    if (!ws || !args || !tids)
        goto out;
    run.writers = ws;
    for (unsigned i = 0; i < C; i++) {
        ws[i].id = i;
        ws[i].run = &run;
        ws[i].n_todo = o->events / C + (i < o->events % C ? 1 : 0);
        ws[i].lat_ns = malloc((ws[i].n_todo ? ws[i].n_todo : 1) * sizeof(int64_t));
        if (!ws[i].lat_ns || assign_streams(o, &ws[i]) != 0)
            goto out;
    }
    if (t->setup && t->setup(&run) != 0)
        goto out;
    set_up = true;
    pthread_barrier_init(&ss.barrier, NULL, C + 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    unsigned started = 0;
    for (; started < C; started++) {
        args[started] = (struct writer_arg){.w = &ws[started], .ss = &ss};
        if (pthread_create(&tids[started], &attr, writer_main, &args[started]) != 0)
            break;
    }
    pthread_attr_destroy(&attr);
    if (started < C) {
        /* cannot release a barrier sized for C + 1: give up loudly */
        fprintf(stderr, "esfs-bench: could not start writer %u\n", started);
        exit(1);
    }
    ss.start_ns = bench_now_ns();
    ss.deadline_ns = o->max_seconds > 0 ? ss.start_ns + (int64_t)(o->max_seconds * 1e9) : 0;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    pthread_barrier_wait(&ss.barrier);
    int64_t start = bench_now_ns();
    for (unsigned i = 0; i < C; i++)
        pthread_join(tids[i], NULL);
    getrusage(RUSAGE_SELF, &ru1);
    pthread_barrier_destroy(&ss.barrier);

    int64_t end = start;
    uint64_t done = 0, errors = 0;
    int first_error = 0, open_error = 0;
    for (unsigned i = 0; i < C; i++) {
        if (args[i].open_rc && !open_error)
            open_error = -args[i].open_rc;
        if (ws[i].end_ns > end)
            end = ws[i].end_ns;
        done += ws[i].n_done;
        errors += ws[i].n_errors;
        if (ws[i].n_errors && !first_error)
            first_error = ws[i].first_error;
    }
    int64_t *all = malloc((done ? done : 1) * sizeof(*all));
    if (!all)
        goto out;
    size_t n = 0;
    for (unsigned i = 0; i < C; i++) {
        memcpy(all + n, ws[i].lat_ns, ws[i].n_done * sizeof(*all));
        n += ws[i].n_done;
    }
    double secs = (double)(end - start) / 1e9;
    printf("mode=%s target=%s writers=%u streams=%u events=%" PRIu64 " payload=%zu expect=%d"
           " done=%" PRIu64 " errors=%" PRIu64 " elapsed_s=%.3f appends_per_s=%.0f",
           o->mode, t->name, C, S, o->events, o->payload_bytes,
           o->expect_xattr ? 2
           : o->expect     ? 1
                           : 0,
           done, errors, secs, secs > 0 ? (double)done / secs : 0.0);
    bench_print_latency("", all, n);
    free(all);
    double cpu_us = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1e6 +
                    (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
                    (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1e6 +
                    (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
    printf(" client_cpu_us_per_append=%.1f", done ? cpu_us / (double)done : 0.0);
    if (t->report)
        t->report(&run);
    printf("\n");
    fflush(stdout);
    status = 0;
    if (open_error) {
        fprintf(stderr, "esfs-bench: a writer could not start: %s\n", strerror(open_error));
        status = 1;
    }
    if (errors) {
        fprintf(stderr, "esfs-bench: %" PRIu64 " appends failed; the first: %s\n", errors,
                strerror(first_error));
        status = 1;
    }
out:
    if (set_up && t->teardown && t->teardown(&run) != 0)
        status = 1;
    if (ws)
        for (unsigned i = 0; i < C; i++) {
            free(ws[i].lat_ns);
            free(ws[i].names);
            free(ws[i].versions);
        }
    free(ws);
    free(args);
    free(tids);
    return status;
}
