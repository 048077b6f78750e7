/*
 * log_open.c - opening a store's log: listing segments, checking the chain
 * of positions, recovering the active segment, closing.
 *
 * Recovery rules (docs/format.md, "Recovery"):
 *  - sealed segments must chain from position 1 without gaps; a damaged
 *    header, footer or block index is corruption (ES_ECORRUPT), never
 *    repaired;
 *  - a wal file whose first position is already in a sealed segment is what
 *    a finished seal left behind: it is removed (after checking that the
 *    sealed segment starts at the same position);
 *  - every wal file but the last must be whole: it was fsynced before the
 *    next one was created;
 *  - the last wal file may end in a torn frame: everything from the first
 *    frame that is not valid (or not the next position) is cut, copied
 *    first to lost+found/, and the cut is logged.
 */
#include "log_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/io.h"
#include "format/frame.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorted first positions of the files "<20 digits><suffix>" in dir. */
static int list_segment_files(const char *dir, const char *suffix, uint64_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return es_fail_errno(errno, "listing %s", dir);
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t first;
        if (!es_seg_file_name_parse(de->d_name, suffix, &first))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            uint64_t *p = realloc(*out, cap * sizeof(*p));
            if (!p) {
                rc = es_fail(-ENOMEM, "listing %s", dir);
                break;
            }
            *out = p;
        }
        (*out)[(*n)++] = first;
    }
    closedir(d);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
        return rc;
    }
    if (*n)
        qsort(*out, *n, sizeof(**out), cmp_u64);
    return 0;
}

int es_log_push_segment(struct es_log *log, struct es_segment *seg)
{
    pthread_mutex_lock(&log->segs_lock);
    if (log->n_segs == log->cap_segs) {
        size_t cap = log->cap_segs ? log->cap_segs * 2 : 64;
        struct es_segment **p = realloc(log->segs, cap * sizeof(*p));
        if (!p) {
            pthread_mutex_unlock(&log->segs_lock);
            return es_fail(-ENOMEM, "segment list");
        }
        log->segs = p;
        log->cap_segs = cap;
    }
    log->segs[log->n_segs++] = seg;
    if (seg->kind == ES_SEG_SEALED) {
        log->n_sealed++;
        log->sealed_bytes += seg->file_bytes;
    }
    pthread_mutex_unlock(&log->segs_lock);
    return 0;
}

static struct es_segment *wal_object(struct es_log *log, const char *name, uint64_t first_pos)
{
    struct es_segment *seg = calloc(1, sizeof(*seg));
    if (!seg)
        return NULL;
    atomic_init(&seg->refs, 1);
    seg->kind = ES_SEG_ACTIVE;
    pthread_mutex_lock(&log->segs_lock);
    seg->id = ++log->next_id;
    pthread_mutex_unlock(&log->segs_lock);
    seg->fd = -1;
    seg->first_pos = first_pos;
    atomic_init(&seg->last_pos, first_pos - 1);
    atomic_init(&seg->raw_bytes, 0);
    snprintf(seg->name, sizeof(seg->name), "wal/%s", name);
    snprintf(seg->path, sizeof(seg->path), "%s/%s", log->wal_dir, name);
    return seg;
}

int es_log_create_wal(struct es_log *log, uint64_t first_pos, struct es_segment **out)
{
    char name[40];
    es_seg_file_name(first_pos, ".wal", name, sizeof(name));
    struct es_segment *seg = wal_object(log, name, first_pos);
    if (!seg)
        return es_fail(-ENOMEM, "new active segment");
    unsigned char hdr[ES_SEG_HEADER_BYTES];
    struct es_seg_header h = {.version = ES_FORMAT_VERSION,
                              .kind = ES_SEG_ACTIVE,
                              .first_pos = first_pos,
                              .created_ns = es_io_now_ns()};
    es_seg_header_encode(&h, hdr);
    int rc = es_io_open(seg->path, O_RDWR | O_CREAT | O_EXCL, 0644);
    if (rc < 0)
        goto fail;
    seg->fd = rc;
    rc = es_io_pwrite_all(seg->fd, hdr, sizeof(hdr), 0, seg->name);
    if (rc == 0)
        rc = es_io_fsync(seg->fd, seg->name);
    if (rc == 0)
        rc = es_io_fsync_dir(log->wal_dir);
    if (rc)
        goto fail_unlink;
    *out = seg;
    return 0;
fail_unlink:
    es_io->unlink(seg->path);
fail:
    es_segment_unref(seg);
    return rc;
}

