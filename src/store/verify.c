/*
 * verify.c - the offline tools: verify (check everything, report every
 * problem with file and offset, write nothing), reindex (rebuild the
 * derived indexes under the store lock) and scan (events without indexes).
 *
 * Verify checks, in order: each sealed segment (header, footer, block
 * index, whole-file check, every block's check, every frame, frames filling
 * their blocks exactly), each wal file (header, frames, only the last one
 * may end torn), across all of them the position chain (1, 2, 3, ...),
 * every stream's versions (1, 2, 3, ...) and timestamps (never backwards),
 * and finally the index checkpoint against the log.
 */
#include "store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/hash.h"
#include "base/io.h"
#include "format/frame.h"

struct vstream {
    char *name;
    size_t len;
    uint64_t version;
    uint64_t last_pos; /* of its last event checked */
    struct vstream *next;
};

struct verifier {
    es_report_fn report;
    void *arg;
    struct es_verify_summary *sum;
    uint64_t expect_pos;
    uint64_t last_checked; /* position of the last event checked */
    uint64_t gap_end;      /* last position of the latest range not checked */
    int64_t last_ts;
    struct vstream **table;
    size_t table_cap;
    uint64_t frame_problems;
};

static void say(struct verifier *v, bool problem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct verifier *v, bool problem, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (problem)
        v->sum->problems++;
    if (v->report)
        v->report(v->arg, problem, line);
}

static struct vstream *stream_of(struct verifier *v, const char *name, size_t len)
{
    size_t h = (size_t)es_hash64(name, len) & (v->table_cap - 1);
    for (struct vstream *s = v->table[h]; s; s = s->next)
        if (s->len == len && memcmp(s->name, name, len) == 0)
            return s;
    struct vstream *s = calloc(1, sizeof(*s));
    char *copy = malloc(len);
    if (!s || !copy) {
        free(s);
        free(copy);
        return NULL;
    }
    memcpy(copy, name, len);
    s->name = copy;
    s->len = len;
    s->next = v->table[h];
    v->table[h] = s;
    v->sum->streams++;
    return s;
}

/* Checks what a frame says against everything before it. */
static void check_event(struct verifier *v, const char *file, uint64_t off,
                        const struct es_event *ev)
{
    bool quiet = v->frame_problems >= 50;
    if (ev->pos > v->last_checked + 1) /* an unreadable block, a missing segment */
        v->gap_end = ev->pos - 1;
    v->last_checked = ev->pos;
    if (ev->pos != v->expect_pos) {
        if (!quiet)
            say(v, true, "%s offset %llu: position %llu where %llu comes next", file,
                (unsigned long long)off, (unsigned long long)ev->pos,
                (unsigned long long)v->expect_pos);
        v->frame_problems++;
    }
    v->expect_pos = ev->pos + 1;
    if (ev->ts_ns < v->last_ts) {
        if (!quiet)
            say(v, true,
                "%s offset %llu: position %llu has a timestamp before the previous event's", file,
                (unsigned long long)off, (unsigned long long)ev->pos);
        v->frame_problems++;
    }
    v->last_ts = ev->ts_ns;
    struct vstream *s = stream_of(v, ev->stream, ev->stream_len);
    if (s) {
        /* a stream whose events in the range not checked were not seen
         * goes on at a later version: that range is reported already */
        bool resumed = s->last_pos < v->gap_end && ev->version > s->version;
        if (ev->version != s->version + 1 && !resumed) {
            if (!quiet)
                say(v, true, "%s offset %llu: position %llu is version %llu of %.*s, after %llu",
                    file, (unsigned long long)off, (unsigned long long)ev->pos,
                    (unsigned long long)ev->version, (int)ev->stream_len, ev->stream,
                    (unsigned long long)s->version);
            v->frame_problems++;
        }
        s->version = ev->version;
        s->last_pos = ev->pos;
    }
    v->sum->events++;
}

