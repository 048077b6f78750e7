/*
 * seal.c - turning a rotated wal file into a sealed segment.
 *
 * Steps (docs/format.md, "Sealing"): write tmp/<first>.seg with the header,
 * the frames grouped into blocks of about 64 KiB (zstd-compressed when that
 * is smaller, else raw), the block index and the footer; fsync it; rename it
 * into segments/; fsync segments/; swap it in for readers; unlink the wal.
 * A crash at any step leaves either the wal alone (tmp is cleared at open
 * and the wal sealed again) or both (the wal is removed at open).
 */
#include "log_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "base/err.h"
#include "base/hash.h"
#include "base/io.h"
#include "format/frame.h"

struct sealer {
    struct es_log *log;
    int fd;
    const char *what;
    uint64_t file_off;
    XXH3_state_t *hash;
    ZSTD_CCtx *cctx;
    unsigned char *zbuf;
    size_t zcap;
    struct es_buf blk;   /* frames of the block being built */
    struct es_buf index; /* encoded block entries */
    uint32_t n_blocks;
    uint64_t raw_off, block_first_pos;
    uint32_t block_events;
};

static int sealer_write(struct sealer *s, const void *p, size_t n)
{
    int rc = es_io_pwrite_all(s->fd, p, n, s->file_off, s->what);
    if (rc)
        return rc;
    XXH3_64bits_update(s->hash, p, n);
    s->file_off += n;
    return 0;
}

static int flush_block(struct sealer *s)
{
    if (s->blk.len == 0)
        return 0;
    struct es_block_entry e = {.first_pos = s->block_first_pos,
                               .raw_offset = s->raw_off,
                               .file_offset = s->file_off,
                               .raw_len = (uint32_t)s->blk.len,
                               .n_events = s->block_events,
                               .codec = ES_CODEC_NONE};
    const unsigned char *stored = s->blk.data;
    size_t stored_len = s->blk.len;
    if (s->log->opt.compress) {
        size_t bound = ZSTD_compressBound(s->blk.len);
        if (bound > s->zcap) {
            unsigned char *z = realloc(s->zbuf, bound);
            if (!z)
                return es_fail(-ENOMEM, "compression buffer");
            s->zbuf = z;
            s->zcap = bound;
        }
        size_t zn = ZSTD_compressCCtx(s->cctx, s->zbuf, s->zcap, s->blk.data, s->blk.len,
                                      s->log->opt.compress_level);
        if (ZSTD_isError(zn))
            return es_fail(-EIO, "zstd: %s", ZSTD_getErrorName(zn));
        if (zn < s->blk.len) {
            stored = s->zbuf;
            stored_len = zn;
            e.codec = ES_CODEC_ZSTD;
        }
    }
    e.stored_len = (uint32_t)stored_len;
    e.check = es_hash64(stored, stored_len);
    int rc = sealer_write(s, stored, stored_len);
    if (rc)
        return rc;
    unsigned char *ent = es_buf_grow(&s->index, ES_SEG_BLOCK_ENTRY_BYTES);
    if (!ent)
        return es_fail(-ENOMEM, "block index");
    es_block_entry_encode(&e, ent);
    s->n_blocks++;
    s->raw_off += s->blk.len;
    es_buf_reset(&s->blk);
    s->block_events = 0;
    return 0;
}

/* Writes the sealed file for wal at fd; fills *foot. */
static int write_sealed(struct sealer *s, struct es_segment *wal, struct es_seg_footer *foot)
{
    unsigned char hdr[ES_SEG_HEADER_BYTES];
    struct es_seg_header h = {.version = ES_FORMAT_VERSION,
                              .kind = ES_SEG_SEALED,
                              .first_pos = wal->first_pos,
                              .created_ns = es_io_now_ns()};
    es_seg_header_encode(&h, hdr);
    int rc = sealer_write(s, hdr, sizeof(hdr));
    if (rc)
        return rc;
    struct es_log_scan sc;
    memset(&sc, 0, sizeof(sc));
    sc.log = s->log;
    sc.segs = calloc(1, sizeof(*sc.segs));
    if (!sc.segs)
        return es_fail(-ENOMEM, "seal scan");
    es_segment_ref(wal);
    sc.segs[0] = wal;
    sc.n_segs = 1;
    sc.next_pos = wal->first_pos;
    sc.end_pos = atomic_load(&wal->last_pos);
    memset(foot, 0, sizeof(*foot));
    foot->version = ES_FORMAT_VERSION;
    foot->first_pos = wal->first_pos;
    struct es_event ev;
    uint64_t raw;
    size_t len;
    bool first = true;
    while ((rc = es_log_scan_next(&sc, &ev, &raw, &len)) == 1) {
        if (s->blk.len > 0 && s->blk.len + len > ES_SEG_BLOCK_TARGET_BYTES &&
            (rc = flush_block(s)) != 0)
            break;
        if (s->blk.len == 0)
            s->block_first_pos = ev.pos;
        if ((rc = es_buf_append(&s->blk, sc.buf + sc.cur - len, len)) != 0) {
            rc = es_fail(rc, "block buffer");
            break;
        }
        s->block_events++;
        if (first)
            foot->first_ts_ns = ev.ts_ns;
        first = false;
        foot->last_ts_ns = ev.ts_ns;
        foot->last_pos = ev.pos;
    }
    es_log_scan_release(&sc);
    if (rc == 0 && foot->last_pos != atomic_load(&wal->last_pos))
        rc = es_fail(ES_ECORRUPT, "%s ended at position %llu before %llu", wal->name,
                     (unsigned long long)foot->last_pos,
                     (unsigned long long)atomic_load(&wal->last_pos));
    if (rc == 0)
        rc = flush_block(s);
    if (rc)
        return rc;
    foot->n_blocks = s->n_blocks;
    foot->n_events = foot->last_pos - foot->first_pos + 1;
    foot->raw_bytes = s->raw_off;
    foot->index_offset = s->file_off;
    foot->index_check = es_hash64(s->index.data, s->index.len);
    if ((rc = sealer_write(s, s->index.data, s->index.len)) != 0)
        return rc;
    foot->file_check = (uint64_t)XXH3_64bits_digest(s->hash);
    unsigned char fb[ES_SEG_FOOTER_BYTES];
    es_seg_footer_encode(foot, fb);
    return sealer_write(s, fb, sizeof(fb));
}

