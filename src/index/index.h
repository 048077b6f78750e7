/*
 * index.h - the derived indexes of a store. Normative: docs/format.md,
 * "Index files"; docs/architecture.md for threads and locks.
 *
 *   global: position p -> (logical offset of its frame, end of its line in
 *           the ES_VIEW_ALL view)           index/global.idx, 16 B/event
 *   streams: name -> stream number, version, view size, and the chunked
 *           list of its events (position, end of its line in the stream's
 *           ES_VIEW_STREAM view)             index/streams.idx, 16 B/event
 *   checkpoint: which position the files cover, the stream table, and
 *           additive hashes of every entry   index/checkpoint
 *
 * Everything here can be rebuilt from the log; es_index_open() does that
 * when the checkpoint is missing, damaged or disagrees with the log.
 * The postings lists are generic (key -> list of (position, offset)), so
 * secondary indexes (category, event type) can be added as more lists.
 *
 * Threads: one writer thread calls es_index_apply/publish/checkpoint;
 * readers call the span and info functions from any thread. `lock`
 * (a writer-preferring rwlock) is held for reading by every reader call and
 * for writing only when the writer changes structure (a new stream, a
 * longer chunk list, a grown mapping). Readers see only published events.
 */
#ifndef ES_INDEX_INDEX_H
#define ES_INDEX_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/logger.h"
#include "esfs/esfs.h"

struct es_log;
struct es_index;

struct es_index_open_info {
    bool rebuilt;            /* built from the segments */
    const char *why_rebuilt; /* static text */
    uint64_t checkpoint_pos; /* position the loaded checkpoint covered */
    uint64_t caught_up;      /* events indexed from the log after it */
};

/* Opens the indexes in dir (created when missing), or in memory when dir is
 * NULL, and brings them up to the log's last position. */
int es_index_open(const char *dir, struct es_log *log, const struct es_logger *lg,
                  struct es_index **out, struct es_index_open_info *info);
/* For verify: maps the index files in dir read-only and loads the
 * checkpoint, checking it against the log, without catching up, rebuilding
 * or writing anything. ES_ENOTFOUND without a checkpoint; ES_ECORRUPT with
 * *why when it is damaged or disagrees with the log. */
int es_index_open_check(const char *dir, struct es_log *log, struct es_index **out,
                        const char **why);
void es_index_close(struct es_index *ix);

/* ---- writer thread ---- */

/* Working state of a stream, as the writer sees it (published or not). */
struct es_index_stream_state {
    bool exists;
    uint32_t stream_no;
    uint64_t version;
};
void es_index_writer_stream(struct es_index *ix, const char *name, size_t len,
                            struct es_index_stream_state *st);
/* The next stream number the writer will give. */
uint32_t es_index_writer_next_stream_no(struct es_index *ix);

/* Bytes of posting chunks a stream needs to grow from `from` to `to` events. */
uint64_t es_index_chunk_bytes(uint64_t from, uint64_t to);
/* Makes room, on disk, for entries up to last_pos and for extra_post_bytes
 * of new chunks, so es_index_apply() of a batch cannot run out of space
 * after its events are in the log. -ENOSPC and friends. */
int es_index_prepare(struct es_index *ix, uint64_t last_pos, uint64_t extra_post_bytes);
/* Indexes one event just written to the log at logical offset raw_off.
 * Events must come in position order. New streams are created here.
 * *stream_no (if not NULL) gets the event's stream number. */
int es_index_apply(struct es_index *ix, const struct es_event *ev, uint64_t raw_off,
                   uint32_t *stream_no);
/* Makes everything applied up to last_pos visible to readers; fills the
 * stream part of the commit description for the streams numbered in nos. */
void es_index_publish(struct es_index *ix, uint64_t last_pos, const uint32_t *nos, size_t n,
                      struct es_commit_stream *out);
/* Writes a checkpoint covering the published position. */
int es_index_checkpoint(struct es_index *ix);
uint64_t es_index_events_since_checkpoint(struct es_index *ix);

/* ---- readers ---- */

/* One event as the views see it. */
struct es_span {
    uint64_t pos;
    uint64_t raw_off;    /* logical offset of its frame */
    uint64_t start, end; /* its bytes in the view: [start, end) */
    uint64_t version;    /* stream spans only */
};

uint64_t es_index_published_pos(struct es_index *ix);
uint64_t es_index_all_bytes(struct es_index *ix);
uint32_t es_index_n_streams(struct es_index *ix);

int es_index_stream_info(struct es_index *ix, const char *name, size_t len,
                         struct es_stream_info *out);
ssize_t es_index_stream_name(struct es_index *ix, uint32_t no, char *buf, size_t cap);

/* Spans of ES_VIEW_ALL from the event holding byte off (by_pos false) or
 * from position `from` (by_pos true). Returns the number filled (0 at the
 * end of what is published). */
ssize_t es_index_all_spans(struct es_index *ix, bool by_pos, uint64_t from, struct es_span *out,
                           size_t max);
/* The same for a stream's ES_VIEW_STREAM, from byte off or from a version.
 * ES_ENOTFOUND when the stream has no published events. */
ssize_t es_index_stream_spans(struct es_index *ix, const char *name, size_t len, bool by_version,
                              uint64_t from, struct es_span *out, size_t max);

/* ---- checks (verify) ---- */

/* Compares every published entry with the log: positions, offsets, view
 * ends and stream versions. Reports each disagreement; returns the number
 * found (>= 0) or an error. */
typedef void (*es_index_report_fn)(void *arg, const char *line);
int64_t es_index_check_against_log(struct es_index *ix, es_index_report_fn report, void *arg);

#endif
