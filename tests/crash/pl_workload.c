/*
 * pl_workload.c - the power-loss tests' workload and recovery check (see
 * pl_workload.h). The check is deliberately independent of the index: it
 * compares the cursor (index + log), es_store_scan (log only) and both byte
 * views against the record of attempts.
 */
#include "pl_workload.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/powerloss.h"
#include "support/tmpdir.h"

void plw_fail(const struct plw_run *r, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    print_error("FAILED: %s\n  context: %s\n  (ESFS_CRASH_KEEP=1 keeps %s)\n", msg, r->ctx,
                r->store);
    fail_msg("%s", msg);
    abort(); /* not reached: fail_msg leaves the test */
}

uint64_t plw_env(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    return strtoull(v, NULL, 0);
}

/* Every run's root until plw_release: plw_cleanup_all() removes them when
 * a test fails before it got there. */
static struct plw_run *live_runs[8];

void plw_cleanup_all(void)
{
    powerloss_stop();
    for (size_t i = 0; i < sizeof(live_runs) / sizeof(live_runs[0]); i++) {
        struct plw_run *r = live_runs[i];
        if (!r)
            continue;
        if (getenv("ESFS_CRASH_KEEP"))
            fprintf(stderr, "kept %s (ESFS_CRASH_KEEP)\n", r->root);
        else
            tmpdir_remove(r->root);
        live_runs[i] = NULL;
    }
}

void plw_init(struct plw_run *r, const char *tag, enum es_sync sync)
{
    memset(r, 0, sizeof(*r));
    tmpdir_make(r->root, sizeof(r->root), tag);
    for (size_t i = 0; i < sizeof(live_runs) / sizeof(live_runs[0]); i++)
        if (!live_runs[i]) {
            live_runs[i] = r;
            break;
        }
    snprintf(r->store, sizeof(r->store), "%s/store", r->root);
    r->sync = sync;
}

static void attempts_free(struct plw_attempt *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i].payload);
}

void plw_reset(struct plw_run *r)
{
    attempts_free(r->a, r->n);
    attempts_free(r->probe, r->n_probe);
    r->n = r->n_probe = r->n_acked = 0;
    r->stopped = false;
    r->final_wal_syncs = 0;
}

void plw_release(struct plw_run *r)
{
    plw_reset(r);
    free(r->a);
    free(r->probe);
    r->a = r->probe = NULL;
    tmpdir_remove(r->root);
    for (size_t i = 0; i < sizeof(live_runs) / sizeof(live_runs[0]); i++)
        if (live_runs[i] == r)
            live_runs[i] = NULL;
}

void plw_options(struct es_options *o, enum es_sync sync)
{
    es_options_init(o);
    o->sync = sync;
    o->sync_batch_ms = 1;
    o->segment_bytes = 64u << 10;
    o->checkpoint_events = 4;
    o->block_cache_bytes = 1u << 20;
}

/* Payload i: 100..2600 bytes, unique, every 4th a JSON object with a type. */
static char *make_payload(size_t i, size_t *len)
{
    size_t pad = 100 + (i * 7919) % 2500;
    char *p = malloc(pad + 96);
    if (!p)
        abort();
    int n;
    if (i % 4 == 0)
        n = snprintf(p, 96, "{\"type\":\"T%zu\",\"i\":%zu,\"pad\":\"", i % 3, i);
    else
        n = snprintf(p, 96, "ev-%zu-", i);
    for (size_t k = 0; k < pad; k++)
        p[n + k] = (char)('a' + (i * 31 + k * 7) % 26);
    size_t l = (size_t)n + pad;
    if (i % 4 == 0) {
        memcpy(p + l, "\"}", 2);
        l += 2;
    }
    *len = l;
    return p;
}

static struct plw_attempt *grow(struct plw_attempt **a, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        struct plw_attempt *p = realloc(*a, *cap * sizeof(*p));
        if (!p)
            abort();
        *a = p;
    }
    struct plw_attempt *at = &(*a)[(*n)++];
    memset(at, 0, sizeof(*at));
    return at;
}

