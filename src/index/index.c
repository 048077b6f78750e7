/*
 * index.c - opening (checkpoint, catch-up or rebuild), applying events,
 * publishing them, and answering readers with spans of the two views.
 *
 * Invariants: applied_pos == the log's last position between writer
 * batches; pub_pos <= applied_pos; readers never look past pub_pos or a
 * stream's pub_events; every entry is written before the release store that
 * publishes it and never changed afterwards.
 */
#include "index_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/hash.h"
#include "base/io.h"
#include "format/envelope.h"
#include "log/log.h"

uint64_t ix_global_entry_hash(uint64_t pos, uint64_t all_end, uint64_t raw_off)
{
    unsigned char b[24];
    es_put64(b, pos);
    es_put64(b + 8, all_end);
    es_put64(b + 16, raw_off);
    return es_hash64(b, sizeof(b));
}

uint64_t ix_post_entry_hash(uint32_t no, uint64_t version, uint64_t pos, uint64_t view_end)
{
    unsigned char b[28];
    es_put32(b, no);
    es_put64(b + 4, version);
    es_put64(b + 12, pos);
    es_put64(b + 20, view_end);
    return es_hash64(b, sizeof(b));
}

/* ---- writer ---- */

void es_index_writer_stream(struct es_index *ix, const char *name, size_t len,
                            struct es_index_stream_state *st)
{
    struct ix_stream *s = ix_stream_find(ix, name, len);
    st->exists = s != NULL;
    st->stream_no = s ? s->no : ix->n_streams;
    st->version = s ? s->n_events : 0;
}

uint32_t es_index_writer_next_stream_no(struct es_index *ix)
{
    return ix->n_streams;
}

uint64_t es_index_chunk_bytes(uint64_t from, uint64_t to)
{
    uint64_t bytes = 0;
    uint32_t k_from = 0, k_to;
    uint64_t slot;
    if (to <= from)
        return 0;
    if (from > 0) {
        ix_chunk_of(from - 1, &k_from, &slot);
        k_from++;
    }
    ix_chunk_of(to - 1, &k_to, &slot);
    for (uint32_t k = k_from; k <= k_to; k++)
        bytes += ix_chunk_cap(k) * IX_POST_REC;
    return bytes;
}

int es_index_prepare(struct es_index *ix, uint64_t last_pos, uint64_t extra_post_bytes)
{
    size_t gneed = IX_FILE_HEADER + last_pos * IX_GLOBAL_REC;
    size_t pneed = ix->posts_end + extra_post_bytes;
    if (gneed <= ix->global.mapped && pneed <= ix->posts.mapped)
        return 0;
    pthread_rwlock_wrlock(&ix->lock);
    int rc = es_mfile_ensure(&ix->global, gneed);
    if (rc == 0)
        rc = es_mfile_ensure(&ix->posts, pneed);
    pthread_rwlock_unlock(&ix->lock);
    return rc;
}

int es_index_apply(struct es_index *ix, const struct es_event *ev, uint64_t raw_off,
                   uint32_t *stream_no)
{
    if (ev->pos != ix->applied_pos + 1)
        return es_fail(ES_EMISUSE, "index apply of position %llu after %llu",
                       (unsigned long long)ev->pos, (unsigned long long)ix->applied_pos);
    struct ix_stream *s = ix_stream_find(ix, ev->stream, ev->stream_len);
    int rc;
    if (!s && (rc = ix_stream_add(ix, ev->stream, ev->stream_len, &s)) != 0)
        return rc;
    if (ev->version != s->n_events + 1)
        return es_fail(ES_ECORRUPT, "position %llu: version %llu of stream %.*s follows %llu",
                       (unsigned long long)ev->pos, (unsigned long long)ev->version,
                       (int)ev->stream_len, ev->stream, (unsigned long long)s->n_events);
    size_t need = IX_FILE_HEADER + ev->pos * IX_GLOBAL_REC;
    if (need > ix->global.mapped) {
        pthread_rwlock_wrlock(&ix->lock);
        rc = es_mfile_ensure(&ix->global, need);
        pthread_rwlock_unlock(&ix->lock);
        if (rc)
            return rc;
    }
    if ((rc = ix_stream_reserve(ix, s, ev->version)) != 0)
        return rc;
    uint64_t all_end = ix->all_bytes + es_envelope_len(ev);
    uint64_t view_end = s->view_bytes + ev->payload_len + 1;
    unsigned char *g = ix_global_rec(ix, ev->pos);
    es_put64(g, all_end);
    es_put64(g + 8, raw_off);
    unsigned char *pr = ix_post_rec(ix, s, ev->version);
    es_put64(pr, ev->pos);
    es_put64(pr + 8, view_end);
    ix->global_hash += ix_global_entry_hash(ev->pos, all_end, raw_off);
    ix->posts_hash += ix_post_entry_hash(s->no, ev->version, ev->pos, view_end);
    ix->all_bytes = all_end;
    s->view_bytes = view_end;
    s->n_events = ev->version;
    if (ev->version == 1)
        s->first_ts = ev->ts_ns;
    s->last_ts = ev->ts_ns;
    ix->applied_pos = ev->pos;
    if (stream_no)
        *stream_no = s->no;
    return 0;
}

