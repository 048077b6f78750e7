/*
 * segment_format.h - segment header, sealed-segment block index and footer.
 * Normative: docs/format.md, "Segment files".
 *
 * Active segment (wal/<first_pos>.wal):  header | frame | frame | ...
 * Sealed segment (segments/<first_pos>.seg):
 *     header | block 0 | ... | block n-1 | block index | footer
 * A block holds whole frames (about 64 KiB of them), stored raw or as one
 * zstd frame. The "logical offset" of a frame is its offset in the
 * concatenation of all frames of the segment, which is the same before and
 * after sealing.
 */
#ifndef ES_FORMAT_SEGMENT_FORMAT_H
#define ES_FORMAT_SEGMENT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esfs/esfs.h"

#define ES_SEG_HEADER_BYTES       64u
#define ES_SEG_BLOCK_ENTRY_BYTES  48u
#define ES_SEG_FOOTER_BYTES       128u
#define ES_SEG_HEADER_MAGIC       "ESFSSEG\0"
#define ES_SEG_FOOTER_MAGIC       "ESFSEND\0"
#define ES_SEG_BLOCK_TARGET_BYTES (64u << 10)
#define ES_SEG_NAME_DIGITS        20

enum es_seg_kind { ES_SEG_ACTIVE = 1, ES_SEG_SEALED = 2 };
enum es_block_codec { ES_CODEC_NONE = 0, ES_CODEC_ZSTD = 1 };

struct es_seg_header {
    uint32_t version;
    uint32_t kind;
    uint64_t first_pos;
    int64_t created_ns;
};

struct es_block_entry {
    uint64_t first_pos;
    uint64_t raw_offset;  /* logical offset of its first frame */
    uint64_t file_offset; /* where the stored bytes start */
    uint32_t stored_len;
    uint32_t raw_len;
    uint32_t n_events;
    uint8_t codec;
    uint64_t check; /* XXH3-64 of the stored bytes */
};

struct es_seg_footer {
    uint32_t version;
    uint32_t n_blocks;
    uint64_t first_pos, last_pos, n_events;
    uint64_t raw_bytes;
    uint64_t index_offset;
    int64_t first_ts_ns, last_ts_ns;
    uint64_t index_check; /* XXH3-64 of the block index bytes */
    uint64_t file_check;  /* XXH3-64 of every byte before the footer */
};

void es_seg_header_encode(const struct es_seg_header *h, unsigned char out[ES_SEG_HEADER_BYTES]);
/* 0, ES_EFORMAT (unknown version), or ES_ECORRUPT with *why. */
int es_seg_header_decode(const unsigned char in[ES_SEG_HEADER_BYTES], struct es_seg_header *h,
                         const char **why);

void es_block_entry_encode(const struct es_block_entry *e,
                           unsigned char out[ES_SEG_BLOCK_ENTRY_BYTES]);
int es_block_entry_decode(const unsigned char in[ES_SEG_BLOCK_ENTRY_BYTES],
                          struct es_block_entry *e, const char **why);

void es_seg_footer_encode(const struct es_seg_footer *f, unsigned char out[ES_SEG_FOOTER_BYTES]);
int es_seg_footer_decode(const unsigned char in[ES_SEG_FOOTER_BYTES], struct es_seg_footer *f,
                         const char **why);

/* "<20-digit first_pos><suffix>" into buf (>= 32 bytes). */
void es_seg_file_name(uint64_t first_pos, const char *suffix, char *buf, size_t cap);
/* Parses such a name; false if name is not exactly that shape. */
bool es_seg_file_name_parse(const char *name, const char *suffix, uint64_t *first_pos);

#endif
