/*
 * store.c - opening and closing a store, queueing appends and seals, and
 * the small read-side queries (info, names, metrics, wait).
 *
 * Invariants: an append is either rejected by es_store_append_async (and
 * its callback never runs) or queued, and then its callback runs exactly
 * once, also when the store closes. The writer thread is the only one that
 * changes the log or the index.
 */
#include "store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/io.h"
#include "format/frame.h"
#include "format/json.h"

int64_t es_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void es_options_init(struct es_options *o)
{
    memset(o, 0, sizeof(*o));
    o->sync = ES_SYNC_ALWAYS;
    o->sync_batch_ms = 10;
    o->segment_bytes = (uint64_t)64 << 20;
    o->max_event_bytes = 1u << 20;
    o->compress = true;
    o->compress_level = 3;
    o->block_cache_bytes = (size_t)32 << 20;
    o->checkpoint_events = 262144;
}

/* fsync of the directory holding path, so a new entry there is durable. */
static int fsync_parent(const char *path)
{
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", path);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof(parent), ".");
    else if (slash == parent)
        parent[1] = '\0';
    else
        *slash = '\0';
    return es_io_fsync_dir(parent);
}

/* Missing (created when writable), empty, or holding segments/: a store. */
static int prepare_dir(const char *path, bool read_only)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT)
            return es_fail_errno(errno, "stat %s", path);
        if (read_only)
            return es_fail(ES_ENOTSTORE, "%s does not exist", path);
        if (es_io->mkdir(path, 0755) != 0)
            return es_fail_errno(errno, "creating the store directory %s", path);
        /* until its parent is synced, a power loss can take the new store
         * directory away with every event acknowledged in it */
        return fsync_parent(path);
    }
    if (!S_ISDIR(st.st_mode))
        return es_fail(ES_ENOTSTORE, "%s is not a directory", path);
    char seg[PATH_MAX];
    snprintf(seg, sizeof(seg), "%s/segments", path);
    if (stat(seg, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    DIR *d = opendir(path);
    if (!d)
        return es_fail_errno(errno, "listing %s", path);
    bool empty = true;
    struct dirent *de;
    /* LOCK alone: a creation that a crash stopped before segments/ */
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
            strcmp(de->d_name, "LOCK") != 0)
            empty = false;
    closedir(d);
    if (!empty)
        return es_fail(ES_ENOTSTORE, "%s holds files but no segments/ directory", path);
    if (read_only)
        return es_fail(ES_ENOTSTORE, "%s is empty", path);
    return 0;
}

static int take_lock(struct es_store *s)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/LOCK", s->path);
    int fd = es_io_open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0)
        return fd;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        es_io_close(fd);
        if (e == EWOULDBLOCK)
            return es_fail(ES_ELOCKED, "%s is locked by another esfs process", path);
        return es_fail_errno(e, "locking %s", path);
    }
    s->lock_fd = fd;
    return 0;
}

static int check_options(const struct es_options *o)
{
    if (o->max_event_bytes == 0 || o->max_event_bytes > ES_MAX_EVENT_BYTES_LIMIT)
        return es_fail(ES_EMISUSE, "max event size %u outside 1..%u", o->max_event_bytes,
                       ES_MAX_EVENT_BYTES_LIMIT);
    if (o->segment_bytes < (1u << 16))
        return es_fail(ES_EMISUSE, "segment size %llu below 64 KiB",
                       (unsigned long long)o->segment_bytes);
    if (o->sync == ES_SYNC_BATCH && o->sync_batch_ms == 0)
        return es_fail(ES_EMISUSE, "batch sync interval of 0 ms");
    if (o->sync != ES_SYNC_ALWAYS && o->sync != ES_SYNC_BATCH && o->sync != ES_SYNC_NONE)
        return es_fail(ES_EMISUSE, "unknown sync mode");
    return 0;
}

static int store_open(const char *path, const struct es_options *o, bool reindex,
                      struct es_store **out);

int es_store_open(const char *path, const struct es_options *o, struct es_store **out)
{
    return store_open(path, o, false, out);
}

int es_store_open_reindex(const char *path, const struct es_options *o, struct es_store **out)
{
    return store_open(path, o, true, out);
}

static void remove_index_files(const char *path)
{
    static const char *const files[] = {"checkpoint", "global.idx", "streams.idx"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/index/%s", path, files[i]);
        es_io->unlink(p);
    }
}

