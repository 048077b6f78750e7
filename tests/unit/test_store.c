/*
 * test_store.c - the store module (src/store): optimistic concurrency under
 * 16 threads (no lost update, no gap), group commit (fsyncs counted through
 * the seam, and every acknowledgement after the fdatasync that covers its
 * write), injected failures (EIO, ENOSPC and short writes on the log, a
 * failed cut-back, EIO on fdatasync poisoning the store), both views read
 * at every byte offset, the envelope bytes, es_store_wait (also woken by
 * close), timestamps that never go backwards, the sync modes, the commit
 * hook, input validation, locking and opening a copy of segments/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"
#include "esfs/esfs.h"
#include "format/frame.h"
#include "store/store_internal.h"
#include "support/fault_io.h"
#include "support/store_util.h"
#include "support/tmpdir.h"

/* ---- a tracing seam over fault_io: the order of log writes, log syncs
 * and acknowledgements, and a gate that holds a log fdatasync until every
 * live appender has an append queued (a slow disk, made deterministic) ---- */

enum tr_kind { TR_WRITE, TR_SYNC, TR_ACK };

struct tr_rec {
    enum tr_kind kind;
    int file; /* index in tr.files (writes and syncs) */
    uint64_t first, last;
};

#define TR_FDS 4096

static struct {
    pthread_mutex_t lock; /* protects everything below */
    pthread_cond_t cond;  /* broadcast on every record and gate change */
    struct tr_rec *recs;
    size_t n, cap;
    char *files[256];
    int n_files;
    int fd_file[TR_FDS]; /* -1: not a wal file */
    const struct es_io_ops *below;
    bool gate_on;
    int active, pending;
} tr = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static struct es_io_ops tr_ops;

static void tr_push(enum tr_kind kind, int file, uint64_t first, uint64_t last)
{
    if (tr.n == tr.cap) {
        size_t cap = tr.cap ? tr.cap * 2 : 4096;
        struct tr_rec *p = realloc(tr.recs, cap * sizeof(*p));
        if (!p)
            abort();
        tr.recs = p;
        tr.cap = cap;
    }
    tr.recs[tr.n++] = (struct tr_rec){kind, file, first, last};
    pthread_cond_broadcast(&tr.cond);
}

static int tr_file_id(const char *path)
{
    for (int i = 0; i < tr.n_files; i++)
        if (strcmp(tr.files[i], path) == 0)
            return i;
    if (tr.n_files == 256)
        abort();
    tr.files[tr.n_files] = strdup(path);
    return tr.n_files++;
}

static int t_open(const char *path, int flags, mode_t mode)
{
    int fd = tr.below->open(path, flags, mode);
    if (fd >= 0 && fd < TR_FDS) {
        pthread_mutex_lock(&tr.lock);
        tr.fd_file[fd] = strstr(path, "/wal/") ? tr_file_id(path) : -1;
        pthread_mutex_unlock(&tr.lock);
    }
    return fd;
}

static int t_close(int fd)
{
    if (fd >= 0 && fd < TR_FDS) {
        pthread_mutex_lock(&tr.lock);
        tr.fd_file[fd] = -1;
        pthread_mutex_unlock(&tr.lock);
    }
    return tr.below->close(fd);
}

static ssize_t t_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    ssize_t w = tr.below->pwrite(fd, buf, n, off);
    if (w <= 0 || fd < 0 || fd >= TR_FDS)
        return w;
    pthread_mutex_lock(&tr.lock);
    int file = tr.fd_file[fd];
    if (file >= 0) {
        const unsigned char *p = buf;
        size_t at = 0, len;
        uint64_t first = 0, last = 0;
        struct es_event ev;
        while (es_frame_decode(p + at, (size_t)w - at, &ev, &len, NULL) == 0) {
            if (!first)
                first = ev.pos;
            last = ev.pos;
            at += len;
        }
        if (first)
            tr_push(TR_WRITE, file, first, last);
    }
    pthread_mutex_unlock(&tr.lock);
    return w;
}

static int t_fdatasync(int fd)
{
    int file = -1;
    pthread_mutex_lock(&tr.lock);
    if (fd >= 0 && fd < TR_FDS)
        file = tr.fd_file[fd];
    while (file >= 0 && tr.gate_on && tr.pending < tr.active)
        pthread_cond_wait(&tr.cond, &tr.lock);
    pthread_mutex_unlock(&tr.lock);
    int rc = tr.below->fdatasync(fd);
    if (rc == 0 && file >= 0) {
        pthread_mutex_lock(&tr.lock);
        tr_push(TR_SYNC, file, 0, 0);
        pthread_mutex_unlock(&tr.lock);
    }
    return rc;
}

static ssize_t t_pread(int fd, void *buf, size_t n, off_t off)
{
    return tr.below->pread(fd, buf, n, off);
}
static int t_fsync(int fd)
{
    return tr.below->fsync(fd);
}
static int t_ftruncate(int fd, off_t len)
{
    return tr.below->ftruncate(fd, len);
}
static int t_fstat(int fd, struct stat *st)
{
    return tr.below->fstat(fd, st);
}
static int t_rename(const char *a, const char *b)
{
    return tr.below->rename(a, b);
}
static int t_unlink(const char *p)
{
    return tr.below->unlink(p);
}
static int t_mkdir(const char *p, mode_t m)
{
    return tr.below->mkdir(p, m);
}
static int t_fallocate(int fd, int mode, off_t off, off_t len)
{
    return tr.below->fallocate(fd, mode, off, len);
}
static int64_t t_clock(void)
{
    return tr.below->clock_realtime_ns();
}

/* Installs the tracer over the seam in use (fault_io). */
static void tr_install(void)
{
    pthread_mutex_lock(&tr.lock);
    tr.n = 0;
    tr.gate_on = false;
    tr.active = tr.pending = 0;
    for (int i = 0; i < TR_FDS; i++)
        tr.fd_file[i] = -1;
    tr.below = es_io;
    pthread_mutex_unlock(&tr.lock);
    tr_ops = (struct es_io_ops){.open = t_open,
                                .close = t_close,
                                .pread = t_pread,
                                .pwrite = t_pwrite,
                                .fsync = t_fsync,
                                .fdatasync = t_fdatasync,
                                .ftruncate = t_ftruncate,
                                .fstat = t_fstat,
                                .rename = t_rename,
                                .unlink = t_unlink,
                                .mkdir = t_mkdir,
                                .fallocate = t_fallocate,
                                .clock_realtime_ns = t_clock};
    es_io_set(&tr_ops);
}

static void tr_release(void)
{
    pthread_mutex_lock(&tr.lock);
    free(tr.recs);
    tr.recs = NULL;
    tr.n = tr.cap = 0;
    for (int i = 0; i < tr.n_files; i++)
        free(tr.files[i]);
    tr.n_files = 0;
    pthread_mutex_unlock(&tr.lock);
}

static void tr_ack(uint64_t first, uint64_t last)
{
    pthread_mutex_lock(&tr.lock);
    tr_push(TR_ACK, -1, first, last);
    pthread_mutex_unlock(&tr.lock);
}

/* Acknowledgements that did not follow both a write of their positions
 * and, after it, an fdatasync of the file written (at_ack: before the
 * acknowledgement; else: by the end of the trace). */
static size_t tr_violations(bool at_ack, size_t *n_acks)
{
    pthread_mutex_lock(&tr.lock);
    size_t *last_sync = calloc((size_t)tr.n_files + 1, sizeof(*last_sync));
    size_t *writes = calloc(tr.n + 1, sizeof(*writes));
    size_t n_writes = 0, bad = 0, acks = 0;
    for (size_t i = 0; i < tr.n && !at_ack; i++)
        if (tr.recs[i].kind == TR_SYNC)
            last_sync[tr.recs[i].file] = i + 1;
    for (size_t i = 0; i < tr.n; i++) {
        const struct tr_rec *r = &tr.recs[i];
        if (r->kind == TR_WRITE) {
            writes[n_writes++] = i;
        } else if (r->kind == TR_SYNC) {
            if (at_ack)
                last_sync[r->file] = i + 1;
        } else {
            acks++;
            bool ok = false;
            for (size_t k = n_writes; k-- > 0;) {
                const struct tr_rec *w = &tr.recs[writes[k]];
                if (w->first <= r->last && r->last <= w->last) {
                    ok = w->first <= r->first && last_sync[w->file] > writes[k] + 1;
                    break;
                }
            }
            bad += !ok;
        }
    }
    free(last_sync);
    free(writes);
    pthread_mutex_unlock(&tr.lock);
    if (n_acks)
        *n_acks = acks;
    return bad;
}

static size_t tr_count(enum tr_kind kind)
{
    size_t n = 0;
    pthread_mutex_lock(&tr.lock);
    for (size_t i = 0; i < tr.n; i++)
        n += tr.recs[i].kind == kind;
    pthread_mutex_unlock(&tr.lock);
    return n;
}

static int store_teardown(void **state)
{
    es_io_set(NULL);
    tr_release();
    return su_teardown(state);
}

#define STORE_TEST(fn) cmocka_unit_test_setup_teardown(fn, su_setup, store_teardown)

/* ---- completion tracking ---- */

struct done_box {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int rc;
    struct es_append_result res;
    bool trace;
};

