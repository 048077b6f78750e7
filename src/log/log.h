/*
 * log.h - the log: the ordered set of segments of a store directory.
 *
 *   STORE/segments/<first_pos>.seg   sealed segments (immutable, zstd blocks)
 *   STORE/wal/<first_pos>.wal        the active segment, and rotated ones
 *                                    waiting to be sealed
 *   STORE/tmp/                       sealed segments being written
 *   STORE/lost+found/                bytes cut from a torn tail, kept
 *
 * Positions run 1, 2, 3, ... through the segments in name order without
 * gaps. Only the last wal file may end in a torn frame; opening read-write
 * cuts it (and keeps the cut bytes in lost+found/). Normative:
 * docs/format.md; threads: docs/architecture.md.
 *
 * Threads: es_log_write/sync/rotate are called by the store's single writer
 * thread; es_log_seal by its sealer thread; readers and scans by any thread.
 * `segs_lock` (inside) protects the segment list only.
 */
#ifndef ES_LOG_LOG_H
#define ES_LOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/logger.h"
#include "esfs/esfs.h"
#include "segment.h"

struct es_log;
struct es_block;

struct es_log_options {
    const char *dir; /* the store directory */
    bool read_only;
    bool compress;
    int compress_level;
    size_t cache_bytes;
    const struct es_logger *logger;
};

/* What opening found and did. */
struct es_log_recovery {
    uint64_t cut_bytes;        /* torn-tail bytes cut from the active segment */
    uint64_t cut_offset;       /* file offset where the cut started */
    uint32_t cut_frames_after; /* valid-looking frames found inside the cut */
    uint32_t pending_seals;    /* rotated wal files still to seal */
    uint32_t stale_wals_removed;
};

/* Opens the log of the store at o->dir (creating segments/, wal/ and tmp/ in
 * a read-write open of an empty or new directory). */
int es_log_open(const struct es_log_options *o, struct es_log **out, struct es_log_recovery *rec);
void es_log_close(struct es_log *log);

/* The last position written (0: empty) and its timestamp. */
uint64_t es_log_last_pos(struct es_log *log);
int64_t es_log_last_ts(struct es_log *log);
void es_log_counts(struct es_log *log, uint32_t *n_sealed, uint64_t *sealed_bytes);
void es_log_cache_stats(struct es_log *log, uint64_t *hits, uint64_t *misses);

/* ---- reading files directly (recovery, verify) ---- */

/* Called for each valid frame of a wal file; nonzero stops the read. */
typedef int (*es_wal_frame_fn)(void *arg, const struct es_event *ev, uint64_t file_off, size_t len);
/* Reads the frames of the wal file open at fd (size bytes, first position
 * first_pos) from just after its header, calling fn for each, until the
 * first frame that is invalid, cut short or out of position order. Sets
 * *valid_end (file offset where the valid frames end), *last_pos (first_pos
 * - 1 when none) and *why (NULL when the file ends cleanly). */
int es_wal_read(int fd, const char *name, uint64_t first_pos, uint64_t size, es_wal_frame_fn fn,
                void *arg, uint64_t *valid_end, uint64_t *last_pos, const char **why);
/* Frames that decode validly anywhere in p[0..n) (after damage, many of them
 * hint at corruption rather than a torn write). */
uint32_t es_log_count_valid_frames(const unsigned char *p, size_t n);

/* ---- writer thread ---- */

/* Logical bytes in the active segment. */
uint64_t es_log_active_bytes(struct es_log *log);
/* Appends whole frames (positions es_log_last_pos()+1 .. last_pos) to the
 * active segment; *raw_off gets the logical offset of the first. On failure
 * the file is cut back to where it was and -errno is returned; if that cut
 * fails too, ES_EFAILED (the store must stop appending). */
int es_log_write(struct es_log *log, const void *frames, size_t len, uint64_t last_pos,
                 int64_t last_ts, uint64_t *raw_off);
/* fdatasync of the active segment. */
int es_log_sync(struct es_log *log);
/* Starts a new active segment at last_pos + 1 after syncing the current
 * one, which joins the queue of segments to seal. Nothing to do (0) when the
 * active segment is empty. */
int es_log_rotate(struct es_log *log);

/* ---- sealer thread ---- */

/* The oldest rotated wal waiting to be sealed (a reference), or NULL. */
struct es_segment *es_log_next_to_seal(struct es_log *log);
/* Whether a rotated wal waits to be sealed. */
bool es_log_has_pending_seal(struct es_log *log);
/* The last position held by sealed segments (0: none). */
uint64_t es_log_sealed_through(struct es_log *log);
/* Writes wal as a sealed segment into segments/ (tmp, fsync, rename, fsync
 * of the directory), swaps it in for readers and removes the wal file. */
int es_log_seal(struct es_log *log, struct es_segment *wal);

/* ---- readers (any thread) ---- */

/* The segment holding pos (a reference), or NULL. */
struct es_segment *es_log_segment_for(struct es_log *log, uint64_t pos);

/* Random access to frames whose position and logical offset are known
 * (from the index). Keeps the last block or read-ahead chunk for the next
 * call, so sequential use is cheap. */
struct es_log_reader {
    struct es_log *log;
    struct es_segment *seg;
    struct es_block *blk;
    int64_t blk_idx;
    struct es_buf buf; /* read-ahead from an active segment */
    uint64_t buf_off;  /* logical offset of buf.data[0] */
};
void es_log_reader_init(struct es_log_reader *r, struct es_log *log);
/* Decodes the frame of position pos at logical offset raw_off. *ev points
 * into the reader and is valid until its next call. ES_ECORRUPT when the
 * bytes there are not a valid frame of that position. */
int es_log_reader_frame(struct es_log_reader *r, uint64_t pos, uint64_t raw_off,
                        struct es_event *ev, size_t *frame_len);
void es_log_reader_release(struct es_log_reader *r);

/* Sequential scan of every frame from a position to the log's end as it was
 * at init, without the block cache. */
struct es_log_scan {
    struct es_log *log;
    struct es_segment **segs; /* references, in order */
    size_t n_segs, seg_i;
    unsigned char *buf;
    size_t buf_len, buf_cap, cur; /* bytes in buf, read cursor */
    uint64_t buf_raw_off;         /* logical offset of buf[0] in segs[seg_i] */
    uint32_t blk_i;               /* next block to load (sealed) */
    uint64_t next_pos, end_pos;
};
/* raw_hint: logical offset of from_pos in its segment if known, else
 * UINT64_MAX. */
int es_log_scan_init(struct es_log_scan *sc, struct es_log *log, uint64_t from_pos,
                     uint64_t raw_hint);
/* 1 and the next frame (valid until the next call), 0 at the end, or an
 * error (ES_ECORRUPT with detail naming file and offset). */
int es_log_scan_next(struct es_log_scan *sc, struct es_event *ev, uint64_t *raw_off,
                     size_t *frame_len);
void es_log_scan_release(struct es_log_scan *sc);

#endif