static int store_open(const char *path, const struct es_options *o, bool reindex,
                      struct es_store **out)
{
    struct es_options defaults;
    if (!o) {
        es_options_init(&defaults);
        o = &defaults;
    }
    int rc = check_options(o);
    if (rc)
        return rc;
    if (strlen(path) > PATH_MAX - 64)
        return es_fail(-ENAMETOOLONG, "store path");
    struct es_store *s = calloc(1, sizeof(*s));
    if (!s)
        return es_fail(-ENOMEM, "opening %s", path);
    s->opt = *o;
    s->lg.fn = o->log;
    s->lg.arg = o->log_arg;
    s->lock_fd = -1;
    snprintf(s->path, sizeof(s->path), "%s", path);
    pthread_mutex_init(&s->q_lock, NULL);
    pthread_cond_init(&s->q_cond, NULL);
    pthread_mutex_init(&s->seal_lock, NULL);
    pthread_cond_init(&s->seal_cond, NULL);
    pthread_mutex_init(&s->wait_lock, NULL);
    pthread_cond_init(&s->wait_cond, NULL);
    pthread_mutex_init(&s->ack_lock, NULL);
    pthread_cond_init(&s->ack_cond, NULL);
    pthread_mutex_init(&s->metrics.lock, NULL);

    if ((rc = prepare_dir(path, o->read_only)) != 0)
        goto fail;
    if (!o->read_only && (rc = take_lock(s)) != 0)
        goto fail;
    struct es_log_options lo = {.dir = path,
                                .read_only = o->read_only,
                                .compress = o->compress,
                                .compress_level = o->compress_level,
                                .cache_bytes = o->block_cache_bytes,
                                .logger = &s->lg};
    struct es_log_recovery rec;
    if ((rc = es_log_open(&lo, &s->log, &rec)) != 0)
        goto fail;
    if (!o->read_only && (rc = es_log_sync(s->log)) != 0)
        goto fail;
    char ixdir[PATH_MAX];
    snprintf(ixdir, sizeof(ixdir), "%s/index", path);
    if (reindex)
        remove_index_files(path);
    struct es_index_open_info info;
    if ((rc = es_index_open(o->read_only ? NULL : ixdir, s->log, &s->lg, &s->ix, &info)) != 0)
        goto fail;
    atomic_store(&s->pub_last_ts, es_log_last_ts(s->log)); /* the index covers the log */
    struct es_log_info li;
    es_store_log_info(s, &li);
    es_logf(&s->lg, ES_LOG_INFO,
            "opened %s%s: %llu events in %u streams, %u sealed segments; index %s "
            "(checkpoint at %llu, %llu events caught up)",
            path, o->read_only ? " read-only" : "", (unsigned long long)li.last_pos, li.n_streams,
            li.n_sealed_segments, info.rebuilt ? "rebuilt" : "loaded",
            (unsigned long long)info.checkpoint_pos, (unsigned long long)info.caught_up);
    s->sealed_through = 0;
    s->last_sync_ns = es_mono_ns();
    if (!o->read_only) {
        if ((rc = pthread_create(&s->acker, NULL, es_acker_main, s)) != 0) {
            rc = es_fail(-rc, "starting the acknowledging thread");
            goto fail;
        }
        s->acker_running = true;
        if ((rc = pthread_create(&s->writer, NULL, es_writer_main, s)) != 0) {
            rc = es_fail(-rc, "starting the writer thread");
            goto fail;
        }
        s->writer_running = true;
        if ((rc = pthread_create(&s->sealer, NULL, es_sealer_main, s)) != 0) {
            rc = es_fail(-rc, "starting the sealer thread");
            goto fail;
        }
        s->sealer_running = true;
    }
    *out = s;
    return 0;
fail:
    es_store_close(s);
    return rc;
}

int es_store_close(struct es_store *s)
{
    if (!s)
        return 0;
    int rc = 0;
    if (s->writer_running) {
        pthread_mutex_lock(&s->q_lock);
        s->closing = true;
        pthread_cond_signal(&s->q_cond);
        pthread_mutex_unlock(&s->q_lock);
        pthread_join(s->writer, NULL);
    }
    if (s->acker_running) {
        /* after the writer: it drains what the writer handed over */
        pthread_mutex_lock(&s->ack_lock);
        s->ack_stop = true;
        pthread_cond_signal(&s->ack_cond);
        pthread_mutex_unlock(&s->ack_lock);
        pthread_join(s->acker, NULL);
        s->acker_running = false;
    }
    if (s->sealer_running) {
        pthread_mutex_lock(&s->seal_lock);
        s->sealer_stop = true;
        pthread_cond_signal(&s->seal_cond);
        pthread_mutex_unlock(&s->seal_lock);
        pthread_join(s->sealer, NULL);
    }
    if (atomic_load(&s->poisoned))
        rc = ES_EFAILED;
    pthread_mutex_lock(&s->wait_lock);
    s->closing = true;
    pthread_cond_broadcast(&s->wait_cond);
    while (s->n_waiters > 0) /* each leaves with ES_ECLOSED */
        pthread_cond_wait(&s->wait_cond, &s->wait_lock);
    pthread_mutex_unlock(&s->wait_lock);
    es_index_close(s->ix);
    es_log_close(s->log);
    if (s->lock_fd >= 0)
        es_io_close(s->lock_fd);
    es_buf_release(&s->frames);
    pthread_mutex_destroy(&s->q_lock);
    pthread_cond_destroy(&s->q_cond);
    pthread_mutex_destroy(&s->seal_lock);
    pthread_cond_destroy(&s->seal_cond);
    pthread_mutex_destroy(&s->wait_lock);
    pthread_cond_destroy(&s->wait_cond);
    pthread_mutex_destroy(&s->ack_lock);
    pthread_cond_destroy(&s->ack_cond);
    pthread_mutex_destroy(&s->metrics.lock);
    free(s);
    return rc;
}