static void box_init(struct done_box *b)
{
    memset(b, 0, sizeof(*b));
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
}

static void box_release(struct done_box *b)
{
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->cond);
}

static void box_done(void *arg, int rc, const struct es_append_result *res)
{
    struct done_box *b = arg;
    if (b->trace && rc == 0 && res)
        tr_ack(res->first_pos, res->last_pos);
    pthread_mutex_lock(&b->lock);
    b->rc = rc;
    if (rc == 0 && res)
        b->res = *res;
    b->done = true;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

static int box_wait(struct done_box *b)
{
    pthread_mutex_lock(&b->lock);
    while (!b->done)
        pthread_cond_wait(&b->cond, &b->lock);
    b->done = false;
    pthread_mutex_unlock(&b->lock);
    return b->rc;
}

static int append_one(struct es_store *s, const char *stream, const char *payload, int64_t expected,
                      struct es_append_result *res)
{
    struct es_payload p = {payload, strlen(payload)};
    return es_store_append(s, stream, strlen(stream), &p, 1, expected, res);
}

static bool view_has(struct es_store *s, const char *needle)
{
    size_t len;
    char *all = su_read_view(s, ES_VIEW_ALL, NULL, &len);
    bool found = strstr(all, needle) != NULL;
    free(all);
    return found;
}

/* ---- optimistic concurrency ---- */

#define CV_THREADS    16
#define CV_STREAMS    5
#define CV_PER_THREAD 40

struct cv_shared {
    struct es_store *s;
    _Atomic uint64_t events[CV_STREAMS];
    _Atomic uint64_t conflicts;
};

struct cv_worker {
    struct cv_shared *sh;
    int id;
    int errors;
    char err[256];
};

static void *cv_main(void *arg)
{
    struct cv_worker *w = arg;
    for (int i = 0; i < CV_PER_THREAD && !w->errors;) {
        int k = (w->id + i) % CV_STREAMS;
        char name[16];
        snprintf(name, sizeof(name), "acct-%d", k);
        struct es_stream_info si;
        int rc = es_store_stream_info(w->sh->s, name, strlen(name), &si);
        if (rc != 0 && rc != ES_ENOTFOUND) {
            w->errors++;
            snprintf(w->err, sizeof(w->err), "stream info: %s", es_strerror(rc));
            break;
        }
        uint64_t v = rc == 0 ? si.version : 0;
        size_t n = i % 4 == 3 ? 3 : 1;
        char text[3][96];
        struct es_payload p[3];
        for (size_t e = 0; e < n; e++) {
            snprintf(text[e], sizeof(text[e]),
                     "{\"type\":\"Inc\",\"t\":%d,\"i\":%d,\"e\":%zu,\"ver\":%llu}", w->id, i, e,
                     (unsigned long long)(v + 1 + e));
            p[e] = (struct es_payload){text[e], strlen(text[e])};
        }
        struct es_append_result res;
        rc = es_store_append(w->sh->s, name, strlen(name), p, n, (int64_t)v, &res);
        if (rc == ES_ECONFLICT) {
            atomic_fetch_add(&w->sh->conflicts, 1);
            continue;
        }
        if (rc != 0 || res.first_version != v + 1 || res.version != v + n ||
            res.last_pos - res.first_pos != n - 1) {
            w->errors++;
            snprintf(w->err, sizeof(w->err), "append at version %llu: %s, got version %llu",
                     (unsigned long long)v, es_strerror(rc), (unsigned long long)res.version);
            break;
        }
        atomic_fetch_add(&w->sh->events[k], n);
        i++;
    }
    return NULL;
}

static void test_store_concurrent_expected_versions_no_lost_update(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    struct cv_shared sh = {.s = su_open(f->store, &o)};
    pthread_t th[CV_THREADS];
    struct cv_worker w[CV_THREADS];
    for (int t = 0; t < CV_THREADS; t++) {
        w[t] = (struct cv_worker){.sh = &sh, .id = t};
        assert_int_equal(pthread_create(&th[t], NULL, cv_main, &w[t]), 0);
    }
    for (int t = 0; t < CV_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < CV_THREADS; t++)
        if (w[t].errors)
            fail_msg("thread %d: %s", t, w[t].err);
    struct es_store *s = sh.s;
    uint64_t total = 0;
    for (int k = 0; k < CV_STREAMS; k++) {
        char name[16];
        snprintf(name, sizeof(name), "acct-%d", k);
        struct es_stream_info si;
        assert_int_equal(es_store_stream_info(s, name, strlen(name), &si), 0);
        assert_int_equal(si.version, atomic_load(&sh.events[k]));
        total += si.version;
        /* every event sits at exactly the version its appender expected */
        struct es_cursor *c;
        struct es_event ev;
        assert_int_equal(es_cursor_open(s, name, strlen(name), 1, &c), 0);
        uint64_t v = 0;
        while (es_cursor_next(c, &ev) == 1) {
            assert_int_equal(ev.version, ++v);
            char want[32];
            snprintf(want, sizeof(want), ",\"ver\":%llu}", (unsigned long long)v);
            assert_true(ev.payload_len > strlen(want));
            assert_memory_equal(ev.payload + ev.payload_len - strlen(want), want, strlen(want));
            assert_int_equal(ev.type_len, 3);
        }
        assert_int_equal(v, si.version);
        es_cursor_close(c);
    }
    assert_int_equal(total, (uint64_t)CV_THREADS * CV_PER_THREAD / 4 * 6);
    assert_int_equal(su_check_sequence(s), total);
    /* the events of one append are contiguous in the global order, and
     * each thread's appends come in its own order */
    struct es_cursor *c;
    struct es_event ev;
    assert_int_equal(es_cursor_open(s, NULL, 0, 1, &c), 0);
    int prev_t = -1, prev_i = -1, prev_e = -1;
    int last_i[CV_THREADS];
    for (int t = 0; t < CV_THREADS; t++)
        last_i[t] = -1;
    while (es_cursor_next(c, &ev) == 1) {
        char text[128];
        memcpy(text, ev.payload, ev.payload_len);
        text[ev.payload_len] = '\0';
        int t, i, e;
        unsigned long long ver;
        assert_int_equal(sscanf(text, "{\"type\":\"Inc\",\"t\":%d,\"i\":%d,\"e\":%d,\"ver\":%llu}",
                                &t, &i, &e, &ver),
                         4);
        if (e > 0) {
            assert_int_equal(t, prev_t);
            assert_int_equal(i, prev_i);
            assert_int_equal(e, prev_e + 1);
        } else {
            assert_true(i > last_i[t]);
            last_i[t] = i;
        }
        prev_t = t;
        prev_i = i;
        prev_e = e;
    }
    es_cursor_close(c);
    /* the global view agrees with the events */
    size_t a_len, b_len;
    char *a = su_read_view(s, ES_VIEW_ALL, NULL, &a_len);
    char *b = su_render_all(s, &b_len);
    assert_int_equal(a_len, b_len);
    assert_memory_equal(a, b, a_len);
    free(a);
    free(b);
    struct es_metrics m;
    es_store_metrics(s, &m);
    assert_int_equal(m.conflicts, atomic_load(&sh.conflicts));
    assert_int_equal(m.appends, (uint64_t)CV_THREADS * CV_PER_THREAD);
    su_close(s);
    s = su_open(f->store, &o);
    assert_int_equal(su_check_sequence(s), total);
    su_close(s);
}

/* ---- readers during appends ---- */

#define RD_APPENDERS 4
#define RD_BATCHES   175
#define RD_BATCH     100

struct rd_shared {
    struct es_store *s;
    _Atomic int appenders_left;
    _Atomic unsigned append_errors;
};

struct rd_reader {
    struct rd_shared *sh;
    enum es_view view;
    const char *name;
    unsigned char *seen; /* bytes read so far, at their offsets */
    unsigned char *known;
    size_t cap;
    unsigned mismatches, errors, passes;
};

static void *rd_append_main(void *arg)
{
    struct rd_shared *sh = ((void **)arg)[0];
    int id = (int)(intptr_t)((void **)arg)[1];
    char name[16], text[RD_BATCH][48];
    struct es_payload p[RD_BATCH];
    for (int b = 0; b < RD_BATCHES; b++) {
        snprintf(name, sizeof(name), "r-%d", (id + b) % 3);
        for (int i = 0; i < RD_BATCH; i++) {
            snprintf(text[i], sizeof(text[i]), "{\"type\":\"R\",\"a\":%d,\"b\":%d,\"i\":%d}", id, b,
                     i);
            p[i] = (struct es_payload){text[i], strlen(text[i])};
        }
        if (es_store_append(sh->s, name, strlen(name), p, RD_BATCH, ES_VERSION_ANY, NULL) != 0)
            atomic_fetch_add(&sh->append_errors, 1);
    }
    atomic_fetch_sub(&sh->appenders_left, 1);
    return NULL;
}

static void *rd_read_main(void *arg)
{
    struct rd_reader *r = arg;
    unsigned char buf[7919];
    size_t nlen = r->name ? strlen(r->name) : 0;
    bool last = false;
    while (!last) {
        last = atomic_load(&r->sh->appenders_left) == 0; /* one more whole pass */
        uint64_t off = 0;
        for (;;) {
            ssize_t n = es_store_read_view(r->sh->s, r->view, r->name, nlen, off, buf, sizeof(buf));
            if (n == ES_ENOTFOUND && off == 0)
                break; /* the stream has no events yet */
            if (n < 0) {
                r->errors++;
                break;
            }
            if (n == 0)
                break;
            if (off + (size_t)n > r->cap) {
                r->errors++;
                break;
            }
            for (ssize_t k = 0; k < n; k++) {
                if (r->known[off + k] && r->seen[off + k] != buf[k])
                    r->mismatches++;
                r->seen[off + k] = buf[k];
                r->known[off + k] = 1;
            }
            off += (uint64_t)n;
        }
        r->passes++;
    }
    return NULL;
}

static void test_store_readers_see_stable_bytes_during_appends(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    o.segment_bytes = 1 << 20; /* rotations and seals under the readers */
    o.block_cache_bytes = 256 << 10;
    struct rd_shared sh = {.s = su_open(f->store, &o), .appenders_left = RD_APPENDERS};
    struct rd_reader rd[2] = {{.sh = &sh, .view = ES_VIEW_ALL},
                              {.sh = &sh, .view = ES_VIEW_STREAM, .name = "r-1"}};
    for (int i = 0; i < 2; i++) {
        rd[i].cap = (size_t)RD_APPENDERS * RD_BATCHES * RD_BATCH * 200;
        rd[i].seen = calloc(rd[i].cap, 1);
        rd[i].known = calloc(rd[i].cap, 1);
        assert_non_null(rd[i].seen);
        assert_non_null(rd[i].known);
    }
    pthread_t ta[RD_APPENDERS], tr_[2];
    void *args[RD_APPENDERS][2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&tr_[i], NULL, rd_read_main, &rd[i]), 0);
    for (int i = 0; i < RD_APPENDERS; i++) {
        args[i][0] = &sh;
        args[i][1] = (void *)(intptr_t)i;
        assert_int_equal(pthread_create(&ta[i], NULL, rd_append_main, args[i]), 0);
    }
    for (int i = 0; i < RD_APPENDERS; i++)
        pthread_join(ta[i], NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(tr_[i], NULL);
    assert_int_equal(atomic_load(&sh.append_errors), 0);
    struct es_log_info li;
    es_store_log_info(sh.s, &li);
    assert_int_equal(li.last_pos, RD_APPENDERS * RD_BATCHES * RD_BATCH);
    assert_true(li.n_sealed_segments >= 2);
    for (int i = 0; i < 2; i++) {
        size_t len;
        char *v = su_read_view(sh.s, rd[i].view, rd[i].name, &len);
        assert_int_equal(rd[i].errors, 0);
        assert_int_equal(rd[i].mismatches, 0);
        assert_true(rd[i].passes >= 1);
        for (size_t k = 0; k < len; k++)
            assert_true(rd[i].known[k] && rd[i].seen[k] == (unsigned char)v[k]);
        for (size_t k = len; k < rd[i].cap; k++)
            assert_false(rd[i].known[k]);
        free(v);
        free(rd[i].seen);
        free(rd[i].known);
    }
    assert_int_equal(su_check_sequence(sh.s), li.last_pos);
    su_close(sh.s);
}

/* ---- group commit ---- */

#define GC_THREADS    16
#define GC_PER_THREAD 200

struct gc_worker {
    struct es_store *s;
    int id;
    struct done_box box;
    int errors;
    int first_error;
};

static void gc_done(void *arg, int rc, const struct es_append_result *res)
{
    struct gc_worker *w = arg;
    pthread_mutex_lock(&tr.lock);
    tr.pending--;
    pthread_mutex_unlock(&tr.lock);
    box_done(&w->box, rc, res);
}

static void *gc_main(void *arg)
{
    struct gc_worker *w = arg;
    char name[16];
    snprintf(name, sizeof(name), "gc-%d", w->id % 8);
    for (int i = 0; i < GC_PER_THREAD; i++) {
        char text[64];
        snprintf(text, sizeof(text), "{\"t\":%d,\"i\":%d}", w->id, i);
        struct es_payload p = {text, strlen(text)};
        struct es_append a = {.stream = name,
                              .stream_len = strlen(name),
                              .events = &p,
                              .n_events = 1,
                              .expected_version = ES_VERSION_ANY,
                              .done = gc_done,
                              .done_arg = w};
        pthread_mutex_lock(&tr.lock);
        tr.pending++;
        pthread_cond_broadcast(&tr.cond);
        pthread_mutex_unlock(&tr.lock);
        int rc = es_store_append_async(w->s, &a);
        if (rc == 0)
            rc = box_wait(&w->box);
        else {
            pthread_mutex_lock(&tr.lock);
            tr.pending--;
            pthread_mutex_unlock(&tr.lock);
        }
        if (rc != 0 && w->errors++ == 0)
            w->first_error = rc;
    }
    pthread_mutex_lock(&tr.lock);
    tr.active--;
    pthread_cond_broadcast(&tr.cond);
    pthread_mutex_unlock(&tr.lock);
    return NULL;
}

/* 16 threads x 200 appends; returns the fdatasync calls they cost. */
static uint64_t run_gc(struct es_store *s, bool gate, uint64_t *batches, uint64_t *metric_syncs)
{
    struct es_metrics m0, m1;
    es_store_metrics(s, &m0);
    fault_io_reset();
    pthread_mutex_lock(&tr.lock);
    tr.gate_on = gate;
    tr.active = GC_THREADS;
    tr.pending = 0;
    pthread_mutex_unlock(&tr.lock);
    pthread_t th[GC_THREADS];
    struct gc_worker w[GC_THREADS];
    for (int t = 0; t < GC_THREADS; t++) {
        w[t] = (struct gc_worker){.s = s, .id = t};
        box_init(&w[t].box);
        w[t].box.trace = true;
        assert_int_equal(pthread_create(&th[t], NULL, gc_main, &w[t]), 0);
    }
    for (int t = 0; t < GC_THREADS; t++)
        pthread_join(th[t], NULL);
    uint64_t syncs = fault_io_calls(FAULT_FDATASYNC);
    pthread_mutex_lock(&tr.lock);
    tr.gate_on = false;
    pthread_mutex_unlock(&tr.lock);
    for (int t = 0; t < GC_THREADS; t++) {
        box_release(&w[t].box);
        if (w[t].errors)
            fail_msg("thread %d: %d appends failed, the first with %s", t, w[t].errors,
                     es_strerror(w[t].first_error));
    }
    es_store_metrics(s, &m1);
    assert_int_equal(m1.appends - m0.appends, GC_THREADS * GC_PER_THREAD);
    *metric_syncs = m1.fsyncs - m0.fsyncs;
    *batches = m1.batches - m0.batches;
    return syncs;
}

static void test_store_group_commit_batches_fsyncs(void **state)
{
    struct su_fixture *f = *state;
    fault_io_install();
    tr_install();
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    uint64_t batches, metric_syncs;
    uint64_t syncs = run_gc(s, true, &batches, &metric_syncs);
    const uint64_t appends = GC_THREADS * GC_PER_THREAD;
    /* one fdatasync per append would be 3200; only batching gets to half */
    assert_true(syncs >= 1);
    if (syncs > appends / 2)
        fail_msg("%llu fdatasyncs for %llu appends", (unsigned long long)syncs,
                 (unsigned long long)appends);
    assert_int_equal(batches, syncs);
    assert_int_equal(metric_syncs, syncs);
    size_t acks;
    assert_int_equal(tr_violations(true, &acks), 0);
    assert_int_equal(acks, appends);
    assert_int_equal(su_check_sequence(s), appends);
    struct es_metrics m;
    es_store_metrics(s, &m);
    assert_true(m.batch_events.count == m.batches);
    assert_true(m.batch_events.sum == (double)appends);
    su_close(s);
}

static void test_store_acks_follow_their_fdatasync(void **state)
{
    struct su_fixture *f = *state;
    fault_io_install();
    tr_install();
    struct es_options o;
    su_options(&o, &f->cap);
    o.segment_bytes = 64 << 10; /* rotations between the writes, too */
    struct es_store *s = su_open(f->store, &o);
    uint64_t batches, metric_syncs;
    uint64_t syncs = run_gc(s, false, &batches, &metric_syncs);
    assert_true(syncs >= batches);
    assert_true(metric_syncs >= batches);
    size_t acks;
    assert_int_equal(tr_violations(true, &acks), 0);
    assert_int_equal(acks, GC_THREADS * GC_PER_THREAD);
    assert_true(tr_count(TR_WRITE) >= batches);
    pthread_mutex_lock(&tr.lock);
    int n_wals = tr.n_files;
    pthread_mutex_unlock(&tr.lock);
    assert_true(n_wals >= 2); /* the log rotated under the appenders */
    assert_int_equal(su_check_sequence(s), GC_THREADS * GC_PER_THREAD);
    su_close(s);

    /* the check can fail: under ES_SYNC_NONE nothing is synced before the
     * acknowledgements */
    tmpdir_remove(f->store);
    es_io_set(NULL);
    fault_io_install();
    tr_install();
    o.sync = ES_SYNC_NONE;
    s = su_open(f->store, &o);
    struct done_box b;
    box_init(&b);
    b.trace = true;
    for (int i = 0; i < 20; i++) {
        struct es_payload p = {"x", 1};
        struct es_append a = {.stream = "n",
                              .stream_len = 1,
                              .events = &p,
                              .n_events = 1,
                              .expected_version = ES_VERSION_ANY,
                              .done = box_done,
                              .done_arg = &b};
        assert_int_equal(es_store_append_async(s, &a), 0);
        assert_int_equal(box_wait(&b), 0);
    }
    box_release(&b);
    assert_int_equal(tr_violations(true, &acks), 20);
    su_close(s);
}

/* ---- injected failures ---- */

static void check_failed_write(struct su_fixture *f, int err, bool short_write)
{
    tmpdir_remove(f->store);
    es_io_set(NULL);
    fault_io_install();
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 1, 10, 2);
    struct su_snapshot before;
    su_snapshot_take(s, &before);
    char wal[4300];
    su_path(wal, sizeof(wal), "%s/wal/00000000000000000001.wal", f->store);
    int64_t wal_size = file_size(wal);
    fault_io_add(&(struct fault_rule){.op = FAULT_PWRITE,
                                      .path_contains = "/wal/",
                                      .times = short_write ? 0 : 1,
                                      .errno_value = err,
                                      .short_write = short_write});
    struct es_payload p[3] = {{"LOST-1", 6}, {"LOST-2", 6}, {"LOST-3", 6}};
    struct es_append_result res;
    assert_int_equal(es_store_append(s, "victim", 6, p, 3, ES_VERSION_ANY, &res), -err);
    assert_true(fault_io_failed(FAULT_PWRITE) >= 1);
    if (short_write)
        assert_true(fault_io_calls(FAULT_PWRITE) > 2); /* partial writes went through */
    /* cut back: nothing of it in the file, nothing visible */
    assert_int_equal(file_size(wal), wal_size);
    struct su_snapshot now;
    su_snapshot_take(s, &now);
    su_snapshot_assert_equal(&before, &now);
    su_snapshot_release(&now);
    struct es_stream_info si;
    assert_int_equal(es_store_stream_info(s, "victim", 6, &si), ES_ENOTFOUND);
    struct es_metrics m;
    es_store_metrics(s, &m);
    assert_false(m.poisoned);
    assert_int_equal(m.append_failures, 1);
    /* the fault goes: the store goes on, without a gap */
    fault_io_reset();
    assert_int_equal(append_one(s, "victim", "kept", ES_VERSION_ANY, &res), 0);
    assert_int_equal(res.first_pos, 11);
    assert_int_equal(res.first_version, 1);
    assert_false(view_has(s, "LOST-"));
    su_check_sequence(s);
    su_close(s);
    struct es_verify_summary sum;
    assert_int_equal(es_store_verify(f->store, NULL, NULL, &sum), 0);
    assert_int_equal(sum.torn_tail_bytes, 0);
    assert_int_equal(sum.events, 11);
    s = su_open(f->store, &o);
    assert_false(view_has(s, "LOST-"));
    assert_int_equal(su_check_sequence(s), 11);
    su_close(s);
    su_snapshot_release(&before);
}