/* Replaces wal by sealed in the segment list. */
static void swap_in(struct es_log *log, struct es_segment *wal, struct es_segment *sealed)
{
    pthread_mutex_lock(&log->segs_lock);
    for (size_t i = 0; i < log->n_segs; i++) {
        if (log->segs[i] == wal) {
            log->segs[i] = sealed;
            break;
        }
    }
    for (size_t i = 0; i < log->n_to_seal; i++) {
        if (log->to_seal[i] == wal) {
            memmove(&log->to_seal[i], &log->to_seal[i + 1],
                    (log->n_to_seal - i - 1) * sizeof(*log->to_seal));
            log->n_to_seal--;
            es_segment_unref(wal); /* the queue's reference */
            break;
        }
    }
    log->n_sealed++;
    log->sealed_bytes += sealed->file_bytes;
    pthread_mutex_unlock(&log->segs_lock);
    es_segment_unref(wal); /* the list's reference */
}

bool es_log_has_pending_seal(struct es_log *log)
{
    pthread_mutex_lock(&log->segs_lock);
    bool pending = log->n_to_seal > 0;
    pthread_mutex_unlock(&log->segs_lock);
    return pending;
}

uint64_t es_log_sealed_through(struct es_log *log)
{
    uint64_t last = 0;
    pthread_mutex_lock(&log->segs_lock);
    for (size_t i = 0; i < log->n_segs && log->segs[i]->kind == ES_SEG_SEALED; i++)
        last = log->segs[i]->footer.last_pos;
    pthread_mutex_unlock(&log->segs_lock);
    return last;
}

struct es_segment *es_log_next_to_seal(struct es_log *log)
{
    struct es_segment *seg = NULL;
    pthread_mutex_lock(&log->segs_lock);
    if (log->n_to_seal) {
        seg = log->to_seal[0];
        es_segment_ref(seg);
    }
    pthread_mutex_unlock(&log->segs_lock);
    return seg;
}

int es_log_seal(struct es_log *log, struct es_segment *wal)
{
    char name[40], tmp[PATH_MAX], dst[PATH_MAX], rname[48];
    es_seg_file_name(wal->first_pos, ".seg", name, sizeof(name));
    snprintf(tmp, sizeof(tmp), "%s/%s", log->tmp_dir, name);
    snprintf(dst, sizeof(dst), "%s/%s", log->seg_dir, name);
    snprintf(rname, sizeof(rname), "segments/%s", name);
    struct sealer s = {.log = log, .fd = -1, .what = tmp};
    s.hash = XXH3_createState();
    s.cctx = ZSTD_createCCtx();
    int rc = (s.hash && s.cctx) ? 0 : es_fail(-ENOMEM, "sealing %s", wal->name);
    if (rc == 0) {
        XXH3_64bits_reset(s.hash);
        rc = es_io_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (rc >= 0) {
            s.fd = rc;
            rc = 0;
        }
    }
    struct es_seg_footer foot;
    if (rc == 0)
        rc = write_sealed(&s, wal, &foot);
    if (rc == 0)
        rc = es_io_fsync(s.fd, tmp);
    if (s.fd >= 0) {
        int crc = es_io_close(s.fd);
        if (rc == 0)
            rc = crc;
    }
    if (rc == 0)
        rc = es_io_rename(tmp, dst);
    if (rc == 0)
        rc = es_io_fsync_dir(log->seg_dir);
    struct es_segment *sealed = NULL;
    if (rc == 0) {
        pthread_mutex_lock(&log->segs_lock);
        uint64_t id = ++log->next_id;
        pthread_mutex_unlock(&log->segs_lock);
        rc = es_segment_open_sealed(dst, rname, id, &sealed);
        if (rc) {
            /* what was just written does not read back: keep the wal as the
             * truth and take the sealed file away again */
            es_logf(log->lg, ES_LOG_ERROR, "sealing %s: the sealed file does not read back: %s",
                    wal->name, es_error_detail());
            es_io->unlink(dst);
            es_io_fsync_dir(log->seg_dir);
        }
    }
    if (rc == 0) {
        swap_in(log, wal, sealed);
        /* The sealed segment is durable; the wal is redundant. If this
         * unlink is lost in a crash, the next open removes the wal. */
        es_io->unlink(wal->path);
        es_logf(log->lg, ES_LOG_INFO,
                "sealed %s: positions %llu..%llu, %u blocks, %llu bytes (%llu raw)", rname,
                (unsigned long long)foot.first_pos, (unsigned long long)foot.last_pos,
                foot.n_blocks, (unsigned long long)sealed->file_bytes,
                (unsigned long long)foot.raw_bytes);
    } else {
        es_io->unlink(tmp);
    }
    ZSTD_freeCCtx(s.cctx);
    if (s.hash)
        XXH3_freeState(s.hash);
    free(s.zbuf);
    es_buf_release(&s.blk);
    es_buf_release(&s.index);
    return rc;
}