/* Creates lost+found/ with its entry in the store directory durable, so
 * what recovery keeps there survives a power loss. */
static int make_lost_dir(struct es_log *log)
{
    int rc = es_io_mkdir(log->lost_dir);
    if (rc == 0)
        rc = es_io_fsync_dir(log->dir);
    return rc;
}

/* Copies the bytes from off to the end of seg's file to lost+found/, then
 * cuts the file there, durably. */
static int cut_tail(struct es_log *log, struct es_segment *seg, uint64_t off, uint64_t size,
                    struct es_log_recovery *rec)
{
    size_t n = (size_t)(size - off);
    unsigned char *tail = malloc(n ? n : 1);
    if (!tail)
        return es_fail(-ENOMEM, "saving the torn tail of %s", seg->name);
    int rc = es_io_pread_exact(seg->fd, tail, n, off, seg->name);
    if (rc == 0)
        rc = make_lost_dir(log);
    char saved[80];
    snprintf(saved, sizeof(saved), "%s.%llu.cut", seg->name + 4, (unsigned long long)off);
    if (rc == 0)
        rc = es_io_write_file_atomic(log->lost_dir, saved, tail, n);
    uint32_t after = es_log_count_valid_frames(tail, n);
    free(tail);
    if (rc == 0)
        rc = es_io_ftruncate(seg->fd, off, seg->name);
    if (rc == 0)
        rc = es_io_fsync(seg->fd, seg->name);
    if (rc)
        return rc;
    rec->cut_bytes = n;
    rec->cut_offset = off;
    rec->cut_frames_after = after;
    es_logf(log->lg, after ? ES_LOG_ERROR : ES_LOG_WARN,
            "recovery: %s: cut %zu bytes at offset %llu after position %llu (%s); "
            "the bytes are kept in lost+found/%s%s",
            seg->name, n, (unsigned long long)off, (unsigned long long)atomic_load(&seg->last_pos),
            "torn or invalid frame", saved,
            after ? "; valid frames were found after the damage: this looks like disk "
                    "corruption, not a crash"
                  : "");
    return 0;
}

struct wal_scan_state {
    int64_t last_ts;
};

static int note_frame(void *arg, const struct es_event *ev, uint64_t file_off, size_t len)
{
    (void)file_off;
    (void)len;
    ((struct wal_scan_state *)arg)->last_ts = ev->ts_ns;
    return 0;
}

/* Sets seg's last_pos, raw_bytes and last_ts from its valid frames, and
 * *valid_end to the file offset where they end. */
static int scan_wal(struct es_segment *seg, uint64_t size, uint64_t *valid_end, const char **stop)
{
    struct wal_scan_state st = {0};
    uint64_t last_pos;
    int rc = es_wal_read(seg->fd, seg->name, seg->first_pos, size, note_frame, &st, valid_end,
                         &last_pos, stop);
    if (rc)
        return rc;
    atomic_store(&seg->last_pos, last_pos);
    atomic_store(&seg->raw_bytes, *valid_end - ES_SEG_HEADER_BYTES);
    seg->last_ts_ns = st.last_ts;
    return 0;
}

/* Opens wal/<first>.wal. The last wal may be cut (read-write) or read up to
 * its valid end (read-only); the others must be whole. A last wal with a
 * damaged header is set aside as *broken (no frame in it can be trusted to
 * start there). */