static void test_store_write_errors_fail_cleanly(void **state)
{
    struct su_fixture *f = *state;
    check_failed_write(f, EIO, false);
    check_failed_write(f, ENOSPC, false);
    check_failed_write(f, ENOSPC, true);
    check_failed_write(f, EIO, true);
}

static void test_store_short_write_retried(void **state)
{
    struct su_fixture *f = *state;
    fault_io_install();
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 1, 5, 2);
    /* one short write: the rest is written by the retry */
    fault_io_add(&(struct fault_rule){
        .op = FAULT_PWRITE, .path_contains = "/wal/", .times = 1, .short_write = true});
    struct es_append_result res;
    assert_int_equal(append_one(s, "s", "{\"type\":\"Whole\"}", ES_VERSION_ANY, &res), 0);
    assert_int_equal(fault_io_failed(FAULT_PWRITE), 1);
    assert_int_equal(res.first_pos, 6);
    su_close(s);
    struct es_verify_summary sum;
    assert_int_equal(es_store_verify(f->store, NULL, NULL, &sum), 0);
    assert_int_equal(sum.events, 6);
    s = su_open(f->store, &o);
    size_t len;
    char *v = su_read_view(s, ES_VIEW_STREAM, "s", &len);
    assert_string_equal(v, "{\"type\":\"Whole\"}\n");
    free(v);
    su_close(s);
}

