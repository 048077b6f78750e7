/*
 * segment.c - segment objects: opening a sealed segment (header, footer and
 * block index checked against each other), reading one block, checking a
 * whole file. Normative: docs/format.md, "Sealed segment".
 *
 * A sealed segment is valid if and only if: its header is valid with kind
 * sealed; its footer is valid; the file is exactly index_offset + n_blocks *
 * 48 + 128 bytes; the block index matches index_check; block i starts at
 * file offset 64 + sum(stored_len of blocks before it), at logical offset
 * sum(raw_len before it) and at position first_pos + sum(n_events before
 * it); the blocks end at index_offset; the raw lengths sum to raw_bytes and
 * the event counts to n_events; every block matches its check and decodes to
 * exactly raw_len bytes of valid, consecutive frames; and the file matches
 * file_check.
 */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "base/err.h"
#include "base/hash.h"
#include "base/io.h"
#include "format/frame.h"

void es_segment_ref(struct es_segment *seg)
{
    atomic_fetch_add_explicit(&seg->refs, 1, memory_order_relaxed);
}

void es_segment_unref(struct es_segment *seg)
{
    if (!seg)
        return;
    if (atomic_fetch_sub_explicit(&seg->refs, 1, memory_order_acq_rel) != 1)
        return;
    es_io_close(seg->fd);
    free(seg->blocks);
    free(seg);
}

static int check_block_index(struct es_segment *seg, const char **why)
{
    const struct es_seg_footer *f = &seg->footer;
    uint64_t file_off = ES_SEG_HEADER_BYTES, raw_off = 0, pos = f->first_pos;
    for (uint32_t i = 0; i < seg->n_blocks; i++) {
        const struct es_block_entry *e = &seg->blocks[i];
        if (e->file_offset != file_off || e->raw_offset != raw_off || e->first_pos != pos) {
            *why = "block index entries do not follow each other";
            return ES_ECORRUPT;
        }
        file_off += e->stored_len;
        raw_off += e->raw_len;
        pos += e->n_events;
    }
    if (file_off != f->index_offset || raw_off != f->raw_bytes || pos != f->last_pos + 1) {
        *why = "block index does not add up to the footer";
        return ES_ECORRUPT;
    }
    return 0;
}

int es_segment_open_sealed(const char *path, const char *name, uint64_t id, struct es_segment **out)
{
    struct es_segment *seg = calloc(1, sizeof(*seg));
    if (!seg)
        return es_fail(-ENOMEM, "opening %s", name);
    atomic_init(&seg->refs, 1);
    seg->kind = ES_SEG_SEALED;
    seg->id = id;
    seg->fd = -1;
    snprintf(seg->path, sizeof(seg->path), "%s", path);
    snprintf(seg->name, sizeof(seg->name), "%s", name);
    const char *why = NULL;
    unsigned char hdr[ES_SEG_HEADER_BYTES], foot[ES_SEG_FOOTER_BYTES];
    unsigned char *idx = NULL;
    struct es_seg_header h;
    int rc = es_io_open(path, O_RDONLY, 0);
    if (rc < 0)
        goto fail;
    seg->fd = rc;
    if ((rc = es_io_file_size(seg->fd, &seg->file_bytes, name)) != 0)
        goto fail;
    if (seg->file_bytes < ES_SEG_HEADER_BYTES + ES_SEG_FOOTER_BYTES) {
        rc = es_fail(ES_ECORRUPT, "%s: %llu bytes is too short for a sealed segment", name,
                     (unsigned long long)seg->file_bytes);
        goto fail;
    }
    if ((rc = es_io_pread_exact(seg->fd, hdr, sizeof(hdr), 0, name)) != 0)
        goto fail;
    if ((rc = es_seg_header_decode(hdr, &h, &why)) != 0) {
        rc = es_fail(rc, "%s offset 0: %s", name, why);
        goto fail;
    }
    if (h.kind != ES_SEG_SEALED) {
        rc = es_fail(ES_ECORRUPT, "%s offset 0: header is not of a sealed segment", name);
        goto fail;
    }
    uint64_t foot_off = seg->file_bytes - ES_SEG_FOOTER_BYTES;
    if ((rc = es_io_pread_exact(seg->fd, foot, sizeof(foot), foot_off, name)) != 0)
        goto fail;
    if ((rc = es_seg_footer_decode(foot, &seg->footer, &why)) != 0) {
        rc = es_fail(rc, "%s offset %llu: %s", name, (unsigned long long)foot_off, why);
        goto fail;
    }
    const struct es_seg_footer *f = &seg->footer;
    uint64_t idx_bytes = (uint64_t)f->n_blocks * ES_SEG_BLOCK_ENTRY_BYTES;
    if (f->first_pos != h.first_pos || f->index_offset + idx_bytes != foot_off) {
        rc = es_fail(ES_ECORRUPT, "%s offset %llu: footer disagrees with header or file size", name,
                     (unsigned long long)foot_off);
        goto fail;
    }
    idx = malloc(idx_bytes);
    seg->blocks = calloc(f->n_blocks, sizeof(*seg->blocks));
    if (!idx || !seg->blocks) {
        rc = es_fail(-ENOMEM, "block index of %s", name);
        goto fail;
    }
    if ((rc = es_io_pread_exact(seg->fd, idx, idx_bytes, f->index_offset, name)) != 0)
        goto fail;
    if (es_hash64(idx, idx_bytes) != f->index_check) {
        rc = es_fail(ES_ECORRUPT, "%s offset %llu: block index check mismatch", name,
                     (unsigned long long)f->index_offset);
        goto fail;
    }
    seg->n_blocks = f->n_blocks;
    for (uint32_t i = 0; i < f->n_blocks; i++) {
        if ((rc = es_block_entry_decode(idx + (size_t)i * ES_SEG_BLOCK_ENTRY_BYTES, &seg->blocks[i],
                                        &why)) != 0) {
            rc = es_fail(
                rc, "%s offset %llu: %s", name,
                (unsigned long long)(f->index_offset + (uint64_t)i * ES_SEG_BLOCK_ENTRY_BYTES),
                why);
            goto fail;
        }
    }
    if ((rc = check_block_index(seg, &why)) != 0) {
        rc = es_fail(rc, "%s offset %llu: %s", name, (unsigned long long)f->index_offset, why);
        goto fail;
    }
    free(idx);
    seg->first_pos = f->first_pos;
    atomic_init(&seg->last_pos, f->last_pos);
    atomic_init(&seg->raw_bytes, f->raw_bytes);
    seg->last_ts_ns = f->last_ts_ns;
    *out = seg;
    return 0;
fail:
    free(idx);
    es_segment_unref(seg);
    return rc;
}