/* One append of n_events events to stream; records the attempts. */
static int append_events(struct plw_run *r, struct es_store *s, const char *stream, size_t n_events,
                         bool probe)
{
    struct es_payload ev[4] = {{0}};
    size_t first = probe ? r->n_probe : r->n;
    for (size_t i = 0; i < n_events; i++) {
        struct plw_attempt *at =
            probe ? grow(&r->probe, &r->n_probe, &r->cap_probe) : grow(&r->a, &r->n, &r->cap);
        snprintf(at->stream, sizeof(at->stream), "%s", stream);
        if (probe) {
            char buf[64];
            int n = snprintf(buf, sizeof(buf), "probe-%zu", r->n_probe);
            at->payload = strdup(buf);
            at->len = (size_t)n;
        } else {
            at->payload = make_payload(r->n - 1, &at->len);
        }
        ev[i] = (struct es_payload){at->payload, at->len};
    }
    struct es_append_result res;
    int rc = es_store_append(s, stream, strlen(stream), ev, n_events, ES_VERSION_ANY, &res);
    if (rc == 0) {
        uint64_t syncs = powerloss_syncs("/store/wal/");
        for (size_t i = 0; i < n_events; i++) {
            struct plw_attempt *at = probe ? &r->probe[first + i] : &r->a[first + i];
            at->acked = true;
            at->wal_syncs_at_ack = syncs;
        }
        if (!probe) {
            r->n_acked += n_events;
            if (res.first_pos != first + 1 || res.last_pos != first + n_events)
                plw_fail(r, "append acknowledged positions %llu..%llu, expected %zu..%zu",
                         (unsigned long long)res.first_pos, (unsigned long long)res.last_pos,
                         first + 1, first + n_events);
        }
    }
    return rc;
}

int plw_append(struct plw_run *r, struct es_store *s, size_t n_events)
{
    if (n_events < 1 || n_events > 4)
        plw_fail(r, "plw_append of %zu events", n_events);
    char stream[8];
    snprintf(stream, sizeof(stream), "s%zu", r->n % 3);
    return append_events(r, s, stream, n_events, false);
}

static void after_failure(struct plw_run *r, const char *what, int rc)
{
    r->stopped = true;
    if (!powerloss_crashed())
        plw_fail(r, "%s failed before any crash: %s (%s)", what, es_strerror(rc),
                 es_error_detail());
}

void plw_workload(struct plw_run *r, int appends_per_phase)
{
    struct es_options o;
    plw_options(&o, r->sync);
    for (int phase = 0; phase < 2 && !r->stopped; phase++) {
        struct es_store *s = NULL;
        int rc = es_store_open(r->store, &o, &s);
        if (rc) {
            after_failure(r, "es_store_open", rc);
            return;
        }
        for (int i = 0; i < appends_per_phase && !r->stopped; i++) {
            rc = plw_append(r, s, i % 5 == 4 ? 3 : 1);
            if (rc) {
                after_failure(r, "append", rc);
                break;
            }
            if (i % 7 == 6 && (rc = es_store_seal(s)) != 0)
                after_failure(r, "seal", rc);
        }
        rc = es_store_close(s);
        if (rc)
            after_failure(r, "es_store_close", rc);
    }
}

void plw_probe_phase(struct plw_run *r)
{
    struct es_options o;
    plw_options(&o, r->sync);
    struct es_store *s = NULL;
    int rc = es_store_open(r->store, &o, &s);
    if (rc) {
        after_failure(r, "recovery open", rc);
        return;
    }
    rc = append_events(r, s, "probe", 1, true);
    if (rc)
        after_failure(r, "probe append", rc);
    rc = es_store_close(s);
    if (rc)
        after_failure(r, "es_store_close after recovery", rc);
}

size_t plw_required(const struct plw_run *r)
{
    size_t m = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct plw_attempt *at = &r->a[i];
        if (!at->acked)
            continue;
        if (r->sync == ES_SYNC_ALWAYS || at->wal_syncs_at_ack < r->final_wal_syncs)
            m = i + 1;
    }
    return m;
}