struct multi_box {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    int rc[8];
    struct es_append_result res[8];
};

struct multi_arg {
    struct multi_box *b;
    int i;
};

static void multi_done(void *arg, int rc, const struct es_append_result *res)
{
    struct multi_arg *a = arg;
    pthread_mutex_lock(&a->b->lock);
    a->b->rc[a->i] = rc;
    if (rc == 0)
        a->b->res[a->i] = *res;
    a->b->done++;
    pthread_cond_broadcast(&a->b->cond);
    pthread_mutex_unlock(&a->b->lock);
}

static void test_store_failed_write_fails_its_turn_only(void **state)
{
    struct su_fixture *f = *state;
    fault_io_install();
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 1, 4, 2);
    fault_io_add(&(struct fault_rule){
        .op = FAULT_PWRITE, .path_contains = "/wal/", .times = 1, .errno_value = EIO});
    struct multi_box b = {.done = 0};
    pthread_mutex_init(&b.lock, NULL);
    pthread_cond_init(&b.cond, NULL);
    struct multi_arg args[8];
    char text[8][16];
    struct es_payload p[8];
    for (int i = 0; i < 8; i++) {
        snprintf(text[i], sizeof(text[i]), "m%d", i);
        p[i] = (struct es_payload){text[i], strlen(text[i])};
        args[i] = (struct multi_arg){&b, i};
        struct es_append a = {.stream = "multi",
                              .stream_len = 5,
                              .events = &p[i],
                              .n_events = 1,
                              .expected_version = ES_VERSION_ANY,
                              .done = multi_done,
                              .done_arg = &args[i]};
        assert_int_equal(es_store_append_async(s, &a), 0);
    }
    pthread_mutex_lock(&b.lock);
    while (b.done < 8)
        pthread_cond_wait(&b.cond, &b.lock);
    pthread_mutex_unlock(&b.lock);
    /* the first turn failed whole; the later ones took the next positions */
    int failed = 0;
    uint64_t next = 5;
    for (int i = 0; i < 8; i++) {
        if (b.rc[i] != 0) {
            assert_int_equal(b.rc[i], -EIO);
            assert_int_equal(failed, i); /* the failures are the first ones queued */
            failed++;
            continue;
        }
        assert_int_equal(b.res[i].first_pos, next);
        next++;
    }
    assert_true(failed >= 1);
    uint64_t n = su_check_sequence(s);
    assert_int_equal(n, 4 + 8 - failed);
    su_close(s);
    pthread_mutex_destroy(&b.lock);
    pthread_cond_destroy(&b.cond);
}

static void test_store_failed_cut_back_poisons(void **state)
{
    struct su_fixture *f = *state;
    fault_io_install();
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 1, 10, 2);
    struct su_snapshot before;
    su_snapshot_take(s, &before);
    /* half a frame lands, and cutting it back fails too */
    fault_io_add(&(struct fault_rule){
        .op = FAULT_PWRITE, .path_contains = "/wal/", .errno_value = ENOSPC, .short_write = true});
    fault_io_add(
        &(struct fault_rule){.op = FAULT_FTRUNCATE, .path_contains = "/wal/", .errno_value = EIO});
    struct es_append_result res;
    assert_int_equal(append_one(s, "victim", "LOST-payload", ES_VERSION_ANY, &res), ES_EFAILED);
    struct es_metrics m;
    es_store_metrics(s, &m);
    assert_true(m.poisoned);
    assert_int_equal(append_one(s, "other", "x", ES_VERSION_ANY, &res), ES_EFAILED);
    struct su_snapshot now;
    su_snapshot_take(s, &now);
    su_snapshot_assert_equal(&before, &now);
    su_snapshot_release(&now);
    assert_int_equal(es_store_close(s), ES_EFAILED);
    fault_io_reset();
    /* the next open cuts the half frame as a torn tail */
    logcap_clear(&f->cap);
    s = su_open(f->store, &o);
    assert_true(logcap_has(&f->cap, "recovery: wal/00000000000000000001.wal: cut"));
    su_snapshot_take(s, &now);
    su_snapshot_assert_equal(&before, &now);
    su_snapshot_release(&now);
    assert_int_equal(append_one(s, "victim", "kept", ES_VERSION_ANY, &res), 0);
    assert_int_equal(res.first_pos, 11);
    su_close(s);
    su_snapshot_release(&before);
    assert_int_equal(es_store_verify(f->store, NULL, NULL, NULL), 0);
}

static void sync_cb(void *arg, int rc, const struct es_append_result *res)
{
    box_done(arg, rc, res);
}