int64_t es_segment_block_for_offset(const struct es_segment *seg, uint64_t off)
{
    uint32_t lo = 0, hi = seg->n_blocks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct es_block_entry *e = &seg->blocks[mid];
        if (off < e->raw_offset)
            hi = mid;
        else if (off >= e->raw_offset + e->raw_len)
            lo = mid + 1;
        else
            return mid;
    }
    return -1;
}

int64_t es_segment_block_for_pos(const struct es_segment *seg, uint64_t pos)
{
    uint32_t lo = 0, hi = seg->n_blocks;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct es_block_entry *e = &seg->blocks[mid];
        if (pos < e->first_pos)
            hi = mid;
        else if (pos >= e->first_pos + e->n_events)
            lo = mid + 1;
        else
            return mid;
    }
    return -1;
}

static pthread_key_t dctx_key;
static pthread_once_t dctx_once = PTHREAD_ONCE_INIT;

static void dctx_free(void *p)
{
    ZSTD_freeDCtx(p);
}

static void dctx_key_init(void)
{
    pthread_key_create(&dctx_key, dctx_free);
}

/* One decompression context per thread, freed when the thread ends. */
static ZSTD_DCtx *thread_dctx(void)
{
    pthread_once(&dctx_once, dctx_key_init);
    ZSTD_DCtx *d = pthread_getspecific(dctx_key);
    if (!d) {
        d = ZSTD_createDCtx();
        if (d)
            pthread_setspecific(dctx_key, d);
    }
    return d;
}

int es_segment_read_block(const struct es_segment *seg, uint32_t i, unsigned char *dst)
{
    const struct es_block_entry *e = &seg->blocks[i];
    unsigned char *stored = dst;
    if (e->codec == ES_CODEC_ZSTD) {
        stored = malloc(e->stored_len);
        if (!stored)
            return es_fail(-ENOMEM, "reading block %u of %s", i, seg->name);
    }
    int rc = es_io_pread_exact(seg->fd, stored, e->stored_len, e->file_offset, seg->name);
    if (rc == 0 && es_hash64(stored, e->stored_len) != e->check)
        rc = es_fail(ES_ECORRUPT, "%s offset %llu: block %u check mismatch", seg->name,
                     (unsigned long long)e->file_offset, i);
    if (rc == 0 && e->codec == ES_CODEC_ZSTD) {
        ZSTD_DCtx *d = thread_dctx();
        if (!d) {
            rc = es_fail(-ENOMEM, "zstd context");
        } else {
            size_t n = ZSTD_decompressDCtx(d, dst, e->raw_len, stored, e->stored_len);
            if (ZSTD_isError(n) || n != e->raw_len)
                rc =
                    es_fail(ES_ECORRUPT, "%s offset %llu: block %u does not decompress to %u bytes",
                            seg->name, (unsigned long long)e->file_offset, i, e->raw_len);
        }
    }
    if (stored != dst)
        free(stored);
    return rc;
}

int es_segment_check_file(const struct es_segment *seg)
{
    XXH3_state_t *st = XXH3_createState();
    unsigned char *buf = malloc(1 << 20);
    int rc = 0;
    if (!st || !buf) {
        rc = es_fail(-ENOMEM, "checking %s", seg->name);
        goto out;
    }
    XXH3_64bits_reset(st);
    uint64_t end = seg->file_bytes - ES_SEG_FOOTER_BYTES;
    for (uint64_t off = 0; off < end;) {
        size_t n = end - off < (1 << 20) ? (size_t)(end - off) : (1 << 20);
        if ((rc = es_io_pread_exact(seg->fd, buf, n, off, seg->name)) != 0)
            goto out;
        XXH3_64bits_update(st, buf, n);
        off += n;
    }
    if ((uint64_t)XXH3_64bits_digest(st) != seg->footer.file_check)
        rc = es_fail(ES_ECORRUPT, "%s: whole-file check mismatch", seg->name);
out:
    free(buf);
    if (st)
        XXH3_freeState(st);
    return rc;
}