/* ---- checking a recovered store ---- */

struct seen {
    struct plw_run *r;
    size_t m;        /* workload events seen */
    size_t probes;   /* probe events seen */
    uint64_t pos;    /* last position */
    uint64_t ver[4]; /* s0, s1, s2, probe */
};

static int stream_slot(const char *name, size_t len)
{
    if (len == 5 && memcmp(name, "probe", 5) == 0)
        return 3;
    if (len == 2 && name[0] == 's' && name[1] >= '0' && name[1] <= '2')
        return name[1] - '0';
    return -1;
}

/* Checks one event against the record (fails the test on a mismatch). */
static void check_event(struct seen *sn, const struct es_event *ev, const char *via)
{
    struct plw_run *r = sn->r;
    if (ev->pos != sn->pos + 1)
        plw_fail(r, "%s: position %llu follows %llu", via, (unsigned long long)ev->pos,
                 (unsigned long long)sn->pos);
    sn->pos = ev->pos;
    int slot = stream_slot(ev->stream, ev->stream_len);
    if (slot < 0)
        plw_fail(r, "%s: position %llu has unknown stream '%.*s'", via, (unsigned long long)ev->pos,
                 (int)ev->stream_len, ev->stream);
    if (ev->version != sn->ver[slot] + 1)
        plw_fail(r, "%s: position %llu is version %llu of %.*s after %llu", via,
                 (unsigned long long)ev->pos, (unsigned long long)ev->version, (int)ev->stream_len,
                 ev->stream, (unsigned long long)sn->ver[slot]);
    sn->ver[slot] = ev->version;
    const struct plw_attempt *at;
    if (slot == 3) {
        if (sn->probes >= r->n_probe)
            plw_fail(r, "%s: position %llu: a probe event never attempted", via,
                     (unsigned long long)ev->pos);
        at = &r->probe[sn->probes++];
    } else {
        if (sn->probes > 0)
            plw_fail(r, "%s: position %llu: a workload event after a probe", via,
                     (unsigned long long)ev->pos);
        if (sn->m >= r->n)
            plw_fail(r, "%s: position %llu: more events than were ever attempted (%zu)", via,
                     (unsigned long long)ev->pos, r->n);
        at = &r->a[sn->m++];
    }
    if (ev->stream_len != strlen(at->stream) ||
        memcmp(ev->stream, at->stream, ev->stream_len) != 0 || ev->payload_len != at->len ||
        memcmp(ev->payload, at->payload, at->len) != 0)
        plw_fail(r,
                 "%s: position %llu holds %.*s/'%.40s...' (%zu bytes), not attempt '%s'/'%.40s...' "
                 "(%zu bytes)",
                 via, (unsigned long long)ev->pos, (int)ev->stream_len, ev->stream,
                 (const char *)ev->payload, ev->payload_len, at->stream, at->payload, at->len);
}

static int scan_visit(void *arg, const struct es_event *ev)
{
    check_event(arg, ev, "es_store_scan");
    return 0;
}

/* The expected bytes of the all view and of each stream view, from the
 * events a cursor serves (checked against the record meanwhile). */
struct expect {
    char *all;
    size_t all_len, all_cap;
    char *stream[4];
    size_t stream_len[4], stream_cap[4];
};

static void put(char **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n)
            c *= 2;
        char *nb = realloc(*buf, c);
        if (!nb)
            abort();
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

static void expect_free(struct expect *x)
{
    free(x->all);
    for (int i = 0; i < 4; i++)
        free(x->stream[i]);
}