static void test_store_fdatasync_failure_poisons(void **state)
{
    struct su_fixture *f = *state;
    fault_io_install();
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 1, 10, 2);
    struct su_snapshot before;
    su_snapshot_take(s, &before);
    fault_io_add(&(struct fault_rule){
        .op = FAULT_FDATASYNC, .path_contains = "/wal/", .times = 1, .errno_value = EIO});
    struct es_append_result res;
    logcap_clear(&f->cap);
    assert_int_equal(append_one(s, "victim", "UNSURE", ES_VERSION_ANY, &res), -EIO);
    assert_true(logcap_has(&f->cap, "store stops accepting appends"));
    fault_io_reset(); /* the disk is fine again: the store stays poisoned */
    struct es_metrics m;
    es_store_metrics(s, &m);
    assert_true(m.poisoned);
    assert_int_equal(append_one(s, "other", "x", ES_VERSION_ANY, &res), ES_EFAILED);
    struct es_payload p = {"y", 1};
    struct es_append a = {.stream = "other",
                          .stream_len = 5,
                          .events = &p,
                          .n_events = 1,
                          .expected_version = ES_VERSION_ANY,
                          .done = box_done,
                          .done_arg = NULL};
    assert_int_equal(es_store_append_async(s, &a), ES_EFAILED);
    assert_int_equal(es_store_seal(s), ES_EFAILED);
    struct done_box b;
    box_init(&b);
    assert_int_equal(es_store_sync_async(s, sync_cb, &b), 0);
    assert_int_equal(box_wait(&b), ES_EFAILED);
    box_release(&b);
    /* reads go on, and show nothing unacknowledged */
    struct su_snapshot now;
    su_snapshot_take(s, &now);
    su_snapshot_assert_equal(&before, &now);
    su_snapshot_release(&now);
    su_check_sequence(s);
    assert_int_equal(es_store_close(s), ES_EFAILED);
    /* a restart recovers: what was acknowledged is there, the failed
     * append is all there or not at all, and positions go on */
    s = su_open(f->store, &o);
    struct es_log_info li;
    es_store_log_info(s, &li);
    assert_true(li.last_pos == 10 || li.last_pos == 11);
    size_t len;
    char *all = su_read_view(s, ES_VIEW_ALL, NULL, &len);
    assert_true(len >= before.all_len);
    assert_memory_equal(all, before.all, before.all_len);
    assert_true((li.last_pos == 11) == (strstr(all, "UNSURE") != NULL));
    free(all);
    assert_int_equal(append_one(s, "other", "after", ES_VERSION_ANY, &res), 0);
    assert_int_equal(res.first_pos, li.last_pos + 1);
    su_check_sequence(s);
    su_close(s);
    su_snapshot_release(&before);
    assert_int_equal(es_store_verify(f->store, NULL, NULL, NULL), 0);
}

static void test_store_failed_sync_at_rotation_poisons(void **state)
{
    struct su_fixture *f = *state;
    fault_io_install();
    struct es_options o;
    su_options(&o, &f->cap);
    o.sync = ES_SYNC_NONE; /* acknowledged before any sync */
    o.segment_bytes = 64 << 10;
    struct es_store *s = su_open(f->store, &o);
    fault_io_add(&(struct fault_rule){
        .op = FAULT_FDATASYNC, .path_contains = "/wal/", .times = 1, .errno_value = EIO});
    char payload[1001];
    memset(payload, 'p', 1000);
    payload[1000] = '\0';
    struct es_append_result res;
    int rc = 0;
    uint64_t ok = 0;
    while (ok < 1000 && (rc = append_one(s, "big", payload, ES_VERSION_ANY, &res)) == 0)
        ok++;
    /* the sync before the first rotation failed: acknowledged events may be
     * lost, so the store stops taking appends */
    assert_int_equal(fault_io_failed(FAULT_FDATASYNC), 1);
    assert_true(ok > 10 && ok < 100);
    assert_true(rc == -EIO || rc == ES_EFAILED);
    assert_int_equal(append_one(s, "big", "x", ES_VERSION_ANY, &res), ES_EFAILED);
    struct es_metrics m;
    es_store_metrics(s, &m);
    assert_true(m.poisoned);
    assert_int_equal(es_store_close(s), ES_EFAILED);
    fault_io_reset();
    s = su_open(f->store, &o);
    struct es_log_info li;
    es_store_log_info(s, &li);
    assert_int_equal(li.last_pos, ok);
    su_check_sequence(s);
    su_close(s);
}

/* ---- views ---- */

static int64_t golden_clock(void)
{
    return 1795345200123456789; /* 2026-11-22T11:00:00.123456789Z */
}

static void test_store_envelope_bytes(void **state)
{
    struct su_fixture *f = *state;
    fault_io_install();
    fault_io_set_clock(golden_clock);
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    su_append(s, "Order-123", "{\"type\":\"OrderPlaced\",\"total\":42}");
    su_append(s, "Order-123", "hello \"world\"\t\x01\\");
    su_append(s, "Cust \"x\" \xc3\xa9", "[1, 2]");
    su_append(s, "Order-123", "bad\xff end");
    su_append(s, "Order-123", "{\"type\":\"A\\u00e9\\\"\"} ");
    su_append(s, "Order-123", "{\"type\":42}");
    const char *want =
        "{\"pos\":1,\"stream\":\"Order-123\",\"ver\":1,\"type\":\"OrderPlaced\","
        "\"ts\":\"2026-11-22T11:00:00.123456789Z\",\"data\":{\"type\":\"OrderPlaced\","
        "\"total\":42}}\n"
        "{\"pos\":2,\"stream\":\"Order-123\",\"ver\":2,\"type\":\"\","
        "\"ts\":\"2026-11-22T11:00:00.123456789Z\",\"data\":\"hello \\\"world\\\"\\t\\u0001"
        "\\\\\"}\n"
        "{\"pos\":3,\"stream\":\"Cust \\\"x\\\" \xc3\xa9\",\"ver\":1,\"type\":\"\","
        "\"ts\":\"2026-11-22T11:00:00.123456789Z\",\"data\":[1, 2]}\n"
        "{\"pos\":4,\"stream\":\"Order-123\",\"ver\":3,\"type\":\"\","
        "\"ts\":\"2026-11-22T11:00:00.123456789Z\",\"data\":\"bad\\ufffd end\"}\n"
        "{\"pos\":5,\"stream\":\"Order-123\",\"ver\":4,\"type\":\"A\xc3\xa9\\\"\","
        "\"ts\":\"2026-11-22T11:00:00.123456789Z\",\"data\":{\"type\":\"A\\u00e9\\\"\"} }\n"
        "{\"pos\":6,\"stream\":\"Order-123\",\"ver\":5,\"type\":\"\","
        "\"ts\":\"2026-11-22T11:00:00.123456789Z\",\"data\":{\"type\":42}}\n";
    size_t len;
    char *all = su_read_view(s, ES_VIEW_ALL, NULL, &len);
    assert_string_equal(all, want);
    free(all);
    char *v = su_read_view(s, ES_VIEW_STREAM, "Order-123", &len);
    assert_string_equal(v, "{\"type\":\"OrderPlaced\",\"total\":42}\nhello \"world\"\t\x01\\\n"
                           "bad\xff end\n{\"type\":\"A\\u00e9\\\"\"} \n{\"type\":42}\n");
    free(v);
    /* the same bytes after sealing and reopening */
    assert_int_equal(es_store_seal(s), 0);
    su_close(s);
    s = su_open(f->store, &o);
    all = su_read_view(s, ES_VIEW_ALL, NULL, &len);
    assert_string_equal(all, want);
    free(all);
    su_close(s);
}

/* Reads view v at every offset with several sizes and compares with want. */
static void check_every_offset(struct es_store *s, enum es_view v, const char *name,
                               const char *want, size_t len)
{
    static const size_t sizes[] = {1, 2, 7, 64, 333, 1 << 20};
    char *buf = malloc(len + 64);
    size_t nlen = name ? strlen(name) : 0;
    for (size_t off = 0; off <= len + 2; off++) {
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
            size_t n = sizes[k];
            if (n > 1000 && off % 17 != 0 && off + 3 < len)
                continue; /* reads to the end: a sample of offsets */
            ssize_t r = es_store_read_view(s, v, name, nlen, off, buf, n);
            size_t expect = off >= len ? 0 : (len - off < n ? len - off : n);
            if (r != (ssize_t)expect)
                fail_msg("%s at %zu, %zu bytes: got %zd (%s), expected %zu", name ? name : "all",
                         off, n, r, r < 0 ? es_strerror((int)r) : "", expect);
            if (expect)
                assert_memory_equal(buf, want + off, expect);
        }
    }
    free(buf);
}

