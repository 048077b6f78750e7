/*
 * log_append.c - the writer thread's side of the log: writing frames at
 * the end of the active segment, syncing it, rotating to a new one.
 *
 * Invariant: the active segment's file holds exactly the header plus
 * raw_bytes of whole frames between calls; a failed write is cut back so a
 * later write never lands after garbage. If the cut fails the file's state
 * is unknown, and the caller must stop appending (ES_EFAILED).
 */
#include "log_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "base/io.h"

uint64_t es_log_active_bytes(struct es_log *log)
{
    return log->active ? atomic_load_explicit(&log->active->raw_bytes, memory_order_relaxed) : 0;
}

int es_log_write(struct es_log *log, const void *frames, size_t len, uint64_t last_pos,
                 int64_t last_ts, uint64_t *raw_off)
{
    struct es_segment *seg = log->active;
    if (!seg)
        return es_fail(ES_EREADONLY, "append to a read-only log");
    uint64_t raw = atomic_load_explicit(&seg->raw_bytes, memory_order_relaxed);
    uint64_t file_off = ES_SEG_HEADER_BYTES + raw;
    int rc = es_io_pwrite_all(seg->fd, frames, len, file_off, seg->name);
    if (rc) {
        int wrc = rc;
        char why[512];
        snprintf(why, sizeof(why), "%s", es_error_detail());
        if (es_io_ftruncate(seg->fd, file_off, seg->name) != 0)
            return es_fail(ES_EFAILED, "%s; then cutting the partial write back failed: %s", why,
                           es_error_detail());
        return es_fail(wrc, "%s", why);
    }
    *raw_off = raw;
    seg->last_ts_ns = last_ts;
    atomic_store_explicit(&seg->raw_bytes, raw + len, memory_order_release);
    atomic_store_explicit(&seg->last_pos, last_pos, memory_order_release);
    atomic_store_explicit(&log->last_ts, last_ts, memory_order_release);
    atomic_store_explicit(&log->last_pos, last_pos, memory_order_release);
    return 0;
}

int es_log_sync(struct es_log *log)
{
    if (!log->active)
        return 0;
    return es_io_fdatasync(log->active->fd, log->active->name);
}

int es_log_queue_seal(struct es_log *log, struct es_segment *wal)
{
    pthread_mutex_lock(&log->segs_lock);
    if (log->n_to_seal == log->cap_to_seal) {
        size_t cap = log->cap_to_seal ? log->cap_to_seal * 2 : 8;
        struct es_segment **p = realloc(log->to_seal, cap * sizeof(*p));
        if (!p) {
            pthread_mutex_unlock(&log->segs_lock);
            return es_fail(-ENOMEM, "seal queue");
        }
        log->to_seal = p;
        log->cap_to_seal = cap;
    }
    es_segment_ref(wal);
    log->to_seal[log->n_to_seal++] = wal;
    pthread_mutex_unlock(&log->segs_lock);
    return 0;
}

int es_log_rotate(struct es_log *log)
{
    struct es_segment *old = log->active;
    if (!old)
        return es_fail(ES_EREADONLY, "rotate a read-only log");
    if (atomic_load(&old->raw_bytes) == 0)
        return 0;
    int rc = es_io_fdatasync(old->fd, old->name);
    if (rc)
        return rc;
    struct es_segment *seg;
    if ((rc = es_log_create_wal(log, atomic_load(&old->last_pos) + 1, &seg)) != 0)
        return rc;
    if ((rc = es_log_push_segment(log, seg)) != 0) {
        es_io->unlink(seg->path);
        es_segment_unref(seg);
        return rc;
    }
    log->active = seg;
    /* If queueing fails (no memory), the old wal is sealed at the next open,
     * where every wal but the last is queued. */
    return es_log_queue_seal(log, old);
}