static void publish_stream(struct ix_stream *s)
{
    atomic_store_explicit(&s->pub_last_ts, s->last_ts, memory_order_relaxed);
    atomic_store_explicit(&s->pub_view_bytes, s->view_bytes, memory_order_relaxed);
    atomic_store_explicit(&s->pub_events, s->n_events, memory_order_release);
}

void es_index_publish(struct es_index *ix, uint64_t last_pos, const uint32_t *nos, size_t n,
                      struct es_commit_stream *out)
{
    for (size_t i = 0; i < n; i++) {
        struct ix_stream *s = ix->streams[nos[i]];
        publish_stream(s);
        if (out) {
            out[i].name = s->name;
            out[i].name_len = s->name_len;
            out[i].stream_no = s->no;
            out[i].version = s->n_events;
            out[i].view_bytes = s->view_bytes;
        }
    }
    atomic_store_explicit(&ix->pub_n_streams, ix->n_streams, memory_order_release);
    atomic_store_explicit(&ix->pub_all_bytes, ix->all_bytes, memory_order_release);
    atomic_store_explicit(&ix->pub_pos, last_pos, memory_order_release);
}

int es_index_checkpoint(struct es_index *ix)
{
    if (ix->ckpt_pos == ix->applied_pos)
        return 0;
    return ix_checkpoint_write(ix);
}

uint64_t es_index_events_since_checkpoint(struct es_index *ix)
{
    return ix->applied_pos - ix->ckpt_pos;
}

/* ---- opening ---- */

static int init_files(struct es_index *ix, bool truncate)
{
    char gpath[PATH_MAX], ppath[PATH_MAX];
    snprintf(gpath, sizeof(gpath), "%s/global.idx", ix->dir);
    snprintf(ppath, sizeof(ppath), "%s/streams.idx", ix->dir);
    es_mfile_close(&ix->global);
    es_mfile_close(&ix->posts);
    if (truncate && !ix->in_memory) {
        es_io->unlink(gpath);
        es_io->unlink(ppath);
    }
    int rc = es_mfile_open(&ix->global, ix->in_memory ? NULL : gpath, "index/global.idx",
                           IX_FILE_HEADER);
    if (rc == 0)
        rc = es_mfile_open(&ix->posts, ix->in_memory ? NULL : ppath, "index/streams.idx",
                           IX_FILE_HEADER);
    if (rc)
        return rc;
    if (truncate) {
        unsigned char *g = ix->global.base, *p = ix->posts.base;
        memset(g, 0, IX_FILE_HEADER);
        memcpy(g, IX_GLOBAL_MAGIC, 8);
        es_put32(g + 8, ES_FORMAT_VERSION);
        memset(p, 0, IX_FILE_HEADER);
        memcpy(p, IX_POSTS_MAGIC, 8);
        es_put32(p + 8, ES_FORMAT_VERSION);
    } else if (memcmp(ix->global.base, IX_GLOBAL_MAGIC, 8) != 0 ||
               memcmp(ix->posts.base, IX_POSTS_MAGIC, 8) != 0 ||
               es_le32(ix->global.base + 8) != ES_FORMAT_VERSION ||
               es_le32(ix->posts.base + 8) != ES_FORMAT_VERSION) {
        return ES_ECORRUPT;
    }
    return 0;
}