static void test_store_views_every_offset(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    /* the stream views are built here from what was appended */
    enum { N = 80, STREAMS = 4 };
    char *stream_want[STREAMS];
    size_t stream_len[STREAMS] = {0};
    for (int k = 0; k < STREAMS; k++) {
        stream_want[k] = malloc(N * 600);
        stream_want[k][0] = '\0';
    }
    char names[STREAMS][64];
    for (uint64_t i = 1; i <= N; i++) {
        char name[64], payload[512];
        su_gen_stream(i, STREAMS, name, sizeof(name));
        su_gen_payload(i, payload, sizeof(payload));
        int k = -1;
        for (int j = 0; j < STREAMS; j++)
            if (stream_len[j] && strcmp(names[j], name) == 0)
                k = j;
        for (int j = 0; k < 0 && j < STREAMS; j++)
            if (!stream_len[j]) {
                k = j;
                snprintf(names[j], sizeof(names[j]), "%s", name);
            }
        assert_true(k >= 0);
        stream_len[k] += (size_t)sprintf(stream_want[k] + stream_len[k], "%s\n", payload);
        assert_int_equal(su_append(s, name, payload), i);
        if (i == 30)
            assert_int_equal(es_store_seal(s), 0); /* some sealed, some not */
    }
    size_t len, rlen;
    char *all = su_read_view(s, ES_VIEW_ALL, NULL, &len);
    char *rendered = su_render_all(s, &rlen);
    assert_int_equal(len, rlen);
    assert_memory_equal(all, rendered, len);
    free(rendered);
    check_every_offset(s, ES_VIEW_ALL, NULL, all, len);
    for (int k = 0; k < STREAMS; k++) {
        size_t vlen;
        char *v = su_read_view(s, ES_VIEW_STREAM, names[k], &vlen);
        assert_int_equal(vlen, stream_len[k]);
        assert_memory_equal(v, stream_want[k], vlen);
        free(v);
        check_every_offset(s, ES_VIEW_STREAM, names[k], stream_want[k], stream_len[k]);
    }
    /* a stream without events, and a view that does not exist */
    char buf[16];
    assert_int_equal(es_store_read_view(s, ES_VIEW_STREAM, "nobody", 6, 0, buf, 16), ES_ENOTFOUND);
    assert_int_equal(es_store_read_view(s, (enum es_view)7, NULL, 0, 0, buf, 16), ES_EMISUSE);
    su_close(s);
    free(all);
    for (int k = 0; k < STREAMS; k++)
        free(stream_want[k]);
}

static void test_store_cursors_resume_after_the_end(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    struct es_cursor *all, *one, *later;
    struct es_event ev;
    assert_int_equal(es_cursor_open(s, NULL, 0, 1, &all), 0);
    assert_int_equal(es_cursor_open(s, "one", 3, 1, &one), 0);   /* no such stream yet */
    assert_int_equal(es_cursor_open(s, "one", 3, 3, &later), 0); /* from its version 3 */
    assert_int_equal(es_cursor_next(all, &ev), 0);
    assert_int_equal(es_cursor_next(one, &ev), 0);
    for (int round = 0; round < 3; round++) {
        su_append(s, "other", "o");
        su_append(s, "one", round == 0 ? "1" : round == 1 ? "2" : "3");
        for (int k = 0; k < 2; k++) {
            assert_int_equal(es_cursor_next(all, &ev), 1);
            assert_int_equal(ev.pos, (uint64_t)round * 2 + 1 + (uint64_t)k);
        }
        assert_int_equal(es_cursor_next(all, &ev), 0);
        assert_int_equal(es_cursor_next(one, &ev), 1);
        assert_int_equal(ev.version, (uint64_t)round + 1);
        assert_int_equal(ev.payload[0], '1' + round);
        assert_int_equal(es_cursor_next(one, &ev), 0);
        assert_int_equal(es_cursor_next(later, &ev), round == 2 ? 1 : 0);
        if (round == 1)
            assert_int_equal(es_store_seal(s), 0); /* from sealed blocks on */
    }
    assert_int_equal(ev.version, 3);
    assert_int_equal(es_cursor_next(later, &ev), 0);
    es_cursor_close(all);
    es_cursor_close(one);
    es_cursor_close(later);
    /* past the end from the start */
    assert_int_equal(es_cursor_open(s, NULL, 0, 100, &all), 0);
    assert_int_equal(es_cursor_next(all, &ev), 0);
    es_cursor_close(all);
    es_cursor_close(NULL);
    char name[4];
    assert_int_equal(es_store_stream_name(s, 1, name, 2), 3); /* full length, cut copy */
    assert_memory_equal(name, "on", 2);
    su_close(s);
}

/* ---- es_store_wait ---- */

struct waiter {
    struct es_store *s;
    uint64_t pos;
    int timeout_ms;
    int rc;
};

static void *wait_main(void *arg)
{
    struct waiter *w = arg;
    w->rc = es_store_wait(w->s, w->pos, w->timeout_ms);
    return NULL;
}

static unsigned n_waiters(struct es_store *s)
{
    pthread_mutex_lock(&s->wait_lock);
    unsigned n = s->n_waiters;
    pthread_mutex_unlock(&s->wait_lock);
    return n;
}

static void test_store_wait(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 1, 3, 1);
    assert_int_equal(es_store_wait(s, 3, -1), 0);
    assert_int_equal(es_store_wait(s, 0, 0), 0);
    assert_int_equal(es_store_wait(s, 4, 0), -ETIMEDOUT);
    assert_int_equal(es_store_wait(s, 4, 20), -ETIMEDOUT);
    /* a waiter is woken by the append it waits for */
    struct waiter w = {s, 5, -1, 1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, wait_main, &w), 0);
    su_append(s, "a", "4");
    su_append(s, "a", "5");
    pthread_join(th, NULL);
    assert_int_equal(w.rc, 0);
    assert_int_equal(n_waiters(s), 0);
    /* waiters for positions that never come are woken by close */
    struct waiter w2[3];
    pthread_t th2[3];
    for (int i = 0; i < 3; i++) {
        w2[i] = (struct waiter){s, 1000, i == 0 ? -1 : 600000, 1};
        assert_int_equal(pthread_create(&th2[i], NULL, wait_main, &w2[i]), 0);
    }
    while (n_waiters(s) < 3) /* all three asleep inside es_store_wait */
        sched_yield();
    su_close(s);
    for (int i = 0; i < 3; i++) {
        pthread_join(th2[i], NULL);
        assert_int_equal(w2[i].rc, ES_ECLOSED);
    }
}

/* ---- timestamps ---- */

static _Atomic int64_t test_now;

static int64_t test_clock(void)
{
    return atomic_load(&test_now);
}

static int64_t last_ts_of(struct es_store *s)
{
    struct es_log_info li;
    es_store_log_info(s, &li);
    return li.last_ts_ns;
}

static void test_store_timestamps_never_go_backwards(void **state)
{
    struct su_fixture *f = *state;
    fault_io_install();
    fault_io_set_clock(test_clock);
    const int64_t t0 = 1795345200000000000;
    atomic_store(&test_now, t0);
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    su_append(s, "a", "1");
    assert_int_equal(last_ts_of(s), t0);
    atomic_store(&test_now, t0 - 1000000000); /* the clock steps back 1 s */
    su_append(s, "b", "2");
    assert_int_equal(last_ts_of(s), t0);
    atomic_store(&test_now, t0 + 5);
    su_append(s, "a", "3");
    assert_int_equal(last_ts_of(s), t0 + 5);
    /* across a seal and a reopen with the clock far behind */
    assert_int_equal(es_store_seal(s), 0);
    su_close(s);
    atomic_store(&test_now, t0 - 3600 * 1000000000ll);
    s = su_open(f->store, &o);
    assert_int_equal(last_ts_of(s), t0 + 5);
    su_append(s, "b", "4");
    assert_int_equal(last_ts_of(s), t0 + 5);
    su_close(s);
    s = su_open(f->store, &o);
    assert_int_equal(last_ts_of(s), t0 + 5);
    su_append(s, "c", "5");
    atomic_store(&test_now, t0 + 10);
    su_append(s, "c", "6");
    assert_int_equal(last_ts_of(s), t0 + 10);
    struct es_stream_info si;
    assert_int_equal(es_store_stream_info(s, "b", 1, &si), 0);
    assert_int_equal(si.first_ts_ns, t0);
    assert_int_equal(si.last_ts_ns, t0 + 5);
    assert_int_equal(su_check_sequence(s), 6); /* checks the order of ts too */
    su_close(s);
    struct es_verify_summary sum;
    assert_int_equal(es_store_verify(f->store, NULL, NULL, &sum), 0);
    assert_int_equal(sum.events, 6);
}

/* ---- sync modes ---- */

