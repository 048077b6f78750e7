/*
 * store_internal.h - the store's state, shared by the files of src/store.
 *
 * Threads (docs/architecture.md):
 *   callers   validate and copy an append (JSON inspection included), queue
 *             it under q_lock, and return;
 *   writer    takes everything queued, assigns positions and versions,
 *             writes one buffer, fdatasyncs once, indexes, publishes, then
 *             runs completion callbacks and the commit hook;
 *   sealer    turns rotated wal files into sealed segments;
 *   readers   any thread: index spans + log reader, up to the published
 *             position only.
 * Lock order: q_lock and seal_lock are leaves; the index's rwlock and the
 * log's segs_lock are never held while taking q_lock or seal_lock, and no
 * store lock is held while a callback or the hook runs.
 */
#ifndef ES_STORE_STORE_INTERNAL_H
#define ES_STORE_STORE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include "base/buf.h"
#include "base/logger.h"
#include "esfs/esfs.h"
#include "index/index.h"
#include "log/log.h"

/* One event of a queued append; offsets into the request's data. */
struct append_event {
    size_t payload_off, type_off;
    uint32_t payload_len, type_len;
    bool is_json;
};

struct append_req {
    struct append_req *next;
    enum { REQ_APPEND, REQ_SEAL, REQ_SYNC } kind;
    const char *stream;
    size_t stream_len;
    size_t n_events;
    struct append_event *events;
    unsigned char *data; /* one allocation: name, payloads, types */
    size_t frame_bytes;  /* sum of the frame sizes */
    int64_t expected;
    es_append_done_fn done;
    void *done_arg;
    int64_t queued_ns; /* monotonic */
    /* filled by the writer */
    int rc;
    struct es_append_result res;
};

struct seal_waiter {
    struct seal_waiter *next;
    uint64_t target_pos; /* done once everything <= target_pos is sealed */
    es_append_done_fn done;
    void *arg;
};

/* One group commit handed from the writer to the acker (acker.c). */
struct ack_batch {
    struct ack_batch *next;
    struct append_req *appends; /* owned: freed after their callbacks */
    size_t n_published;
    uint64_t log_bytes;
    struct es_commit commit;          /* streams points into `streams` */
    struct es_commit_stream *streams; /* a copy of the writer's array */
    /* (pushed batches are one allocation with their streams after them) */
};

struct store_metrics {
    pthread_mutex_t lock; /* protects everything in this struct */
    struct es_metrics m;
};

struct es_store {
    struct es_options opt;
    struct es_logger lg;
    char path[PATH_MAX];
    int lock_fd;
    struct es_log *log;
    struct es_index *ix;

    /* q_lock protects q_head, q_tail, closing, writer_done. */
    pthread_mutex_t q_lock;
    pthread_cond_t q_cond;
    struct append_req *q_head, *q_tail;
    bool closing;
    bool writer_running;
    pthread_t writer;

    _Atomic bool poisoned;
    /* timestamp of the last published event (the log's last one may not
     * be published yet, or ever, when its sync failed) */
    _Atomic int64_t pub_last_ts;

    /* seal_lock protects seal_waiters, sealer_stop, sealed_through. */
    pthread_mutex_t seal_lock;
    pthread_cond_t seal_cond;
    struct seal_waiter *seal_waiters;
    bool sealer_stop;
    bool sealer_running;
    uint64_t sealed_through;
    pthread_t sealer;

    /* ack_lock protects ack_head, ack_tail, ack_stop. */
    pthread_mutex_t ack_lock;
    pthread_cond_t ack_cond;
    struct ack_batch *ack_head, *ack_tail;
    bool ack_stop;
    bool acker_running;
    pthread_t acker;

    /* wait_lock/wait_cond: es_store_wait() sleepers, woken per commit.
     * wait_lock protects n_waiters: close waits until it is 0 before it
     * frees what the sleepers look at. */
    pthread_mutex_t wait_lock;
    pthread_cond_t wait_cond;
    unsigned n_waiters;

    struct store_metrics metrics;

    /* writer-thread scratch */
    struct es_buf frames;
    int64_t last_sync_ns; /* monotonic time of the last fdatasync */
    bool unsynced;        /* written since the last fdatasync */
};

int64_t es_mono_ns(void);
/* es_store_open, after removing the index files under the store lock. */
int es_store_open_reindex(const char *path, const struct es_options *o, struct es_store **out);

/* acker.c: completion callbacks, waiter wake-ups and the commit hook of
 * each group commit, in commit order, off the writer thread */
void *es_acker_main(void *arg);
void es_acker_push(struct es_store *s, struct ack_batch *b);
/* Runs a batch's acknowledgements and frees its appends (not b itself). */
void es_ack_batch_run(struct es_store *s, struct ack_batch *b);

/* writer.c */
void *es_writer_main(void *arg);
/* sealer.c */
void *es_sealer_main(void *arg);
/* Registers w with the sealer, or completes it now if already sealed. */
void es_sealer_add_waiter(struct es_store *s, struct seal_waiter *w);
void es_sealer_kick(struct es_store *s);

/* metrics.c */
void es_hist_add(struct es_histogram *h, const double *bounds, double v);

#endif
