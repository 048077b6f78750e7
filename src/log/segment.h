/*
 * segment.h - one segment file, active (wal/) or sealed (segments/), as a
 * reference-counted object that any thread may read.
 *
 * Ownership: es_segment_ref/unref; the file descriptor is closed with the
 * last reference, so a reader keeps reading a wal that was sealed and
 * unlinked meanwhile.
 *
 * Invariants: a sealed segment never changes. An active segment only grows,
 * by its single writer; bytes below `durable_raw` (published by the writer
 * with release order) never change again.
 */
#ifndef ES_LOG_SEGMENT_H
#define ES_LOG_SEGMENT_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "format/segment_format.h"

struct es_block_cache;

struct es_segment {
    atomic_int refs;
    enum es_seg_kind kind;
    uint64_t id; /* unique per open log: block cache key */
    uint64_t first_pos;
    int fd;
    char path[PATH_MAX];
    char name[40]; /* file name, for reports */

    /* active: last position and logical size written so far (writer) */
    _Atomic uint64_t last_pos;  /* first_pos - 1 when empty */
    _Atomic uint64_t raw_bytes; /* logical bytes of whole frames */
    int64_t last_ts_ns;

    /* sealed */
    struct es_seg_footer footer;
    struct es_block_entry *blocks;
    uint32_t n_blocks;
    uint64_t file_bytes;
};

void es_segment_ref(struct es_segment *seg);
void es_segment_unref(struct es_segment *seg);

/* Opens a sealed segment at path: checks the header, footer and block index
 * (not the blocks: those are checked when read, and by verify). */
int es_segment_open_sealed(const char *path, const char *name, uint64_t id,
                           struct es_segment **out);

/* Index of the block holding logical offset off, or -1. */
int64_t es_segment_block_for_offset(const struct es_segment *seg, uint64_t off);
/* Index of the block holding position pos, or -1. */
int64_t es_segment_block_for_pos(const struct es_segment *seg, uint64_t pos);

/* Reads block i of a sealed segment into dst (raw_len bytes), checking its
 * stored check and decompressing. ES_ECORRUPT on any mismatch. */
int es_segment_read_block(const struct es_segment *seg, uint32_t i, unsigned char *dst);

/* Checks every byte of a sealed segment against the footer's file check. */
int es_segment_check_file(const struct es_segment *seg);

#endif
