/*
 * log_internal.h - the log's state, shared by the files of src/log only.
 */
#ifndef ES_LOG_LOG_INTERNAL_H
#define ES_LOG_LOG_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include "block_cache.h"
#include "log.h"

struct es_log {
    struct es_log_options opt;
    const struct es_logger *lg;
    char dir[PATH_MAX];
    char seg_dir[PATH_MAX];
    char wal_dir[PATH_MAX];
    char tmp_dir[PATH_MAX];
    char lost_dir[PATH_MAX];

    /* segs_lock protects: segs, n_segs, cap_segs, to_seal, n_to_seal,
     * n_sealed, sealed_bytes, next_id. */
    pthread_mutex_t segs_lock;
    struct es_segment **segs; /* sealed..., rotated wals..., active; by position */
    size_t n_segs, cap_segs;
    struct es_segment **to_seal; /* rotated wals, oldest first */
    size_t n_to_seal, cap_to_seal;
    uint32_t n_sealed;
    uint64_t sealed_bytes;
    uint64_t next_id;

    /* the writer thread's: */
    struct es_segment *active; /* NULL when read-only */
    _Atomic uint64_t last_pos;
    _Atomic int64_t last_ts;

    struct es_block_cache *cache;
};

/* Adds seg at the end of the list (takes over the reference). */
int es_log_push_segment(struct es_log *log, struct es_segment *seg);
/* Queues a rotated wal for sealing (takes a new reference). */
int es_log_queue_seal(struct es_log *log, struct es_segment *wal);
/* Creates wal/<first_pos>.wal with its header, durably. */
int es_log_create_wal(struct es_log *log, uint64_t first_pos, struct es_segment **out);

#endif