static int ix_checkpoint_load_prepare(struct es_index *ix, const char *gpath, const char *ppath,
                                      const char **why)
{
    int rc = es_mfile_open_readonly(&ix->global, gpath, "index/global.idx");
    if (rc == 0)
        rc = es_mfile_open_readonly(&ix->posts, ppath, "index/streams.idx");
    if (rc == -ENOENT) {
        *why = "index files missing";
        return ES_ENOTFOUND;
    }
    if (rc == 0 && (ix->global.mapped < IX_FILE_HEADER || ix->posts.mapped < IX_FILE_HEADER ||
                    memcmp(ix->global.base, IX_GLOBAL_MAGIC, 8) != 0 ||
                    memcmp(ix->posts.base, IX_POSTS_MAGIC, 8) != 0 ||
                    es_le32(ix->global.base + 8) != ES_FORMAT_VERSION ||
                    es_le32(ix->posts.base + 8) != ES_FORMAT_VERSION)) {
        /* the same test as init_files(): what a read-write open would
         * rebuild, verify reports */
        *why = "index files have no valid header";
        rc = ES_ECORRUPT;
    }
    return rc;
}

static void reset_state(struct es_index *ix)
{
    ix_streams_free(ix);
    ix->posts_end = IX_FILE_HEADER;
    ix->applied_pos = ix->all_bytes = 0;
    ix->global_hash = ix->posts_hash = 0;
    ix->ckpt_pos = 0;
}

/* The frame at the checkpoint's position must be the one the index
 * describes: same position at the recorded offset, same line length in the
 * all view, and the stream's entry for its version points back at it. */
static bool tail_agrees(struct es_index *ix, const char **why)
{
    uint64_t pos = ix->applied_pos;
    if (pos == 0)
        return true;
    if (pos > es_log_last_pos(ix->log)) {
        *why = "checkpoint is ahead of the log";
        return false;
    }
    const unsigned char *g = ix_global_rec(ix, pos);
    uint64_t end = es_le64(g), raw = es_le64(g + 8);
    uint64_t start = pos == 1 ? 0 : es_le64(ix_global_rec(ix, pos - 1));
    struct es_log_reader r;
    es_log_reader_init(&r, ix->log);
    struct es_event ev;
    size_t flen;
    bool ok = es_log_reader_frame(&r, pos, raw, &ev, &flen) == 0;
    if (ok) {
        struct ix_stream *s = ix_stream_find(ix, ev.stream, ev.stream_len);
        ok = s && ev.version <= s->n_events && end - start == es_envelope_len(&ev) &&
             es_le64(ix_post_rec(ix, s, ev.version)) == pos;
    }
    es_log_reader_release(&r);
    if (!ok)
        *why = "checkpoint disagrees with the log";
    return ok;
}

static int catch_up(struct es_index *ix, uint64_t *count)
{
    *count = 0;
    uint64_t from = ix->applied_pos;
    uint64_t hint = UINT64_MAX;
    if (from == 0)
        from = 1;
    else
        hint = es_le64(ix_global_rec(ix, from) + 8);
    struct es_log_scan sc;
    int rc = es_log_scan_init(&sc, ix->log, from, hint);
    if (rc)
        return rc;
    struct es_event ev;
    uint64_t raw;
    size_t len;
    while ((rc = es_log_scan_next(&sc, &ev, &raw, &len)) == 1) {
        if (ev.pos <= ix->applied_pos)
            continue;
        if ((rc = es_index_apply(ix, &ev, raw, NULL)) != 0)
            break;
        (*count)++;
    }
    es_log_scan_release(&sc);
    if (rc == 0 && ix->applied_pos != es_log_last_pos(ix->log))
        rc = es_fail(ES_ECORRUPT, "index caught up to %llu, the log ends at %llu",
                     (unsigned long long)ix->applied_pos,
                     (unsigned long long)es_log_last_pos(ix->log));
    return rc;
}

static int rebuild(struct es_index *ix, uint64_t *count)
{
    reset_state(ix);
    int rc = init_files(ix, true);
    if (rc == 0)
        rc = catch_up(ix, count);
    return rc;
}