static int open_wal(struct es_log *log, uint64_t first, bool is_last, struct es_segment **out,
                    bool *broken, struct es_log_recovery *rec)
{
    char name[40];
    es_seg_file_name(first, ".wal", name, sizeof(name));
    struct es_segment *seg = wal_object(log, name, first);
    if (!seg)
        return es_fail(-ENOMEM, "opening %s", name);
    *broken = false;
    uint64_t size = 0, valid_end = 0;
    const char *why = NULL;
    int rc = es_io_open(seg->path, log->opt.read_only ? O_RDONLY : O_RDWR, 0);
    if (rc < 0)
        goto fail;
    seg->fd = rc;
    if ((rc = es_io_file_size(seg->fd, &size, seg->name)) != 0)
        goto fail;
    unsigned char hdr[ES_SEG_HEADER_BYTES];
    struct es_seg_header h;
    rc = size < ES_SEG_HEADER_BYTES ? ES_ECORRUPT
                                    : es_io_pread_exact(seg->fd, hdr, sizeof(hdr), 0, seg->name);
    if (rc == 0)
        rc = es_seg_header_decode(hdr, &h, &why);
    if (rc == 0 && (h.kind != ES_SEG_ACTIVE || h.first_pos != first)) {
        why = "header does not match the file name";
        rc = ES_ECORRUPT;
    }
    if (rc == ES_ECORRUPT && is_last && size <= ES_SEG_HEADER_BYTES) {
        /* a wal is created with its header fsynced before any frame is
         * written; a bad header on the last one is a torn creation. With
         * bytes after it, the header was durable once: that is damage, and
         * setting the file aside would hand its positions out again. */
        *broken = true;
        *out = seg;
        return 0;
    }
    if (rc) {
        rc = es_fail(rc, "%s offset 0: %s", seg->name, why ? why : "too short for a header");
        goto fail;
    }
    if ((rc = scan_wal(seg, size, &valid_end, &why)) != 0)
        goto fail;
    if (valid_end < size) {
        if (!is_last) {
            rc = es_fail(ES_ECORRUPT, "%s offset %llu: %s in a segment that was complete",
                         seg->name, (unsigned long long)valid_end, why ? why : "invalid frame");
            goto fail;
        }
        if (!log->opt.read_only && (rc = cut_tail(log, seg, valid_end, size, rec)) != 0)
            goto fail;
        if (log->opt.read_only) {
            rec->cut_bytes = size - valid_end;
            rec->cut_offset = valid_end;
        }
    }
    /* an empty wal (just sealed, or just created) says nothing about time:
     * the last timestamp stays the one of the segments before it */
    if (atomic_load(&seg->last_pos) >= seg->first_pos)
        atomic_store(&log->last_ts, seg->last_ts_ns);
    *out = seg;
    return 0;
fail:
    es_segment_unref(seg);
    return rc;
}

/* Sets a last wal with a damaged header aside (to lost+found/) and creates
 * a fresh one in its place. */
static int replace_broken_wal(struct es_log *log, struct es_segment *seg, struct es_segment **out)
{
    char saved[PATH_MAX];
    snprintf(saved, sizeof(saved), "%s/%s.broken", log->lost_dir, seg->name + 4);
    int rc = make_lost_dir(log);
    if (rc == 0)
        rc = es_io_rename(seg->path, saved);
    if (rc == 0)
        rc = es_io_fsync_dir(log->wal_dir);
    if (rc == 0)
        rc = es_io_fsync_dir(log->lost_dir);
    uint64_t first = seg->first_pos;
    es_logf(log->lg, ES_LOG_WARN,
            "recovery: %s has no valid header (torn creation); moved to lost+found/ and "
            "recreated",
            seg->name);
    es_segment_unref(seg);
    if (rc)
        return rc;
    return es_log_create_wal(log, first, out);
}

static int open_sealed_all(struct es_log *log, uint64_t *next_pos)
{
    uint64_t *firsts;
    size_t n;
    int rc = list_segment_files(log->seg_dir, ".seg", &firsts, &n);
    if (rc)
        return rc;
    uint64_t expect = 1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char name[40], path[PATH_MAX];
        es_seg_file_name(firsts[i], ".seg", name, sizeof(name));
        snprintf(path, sizeof(path), "%s/%s", log->seg_dir, name);
        char rname[48];
        snprintf(rname, sizeof(rname), "segments/%s", name);
        struct es_segment *seg;
        pthread_mutex_lock(&log->segs_lock);
        uint64_t id = ++log->next_id;
        pthread_mutex_unlock(&log->segs_lock);
        rc = es_segment_open_sealed(path, rname, id, &seg);
        if (rc)
            break;
        if (seg->first_pos != expect) {
            rc = es_fail(ES_ECORRUPT,
                         "%s starts at position %llu but position %llu comes next: a segment is "
                         "missing",
                         rname, (unsigned long long)seg->first_pos, (unsigned long long)expect);
            es_segment_unref(seg);
            break;
        }
        expect = seg->footer.last_pos + 1;
        atomic_store(&log->last_ts, seg->footer.last_ts_ns);
        rc = es_log_push_segment(log, seg);
        if (rc)
            es_segment_unref(seg);
    }
    free(firsts);
    *next_pos = expect;
    return rc;
}

