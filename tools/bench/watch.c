/*
 * watch.c - watch fan-out: N threads each block in read(2) on their own
 * descriptor of MOUNT/watch/all (positioned at the current end); then, R
 * times, one event is appended to a stream and every watcher's read return
 * is timed (CLOCK_MONOTONIC) against the moment just before the write(2)
 * and the moment it returned (the acknowledgement). Printed: percentiles
 * over every (watcher, round) sample from the write and from the ack, and
 * over rounds of the time the last watcher had the event (all_, allack_).
 *
 * Before each append the main thread waits until the daemon reports N
 * parked reads (the esfs_watchers gauge of .esfs/metrics), so every
 * watcher is really blocked in the daemon; after it, until all N watchers
 * have the event (a counter under a mutex and a condition variable).
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PARK_TIMEOUT_NS (60LL * 1000000000)

struct watch_ctx {
    const struct bench_opts *o;
    uint64_t base; /* byte offset of the end of `all` when the watchers start */
    pthread_barrier_t opened;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned received; /* watchers that have this round's event (under lock) */
    bool failed;       /* a watcher failed (under lock) */
    int64_t *t_read;   /* [watcher * rounds + round] */
};

struct watcher_arg {
    struct watch_ctx *ctx;
    unsigned id;
};

static void watcher_fail(struct watch_ctx *c, const char *what, int e)
{
    fprintf(stderr, "esfs-bench: watcher: %s: %s\n", what, strerror(e));
    pthread_mutex_lock(&c->lock);
    c->failed = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void *watcher_main(void *p)
{
    struct watcher_arg *a = p;
    struct watch_ctx *c = a->ctx;
    const struct bench_opts *o = c->o;
    char path[4096];
    snprintf(path, sizeof(path), "%s/watch/all", o->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int open_errno = errno;
    size_t read_bytes = o->read_bytes ? o->read_bytes : 128u << 10;
    char *buf = malloc(read_bytes);
    if (fd >= 0 && lseek(fd, (off_t)c->base, SEEK_SET) < 0)
        open_errno = errno;
    pthread_barrier_wait(&c->opened);
    if (fd < 0 || !buf) {
        watcher_fail(c, "open watch/all", fd < 0 ? open_errno : ENOMEM);
        goto out;
    }
    for (unsigned r = 0; r < o->rounds; r++) {
        for (;;) {
            ssize_t n = read(fd, buf, read_bytes);
            int64_t t = bench_now_ns();
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                watcher_fail(c, n == 0 ? "read watch/all: end of file" : "read watch/all",
                             n == 0 ? EIO : errno);
                goto out;
            }
            if (buf[n - 1] != '\n')
                continue; /* the rest of the line follows */
            c->t_read[(size_t)a->id * o->rounds + r] = t;
            break;
        }
        pthread_mutex_lock(&c->lock);
        c->received++;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
    }
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

/* Bytes of MOUNT/all now (read to the end: the watch test runs on a small store). */
static int all_size(const char *dir, uint64_t *out)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/all", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    static char buf[1 << 17];
    ssize_t n;
    *out = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        *out += (uint64_t)n;
    close(fd);
    return n < 0 ? -errno : 0;
}

/* Waits until the daemon holds n parked reads (or a watcher failed). */
static int wait_parked(struct watch_ctx *c, unsigned n)
{
    int64_t deadline = bench_now_ns() + PARK_TIMEOUT_NS;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        bool failed = c->failed;
        pthread_mutex_unlock(&c->lock);
        if (failed)
            return -EIO;
        double parked = bench_metric(c->o->dir, "esfs_watchers");
        if (parked < 0)
            return -EIO;
        if (parked >= n)
            return 0;
        if (bench_now_ns() > deadline) {
            fprintf(stderr, "esfs-bench: only %.0f of %u watchers parked after 60 s\n", parked, n);
            return -ETIMEDOUT;
        }
        sched_yield();
    }
}