static struct es_index *index_new(struct es_log *log, const struct es_logger *lg)
{
    struct es_index *ix = calloc(1, sizeof(*ix));
    if (!ix)
        return NULL;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&ix->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    ix->lg = lg;
    ix->log = log;
    ix->global.fd = ix->posts.fd = -1;
    ix->posts_end = IX_FILE_HEADER;
    return ix;
}

static void publish_all(struct es_index *ix)
{
    for (uint32_t i = 0; i < ix->n_streams; i++)
        publish_stream(ix->streams[i]);
    atomic_store(&ix->pub_n_streams, ix->n_streams);
    atomic_store(&ix->pub_all_bytes, ix->all_bytes);
    atomic_store(&ix->pub_pos, ix->applied_pos);
}

int es_index_open_check(const char *dir, struct es_log *log, struct es_index **out,
                        const char **why)
{
    struct es_index *ix = index_new(log, NULL);
    if (!ix)
        return es_fail(-ENOMEM, "opening the index");
    snprintf(ix->dir, sizeof(ix->dir), "%s", dir);
    char gpath[PATH_MAX], ppath[PATH_MAX];
    snprintf(gpath, sizeof(gpath), "%s/global.idx", dir);
    snprintf(ppath, sizeof(ppath), "%s/streams.idx", dir);
    int rc = ix_checkpoint_load_prepare(ix, gpath, ppath, why);
    if (rc == 0)
        rc = ix_checkpoint_load(ix, why);
    if (rc == 0 && !tail_agrees(ix, why))
        rc = ES_ECORRUPT;
    if (rc) {
        es_index_close(ix);
        return rc;
    }
    publish_all(ix);
    *out = ix;
    return 0;
}

int es_index_open(const char *dir, struct es_log *log, const struct es_logger *lg,
                  struct es_index **out, struct es_index_open_info *info)
{
    struct es_index_open_info dummy;
    if (!info)
        info = &dummy;
    memset(info, 0, sizeof(*info));
    struct es_index *ix = index_new(log, lg);
    if (!ix)
        return es_fail(-ENOMEM, "opening the index");
    ix->in_memory = dir == NULL;
    int rc = 0;
    if (dir) {
        snprintf(ix->dir, sizeof(ix->dir), "%s", dir);
        rc = es_io_mkdir(dir);
    }
    const char *why = NULL;
    bool need_rebuild = ix->in_memory;
    char ckpt[PATH_MAX];
    snprintf(ckpt, sizeof(ckpt), "%s/checkpoint", ix->dir);
    if (rc == 0 && !need_rebuild && access(ckpt, F_OK) != 0) {
        why = "no checkpoint";
        need_rebuild = true;
    }
    if (rc == 0 && !need_rebuild) {
        int frc = init_files(ix, false);
        if (frc == 0) {
            frc = ix_checkpoint_load(ix, &why);
            if (frc == 0 && !tail_agrees(ix, &why))
                frc = ES_ECORRUPT;
        } else {
            why = "index files missing or of another format";
        }
        if (frc == -ENOMEM)
            rc = frc;
        else if (frc != 0)
            need_rebuild = true;
        else
            info->checkpoint_pos = ix->applied_pos;
    }
    if (rc == 0 && !need_rebuild) {
        rc = catch_up(ix, &info->caught_up);
        if (rc && rc != -ENOMEM) {
            es_logf(lg, ES_LOG_WARN, "index: catching up from the checkpoint failed (%s)",
                    es_error_detail());
            why = "catching up from the checkpoint failed";
            need_rebuild = true;
            rc = 0;
        }
    }
    if (rc == 0 && need_rebuild) {
        info->rebuilt = true;
        info->why_rebuilt = ix->in_memory ? "in-memory index" : why;
        if (!ix->in_memory)
            es_logf(lg, why && strcmp(why, "no checkpoint") == 0 ? ES_LOG_INFO : ES_LOG_WARN,
                    "index: rebuilding from the segments (%s)", why);
        rc = rebuild(ix, &info->caught_up);
    }
    /* the checkpoint only saves the next open some work: a full disk must
     * not keep the store from opening */
    if (rc == 0 && !ix->in_memory && (need_rebuild || info->caught_up) &&
        ix_checkpoint_write(ix) != 0)
        es_logf(lg, ES_LOG_WARN,
                "index: writing the checkpoint failed (the next open catches "
                "up again): %s",
                es_error_detail());
    if (rc) {
        es_index_close(ix);
        return rc;
    }
    publish_all(ix);
    *out = ix;
    return 0;
}