/* ---- appends ---- */

static int queue_req(struct es_store *s, struct append_req *r)
{
    pthread_mutex_lock(&s->q_lock);
    if (s->closing) {
        pthread_mutex_unlock(&s->q_lock);
        return es_fail(ES_ECLOSED, "append while the store closes");
    }
    r->next = NULL;
    if (s->q_tail)
        s->q_tail->next = r;
    else
        s->q_head = r;
    s->q_tail = r;
    pthread_cond_signal(&s->q_cond);
    pthread_mutex_unlock(&s->q_lock);
    return 0;
}

int es_store_append_async(struct es_store *s, const struct es_append *a)
{
    if (s->opt.read_only)
        return es_fail(ES_EREADONLY, "append to a read-only store");
    if (atomic_load_explicit(&s->poisoned, memory_order_acquire))
        return es_fail(ES_EFAILED, "append to %.*s refused", (int)a->stream_len, a->stream);
    int rc = es_stream_name_check(a->stream, a->stream_len);
    if (rc)
        return rc;
    if (a->n_events == 0 || !a->done)
        return es_fail(ES_EMISUSE, "append without events or callback");
    if (a->expected_version < ES_VERSION_ANY)
        return es_fail(ES_EMISUSE, "expected version %lld", (long long)a->expected_version);
    size_t total = a->stream_len;
    for (size_t i = 0; i < a->n_events; i++) {
        const struct es_payload *p = &a->events[i];
        if (p->len > s->opt.max_event_bytes)
            return es_fail(ES_ETOOBIG, "event %zu of %zu bytes to %.*s (limit %u)", i + 1, p->len,
                           (int)a->stream_len, a->stream, s->opt.max_event_bytes);
        if (p->len == 0)
            return es_fail(ES_EMISUSE, "empty event %zu to %.*s", i + 1, (int)a->stream_len,
                           a->stream);
        if (memchr(p->data, '\n', p->len))
            return es_fail(ES_EMISUSE, "event %zu to %.*s holds a newline", i + 1,
                           (int)a->stream_len, a->stream);
        total += p->len;
    }
    struct append_req *r = calloc(1, sizeof(*r));
    struct append_event *evs = calloc(a->n_events, sizeof(*evs));
    struct es_buf data = ES_BUF_INIT;
    struct es_buf type = ES_BUF_INIT;
    rc = (r && evs && es_buf_reserve(&data, total) == 0) ? 0 : -ENOMEM;
    if (rc == 0)
        es_buf_append(&data, a->stream, a->stream_len);
    size_t frame_bytes = 0;
    for (size_t i = 0; i < a->n_events && rc == 0; i++) {
        const struct es_payload *p = &a->events[i];
        struct es_json_info ji;
        if ((rc = es_json_inspect(p->data, p->len, &ji, &type)) != 0)
            break;
        size_t tl = ji.has_type && type.len <= ES_TYPE_MAX ? type.len : 0;
        evs[i].is_json = ji.is_json;
        evs[i].payload_len = (uint32_t)p->len;
        evs[i].payload_off = data.len;
        if ((rc = es_buf_append(&data, p->data, p->len)) != 0)
            break;
        evs[i].type_len = (uint32_t)tl;
        evs[i].type_off = data.len;
        if (tl && (rc = es_buf_append(&data, type.data, tl)) != 0)
            break;
        frame_bytes += es_frame_size(a->stream_len, tl, p->len);
    }
    es_buf_release(&type);
    if (rc) {
        free(r);
        free(evs);
        es_buf_release(&data);
        return es_fail(rc, "queueing an append to %.*s", (int)a->stream_len, a->stream);
    }
    r->kind = REQ_APPEND;
    r->data = data.data;
    r->stream = (const char *)data.data;
    r->stream_len = a->stream_len;
    r->events = evs;
    r->n_events = a->n_events;
    r->frame_bytes = frame_bytes;
    r->expected = a->expected_version;
    r->done = a->done;
    r->done_arg = a->done_arg;
    r->queued_ns = es_mono_ns();
    if ((rc = queue_req(s, r)) != 0) {
        free(r->data);
        free(r->events);
        free(r);
    }
    return rc;
}

