/*
 * reader.c - reading frames back: random access by (position, logical
 * offset) through the block cache, and sequential scans without it.
 *
 * Every frame served is decoded and checked (docs/format.md, "a frame is
 * valid if and only if") and must carry the position asked for; anything
 * else is ES_ECORRUPT naming the file and offset, never data.
 */
#include "log_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/io.h"
#include "format/frame.h"

#define READ_AHEAD (64u << 10)
#define SCAN_CHUNK (1u << 20)

void es_log_reader_init(struct es_log_reader *r, struct es_log *log)
{
    memset(r, 0, sizeof(*r));
    r->log = log;
    r->blk_idx = -1;
}

static void reader_drop(struct es_log_reader *r)
{
    es_block_cache_put(r->log->cache, r->blk);
    r->blk = NULL;
    r->blk_idx = -1;
    es_buf_reset(&r->buf);
    es_segment_unref(r->seg);
    r->seg = NULL;
}

void es_log_reader_release(struct es_log_reader *r)
{
    reader_drop(r);
    es_buf_release(&r->buf);
}

static uint64_t file_offset_of(const struct es_segment *seg, uint64_t raw_off)
{
    if (seg->kind == ES_SEG_ACTIVE)
        return ES_SEG_HEADER_BYTES + raw_off;
    int64_t b = es_segment_block_for_offset(seg, raw_off);
    return b < 0 ? 0 : seg->blocks[b].file_offset;
}

static int bad_frame(const struct es_segment *seg, uint64_t pos, uint64_t raw_off, const char *why)
{
    return es_fail(ES_ECORRUPT, "%s, position %llu (logical offset %llu, file offset %llu%s): %s",
                   seg->name, (unsigned long long)pos, (unsigned long long)raw_off,
                   (unsigned long long)file_offset_of(seg, raw_off),
                   seg->kind == ES_SEG_SEALED ? ", start of its block" : "", why);
}

/* Makes r->buf hold the active segment's bytes from raw_off, at least a
 * whole frame if one is there. */
static int reader_fill_wal(struct es_log_reader *r, uint64_t raw_off)
{
    struct es_segment *seg = r->seg;
    uint64_t end = atomic_load_explicit(&seg->raw_bytes, memory_order_acquire);
    if (raw_off >= end)
        return bad_frame(seg, 0, raw_off, "offset beyond the end of the segment");
    size_t want = end - raw_off < READ_AHEAD ? (size_t)(end - raw_off) : READ_AHEAD;
    for (int pass = 0; pass < 2; pass++) {
        es_buf_reset(&r->buf);
        unsigned char *p = es_buf_grow(&r->buf, want);
        if (!p)
            return es_fail(-ENOMEM, "read buffer");
        ssize_t got = es_io_pread_upto(seg->fd, p, want, ES_SEG_HEADER_BYTES + raw_off, seg->name);
        if (got < 0)
            return (int)got;
        r->buf.len = (size_t)got;
        r->buf_off = raw_off;
        size_t need = es_frame_peek_size(p, r->buf.len);
        if (need <= r->buf.len || need > end - raw_off)
            return 0;
        want = need;
    }
    return 0;
}