void es_index_close(struct es_index *ix)
{
    if (!ix)
        return;
    es_mfile_close(&ix->global);
    es_mfile_close(&ix->posts);
    ix_streams_free(ix);
    pthread_rwlock_destroy(&ix->lock);
    free(ix);
}

/* ---- readers ---- */

uint64_t es_index_published_pos(struct es_index *ix)
{
    return atomic_load_explicit(&ix->pub_pos, memory_order_acquire);
}

uint64_t es_index_all_bytes(struct es_index *ix)
{
    return atomic_load_explicit(&ix->pub_all_bytes, memory_order_acquire);
}

uint32_t es_index_n_streams(struct es_index *ix)
{
    return atomic_load_explicit(&ix->pub_n_streams, memory_order_acquire);
}

/* The published stream of that name, or NULL; caller holds the read lock. */
static struct ix_stream *visible_stream(struct es_index *ix, const char *name, size_t len,
                                        uint64_t *n_events)
{
    uint32_t n = atomic_load_explicit(&ix->pub_n_streams, memory_order_acquire);
    struct ix_stream *s = ix_stream_find(ix, name, len);
    if (!s || s->no >= n)
        return NULL;
    *n_events = atomic_load_explicit(&s->pub_events, memory_order_acquire);
    return *n_events ? s : NULL;
}

int es_index_stream_info(struct es_index *ix, const char *name, size_t len,
                         struct es_stream_info *out)
{
    pthread_rwlock_rdlock(&ix->lock);
    uint64_t n;
    struct ix_stream *s = visible_stream(ix, name, len, &n);
    if (s) {
        out->stream_no = s->no;
        out->version = n;
        out->view_bytes = es_le64(ix_post_rec(ix, s, n) + 8);
        out->first_ts_ns = s->first_ts;
        out->last_ts_ns = atomic_load_explicit(&s->pub_last_ts, memory_order_relaxed);
    }
    pthread_rwlock_unlock(&ix->lock);
    return s ? 0 : ES_ENOTFOUND;
}

ssize_t es_index_stream_name(struct es_index *ix, uint32_t no, char *buf, size_t cap)
{
    ssize_t rc = ES_ENOTFOUND;
    pthread_rwlock_rdlock(&ix->lock);
    if (no < atomic_load_explicit(&ix->pub_n_streams, memory_order_acquire)) {
        struct ix_stream *s = ix->streams[no];
        if (atomic_load_explicit(&s->pub_events, memory_order_acquire)) {
            size_t n = s->name_len < cap ? s->name_len : cap;
            memcpy(buf, s->name, n);
            rc = (ssize_t)s->name_len;
        }
    }
    pthread_rwlock_unlock(&ix->lock);
    return rc;
}

static uint64_t all_end_of(struct es_index *ix, uint64_t pos)
{
    return pos == 0 ? 0 : es_le64(ix_global_rec(ix, pos));
}

ssize_t es_index_all_spans(struct es_index *ix, bool by_pos, uint64_t from, struct es_span *out,
                           size_t max)
{
    pthread_rwlock_rdlock(&ix->lock);
    uint64_t last = atomic_load_explicit(&ix->pub_pos, memory_order_acquire);
    uint64_t p;
    if (by_pos) {
        p = from ? from : 1;
    } else {
        uint64_t lo = 1, hi = last + 1; /* first pos whose end > from */
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (all_end_of(ix, mid) > from)
                hi = mid;
            else
                lo = mid + 1;
        }
        p = lo;
    }
    size_t n = 0;
    for (; n < max && p <= last; p++, n++) {
        const unsigned char *g = ix_global_rec(ix, p);
        out[n].pos = p;
        out[n].raw_off = es_le64(g + 8);
        out[n].start = all_end_of(ix, p - 1);
        out[n].end = es_le64(g);
        out[n].version = 0;
    }
    pthread_rwlock_unlock(&ix->lock);
    return (ssize_t)n;
}

