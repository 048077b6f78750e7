/*
 * segment_format.c - codecs of the segment header, block index entries and
 * footer, byte for byte as in docs/format.md. No I/O.
 */
#include "segment_format.h"

#include <stdio.h>
#include <string.h>

#include "base/endian.h"
#include "base/err.h"
#include "base/hash.h"
#include "frame.h"

/* The largest block a writer makes: a block is cut before it passes
 * ES_SEG_BLOCK_TARGET_BYTES, so a larger one holds a single frame, and no
 * frame is larger than this. Readers allocate raw_len bytes for a block (and
 * stored_len, which a writer only uses when it is smaller), so the bounds are
 * checked before anyone trusts them. */
#define BLOCK_RAW_MAX es_frame_size(ES_STREAM_NAME_MAX, ES_TYPE_MAX, ES_MAX_EVENT_BYTES_LIMIT)

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

void es_seg_header_encode(const struct es_seg_header *h, unsigned char out[ES_SEG_HEADER_BYTES])
{
    memset(out, 0, ES_SEG_HEADER_BYTES);
    memcpy(out, ES_SEG_HEADER_MAGIC, 8);
    es_put32(out + 8, h->version);
    es_put32(out + 12, h->kind);
    es_put64(out + 16, h->first_pos);
    es_put64(out + 24, (uint64_t)h->created_ns);
    es_put64(out + 56, es_hash64(out, 56));
}

int es_seg_header_decode(const unsigned char in[ES_SEG_HEADER_BYTES], struct es_seg_header *h,
                         const char **why)
{
    if (memcmp(in, ES_SEG_HEADER_MAGIC, 8) != 0) {
        *why = "bad segment header magic";
        return ES_ECORRUPT;
    }
    if (es_le64(in + 56) != es_hash64(in, 56)) {
        *why = "segment header check mismatch";
        return ES_ECORRUPT;
    }
    h->version = es_le32(in + 8);
    h->kind = es_le32(in + 12);
    h->first_pos = es_le64(in + 16);
    h->created_ns = (int64_t)es_le64(in + 24);
    if (h->version != ES_FORMAT_VERSION) {
        *why = "segment format version not supported";
        return ES_EFORMAT;
    }
    if ((h->kind != ES_SEG_ACTIVE && h->kind != ES_SEG_SEALED) || h->first_pos == 0 ||
        !all_zero(in + 32, 24)) {
        *why = "segment header field out of range";
        return ES_ECORRUPT;
    }
    return 0;
}

void es_block_entry_encode(const struct es_block_entry *e,
                           unsigned char out[ES_SEG_BLOCK_ENTRY_BYTES])
{
    memset(out, 0, ES_SEG_BLOCK_ENTRY_BYTES);
    es_put64(out, e->first_pos);
    es_put64(out + 8, e->raw_offset);
    es_put64(out + 16, e->file_offset);
    es_put32(out + 24, e->stored_len);
    es_put32(out + 28, e->raw_len);
    es_put32(out + 32, e->n_events);
    out[36] = e->codec;
    es_put64(out + 40, e->check);
}

int es_block_entry_decode(const unsigned char in[ES_SEG_BLOCK_ENTRY_BYTES],
                          struct es_block_entry *e, const char **why)
{
    e->first_pos = es_le64(in);
    e->raw_offset = es_le64(in + 8);
    e->file_offset = es_le64(in + 16);
    e->stored_len = es_le32(in + 24);
    e->raw_len = es_le32(in + 28);
    e->n_events = es_le32(in + 32);
    e->codec = in[36];
    e->check = es_le64(in + 40);
    if (e->first_pos == 0 || e->n_events == 0 || e->raw_len == 0 || e->raw_len > BLOCK_RAW_MAX ||
        e->stored_len == 0 || (e->codec != ES_CODEC_NONE && e->codec != ES_CODEC_ZSTD) ||
        e->stored_len > e->raw_len || !all_zero(in + 37, 3) ||
        (e->codec == ES_CODEC_NONE && e->stored_len != e->raw_len)) {
        *why = "block index entry out of range";
        return ES_ECORRUPT;
    }
    return 0;
}

void es_seg_footer_encode(const struct es_seg_footer *f, unsigned char out[ES_SEG_FOOTER_BYTES])
{
    memset(out, 0, ES_SEG_FOOTER_BYTES);
    memcpy(out, ES_SEG_FOOTER_MAGIC, 8);
    es_put32(out + 8, f->version);
    es_put32(out + 12, f->n_blocks);
    es_put64(out + 16, f->first_pos);
    es_put64(out + 24, f->last_pos);
    es_put64(out + 32, f->n_events);
    es_put64(out + 40, f->raw_bytes);
    es_put64(out + 48, f->index_offset);
    es_put64(out + 56, (uint64_t)f->first_ts_ns);
    es_put64(out + 64, (uint64_t)f->last_ts_ns);
    es_put64(out + 72, f->index_check);
    es_put64(out + 80, f->file_check);
    es_put64(out + 120, es_hash64(out, 120));
}

int es_seg_footer_decode(const unsigned char in[ES_SEG_FOOTER_BYTES], struct es_seg_footer *f,
                         const char **why)
{
    if (memcmp(in, ES_SEG_FOOTER_MAGIC, 8) != 0) {
        *why = "bad segment footer magic";
        return ES_ECORRUPT;
    }
    if (es_le64(in + 120) != es_hash64(in, 120)) {
        *why = "segment footer check mismatch";
        return ES_ECORRUPT;
    }
    f->version = es_le32(in + 8);
    f->n_blocks = es_le32(in + 12);
    f->first_pos = es_le64(in + 16);
    f->last_pos = es_le64(in + 24);
    f->n_events = es_le64(in + 32);
    f->raw_bytes = es_le64(in + 40);
    f->index_offset = es_le64(in + 48);
    f->first_ts_ns = (int64_t)es_le64(in + 56);
    f->last_ts_ns = (int64_t)es_le64(in + 64);
    f->index_check = es_le64(in + 72);
    f->file_check = es_le64(in + 80);
    if (f->version != ES_FORMAT_VERSION) {
        *why = "segment footer format version not supported";
        return ES_EFORMAT;
    }
    if (f->n_blocks == 0 || f->first_pos == 0 || f->last_pos < f->first_pos ||
        f->n_events != f->last_pos - f->first_pos + 1 || f->raw_bytes == 0 ||
        f->index_offset < ES_SEG_HEADER_BYTES || !all_zero(in + 88, 32)) {
        *why = "segment footer field out of range";
        return ES_ECORRUPT;
    }
    return 0;
}

void es_seg_file_name(uint64_t first_pos, const char *suffix, char *buf, size_t cap)
{
    snprintf(buf, cap, "%020llu%s", (unsigned long long)first_pos, suffix);
}

bool es_seg_file_name_parse(const char *name, const char *suffix, uint64_t *first_pos)
{
    size_t sl = strlen(suffix);
    if (strlen(name) != ES_SEG_NAME_DIGITS + sl || strcmp(name + ES_SEG_NAME_DIGITS, suffix) != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < ES_SEG_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v == 0)
        return false;
    *first_pos = v;
    return true;
}
