/*
 * store_util.c - helpers for the storage engine's unit tests (see
 * store_util.h). Uses cmocka's assertions, so a failing helper fails the
 * test that called it.
 */
#include "store_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fault_io.h"
#include "tmpdir.h"

/* ---- log collector ---- */

void logcap_init(struct logcap *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
}

void logcap_release(struct logcap *c)
{
    free(c->text);
    pthread_mutex_destroy(&c->lock);
    memset(c, 0, sizeof(*c));
}

void logcap_clear(struct logcap *c)
{
    pthread_mutex_lock(&c->lock);
    c->len = 0;
    if (c->text)
        c->text[0] = '\0';
    c->n_warn = c->n_error = 0;
    pthread_mutex_unlock(&c->lock);
}

void logcap_fn(void *arg, enum es_log_level level, const char *msg)
{
    struct logcap *c = arg;
    static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    size_t n = strlen(msg) + 16;
    pthread_mutex_lock(&c->lock);
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        while (cap < c->len + n + 1)
            cap *= 2;
        char *p = realloc(c->text, cap);
        if (!p) {
            pthread_mutex_unlock(&c->lock);
            return;
        }
        c->text = p;
        c->cap = cap;
    }
    c->len += (size_t)snprintf(c->text + c->len, c->cap - c->len, "%s %s\n",
                               names[(unsigned)level < 4 ? level : 3], msg);
    if (level == ES_LOG_WARN)
        c->n_warn++;
    if (level == ES_LOG_ERROR)
        c->n_error++;
    pthread_mutex_unlock(&c->lock);
}

bool logcap_has(struct logcap *c, const char *needle)
{
    pthread_mutex_lock(&c->lock);
    bool found = c->text && strstr(c->text, needle) != NULL;
    pthread_mutex_unlock(&c->lock);
    return found;
}

/* ---- fixture ---- */

int su_setup(void **state)
{
    struct su_fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    tmpdir_make(f->dir, sizeof(f->dir), "unit");
    snprintf(f->store, sizeof(f->store), "%s/store", f->dir);
    logcap_init(&f->cap);
    *state = f;
    return 0;
}

int su_teardown(void **state)
{
    struct su_fixture *f = *state;
    fault_io_set_clock(NULL);
    fault_io_uninstall();
    tmpdir_remove(f->dir);
    logcap_release(&f->cap);
    free(f);
    return 0;
}

/* ---- stores ---- */

void su_options(struct es_options *o, struct logcap *cap)
{
    es_options_init(o);
    o->block_cache_bytes = (size_t)1 << 20;
    if (cap) {
        o->log = logcap_fn;
        o->log_arg = cap;
    }
}

struct es_store *su_open(const char *dir, const struct es_options *o)
{
    struct es_store *s = NULL;
    int rc = es_store_open(dir, o, &s);
    if (rc != 0)
        fail_msg("es_store_open(%s): %s: %s", dir, es_strerror(rc), es_error_detail());
    return s;
}

void su_close(struct es_store *s)
{
    int rc = es_store_close(s);
    if (rc != 0)
        fail_msg("es_store_close: %s: %s", es_strerror(rc), es_error_detail());
}

uint64_t su_append(struct es_store *s, const char *stream, const char *payload)
{
    struct es_payload p = {payload, strlen(payload)};
    struct es_append_result res;
    int rc = es_store_append(s, stream, strlen(stream), &p, 1, ES_VERSION_ANY, &res);
    if (rc != 0)
        fail_msg("append to %s: %s: %s", stream, es_strerror(rc), es_error_detail());
    assert_int_equal(res.first_pos, res.last_pos);
    return res.first_pos;
}

void su_gen_stream(uint64_t i, unsigned n_streams, char *buf, size_t cap)
{
    static const char *const kinds[] = {"Order", "Cust ömer", "inv\"oice", "x"};
    unsigned k = (unsigned)((i * 7 + i / 3) % n_streams);
    snprintf(buf, cap, "%s-%u", kinds[k % 4], k);
}

size_t su_gen_payload(uint64_t i, char *buf, size_t cap)
{
    unsigned long long n = (unsigned long long)i;
    int len;
    switch (i % 9) {
    case 0: len = snprintf(buf, cap, "{\"type\":\"Ev%llu\",\"n\":%llu}", n % 5, n); break;
    case 1: len = snprintf(buf, cap, "plain text %llu", n); break;
    case 2: len = snprintf(buf, cap, "{\"n\":%llu,\"s\":\"x\"}", n); break;
    case 3: len = snprintf(buf, cap, "say \"hi\"\t%llu \xc3\xbcn\xc3\xaf \\ end", n); break;
    case 4: len = snprintf(buf, cap, "[%llu,true,null]", n); break;
    case 5: len = snprintf(buf, cap, "bad \xff\xfe utf8 \x01 %llu", n); break;
    case 6: {
        len = snprintf(buf, cap, "{\"type\":\"Big\",\"pad\":\"");
        size_t pad = (size_t)(n * 37 % 300);
        for (size_t k = 0; k < pad && (size_t)len + 3 < cap; k++)
            buf[len++] = (char)('a' + k % 26);
        len += snprintf(buf + len, cap - (size_t)len, "\"}");
        break;
    }
    case 7: len = snprintf(buf, cap, "%llu", n); break;
    default:
        len = snprintf(buf, cap, "{\"type\":\"T\\u00e9\",\"type\":\"Last\",\"v\":[1,{\"a\":%llu}]}",
                       n);
        break;
    }
    return (size_t)len < cap ? (size_t)len : cap - 1;
}