ssize_t es_index_stream_spans(struct es_index *ix, const char *name, size_t len, bool by_version,
                              uint64_t from, struct es_span *out, size_t max)
{
    pthread_rwlock_rdlock(&ix->lock);
    uint64_t n_events;
    struct ix_stream *s = visible_stream(ix, name, len, &n_events);
    if (!s) {
        pthread_rwlock_unlock(&ix->lock);
        return ES_ENOTFOUND;
    }
    uint64_t v;
    if (by_version) {
        v = from ? from : 1;
    } else {
        uint64_t lo = 1, hi = n_events + 1;
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (es_le64(ix_post_rec(ix, s, mid) + 8) > from)
                hi = mid;
            else
                lo = mid + 1;
        }
        v = lo;
    }
    size_t n = 0;
    uint64_t prev_end = v > 1 && v <= n_events ? es_le64(ix_post_rec(ix, s, v - 1) + 8) : 0;
    for (; n < max && v <= n_events; v++, n++) {
        const unsigned char *r = ix_post_rec(ix, s, v);
        uint64_t pos = es_le64(r);
        out[n].pos = pos;
        out[n].version = v;
        out[n].start = prev_end;
        out[n].end = es_le64(r + 8);
        out[n].raw_off = es_le64(ix_global_rec(ix, pos) + 8);
        prev_end = out[n].end;
    }
    pthread_rwlock_unlock(&ix->lock);
    return (ssize_t)n;
}

/* ---- verify ---- */

int64_t es_index_check_against_log(struct es_index *ix, es_index_report_fn report, void *arg)
{
    struct es_log_scan sc;
    int rc = es_log_scan_init(&sc, ix->log, 1, UINT64_MAX);
    if (rc)
        return rc;
    int64_t problems = 0;
    uint64_t all_end = 0;
    uint64_t last = es_index_published_pos(ix);
    uint64_t *versions = calloc(ix->n_streams + 1, sizeof(*versions));
    uint64_t *view_ends = calloc(ix->n_streams + 1, sizeof(*view_ends));
    if (!versions || !view_ends) {
        free(versions);
        free(view_ends);
        es_log_scan_release(&sc);
        return es_fail(-ENOMEM, "index check");
    }
    char line[512];
    struct es_event ev;
    uint64_t raw;
    size_t len;
    pthread_rwlock_rdlock(&ix->lock);
    while ((rc = es_log_scan_next(&sc, &ev, &raw, &len)) == 1 && ev.pos <= last) {
        const unsigned char *g = ix_global_rec(ix, ev.pos);
        all_end += es_envelope_len(&ev);
        const char *what = NULL;
        if (es_le64(g + 8) != raw)
            what = "frame offset";
        else if (es_le64(g) != all_end)
            what = "all-view offset";
        struct ix_stream *s = ix_stream_find(ix, ev.stream, ev.stream_len);
        if (!what && !s)
            what = "stream missing";
        if (!what) {
            versions[s->no]++;
            view_ends[s->no] += ev.payload_len + 1;
            const unsigned char *pr =
                ev.version <= s->n_events ? ix_post_rec(ix, s, ev.version) : NULL;
            if (versions[s->no] != ev.version || !pr)
                what = "stream version";
            else if (es_le64(pr) != ev.pos || es_le64(pr + 8) != view_ends[s->no])
                what = "stream entry";
        }
        if (what) {
            problems++;
            if (problems <= 20 && report) {
                snprintf(line, sizeof(line),
                         "index: position %llu (stream %.*s, version %llu): %s disagrees with "
                         "the log",
                         (unsigned long long)ev.pos, (int)ev.stream_len, ev.stream,
                         (unsigned long long)ev.version, what);
                report(arg, line);
            }
        }
    }
    pthread_rwlock_unlock(&ix->lock);
    es_log_scan_release(&sc);
    free(versions);
    free(view_ends);
    if (rc < 0)
        return rc;
    if (problems > 20 && report) {
        snprintf(line, sizeof(line), "index: %lld more disagreements not listed",
                 (long long)(problems - 20));
        report(arg, line);
    }
    return problems;
}