static void read_whole_view(struct plw_run *r, struct es_store *s, enum es_view view,
                            const char *name, const char *want, size_t want_len)
{
    size_t cap = want_len + 8192, got = 0;
    char *buf = malloc(cap);
    if (!buf)
        abort();
    for (;;) {
        size_t chunk = 4093; /* odd, so reads start inside lines */
        if (got + chunk > cap)
            chunk = cap - got;
        if (chunk == 0)
            break;
        ssize_t n =
            es_store_read_view(s, view, name, name ? strlen(name) : 0, got, buf + got, chunk);
        if (n == ES_ENOTFOUND && got == 0)
            break;
        if (n < 0)
            plw_fail(r, "reading the %s view%s%s at offset %zu: %s (%s)",
                     view == ES_VIEW_ALL ? "all" : "stream", name ? " of " : "", name ? name : "",
                     got, es_strerror((int)n), es_error_detail());
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got != want_len || (want_len && memcmp(buf, want, want_len) != 0))
        plw_fail(r, "the %s view%s%s serves %zu bytes that differ from the %zu its events render",
                 view == ES_VIEW_ALL ? "all" : "stream", name ? " of " : "", name ? name : "", got,
                 want_len);
    free(buf);
}

/* Walks the store through a cursor and compares both views. */
static size_t check_open_store(struct plw_run *r, struct es_store *s, size_t *probes)
{
    struct seen sn = {.r = r};
    struct expect x;
    memset(&x, 0, sizeof(x));
    struct es_cursor *c;
    int rc = es_cursor_open(s, NULL, 0, 1, &c);
    if (rc)
        plw_fail(r, "es_cursor_open: %s", es_strerror(rc));
    struct es_event ev;
    while ((rc = es_cursor_next(c, &ev)) == 1) {
        check_event(&sn, &ev, "cursor");
        size_t l = es_envelope_render(&ev, NULL, 0);
        char *line = malloc(l);
        if (!line)
            abort();
        es_envelope_render(&ev, line, l);
        put(&x.all, &x.all_len, &x.all_cap, line, l);
        free(line);
        int slot = stream_slot(ev.stream, ev.stream_len);
        put(&x.stream[slot], &x.stream_len[slot], &x.stream_cap[slot], ev.payload, ev.payload_len);
        put(&x.stream[slot], &x.stream_len[slot], &x.stream_cap[slot], "\n", 1);
    }
    es_cursor_close(c);
    if (rc < 0)
        plw_fail(r, "cursor after position %llu: %s (%s)", (unsigned long long)sn.pos,
                 es_strerror(rc), es_error_detail());
    struct es_log_info li;
    es_store_log_info(s, &li);
    if (li.last_pos != sn.pos || li.all_view_bytes != x.all_len)
        plw_fail(r, "log info says %llu events / %llu bytes, the cursor found %llu / %zu",
                 (unsigned long long)li.last_pos, (unsigned long long)li.all_view_bytes,
                 (unsigned long long)sn.pos, x.all_len);
    read_whole_view(r, s, ES_VIEW_ALL, NULL, x.all, x.all_len);
    static const char *const names[4] = {"s0", "s1", "s2", "probe"};
    for (int i = 0; i < 4; i++) {
        read_whole_view(r, s, ES_VIEW_STREAM, names[i], x.stream[i], x.stream_len[i]);
        struct es_stream_info si;
        rc = es_store_stream_info(s, names[i], strlen(names[i]), &si);
        uint64_t v = rc == 0 ? si.version : 0;
        if (v != sn.ver[i] || (rc == 0 && si.view_bytes != x.stream_len[i]))
            plw_fail(r, "stream %s: info says version %llu, the cursor found %llu", names[i],
                     (unsigned long long)v, (unsigned long long)sn.ver[i]);
    }
    expect_free(&x);
    *probes = sn.probes;
    return sn.m;
}