struct fill_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t done, failed;
    int first_rc;
    char detail[512];
};

static void fill_done(void *arg, int rc, const struct es_append_result *res)
{
    (void)res;
    struct fill_wait *w = arg;
    pthread_mutex_lock(&w->lock);
    w->done++;
    if (rc != 0 && w->failed++ == 0) {
        w->first_rc = rc;
        snprintf(w->detail, sizeof(w->detail), "%s", es_error_detail());
    }
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void su_fill(struct es_store *s, uint64_t first, uint64_t n, unsigned n_streams)
{
    struct fill_wait w;
    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    char name[64], payload[512];
    for (uint64_t i = first; i < first + n; i++) {
        su_gen_stream(i, n_streams, name, sizeof(name));
        struct es_payload p = {payload, su_gen_payload(i, payload, sizeof(payload))};
        struct es_append a = {.stream = name,
                              .stream_len = strlen(name),
                              .events = &p,
                              .n_events = 1,
                              .expected_version = ES_VERSION_ANY,
                              .done = fill_done,
                              .done_arg = &w};
        int rc = es_store_append_async(s, &a);
        if (rc != 0)
            fail_msg("queueing event %llu: %s: %s", (unsigned long long)i, es_strerror(rc),
                     es_error_detail());
    }
    pthread_mutex_lock(&w.lock);
    while (w.done < n)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    if (w.failed)
        fail_msg("%llu appends failed, the first with %s: %s", (unsigned long long)w.failed,
                 es_strerror(w.first_rc), w.detail);
}

char *su_read_view(struct es_store *s, enum es_view v, const char *name, size_t *len)
{
    size_t cap = 1 << 16, used = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    size_t nlen = name ? strlen(name) : 0;
    for (;;) {
        if (cap - used < 65521) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
        ssize_t r = es_store_read_view(s, v, name, nlen, used, buf + used, 65521);
        if (r < 0)
            fail_msg("reading view %d of %s at %zu: %s: %s", (int)v, name ? name : "all", used,
                     es_strerror((int)r), es_error_detail());
        if (r == 0)
            break;
        used += (size_t)r;
    }
    buf[used] = '\0';
    *len = used;
    return buf;
}

char *su_render_all(struct es_store *s, size_t *len)
{
    struct es_cursor *c;
    assert_int_equal(es_cursor_open(s, NULL, 0, 1, &c), 0);
    size_t cap = 1 << 16, used = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    struct es_event ev;
    int rc;
    while ((rc = es_cursor_next(c, &ev)) == 1) {
        size_t need = es_envelope_render(&ev, NULL, 0);
        while (used + need > cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
        assert_int_equal(es_envelope_render(&ev, buf + used, need), need);
        used += need;
    }
    if (rc != 0)
        fail_msg("cursor: %s: %s", es_strerror(rc), es_error_detail());
    es_cursor_close(c);
    buf[used] = '\0';
    *len = used;
    return buf;
}

void su_snapshot_take(struct es_store *s, struct su_snapshot *out)
{
    memset(out, 0, sizeof(*out));
    es_store_log_info(s, &out->li);
    out->all = su_read_view(s, ES_VIEW_ALL, NULL, &out->all_len);
    assert_int_equal(out->all_len, out->li.all_view_bytes);
    out->n_streams = out->li.n_streams;
    out->streams = calloc(out->n_streams ? out->n_streams : 1, sizeof(*out->streams));
    assert_non_null(out->streams);
    for (uint32_t i = 0; i < out->n_streams; i++) {
        struct su_stream_snap *ss = &out->streams[i];
        ssize_t n = es_store_stream_name(s, i, ss->name, sizeof(ss->name) - 1);
        assert_true(n > 0);
        ss->name_len = (size_t)n;
        ss->name[n] = '\0';
        assert_int_equal(es_store_stream_info(s, ss->name, ss->name_len, &ss->info), 0);
        assert_int_equal(ss->info.stream_no, i);
        ss->view = su_read_view(s, ES_VIEW_STREAM, ss->name, &ss->view_len);
        assert_int_equal(ss->view_len, ss->info.view_bytes);
    }
}

void su_snapshot_assert_equal(const struct su_snapshot *a, const struct su_snapshot *b)
{
    assert_int_equal(a->li.last_pos, b->li.last_pos);
    assert_int_equal(a->li.all_view_bytes, b->li.all_view_bytes);
    assert_int_equal(a->li.n_streams, b->li.n_streams);
    assert_int_equal(a->li.n_sealed_segments, b->li.n_sealed_segments);
    assert_int_equal(a->li.last_ts_ns, b->li.last_ts_ns);
    assert_int_equal(a->all_len, b->all_len);
    assert_memory_equal(a->all, b->all, a->all_len);
    assert_int_equal(a->n_streams, b->n_streams);
    for (uint32_t i = 0; i < a->n_streams; i++) {
        const struct su_stream_snap *x = &a->streams[i], *y = &b->streams[i];
        assert_int_equal(x->name_len, y->name_len);
        assert_memory_equal(x->name, y->name, x->name_len);
        assert_int_equal(x->info.stream_no, y->info.stream_no);
        assert_int_equal(x->info.version, y->info.version);
        assert_int_equal(x->info.view_bytes, y->info.view_bytes);
        assert_int_equal(x->info.first_ts_ns, y->info.first_ts_ns);
        assert_int_equal(x->info.last_ts_ns, y->info.last_ts_ns);
        assert_int_equal(x->view_len, y->view_len);
        assert_memory_equal(x->view, y->view, x->view_len);
    }
}

void su_snapshot_release(struct su_snapshot *snap)
{
    for (uint32_t i = 0; i < snap->n_streams; i++)
        free(snap->streams[i].view);
    free(snap->streams);
    free(snap->all);
    memset(snap, 0, sizeof(*snap));
}

struct seq_slot {
    char *name;
    size_t len;
    uint64_t version;
};

static uint64_t name_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

uint64_t su_check_sequence(struct es_store *s)
{
    struct es_log_info li;
    es_store_log_info(s, &li);
    size_t cap = 16;
    while (cap < (size_t)li.n_streams * 2 + 2)
        cap *= 2;
    struct seq_slot *t = calloc(cap, sizeof(*t));
    assert_non_null(t);
    struct es_cursor *c;
    assert_int_equal(es_cursor_open(s, NULL, 0, 1, &c), 0);
    struct es_event ev;
    uint64_t expect = 1;
    int64_t last_ts = 0;
    int rc;
    while ((rc = es_cursor_next(c, &ev)) == 1) {
        assert_int_equal(ev.pos, expect);
        expect++;
        assert_true(ev.ts_ns >= last_ts);
        last_ts = ev.ts_ns;
        size_t i = (size_t)name_hash(ev.stream, ev.stream_len) & (cap - 1);
        while (t[i].name &&
               !(t[i].len == ev.stream_len && memcmp(t[i].name, ev.stream, ev.stream_len) == 0))
            i = (i + 1) & (cap - 1);
        if (!t[i].name) {
            t[i].name = malloc(ev.stream_len);
            assert_non_null(t[i].name);
            memcpy(t[i].name, ev.stream, ev.stream_len);
            t[i].len = ev.stream_len;
        }
        assert_int_equal(ev.version, t[i].version + 1);
        t[i].version = ev.version;
    }
    if (rc != 0)
        fail_msg("cursor at %llu: %s: %s", (unsigned long long)expect, es_strerror(rc),
                 es_error_detail());
    es_cursor_close(c);
    size_t n_streams = 0;
    for (size_t i = 0; i < cap; i++) {
        if (!t[i].name)
            continue;
        n_streams++;
        struct es_stream_info si;
        assert_int_equal(es_store_stream_info(s, t[i].name, t[i].len, &si), 0);
        assert_int_equal(si.version, t[i].version);
        free(t[i].name);
    }
    free(t);
    assert_int_equal(expect - 1, li.last_pos);
    assert_int_equal(n_streams, li.n_streams);
    return expect - 1;
}

/* ---- files ---- */

void su_path(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < cap);
}

void su_flip_bit(const char *path, uint64_t off, unsigned bit)
{
    int fd = open(path, O_RDWR);
    if (fd < 0)
        fail_msg("open %s: %s", path, strerror(errno));
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
    c ^= (unsigned char)(1u << (bit & 7));
    assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
    close(fd);
}

void su_truncate(const char *path, uint64_t len)
{
    if (truncate(path, (off_t)len) != 0)
        fail_msg("truncate %s: %s", path, strerror(errno));
}

void su_append_bytes(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    if (fd < 0)
        fail_msg("open %s: %s", path, strerror(errno));
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

unsigned su_count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    unsigned n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && ends_with(de->d_name, suffix))
            n++;
    closedir(d);
    return n;
}

bool su_last_file(const char *dir, const char *suffix, char *name, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !ends_with(de->d_name, suffix))
            continue;
        if (!found || strcmp(de->d_name, name) > 0) {
            su_path(name, cap, "%s", de->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

bool su_files_equal_zero_tail(const char *a, const char *b)
{
    size_t la, lb;
    char *x = file_read_all(a, &la), *y = file_read_all(b, &lb);
    bool eq = x && y;
    size_t common = la < lb ? la : lb;
    if (eq)
        eq = memcmp(x, y, common) == 0;
    const char *longer = la > lb ? x : y;
    size_t longer_len = la > lb ? la : lb;
    for (size_t i = common; eq && i < longer_len; i++)
        eq = longer[i] == 0;
    free(x);
    free(y);
    return eq;
}