static void verify_sealed(struct verifier *v, const char *dir, uint64_t first)
{
    char name[40], path[PATH_MAX], rname[64];
    es_seg_file_name(first, ".seg", name, sizeof(name));
    snprintf(path, sizeof(path), "%s/segments/%s", dir, name);
    snprintf(rname, sizeof(rname), "segments/%s", name);
    v->sum->segments++;
    struct es_segment *seg;
    if (es_segment_open_sealed(path, rname, 0, &seg) != 0) {
        say(v, true, "%s", es_error_detail());
        return;
    }
    if (seg->first_pos != v->expect_pos)
        say(v, true, "%s: starts at position %llu where %llu comes next (a segment is missing)",
            rname, (unsigned long long)seg->first_pos, (unsigned long long)v->expect_pos);
    v->expect_pos = seg->first_pos;
    if (es_segment_check_file(seg) != 0)
        say(v, true, "%s", es_error_detail());
    unsigned char *buf = NULL;
    for (uint32_t b = 0; b < seg->n_blocks; b++) {
        const struct es_block_entry *e = &seg->blocks[b];
        unsigned char *nb = realloc(buf, e->raw_len);
        if (!nb) {
            say(v, true, "%s: out of memory", rname);
            break;
        }
        buf = nb;
        if (es_segment_read_block(seg, b, buf) != 0) {
            say(v, true, "%s", es_error_detail());
            v->expect_pos = e->first_pos + e->n_events;
            continue;
        }
        size_t at = 0;
        uint32_t n = 0;
        while (at < e->raw_len) {
            struct es_event ev;
            size_t len;
            const char *why = "frame crosses the end of its block";
            if (es_frame_decode(buf + at, e->raw_len - at, &ev, &len, &why) != 0) {
                say(v, true, "%s offset %llu (block %u, byte %zu of its data): %s", rname,
                    (unsigned long long)e->file_offset, b, at, why);
                break;
            }
            check_event(v, rname, e->file_offset, &ev);
            at += len;
            n++;
        }
        if (at == e->raw_len && n != e->n_events)
            say(v, true, "%s offset %llu: block %u holds %u events, its entry says %u", rname,
                (unsigned long long)e->file_offset, b, n, e->n_events);
        v->expect_pos = e->first_pos + e->n_events;
    }
    free(buf);
    v->expect_pos = seg->footer.last_pos + 1;
    es_segment_unref(seg);
}

struct wal_visit {
    struct verifier *v;
    const char *name;
};

static int visit_wal_frame(void *arg, const struct es_event *ev, uint64_t off, size_t len)
{
    (void)len;
    struct wal_visit *w = arg;
    check_event(w->v, w->name, off, ev);
    return 0;
}

static void verify_wal(struct verifier *v, const char *dir, uint64_t first, bool is_last)
{
    char name[40], path[PATH_MAX], rname[64];
    es_seg_file_name(first, ".wal", name, sizeof(name));
    snprintf(path, sizeof(path), "%s/wal/%s", dir, name);
    snprintf(rname, sizeof(rname), "wal/%s", name);
    v->sum->segments++;
    int fd = es_io_open(path, O_RDONLY, 0);
    char sealed[PATH_MAX];
    snprintf(sealed, sizeof(sealed), "%s/segments/%020llu.seg", dir, (unsigned long long)first);
    if (fd == -ENOENT && access(sealed, F_OK) == 0) {
        /* a running store sealed it since the listing: check the sealed copy */
        v->sum->segments--;
        verify_sealed(v, dir, first);
        return;
    }
    if (fd < 0) {
        say(v, true, "%s", es_error_detail());
        return;
    }
    uint64_t size = 0;
    unsigned char hdr[ES_SEG_HEADER_BYTES];
    struct es_seg_header h;
    const char *why = "too short for a header";
    int rc = es_io_file_size(fd, &size, rname);
    if (rc == 0)
        rc = size < ES_SEG_HEADER_BYTES ? ES_ECORRUPT
                                        : es_io_pread_exact(fd, hdr, sizeof(hdr), 0, rname);
    if (rc == 0)
        rc = es_seg_header_decode(hdr, &h, &why);
    if (rc == 0 && (h.kind != ES_SEG_ACTIVE || h.first_pos != first)) {
        why = "header does not match the file name";
        rc = ES_ECORRUPT;
    }
    if (rc) {
        if (is_last && size <= ES_SEG_HEADER_BYTES)
            say(v, false, "%s offset 0: %s (a torn creation: set aside at the next open)", rname,
                why);
        else
            say(v, true, "%s offset 0: %s", rname, why);
        es_io_close(fd);
        return;
    }
    if (first != v->expect_pos)
        say(v, true, "%s: starts at position %llu where %llu comes next", rname,
            (unsigned long long)first, (unsigned long long)v->expect_pos);
    v->expect_pos = first;
    struct wal_visit w = {v, rname};
    uint64_t valid_end, last_pos;
    rc = es_wal_read(fd, rname, first, size, visit_wal_frame, &w, &valid_end, &last_pos, &why);
    if (rc) {
        say(v, true, "%s", es_error_detail());
    } else if (valid_end < size) {
        size_t n = (size_t)(size - valid_end);
        unsigned char *tail = malloc(n);
        uint32_t after = 0;
        if (tail && es_io_pread_exact(fd, tail, n, valid_end, rname) == 0)
            after = es_log_count_valid_frames(tail, n);
        free(tail);
        if (!is_last)
            say(v, true, "%s offset %llu: %s, in a segment that was complete", rname,
                (unsigned long long)valid_end, why ? why : "invalid frame");
        else if (after)
            say(v, true,
                "%s offset %llu: %s, and %u valid frames follow: corruption inside the active "
                "segment (the next open cuts %llu bytes, keeping them in lost+found/)",
                rname, (unsigned long long)valid_end, why ? why : "invalid frame", after,
                (unsigned long long)n);
        else {
            v->sum->torn_tail_bytes = n;
            say(v, false, "%s offset %llu: torn tail of %llu bytes (%s); the next open cuts it",
                rname, (unsigned long long)valid_end, (unsigned long long)n,
                why ? why : "invalid frame");
        }
    }
    es_io_close(fd);
}