static int open_wals(struct es_log *log, uint64_t next_pos, struct es_log_recovery *rec)
{
    uint64_t *firsts;
    size_t n;
    int rc = list_segment_files(log->wal_dir, ".wal", &firsts, &n);
    if (rc)
        return rc;
    size_t live_from = 0;
    /* wal files already sealed */
    while (live_from < n && firsts[live_from] < next_pos) {
        uint64_t f = firsts[live_from];
        char name[40], path[PATH_MAX];
        es_seg_file_name(f, ".wal", name, sizeof(name));
        snprintf(path, sizeof(path), "%s/%s", log->wal_dir, name);
        bool covered = false;
        for (size_t i = 0; i < log->n_segs; i++)
            covered |= log->segs[i]->first_pos == f;
        if (!covered) {
            rc = es_fail(ES_ECORRUPT,
                         "wal/%s overlaps sealed segments but no sealed segment "
                         "starts at its first position",
                         name);
            break;
        }
        if (!log->opt.read_only) {
            if ((rc = es_io_unlink(path)) != 0)
                break;
            rec->stale_wals_removed++;
            es_logf(log->lg, ES_LOG_INFO, "recovery: removed wal/%s, already sealed", name);
        }
        live_from++;
    }
    for (size_t i = live_from; i < n && rc == 0; i++) {
        bool is_last = i + 1 == n;
        if (firsts[i] != next_pos) {
            char name[40];
            es_seg_file_name(firsts[i], ".wal", name, sizeof(name));
            rc = es_fail(ES_ECORRUPT, "wal/%s starts at position %llu but position %llu comes next",
                         name, (unsigned long long)firsts[i], (unsigned long long)next_pos);
            break;
        }
        struct es_segment *seg = NULL;
        bool broken = false;
        if ((rc = open_wal(log, firsts[i], is_last, &seg, &broken, rec)) != 0)
            break;
        if (broken) {
            if (log->opt.read_only) {
                es_segment_unref(seg);
                break;
            }
            if ((rc = replace_broken_wal(log, seg, &seg)) != 0)
                break;
        }
        next_pos = atomic_load(&seg->last_pos) + 1;
        if ((rc = es_log_push_segment(log, seg)) != 0) {
            es_segment_unref(seg);
            break;
        }
        if (is_last) {
            log->active = seg;
        } else {
            if ((rc = es_log_queue_seal(log, seg)) != 0)
                break;
            rec->pending_seals++;
        }
    }
    free(firsts);
    if (rc)
        return rc;
    atomic_store(&log->last_pos, next_pos - 1);
    if (!log->active && !log->opt.read_only) {
        struct es_segment *seg;
        if ((rc = es_log_create_wal(log, next_pos, &seg)) != 0)
            return rc;
        if ((rc = es_log_push_segment(log, seg)) != 0) {
            es_segment_unref(seg);
            return rc;
        }
        log->active = seg;
    }
    return 0;
}

static void clear_tmp(struct es_log *log)
{
    DIR *d = opendir(log->tmp_dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", log->tmp_dir, de->d_name);
        es_io->unlink(path);
    }
    closedir(d);
}