int bench_watch(const struct bench_opts *o)
{
    unsigned N = o->watchers, R = o->rounds;
    struct watch_ctx c = {.o = o};
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cond, NULL);
    char path[4096], name[BENCH_NAME_MAX];
    bench_stream_name(o, 0, name, sizeof(name));
    snprintf(path, sizeof(path), "%s/streams/%s", o->dir, name);
    int wfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (wfd < 0) {
        fprintf(stderr, "esfs-bench: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    int rc = all_size(o->dir, &c.base);
    if (rc) {
        fprintf(stderr, "esfs-bench: reading %s/all: %s\n", o->dir, strerror(-rc));
        close(wfd);
        return 1;
    }
    c.t_read = calloc((size_t)N * R, sizeof(int64_t));
    int64_t *t0 = calloc(R, sizeof(int64_t)), *tack = calloc(R, sizeof(int64_t));
    pthread_t *tids = calloc(N, sizeof(*tids));
    struct watcher_arg *args = calloc(N, sizeof(*args));
    char *line = malloc(o->payload_bytes + 2);
    if (!c.t_read || !t0 || !tack || !tids || !args || !line) {
        fprintf(stderr, "esfs-bench: out of memory\n");
        return 1;
    }
    pthread_barrier_init(&c.opened, NULL, N + 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 << 10);
    for (unsigned i = 0; i < N; i++) {
        args[i] = (struct watcher_arg){.ctx = &c, .id = i};
        if (pthread_create(&tids[i], &attr, watcher_main, &args[i]) != 0) {
            fprintf(stderr, "esfs-bench: could not start watcher %u\n", i);
            exit(1);
        }
    }
    pthread_attr_destroy(&attr);
    pthread_barrier_wait(&c.opened);

    int status = 0;
    unsigned r = 0;
    for (; r < R; r++) {
        if (wait_parked(&c, N) != 0) {
            status = 1;
            break;
        }
        size_t len = bench_payload(line, o->payload_bytes, 0, r) + 1;
        pthread_mutex_lock(&c.lock);
        c.received = 0;
        pthread_mutex_unlock(&c.lock);
        t0[r] = bench_now_ns();
        ssize_t n = write(wfd, line, len);
        tack[r] = bench_now_ns();
        if (n != (ssize_t)len) {
            fprintf(stderr, "esfs-bench: append: %s\n", n < 0 ? strerror(errno) : "short write");
            status = 1;
            break;
        }
        pthread_mutex_lock(&c.lock);
        while (c.received < N && !c.failed)
            pthread_cond_wait(&c.cond, &c.lock);
        bool failed = c.failed;
        pthread_mutex_unlock(&c.lock);
        if (failed) {
            status = 1;
            break;
        }
    }
    if (status) {
        /* watchers still blocked would keep the process alive: leave */
        fprintf(stderr, "esfs-bench: watch test failed in round %u\n", r);
        exit(1);
    }
    for (unsigned i = 0; i < N; i++)
        pthread_join(tids[i], NULL);
    close(wfd);

    size_t n_samples = (size_t)N * R;
    int64_t *from_write = malloc(n_samples * sizeof(int64_t));
    int64_t *from_ack = malloc(n_samples * sizeof(int64_t));
    int64_t *round_max = malloc(R * sizeof(int64_t));
    int64_t *round_max_ack = malloc(R * sizeof(int64_t));
    int64_t *ack = malloc(R * sizeof(int64_t));
    if (!from_write || !from_ack || !round_max || !round_max_ack || !ack)
        return 1;
    for (unsigned k = 0; k < R; k++) {
        int64_t last = 0;
        ack[k] = tack[k] - t0[k];
        for (unsigned i = 0; i < N; i++) {
            int64_t t = c.t_read[(size_t)i * R + k];
            from_write[(size_t)k * N + i] = t - t0[k];
            from_ack[(size_t)k * N + i] = t - tack[k];
            if (i == 0 || t > last)
                last = t;
        }
        round_max[k] = last - t0[k];
        round_max_ack[k] = last - tack[k];
    }
    printf("mode=watch watchers=%u rounds=%u samples=%zu", N, R, n_samples);
    bench_print_latency("", from_write, n_samples);
    bench_print_latency("ack_", from_ack, n_samples);
    bench_print_latency("all_", round_max, R);
    bench_print_latency("allack_", round_max_ack, R);
    bench_print_latency("write_", ack, R);
    printf("\n");
    free(from_write);
    free(from_ack);
    free(round_max);
    free(round_max_ack);
    free(ack);
    free(c.t_read);
    free(t0);
    free(tack);
    free(tids);
    free(args);
    free(line);
    pthread_barrier_destroy(&c.opened);
    return status;
}