struct sync_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int rc;
    struct es_append_result res;
};

static void sync_done(void *arg, int rc, const struct es_append_result *res)
{
    struct sync_wait *w = arg;
    pthread_mutex_lock(&w->lock);
    w->rc = rc;
    if (rc == 0 && res)
        w->res = *res;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static int sync_wait_for(struct sync_wait *w)
{
    pthread_mutex_lock(&w->lock);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    return w->rc;
}

int es_store_append(struct es_store *s, const char *stream, size_t stream_len,
                    const struct es_payload *events, size_t n_events, int64_t expected_version,
                    struct es_append_result *res)
{
    struct sync_wait w = {.done = false};
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    struct es_append a = {.stream = stream,
                          .stream_len = stream_len,
                          .events = events,
                          .n_events = n_events,
                          .expected_version = expected_version,
                          .done = sync_done,
                          .done_arg = &w};
    int rc = es_store_append_async(s, &a);
    if (rc) {
        pthread_mutex_destroy(&w.lock);
        pthread_cond_destroy(&w.cond);
        return rc;
    }
    rc = sync_wait_for(&w);
    if (rc == 0 && res)
        *res = w.res;
    return rc;
}

static int queue_control(struct es_store *s, int kind, es_append_done_fn done, void *arg)
{
    if (s->opt.read_only)
        return es_fail(ES_EREADONLY, "%s of a read-only store", kind == REQ_SEAL ? "seal" : "sync");
    struct append_req *r = calloc(1, sizeof(*r));
    if (!r)
        return es_fail(-ENOMEM, "control request");
    r->kind = kind;
    r->done = done;
    r->done_arg = arg;
    r->queued_ns = es_mono_ns();
    int rc = queue_req(s, r);
    if (rc)
        free(r);
    return rc;
}

int es_store_seal_async(struct es_store *s, es_append_done_fn done, void *arg)
{
    return queue_control(s, REQ_SEAL, done, arg);
}

int es_store_sync_async(struct es_store *s, es_append_done_fn done, void *arg)
{
    return queue_control(s, REQ_SYNC, done, arg);
}

int es_store_seal(struct es_store *s)
{
    struct sync_wait w = {.done = false};
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    int rc = es_store_seal_async(s, sync_done, &w);
    if (rc) {
        pthread_mutex_destroy(&w.lock);
        pthread_cond_destroy(&w.cond);
        return rc;
    }
    return sync_wait_for(&w);
}

/* ---- queries ---- */

void es_store_log_info(struct es_store *s, struct es_log_info *out)
{
    out->last_pos = es_index_published_pos(s->ix);
    out->all_view_bytes = es_index_all_bytes(s->ix);
    out->n_streams = es_index_n_streams(s->ix);
    uint64_t sealed_bytes;
    es_log_counts(s->log, &out->n_sealed_segments, &sealed_bytes);
    out->last_ts_ns = out->last_pos ? atomic_load(&s->pub_last_ts) : 0;
}

int es_store_stream_info(struct es_store *s, const char *name, size_t len,
                         struct es_stream_info *out)
{
    return es_index_stream_info(s->ix, name, len, out);
}

ssize_t es_store_stream_name(struct es_store *s, uint32_t no, char *buf, size_t cap)
{
    return es_index_stream_name(s->ix, no, buf, cap);
}

int es_store_wait(struct es_store *s, uint64_t pos, int timeout_ms)
{
    struct timespec deadline;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
    }
    int rc = 0;
    pthread_mutex_lock(&s->wait_lock);
    s->n_waiters++;
    while (es_index_published_pos(s->ix) < pos) {
        if (s->closing) {
            rc = ES_ECLOSED;
            break;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&s->wait_cond, &s->wait_lock);
        } else if (pthread_cond_timedwait(&s->wait_cond, &s->wait_lock, &deadline) == ETIMEDOUT) {
            rc = es_index_published_pos(s->ix) >= pos ? 0 : -ETIMEDOUT;
            break;
        }
    }
    if (--s->n_waiters == 0 && s->closing)
        pthread_cond_broadcast(&s->wait_cond); /* es_store_close waits for this */
    pthread_mutex_unlock(&s->wait_lock);
    return rc;
}

void es_store_metrics(struct es_store *s, struct es_metrics *out)
{
    pthread_mutex_lock(&s->metrics.lock);
    *out = s->metrics.m;
    pthread_mutex_unlock(&s->metrics.lock);
    out->last_pos = es_index_published_pos(s->ix);
    out->n_streams = es_index_n_streams(s->ix);
    es_log_counts(s->log, &out->n_sealed_segments, &out->sealed_bytes);
    es_log_cache_stats(s->log, &out->cache_hits, &out->cache_misses);
    out->poisoned = atomic_load(&s->poisoned);
}