static void test_store_sync_batch_and_none(void **state)
{
    struct su_fixture *f = *state;
    fault_io_install();
    tr_install();
    struct es_options o;
    su_options(&o, &f->cap);
    /* ES_SYNC_NONE: acknowledged after the write, visible at once, synced
     * only when asked, at seal and at close */
    o.sync = ES_SYNC_NONE;
    struct es_store *s = su_open(f->store, &o);
    fault_io_reset();
    for (int i = 1; i <= 50; i++)
        assert_int_equal(su_append(s, "n", "x"), (uint64_t)i);
    assert_int_equal(fault_io_calls(FAULT_FDATASYNC), 0);
    assert_int_equal(fault_io_calls(FAULT_FSYNC), 0);
    struct es_log_info li;
    es_store_log_info(s, &li);
    assert_int_equal(li.last_pos, 50);
    struct done_box b;
    box_init(&b);
    assert_int_equal(es_store_sync_async(s, sync_cb, &b), 0);
    assert_int_equal(box_wait(&b), 0);
    assert_int_equal(fault_io_calls(FAULT_FDATASYNC), 1);
    /* nothing new: nothing to sync */
    assert_int_equal(es_store_sync_async(s, sync_cb, &b), 0);
    assert_int_equal(box_wait(&b), 0);
    assert_int_equal(fault_io_calls(FAULT_FDATASYNC), 1);
    su_append(s, "n", "y");
    fault_io_reset();
    su_close(s);
    assert_int_equal(fault_io_calls(FAULT_FDATASYNC), 1); /* at close */
    s = su_open(f->store, &o);
    assert_int_equal(su_check_sequence(s), 51);
    su_close(s);

    /* ES_SYNC_BATCH: acknowledged after the write; the writer syncs on its
     * own within the interval, without another append */
    tmpdir_remove(f->store);
    o.sync = ES_SYNC_BATCH;
    o.sync_batch_ms = 2;
    s = su_open(f->store, &o);
    b.trace = true;
    for (int i = 0; i < 30; i++) {
        struct es_payload p = {"z", 1};
        struct es_append a = {.stream = "bt",
                              .stream_len = 2,
                              .events = &p,
                              .n_events = 1,
                              .expected_version = ES_VERSION_ANY,
                              .done = box_done,
                              .done_arg = &b};
        assert_int_equal(es_store_append_async(s, &a), 0);
        assert_int_equal(box_wait(&b), 0);
    }
    pthread_mutex_lock(&tr.lock);
    for (;;) { /* until a sync follows the last acknowledgement */
        size_t last_ack = 0, last_sync = 0;
        for (size_t i = 0; i < tr.n; i++) {
            if (tr.recs[i].kind == TR_ACK)
                last_ack = i + 1;
            if (tr.recs[i].kind == TR_SYNC)
                last_sync = i + 1;
        }
        if (last_sync > last_ack)
            break;
        pthread_cond_wait(&tr.cond, &tr.lock);
    }
    pthread_mutex_unlock(&tr.lock);
    /* every acknowledgement came before the sync that covers it, and by
     * now every one is covered */
    size_t acks;
    assert_int_equal(tr_violations(true, &acks), 30);
    assert_int_equal(tr_violations(false, &acks), 0);
    assert_int_equal(acks, 30);
    assert_int_equal(es_store_sync_async(s, sync_cb, &b), 0);
    assert_int_equal(box_wait(&b), 0);
    box_release(&b);
    su_close(s);
    s = su_open(f->store, &o);
    assert_int_equal(su_check_sequence(s), 30);
    su_close(s);
}

/* ---- seal requests ---- */

struct seal_race {
    struct es_store *s;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool sync_done;      /* the sync request queued after B completed */
    bool b_done_at_sync; /* whether B had completed by then */
    bool a_on_sealer;
    _Atomic bool b_done;
    _Atomic int b_rc;
    int errors;
};

static void seal_b_done(void *arg, int rc, const struct es_append_result *res)
{
    (void)res;
    struct seal_race *r = arg;
    atomic_store(&r->b_rc, rc);
    atomic_store(&r->b_done, true);
}

static void sync_after_b_done(void *arg, int rc, const struct es_append_result *res)
{
    (void)res;
    struct seal_race *r = arg;
    pthread_mutex_lock(&r->lock);
    if (rc != 0)
        r->errors++;
    r->b_done_at_sync = atomic_load(&r->b_done);
    r->sync_done = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Completion of seal request A. Requests seal B (nothing to seal either)
 * and then a sync, which the writer handles right after B. On the sealer
 * thread, going through its waiters, it holds the sealer here until the
 * writer has handled both. */
static void seal_a_done(void *arg, int rc, const struct es_append_result *res)
{
    (void)res;
    struct seal_race *r = arg;
    bool on_sealer = pthread_equal(pthread_self(), r->s->sealer);
    pthread_mutex_lock(&r->lock);
    r->a_on_sealer = on_sealer;
    if (rc != 0)
        r->errors++;
    pthread_mutex_unlock(&r->lock);
    if (es_store_seal_async(r->s, seal_b_done, r) != 0 ||
        es_store_sync_async(r->s, sync_after_b_done, r) != 0)
        r->errors++;
    if (!on_sealer) /* on the writer thread: it must not wait for itself */
        return;
    pthread_mutex_lock(&r->lock);
    while (!r->sync_done)
        pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
}

static void test_store_seal_request_never_stranded(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 1, 20, 2);
    assert_int_equal(es_store_seal(s), 0); /* everything sealed, the wal empty */
    /* A with nothing to seal, then A with an event to seal (completed by
     * the sealer after sealing it) */
    /* (A's callback may still be returning when the sync completes: the
     * states live until the store is closed) */
    struct seal_race rs[2];
    for (int c = 0; c < 2; c++) {
        if (c == 1)
            su_append(s, "more", "x");
        struct seal_race *r = &rs[c];
        *r = (struct seal_race){.s = s};
        pthread_mutex_init(&r->lock, NULL);
        pthread_cond_init(&r->cond, NULL);
        assert_int_equal(es_store_seal_async(s, seal_a_done, r), 0);
        pthread_mutex_lock(&r->lock);
        while (!r->sync_done)
            pthread_cond_wait(&r->cond, &r->lock);
        bool a_on_sealer = r->a_on_sealer, b_done_at_sync = r->b_done_at_sync;
        int errors = r->errors;
        pthread_mutex_unlock(&r->lock);
        assert_int_equal(errors, 0);
        if (c == 1)
            assert_true(a_on_sealer);
        /* a seal request whose events are all sealed completes when the
         * writer hands it over, also while the sealer is busy completing
         * others: left to the sealer, it waited for the sealer's next look
         * at its waiters, which might have come and gone */
        assert_true(b_done_at_sync);
        assert_int_equal(atomic_load(&r->b_rc), 0);
        assert_int_equal(es_store_seal(s), 0);
    }
    su_close(s);
    for (int c = 0; c < 2; c++) {
        pthread_mutex_destroy(&rs[c].lock);
        pthread_cond_destroy(&rs[c].cond);
    }
}

/* ---- the commit hook ---- */

struct hook_state {
    pthread_mutex_t lock;
    uint64_t acked_through, committed_through, all_bytes;
    unsigned n_commits, errors;
};

static void hook_done(void *arg, int rc, const struct es_append_result *res)
{
    struct hook_state *h = arg;
    pthread_mutex_lock(&h->lock);
    if (rc == 0 && res->last_pos > h->acked_through)
        h->acked_through = res->last_pos;
    pthread_mutex_unlock(&h->lock);
}

static void hook_commit(void *arg, const struct es_commit *c)
{
    struct hook_state *h = arg;
    pthread_mutex_lock(&h->lock);
    h->n_commits++;
    if (c->first_pos != h->committed_through + 1 || c->last_pos < c->first_pos ||
        h->acked_through < c->last_pos || c->n_streams == 0 || c->all_view_bytes <= h->all_bytes)
        h->errors++;
    for (size_t i = 0; i < c->n_streams; i++)
        if (c->streams[i].version == 0 || c->streams[i].view_bytes < c->streams[i].version * 2)
            h->errors++;
    h->committed_through = c->last_pos;
    h->all_bytes = c->all_view_bytes;
    pthread_mutex_unlock(&h->lock);
}

static void test_store_commit_hook(void **state)
{
    struct su_fixture *f = *state;
    struct hook_state h = {.acked_through = 0};
    pthread_mutex_init(&h.lock, NULL);
    struct es_options o;
    su_options(&o, &f->cap);
    o.on_commit = hook_commit;
    o.on_commit_arg = &h;
    struct es_store *s = su_open(f->store, &o);
    for (int i = 0; i < 200; i++) {
        char name[8];
        snprintf(name, sizeof(name), "h%d", i % 7);
        struct es_payload p = {"ev", 2};
        struct es_append a = {.stream = name,
                              .stream_len = strlen(name),
                              .events = &p,
                              .n_events = 1,
                              .expected_version = i < 7 ? 0 : ES_VERSION_ANY,
                              .done = hook_done,
                              .done_arg = &h};
        assert_int_equal(es_store_append_async(s, &a), 0);
    }
    assert_int_equal(es_store_wait(s, 200, -1), 0);
    /* a conflict commits nothing */
    struct es_append_result res;
    assert_int_equal(append_one(s, "h0", "no", 0, &res), ES_ECONFLICT);
    su_close(s);
    assert_int_equal(h.errors, 0);
    assert_int_equal(h.committed_through, 200);
    assert_true(h.n_commits >= 1 && h.n_commits <= 200);
    s = su_open(f->store, &o);
    struct es_log_info li;
    es_store_log_info(s, &li);
    assert_int_equal(li.all_view_bytes, h.all_bytes);
    su_close(s);
    pthread_mutex_destroy(&h.lock);
}

/* ---- input validation ---- */

static unsigned n_called;

static void count_done(void *arg, int rc, const struct es_append_result *res)
{
    (void)arg;
    (void)rc;
    (void)res;
    n_called++;
}

static int try_append(struct es_store *s, const char *name, size_t name_len,
                      const struct es_payload *p, size_t n, int64_t expected)
{
    struct es_append a = {.stream = name,
                          .stream_len = name_len,
                          .events = p,
                          .n_events = n,
                          .expected_version = expected,
                          .done = count_done,
                          .done_arg = NULL};
    return es_store_append_async(s, &a);
}