int es_log_reader_frame(struct es_log_reader *r, uint64_t pos, uint64_t raw_off,
                        struct es_event *ev, size_t *frame_len)
{
    struct es_segment *seg = r->seg;
    if (!seg || pos < seg->first_pos ||
        pos > atomic_load_explicit(&seg->last_pos, memory_order_acquire)) {
        reader_drop(r);
        seg = r->seg = es_log_segment_for(r->log, pos);
        if (!seg)
            return es_fail(ES_ENOTFOUND, "no segment holds position %llu", (unsigned long long)pos);
    }
    const unsigned char *p;
    size_t avail;
    if (seg->kind == ES_SEG_SEALED) {
        if (r->blk_idx < 0 || raw_off < seg->blocks[r->blk_idx].raw_offset ||
            raw_off >= seg->blocks[r->blk_idx].raw_offset + seg->blocks[r->blk_idx].raw_len) {
            es_block_cache_put(r->log->cache, r->blk);
            r->blk = NULL;
            r->blk_idx = es_segment_block_for_offset(seg, raw_off);
            if (r->blk_idx < 0)
                return bad_frame(seg, pos, raw_off, "offset outside every block");
            int rc = es_block_cache_get(r->log->cache, seg, (uint32_t)r->blk_idx, &r->blk);
            if (rc) {
                r->blk_idx = -1;
                return rc;
            }
        }
        size_t at = (size_t)(raw_off - seg->blocks[r->blk_idx].raw_offset);
        p = r->blk->data + at;
        avail = r->blk->len - at;
    } else {
        /* refill unless the buffer holds the whole frame at raw_off: its
         * header must be there (peek returns 0 without it) and its body */
        bool have = raw_off >= r->buf_off && raw_off < r->buf_off + r->buf.len;
        if (have) {
            size_t avail_here = r->buf.len - (size_t)(raw_off - r->buf_off);
            size_t need = es_frame_peek_size(r->buf.data + (raw_off - r->buf_off), avail_here);
            have = need != 0 && need <= avail_here;
        }
        if (!have) {
            int rc = reader_fill_wal(r, raw_off);
            if (rc)
                return rc;
        }
        size_t at = (size_t)(raw_off - r->buf_off);
        p = r->buf.data + at;
        avail = r->buf.len - at;
    }
    const char *why = "frame cut short";
    int rc = es_frame_decode(p, avail, ev, frame_len, &why);
    if (rc != 0)
        return bad_frame(seg, pos, raw_off, why);
    if (ev->pos != pos)
        return bad_frame(seg, pos, raw_off, "the frame there has another position");
    return 0;
}

/* ---- sequential scans ---- */

static int scan_start_segment(struct es_log_scan *sc, uint64_t raw_hint)
{
    struct es_segment *seg = sc->segs[sc->seg_i];
    sc->buf_len = sc->cur = 0;
    sc->blk_i = 0;
    sc->buf_raw_off = 0;
    if (seg->kind == ES_SEG_SEALED) {
        int64_t b = es_segment_block_for_pos(seg, sc->next_pos);
        sc->blk_i = b < 0 ? 0 : (uint32_t)b;
    } else if (raw_hint != UINT64_MAX) {
        sc->buf_raw_off = raw_hint;
    }
    return 0;
}

int es_log_scan_init(struct es_log_scan *sc, struct es_log *log, uint64_t from_pos,
                     uint64_t raw_hint)
{
    memset(sc, 0, sizeof(*sc));
    sc->log = log;
    sc->next_pos = from_pos ? from_pos : 1;
    sc->end_pos = es_log_last_pos(log);
    pthread_mutex_lock(&log->segs_lock);
    size_t first = 0;
    while (first < log->n_segs && atomic_load(&log->segs[first]->last_pos) < sc->next_pos)
        first++;
    sc->n_segs = log->n_segs - first;
    sc->segs = calloc(sc->n_segs ? sc->n_segs : 1, sizeof(*sc->segs));
    if (sc->segs)
        for (size_t i = 0; i < sc->n_segs; i++) {
            sc->segs[i] = log->segs[first + i];
            es_segment_ref(sc->segs[i]);
        }
    pthread_mutex_unlock(&log->segs_lock);
    if (!sc->segs)
        return es_fail(-ENOMEM, "scan");
    if (sc->n_segs)
        scan_start_segment(sc, raw_hint);
    return 0;
}

void es_log_scan_release(struct es_log_scan *sc)
{
    for (size_t i = 0; i < sc->n_segs; i++)
        es_segment_unref(sc->segs[i]);
    free(sc->segs);
    free(sc->buf);
    memset(sc, 0, sizeof(*sc));
}

static int scan_reserve(struct es_log_scan *sc, size_t n)
{
    if (n <= sc->buf_cap)
        return 0;
    unsigned char *p = realloc(sc->buf, n);
    if (!p)
        return es_fail(-ENOMEM, "scan buffer");
    sc->buf = p;
    sc->buf_cap = n;
    return 0;
}