static int list_firsts(const char *dir, const char *suffix, uint64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : es_fail_errno(errno, "listing %s", dir);
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t f;
        if (!es_seg_file_name_parse(de->d_name, suffix, &f))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            uint64_t *p = realloc(*out, cap * sizeof(*p));
            if (!p) {
                closedir(d);
                return es_fail(-ENOMEM, "listing %s", dir);
            }
            *out = p;
        }
        (*out)[(*n)++] = f;
    }
    closedir(d);
    for (size_t i = 1; i < *n; i++)
        for (size_t j = i; j > 0 && (*out)[j - 1] > (*out)[j]; j--) {
            uint64_t t = (*out)[j];
            (*out)[j] = (*out)[j - 1];
            (*out)[j - 1] = t;
        }
    return 0;
}

struct index_report {
    struct verifier *v;
};

static void index_line(void *arg, const char *line)
{
    struct verifier *v = arg;
    say(v, true, "%s", line);
}

static void verify_index(struct verifier *v, const char *path)
{
    struct es_log_options lo = {.dir = path, .read_only = true, .cache_bytes = 8 << 20};
    struct es_log *log;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/index", path);
    struct es_index *ix;
    const char *why = NULL;
    int rc;
    for (int attempt = 0;; attempt++) {
        if (es_log_open(&lo, &log, NULL) != 0) {
            say(v, false, "index: not checked, the log does not open: %s", es_error_detail());
            return;
        }
        why = NULL;
        es_error_clear(); /* a detail left from an earlier failure is not this one's */
        rc = es_index_open_check(dir, log, &ix, &why);
        /* a running store may checkpoint past the log as it was opened, or
         * grow the index files after they were mapped */
        bool raced = rc == ES_ECORRUPT && why &&
                     (strcmp(why, "checkpoint is ahead of the log") == 0 ||
                      strcmp(why, "index files shorter than the checkpoint says") == 0);
        if (!raced || attempt == 4)
            break;
        es_log_close(log);
    }
    if (rc == ES_ENOTFOUND) {
        say(v, false, "index: none yet (%s); it is built at the next open",
            why ? why : "no checkpoint");
    } else if (rc) {
        const char *detail = es_error_detail();
        bool has_detail = strcmp(detail, "no error recorded") != 0;
        say(v, true, "index: %s%s%s%s; the next open rebuilds it, or run `esfs reindex`",
            why ? why : "unreadable", has_detail ? " (" : "", has_detail ? detail : "",
            has_detail ? ")" : "");
    } else {
        uint64_t covered = es_index_published_pos(ix);
        int64_t bad = es_index_check_against_log(ix, index_line, v);
        if (bad < 0)
            say(v, true, "index: check stopped: %s", es_error_detail());
        else
            say(v, false, "index: checkpoint covers positions 1..%llu%s; %lld disagreements",
                (unsigned long long)covered,
                covered < es_log_last_pos(log) ? " (the next open catches up the rest)" : "",
                (long long)bad);
        es_index_close(ix);
    }
    es_log_close(log);
}