static void test_store_append_input_validation(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    o.max_event_bytes = 1000;
    struct es_store *s = su_open(f->store, &o);
    struct es_payload ok = {"fine", 4};
    char long_name[300];
    memset(long_name, 'n', sizeof(long_name));
    struct {
        const char *name;
        size_t len;
        int rc;
    } names[] = {
        {"", 0, ES_EBADNAME},          {".hidden", 7, ES_EBADNAME},
        {"a/b", 3, ES_EBADNAME},       {"a\x01", 2, ES_EBADNAME},
        {"a\x7f", 2, ES_EBADNAME},     {"a\nb", 3, ES_EBADNAME},
        {"a\0b", 3, ES_EBADNAME},      {"\xff\xfe", 2, ES_EBADNAME},
        {"\xc3", 1, ES_EBADNAME},      {"\xed\xa0\x80", 3, ES_EBADNAME},
        {long_name, 256, ES_ENAMELEN}, {long_name, 300, ES_ENAMELEN},
    };
    n_called = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int rc = try_append(s, names[i].name, names[i].len, &ok, 1, ES_VERSION_ANY);
        if (rc != names[i].rc)
            fail_msg("name %zu: %s, expected %s", i, es_strerror(rc), es_strerror(names[i].rc));
        assert_int_equal(es_stream_name_check(names[i].name, names[i].len), names[i].rc);
    }
    assert_int_equal(es_errno(ES_EBADNAME), EINVAL);
    assert_int_equal(es_errno(ES_ENAMELEN), ENAMETOOLONG);
    char big[1001];
    memset(big, 'b', sizeof(big));
    struct es_payload bad_payloads[] = {{"", 0}, {"two\nlines", 9}, {"\n", 1}, {big, 1001}};
    int bad_rc[] = {ES_EMISUSE, ES_EMISUSE, ES_EMISUSE, ES_ETOOBIG};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(try_append(s, "s", 1, &bad_payloads[i], 1, ES_VERSION_ANY), bad_rc[i]);
        /* one bad event anywhere refuses the whole append */
        struct es_payload mix[3] = {ok, bad_payloads[i], ok};
        assert_int_equal(try_append(s, "s", 1, mix, 3, ES_VERSION_ANY), bad_rc[i]);
    }
    assert_int_equal(es_errno(ES_ETOOBIG), EMSGSIZE);
    assert_int_equal(try_append(s, "s", 1, &ok, 0, ES_VERSION_ANY), ES_EMISUSE);
    assert_int_equal(try_append(s, "s", 1, &ok, 1, -2), ES_EMISUSE);
    struct es_append a = {.stream = "s",
                          .stream_len = 1,
                          .events = &ok,
                          .n_events = 1,
                          .expected_version = ES_VERSION_ANY,
                          .done = NULL};
    assert_int_equal(es_store_append_async(s, &a), ES_EMISUSE);
    assert_int_equal(n_called, 0);
    struct es_log_info li;
    es_store_log_info(s, &li);
    assert_int_equal(li.last_pos, 0);

    /* the limits themselves are fine */
    struct es_append_result res;
    memset(big, 'b', 1000);
    struct es_payload edge[2] = {{big, 1000}, {long_name, 1}};
    assert_int_equal(es_store_append(s, long_name, 255, edge, 2, 0, &res), 0);
    assert_int_equal(res.first_pos, 1);
    assert_int_equal(res.last_pos, 2);
    /* expected versions */
    assert_int_equal(es_store_append(s, long_name, 255, &ok, 1, 0, &res), ES_ECONFLICT);
    assert_int_equal(es_store_append(s, long_name, 255, &ok, 1, 3, &res), ES_ECONFLICT);
    assert_int_equal(es_store_append(s, long_name, 255, &ok, 1, 2, &res), 0);
    assert_int_equal(res.version, 3);
    assert_int_equal(es_store_append(s, "fresh", 5, &ok, 1, 1, &res), ES_ECONFLICT);
    assert_int_equal(es_store_append(s, "fresh", 5, &ok, 1, 0, &res), 0);
    assert_int_equal(es_errno(ES_ECONFLICT), ECANCELED);
    assert_int_equal(es_errno(ES_EFAILED), EIO);
    assert_int_equal(es_errno(ES_ECORRUPT), EIO);
    /* readers validate too */
    struct es_cursor *c;
    assert_int_equal(es_cursor_open(s, "a/b", 3, 1, &c), ES_EBADNAME);
    struct es_stream_info si;
    assert_int_equal(es_store_stream_info(s, "nobody", 6, &si), ES_ENOTFOUND);
    char nb[8];
    assert_int_equal(es_store_stream_name(s, 2, nb, sizeof(nb)), ES_ENOTFOUND);
    assert_int_equal(es_store_stream_name(s, 1, nb, sizeof(nb)), 5);
    assert_memory_equal(nb, "fresh", 5);
    assert_int_equal(su_check_sequence(s), 4);
    su_close(s);
}

/* ---- opening ---- */

static void test_store_open_errors_and_lock(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o), *t = NULL;
    assert_int_equal(es_store_open(f->store, &o, &t), ES_ELOCKED);
    o.read_only = true;
    struct es_store *ro = su_open(f->store, &o); /* readers need no lock */
    su_close(ro);
    o.read_only = false;
    su_close(s);
    s = su_open(f->store, &o);
    su_close(s);

    char p[4300];
    su_path(p, sizeof(p), "%s/not-a-store", f->dir);
    assert_int_equal(mkdir(p, 0755), 0);
    su_path(p, sizeof(p), "%s/not-a-store/file", f->dir);
    assert_int_equal(file_write_all(p, "x", 1), 0);
    su_path(p, sizeof(p), "%s/not-a-store", f->dir);
    assert_int_equal(es_store_open(p, &o, &t), ES_ENOTSTORE);
    su_path(p, sizeof(p), "%s/not-a-store/file", f->dir);
    assert_int_equal(es_store_open(p, &o, &t), ES_ENOTSTORE);
    su_path(p, sizeof(p), "%s/missing", f->dir);
    o.read_only = true;
    assert_int_equal(es_store_open(p, &o, &t), ES_ENOTSTORE);
    o.read_only = false;
    struct es_options bad = o;
    bad.segment_bytes = 1000;
    assert_int_equal(es_store_open(f->store, &bad, &t), ES_EMISUSE);
    bad = o;
    bad.max_event_bytes = 0;
    assert_int_equal(es_store_open(f->store, &bad, &t), ES_EMISUSE);
    bad.max_event_bytes = ES_MAX_EVENT_BYTES_LIMIT + 1;
    assert_int_equal(es_store_open(f->store, &bad, &t), ES_EMISUSE);
    bad = o;
    bad.sync = ES_SYNC_BATCH;
    bad.sync_batch_ms = 0;
    assert_int_equal(es_store_open(f->store, &bad, &t), ES_EMISUSE);
}

static void test_store_copy_of_segments_opens(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 1, 400, 5);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 401, 300, 5);
    assert_int_equal(es_store_seal(s), 0);
    struct su_snapshot sealed;
    su_snapshot_take(s, &sealed);
    su_fill(s, 701, 50, 5); /* not sealed: not in the copy */
    /* copy segments/ while the store runs */
    char copy[4300], src[4300], dst[4300];
    su_path(copy, sizeof(copy), "%s/copy", f->dir);
    su_path(src, sizeof(src), "%s/segments", f->store);
    su_path(dst, sizeof(dst), "%s/copy/segments", f->dir);
    assert_int_equal(mkdir(copy, 0755), 0);
    assert_int_equal(tree_copy(src, dst), 0);
    su_close(s);
    for (int c = 0; c < 2; c++) {
        o.read_only = c == 0;
        s = su_open(copy, &o);
        struct su_snapshot now;
        su_snapshot_take(s, &now);
        su_snapshot_assert_equal(&sealed, &now);
        su_snapshot_release(&now);
        if (c == 1)
            assert_int_equal(su_append(s, "new", "x"), 701);
        su_close(s);
    }
    su_snapshot_release(&sealed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        STORE_TEST(test_store_concurrent_expected_versions_no_lost_update),
        STORE_TEST(test_store_readers_see_stable_bytes_during_appends),
        STORE_TEST(test_store_group_commit_batches_fsyncs),
        STORE_TEST(test_store_acks_follow_their_fdatasync),
        STORE_TEST(test_store_write_errors_fail_cleanly),
        STORE_TEST(test_store_short_write_retried),
        STORE_TEST(test_store_failed_write_fails_its_turn_only),
        STORE_TEST(test_store_failed_cut_back_poisons),
        STORE_TEST(test_store_fdatasync_failure_poisons),
        STORE_TEST(test_store_failed_sync_at_rotation_poisons),
        STORE_TEST(test_store_envelope_bytes),
        STORE_TEST(test_store_views_every_offset),
        STORE_TEST(test_store_cursors_resume_after_the_end),
        STORE_TEST(test_store_wait),
        STORE_TEST(test_store_timestamps_never_go_backwards),
        STORE_TEST(test_store_sync_batch_and_none),
        STORE_TEST(test_store_seal_request_never_stranded),
        STORE_TEST(test_store_commit_hook),
        STORE_TEST(test_store_append_input_validation),
        STORE_TEST(test_store_open_errors_and_lock),
        STORE_TEST(test_store_copy_of_segments_opens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