size_t plw_check(struct plw_run *r)
{
    size_t required = plw_required(r);
    struct es_options o;
    plw_options(&o, ES_SYNC_ALWAYS);
    struct es_store *s = NULL;
    int rc = es_store_open(r->store, &o, &s);
    if (rc)
        plw_fail(r, "recovery: es_store_open: %s (%s)", es_strerror(rc), es_error_detail());
    size_t probes;
    size_t m = check_open_store(r, s, &probes);
    if (m < required)
        plw_fail(r, "lost acknowledged events: %zu of %zu attempts survived, %zu must (%zu acked)",
                 m, r->n, required, r->n_acked);
    for (size_t i = 0; i < r->n_probe; i++)
        if (r->probe[i].acked && i >= probes)
            plw_fail(r, "lost the acknowledged probe event %zu", i);
    /* the recovered store takes appends at the next position */
    struct es_payload p = {"after-recovery", 14};
    struct es_append_result res;
    rc = es_store_append(s, "probe", 5, &p, 1, ES_VERSION_ANY, &res);
    if (rc || res.first_pos != m + probes + 1)
        plw_fail(r, "append after recovery: rc %s, position %llu, expected %zu", es_strerror(rc),
                 (unsigned long long)res.first_pos, m + probes + 1);
    struct plw_attempt *at = grow(&r->probe, &r->n_probe, &r->cap_probe);
    snprintf(at->stream, sizeof(at->stream), "probe");
    at->payload = strdup("after-recovery");
    at->len = 14;
    at->acked = true;
    /* drop the probes that did not survive, so the record matches */
    if (probes + 1 < r->n_probe) {
        struct plw_attempt keep = *at;
        for (size_t i = probes; i < r->n_probe - 1; i++)
            free(r->probe[i].payload);
        r->probe[probes] = keep;
        r->n_probe = probes + 1;
    }
    size_t saved_n = r->n;
    r->n = m; /* what survived is now the record */
    rc = es_store_close(s);
    if (rc)
        plw_fail(r, "es_store_close after recovery: %s", es_strerror(rc));
    struct es_verify_summary sum;
    rc = es_store_verify(r->store, NULL, NULL, &sum);
    if (rc)
        plw_fail(r, "es_store_verify after recovery: %s, %llu problems", es_strerror(rc),
                 (unsigned long long)sum.problems);
    struct seen sn = {.r = r};
    rc = es_store_scan(r->store, 1, NULL, 0, scan_visit, &sn);
    if (rc || sn.m != m || sn.probes != r->n_probe)
        plw_fail(r, "es_store_scan: %s, %zu events and %zu probes, expected %zu and %zu",
                 es_strerror(rc), sn.m, sn.probes, m, r->n_probe);
    o.read_only = true;
    rc = es_store_open(r->store, &o, &s);
    if (rc)
        plw_fail(r, "read-only open after recovery: %s (%s)", es_strerror(rc), es_error_detail());
    check_open_store(r, s, &probes);
    es_store_close(s);
    /* and once more read-write: the index comes from the checkpoint now */
    o.read_only = false;
    rc = es_store_open(r->store, &o, &s);
    if (rc)
        plw_fail(r, "second open after recovery: %s (%s)", es_strerror(rc), es_error_detail());
    check_open_store(r, s, &probes);
    es_store_close(s);
    for (size_t i = m; i < saved_n; i++)
        free(r->a[i].payload);
    return m;
}

static struct plw_attempt *copy_attempts(const struct plw_attempt *a, size_t n, size_t *cap)
{
    *cap = n ? n : 1;
    struct plw_attempt *c = calloc(*cap, sizeof(*c));
    if (!c)
        abort();
    for (size_t i = 0; i < n; i++) {
        c[i] = a[i];
        c[i].payload = malloc(a[i].len ? a[i].len : 1);
        if (!c[i].payload)
            abort();
        memcpy(c[i].payload, a[i].payload, a[i].len);
    }
    return c;
}

void plw_copy_record(struct plw_run *dst, const struct plw_run *src)
{
    plw_reset(dst);
    free(dst->a);
    free(dst->probe);
    dst->a = copy_attempts(src->a, src->n, &dst->cap);
    dst->n = src->n;
    dst->probe = copy_attempts(src->probe, src->n_probe, &dst->cap_probe);
    dst->n_probe = src->n_probe;
    dst->n_acked = src->n_acked;
    dst->stopped = src->stopped;
    dst->final_wal_syncs = src->final_wal_syncs;
    dst->sync = src->sync;
}