int es_store_verify(const char *path, es_report_fn report, void *arg,
                    struct es_verify_summary *summary)
{
    struct es_verify_summary dummy;
    if (!summary)
        summary = &dummy;
    memset(summary, 0, sizeof(*summary));
    struct verifier v = {.report = report, .arg = arg, .sum = summary, .expect_pos = 1};
    char segdir[PATH_MAX], waldir[PATH_MAX];
    snprintf(segdir, sizeof(segdir), "%s/segments", path);
    snprintf(waldir, sizeof(waldir), "%s/wal", path);
    DIR *d = opendir(segdir);
    if (!d)
        return es_fail(ES_ENOTSTORE, "%s has no segments/ directory", path);
    closedir(d);
    v.table_cap = 1 << 16;
    v.table = calloc(v.table_cap, sizeof(*v.table));
    if (!v.table)
        return es_fail(-ENOMEM, "verify");
    uint64_t *segs = NULL, *wals = NULL;
    size_t n_segs = 0, n_wals = 0;
    /* wal/ before segments/: a seal that a running store finishes between
     * the two listings then shows its wal as already sealed */
    int rc = list_firsts(waldir, ".wal", &wals, &n_wals);
    if (rc == 0)
        rc = list_firsts(segdir, ".seg", &segs, &n_segs);
    if (rc == 0) {
        for (size_t i = 0; i < n_segs; i++)
            verify_sealed(&v, path, segs[i]);
        for (size_t i = 0; i < n_wals; i++) {
            bool sealed = false;
            for (size_t j = 0; j < n_segs; j++)
                sealed |= segs[j] == wals[i];
            if (wals[i] < v.expect_pos) {
                say(&v, !sealed,
                    sealed ? "wal/%020llu.wal: already sealed; removed at the next open"
                           : "wal/%020llu.wal: overlaps the sealed segments",
                    (unsigned long long)wals[i]);
                continue;
            }
            verify_wal(&v, path, wals[i], i + 1 == n_wals);
        }
        verify_index(&v, path);
        say(&v, false, "%llu segments, %llu events, %llu streams, %llu problems",
            (unsigned long long)summary->segments, (unsigned long long)summary->events,
            (unsigned long long)summary->streams, (unsigned long long)summary->problems);
    }
    free(segs);
    free(wals);
    for (size_t i = 0; i < v.table_cap; i++)
        while (v.table[i]) {
            struct vstream *s = v.table[i];
            v.table[i] = s->next;
            free(s->name);
            free(s);
        }
    free(v.table);
    if (rc)
        return rc;
    return summary->problems ? ES_ECORRUPT : 0;
}

int es_store_reindex(const char *path, const struct es_options *o, uint64_t *events)
{
    struct es_options opts;
    if (o)
        opts = *o;
    else
        es_options_init(&opts);
    opts.read_only = false;
    struct es_store *s;
    /* the lock is taken by es_store_open; remove the index files only while
     * holding it, by opening once with them forced away */
    int rc = es_store_open_reindex(path, &opts, &s);
    if (rc)
        return rc;
    if (events)
        *events = es_index_published_pos(s->ix);
    return es_store_close(s);
}

struct scan_ctx {
    const char *name;
    size_t len;
    es_scan_fn fn;
    void *arg;
};

int es_store_scan(const char *path, uint64_t from_pos, const char *name, size_t name_len,
                  es_scan_fn fn, void *arg)
{
    struct es_log_options lo = {.dir = path, .read_only = true, .cache_bytes = 8 << 20};
    struct es_log *log;
    int rc = es_log_open(&lo, &log, NULL);
    if (rc)
        return rc;
    struct es_log_scan sc;
    if ((rc = es_log_scan_init(&sc, log, from_pos, UINT64_MAX)) != 0) {
        es_log_close(log);
        return rc;
    }
    struct es_event ev;
    uint64_t raw;
    size_t len;
    while ((rc = es_log_scan_next(&sc, &ev, &raw, &len)) == 1) {
        if (name && (ev.stream_len != name_len || memcmp(ev.stream, name, name_len) != 0))
            continue;
        if ((rc = fn(arg, &ev)) != 0)
            break;
    }
    es_log_scan_release(&sc);
    es_log_close(log);
    return rc;
}