static int log_open_once(const struct es_log_options *o, struct es_log **out,
                         struct es_log_recovery *rec)
{
    struct es_log_recovery dummy;
    if (!rec)
        rec = &dummy;
    memset(rec, 0, sizeof(*rec));
    struct es_log *log = calloc(1, sizeof(*log));
    if (!log)
        return es_fail(-ENOMEM, "opening the log");
    log->opt = *o;
    log->lg = o->logger;
    pthread_mutex_init(&log->segs_lock, NULL);
    snprintf(log->dir, sizeof(log->dir), "%s", o->dir);
    snprintf(log->seg_dir, sizeof(log->seg_dir), "%s/segments", o->dir);
    snprintf(log->wal_dir, sizeof(log->wal_dir), "%s/wal", o->dir);
    snprintf(log->tmp_dir, sizeof(log->tmp_dir), "%s/tmp", o->dir);
    snprintf(log->lost_dir, sizeof(log->lost_dir), "%s/lost+found", o->dir);
    log->cache = es_block_cache_new(o->cache_bytes);
    int rc = log->cache ? 0 : es_fail(-ENOMEM, "block cache");
    if (rc == 0 && !o->read_only) {
        /* segments/ first, durably: a directory holding it is a store, so
         * a crash must not leave the others in a new store without it */
        if ((rc = es_io_mkdir(log->seg_dir)) == 0 && (rc = es_io_fsync_dir(log->dir)) == 0 &&
            (rc = es_io_mkdir(log->wal_dir)) == 0 && (rc = es_io_mkdir(log->tmp_dir)) == 0)
            rc = es_io_fsync_dir(log->dir);
        clear_tmp(log);
    }
    uint64_t next_pos = 1;
    if (rc == 0)
        rc = open_sealed_all(log, &next_pos);
    if (rc == 0)
        rc = open_wals(log, next_pos, rec);
    if (rc) {
        es_log_close(log);
        return rc;
    }
    *out = log;
    return 0;
}

int es_log_open(const struct es_log_options *o, struct es_log **out, struct es_log_recovery *rec)
{
    /* A read-only open (verify, scan, a read-only mount) may race the
     * store's own sealer: a wal listed, then sealed and removed before it
     * is opened, or a segment sealed after segments/ was listed. Files only
     * move forward, so a fresh attempt sees a consistent set; real damage
     * fails every attempt the same way. */
    int rc;
    for (int attempt = 0;; attempt++) {
        rc = log_open_once(o, out, rec);
        if (rc == 0 || !o->read_only || attempt == 4 || (rc != -ENOENT && rc != ES_ECORRUPT))
            return rc;
    }
}

void es_log_close(struct es_log *log)
{
    if (!log)
        return;
    for (size_t i = 0; i < log->n_to_seal; i++)
        es_segment_unref(log->to_seal[i]);
    for (size_t i = 0; i < log->n_segs; i++)
        es_segment_unref(log->segs[i]);
    free(log->to_seal);
    free(log->segs);
    es_block_cache_free(log->cache);
    pthread_mutex_destroy(&log->segs_lock);
    free(log);
}

uint64_t es_log_last_pos(struct es_log *log)
{
    return atomic_load_explicit(&log->last_pos, memory_order_acquire);
}

int64_t es_log_last_ts(struct es_log *log)
{
    return atomic_load_explicit(&log->last_ts, memory_order_acquire);
}

void es_log_counts(struct es_log *log, uint32_t *n_sealed, uint64_t *sealed_bytes)
{
    pthread_mutex_lock(&log->segs_lock);
    *n_sealed = log->n_sealed;
    *sealed_bytes = log->sealed_bytes;
    pthread_mutex_unlock(&log->segs_lock);
}

void es_log_cache_stats(struct es_log *log, uint64_t *hits, uint64_t *misses)
{
    es_block_cache_stats(log->cache, hits, misses);
}

struct es_segment *es_log_segment_for(struct es_log *log, uint64_t pos)
{
    struct es_segment *found = NULL;
    pthread_mutex_lock(&log->segs_lock);
    size_t lo = 0, hi = log->n_segs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        struct es_segment *s = log->segs[mid];
        if (pos < s->first_pos)
            hi = mid;
        else if (pos > atomic_load_explicit(&s->last_pos, memory_order_acquire) &&
                 mid + 1 < log->n_segs)
            lo = mid + 1;
        else {
            found = s;
            break;
        }
    }
    if (found)
        es_segment_ref(found);
    pthread_mutex_unlock(&log->segs_lock);
    return found;
}