/* Makes the buffer hold the next frame's bytes; 0, or an error. */
static int scan_fill(struct es_log_scan *sc, struct es_segment *seg)
{
    if (seg->kind == ES_SEG_SEALED) {
        if (sc->blk_i >= seg->n_blocks)
            return es_fail(ES_ECORRUPT, "%s: position %llu missing from its blocks", seg->name,
                           (unsigned long long)sc->next_pos);
        const struct es_block_entry *e = &seg->blocks[sc->blk_i];
        int rc = scan_reserve(sc, e->raw_len);
        if (rc == 0)
            rc = es_segment_read_block(seg, sc->blk_i, sc->buf);
        if (rc)
            return rc;
        sc->buf_len = e->raw_len;
        sc->buf_raw_off = e->raw_offset;
        sc->cur = 0;
        sc->blk_i++;
        return 0;
    }
    uint64_t raw = sc->buf_raw_off + sc->cur;
    uint64_t end = atomic_load_explicit(&seg->raw_bytes, memory_order_acquire);
    size_t want = SCAN_CHUNK;
    size_t need =
        sc->cur < sc->buf_len ? es_frame_peek_size(sc->buf + sc->cur, sc->buf_len - sc->cur) : 0;
    if (need > want)
        want = need;
    if (end - raw < want)
        want = (size_t)(end - raw);
    int rc = scan_reserve(sc, want ? want : 1);
    if (rc)
        return rc;
    ssize_t got = es_io_pread_upto(seg->fd, sc->buf, want, ES_SEG_HEADER_BYTES + raw, seg->name);
    if (got < 0)
        return (int)got;
    sc->buf_len = (size_t)got;
    sc->buf_raw_off = raw;
    sc->cur = 0;
    return 0;
}

int es_log_scan_next(struct es_log_scan *sc, struct es_event *ev, uint64_t *raw_off,
                     size_t *frame_len)
{
    for (;;) {
        if (sc->next_pos > sc->end_pos || sc->seg_i >= sc->n_segs)
            return 0;
        struct es_segment *seg = sc->segs[sc->seg_i];
        if (sc->next_pos > atomic_load_explicit(&seg->last_pos, memory_order_acquire)) {
            if (++sc->seg_i >= sc->n_segs)
                return 0;
            scan_start_segment(sc, UINT64_MAX);
            continue;
        }
        const char *why = "frame cut short";
        size_t len = 0;
        int rc = sc->cur < sc->buf_len
                     ? es_frame_decode(sc->buf + sc->cur, sc->buf_len - sc->cur, ev, &len, &why)
                     : ES_FRAME_INCOMPLETE;
        if (rc == ES_FRAME_INCOMPLETE) {
            if (seg->kind == ES_SEG_SEALED && sc->cur < sc->buf_len)
                return bad_frame(seg, sc->next_pos, sc->buf_raw_off + sc->cur,
                                 "frame crosses the end of its block");
            size_t before = sc->buf_len - sc->cur;
            uint64_t at = sc->buf_raw_off + sc->cur;
            if ((rc = scan_fill(sc, seg)) != 0)
                return rc;
            if (seg->kind == ES_SEG_ACTIVE && sc->buf_len <= before)
                return bad_frame(seg, sc->next_pos, at, "frame cut short by the end of the file");
            continue;
        }
        if (rc < 0)
            return bad_frame(seg, sc->next_pos, sc->buf_raw_off + sc->cur, why);
        if (ev->pos < sc->next_pos) {
            sc->cur += len; /* skipping to from_pos inside a block or a wal */
            continue;
        }
        if (ev->pos != sc->next_pos)
            return bad_frame(seg, sc->next_pos, sc->buf_raw_off + sc->cur,
                             "frame out of position order");
        *raw_off = sc->buf_raw_off + sc->cur;
        *frame_len = len;
        sc->cur += len;
        sc->next_pos++;
        return 1;
    }
}
