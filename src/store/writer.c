/*
 * writer.c - the single writer thread and its group commit.
 *
 * One turn of the loop takes everything queued and:
 *   1. checks each append's expected version against the stream's version
 *      (including earlier appends of the same turn), assigns positions,
 *      versions and one timestamp (never below the log's last), and encodes
 *      the frames of all accepted appends into one buffer;
 *   2. reserves index space, writes the buffer with one write, and under
 *      ES_SYNC_ALWAYS fdatasyncs once for everyone in the turn;
 *   3. indexes the events and publishes them (readers see them from here);
 *   4. hands the turn to the acker thread, which runs every completion
 *      callback, then the commit hook, while this thread goes on with the
 *      next turn (acker.c).
 * An append is all or nothing: it is refused whole (conflict) or its frames
 * are in the one buffer whose write and sync decide for all of them.
 *
 * Failure rules (docs/recovery.md): a failed write is cut back and fails
 * the turn's appends with its errno (-ENOSPC...), the store goes on; a
 * failed fdatasync, a failed cut or an index failure after the write
 * poisons the store: appends fail with ES_EFAILED from then on, reads go on.
 */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/hash.h"
#include "base/io.h"
#include "format/frame.h"

#define MAX_TURN_BYTES ((size_t)16 << 20)

struct overlay_slot {
    const char *name;
    size_t len;
    uint64_t version; /* the stream's version as the turn goes */
    uint32_t no;      /* filled after indexing */
    bool used;
};

struct turn {
    struct append_req *appends, **appends_tail;
    struct append_req *controls, **controls_tail;
    struct overlay_slot *slots;
    size_t cap;
    struct es_event *evs;
    size_t n_evs, cap_evs;
    uint32_t *nos;
    size_t n_nos;
    struct es_commit_stream *commit_streams;
};

static void poison(struct es_store *s, const char *why)
{
    if (!atomic_exchange(&s->poisoned, true))
        es_logf(&s->lg, ES_LOG_ERROR,
                "store stops accepting appends (reads go on; restart to recover): %s", why);
}

static struct overlay_slot *overlay_get(struct es_store *s, struct turn *t, const char *name,
                                        size_t len)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)es_hash64(name, len) & mask;
    while (t->slots[i].used) {
        if (t->slots[i].len == len && memcmp(t->slots[i].name, name, len) == 0)
            return &t->slots[i];
        i = (i + 1) & mask;
    }
    struct es_index_stream_state st;
    es_index_writer_stream(s->ix, name, len, &st);
    t->slots[i] = (struct overlay_slot){
        .name = name, .len = len, .version = st.version, .no = UINT32_MAX, .used = true};
    return &t->slots[i];
}

static int turn_prepare(struct turn *t, size_t n_reqs, size_t n_events)
{
    size_t cap = 16;
    while (cap < n_reqs * 2)
        cap *= 2;
    if (cap > t->cap) {
        free(t->slots);
        t->slots = calloc(cap, sizeof(*t->slots));
        if (!t->slots) {
            t->cap = 0;
            return -ENOMEM;
        }
        t->cap = cap;
    } else {
        memset(t->slots, 0, t->cap * sizeof(*t->slots));
    }
    if (n_events > t->cap_evs) {
        free(t->evs);
        free(t->nos);
        free(t->commit_streams);
        t->evs = calloc(n_events, sizeof(*t->evs));
        t->nos = calloc(n_events, sizeof(*t->nos));
        t->commit_streams = calloc(n_events, sizeof(*t->commit_streams));
        t->cap_evs = n_events;
        if (!t->evs || !t->nos || !t->commit_streams) {
            t->cap_evs = 0;
            return -ENOMEM;
        }
    }
    t->n_evs = t->n_nos = 0;
    return 0;
}

static void turn_release(struct turn *t)
{
    free(t->slots);
    free(t->evs);
    free(t->nos);
    free(t->commit_streams);
}

/* Takes the queue: appends up to MAX_TURN_BYTES (at least one), and every
 * seal or sync request queued before the first append left behind. */
static void take_queue(struct es_store *s, struct turn *t, size_t *n_reqs, size_t *n_events)
{
    t->appends = NULL;
    t->appends_tail = &t->appends;
    t->controls = NULL;
    t->controls_tail = &t->controls;
    *n_reqs = *n_events = 0;
    size_t bytes = 0;
    while (s->q_head) {
        struct append_req *r = s->q_head;
        if (r->kind == REQ_APPEND && *n_reqs > 0 && bytes + r->frame_bytes > MAX_TURN_BYTES)
            break;
        s->q_head = r->next;
        if (!s->q_head)
            s->q_tail = NULL;
        r->next = NULL;
        if (r->kind != REQ_APPEND) {
            *t->controls_tail = r;
            t->controls_tail = &r->next;
            continue;
        }
        *t->appends_tail = r;
        t->appends_tail = &r->next;
        (*n_reqs)++;
        *n_events += r->n_events;
        bytes += r->frame_bytes;
    }
}

static int do_sync(struct es_store *s)
{
    int64_t t0 = es_mono_ns();
    int rc = es_log_sync(s->log);
    s->last_sync_ns = es_mono_ns();
    pthread_mutex_lock(&s->metrics.lock);
    s->metrics.m.fsyncs++;
    es_hist_add(&s->metrics.m.fsync_latency_s, es_latency_bounds_s,
                (double)(s->last_sync_ns - t0) / 1e9);
    pthread_mutex_unlock(&s->metrics.lock);
    if (rc == 0) {
        s->unsynced = false;
    } else {
        char why[600];
        snprintf(why, sizeof(why), "fdatasync of the active segment failed: %s", es_error_detail());
        poison(s, why);
    }
    return rc;
}

/* Encodes every acceptable append of the turn into s->frames. */
static void assign(struct es_store *s, struct turn *t, uint64_t *post_bytes)
{
    bool poisoned = atomic_load(&s->poisoned);
    int64_t ts = es_io_now_ns();
    int64_t last_ts = es_log_last_ts(s->log);
    if (ts < last_ts)
        ts = last_ts;
    uint64_t pos = es_log_last_pos(s->log) + 1;
    es_buf_reset(&s->frames);
    *post_bytes = 0;
    for (struct append_req *r = t->appends; r; r = r->next) {
        if (poisoned) {
            r->rc = ES_EFAILED;
            continue;
        }
        struct overlay_slot *o = overlay_get(s, t, r->stream, r->stream_len);
        if (r->expected != ES_VERSION_ANY && (uint64_t)r->expected != o->version) {
            r->rc = ES_ECONFLICT;
            r->res.version = o->version;
            continue;
        }
        unsigned char *dst = es_buf_grow(&s->frames, r->frame_bytes);
        if (!dst) {
            r->rc = -ENOMEM;
            continue;
        }
        *post_bytes += es_index_chunk_bytes(o->version, o->version + r->n_events);
        r->rc = 0;
        r->res.first_pos = pos;
        r->res.first_version = o->version + 1;
        for (size_t i = 0; i < r->n_events; i++) {
            const struct append_event *ae = &r->events[i];
            struct es_event *ev = &t->evs[t->n_evs++];
            *ev = (struct es_event){.pos = pos++,
                                    .version = ++o->version,
                                    .ts_ns = ts,
                                    .stream = r->stream,
                                    .stream_len = r->stream_len,
                                    .type = (const char *)r->data + ae->type_off,
                                    .type_len = ae->type_len,
                                    .payload = r->data + ae->payload_off,
                                    .payload_len = ae->payload_len,
                                    .payload_is_json = ae->is_json};
            dst += es_frame_encode(ev, dst);
        }
        r->res.last_pos = pos - 1;
        r->res.version = o->version;
    }
}

static void fail_accepted(struct turn *t, int rc)
{
    for (struct append_req *r = t->appends; r; r = r->next)
        if (r->rc == 0)
            r->rc = rc;
}

/* Writes, syncs, indexes and publishes the turn; returns the number of
 * events published. */
static size_t commit(struct es_store *s, struct turn *t, uint64_t post_bytes)
{
    if (t->n_evs == 0)
        return 0;
    uint64_t first = t->evs[0].pos, last = t->evs[t->n_evs - 1].pos;
    uint64_t active = es_log_active_bytes(s->log);
    if (active > 0 && active + s->frames.len > s->opt.segment_bytes) {
        /* under batch and none the rotation's fdatasync is the first to
         * cover acknowledged events: its failure must poison (do_sync) */
        if (s->unsynced && do_sync(s) != 0) {
            fail_accepted(t, ES_EFAILED);
            return 0;
        }
        if (es_log_rotate(s->log) == 0)
            es_sealer_kick(s);
        else
            es_logf(&s->lg, ES_LOG_WARN, "starting a new segment failed, appending on: %s",
                    es_error_detail());
    }
    int rc = es_index_prepare(s->ix, last, post_bytes);
    uint64_t raw = 0;
    if (rc == 0)
        rc = es_log_write(s->log, s->frames.data, s->frames.len, last, t->evs[0].ts_ns, &raw);
    if (rc) {
        es_logf(&s->lg, rc == -ENOSPC ? ES_LOG_WARN : ES_LOG_ERROR,
                "append of positions %llu..%llu failed, nothing written: %s",
                (unsigned long long)first, (unsigned long long)last, es_error_detail());
        if (rc == ES_EFAILED)
            poison(s, es_error_detail());
        fail_accepted(t, rc);
        return 0;
    }
    for (size_t i = 0; i < t->n_evs; i++) {
        uint32_t no;
        if ((rc = es_index_apply(s->ix, &t->evs[i], raw, &no)) != 0) {
            char why[600];
            snprintf(why, sizeof(why), "indexing position %llu failed: %s",
                     (unsigned long long)t->evs[i].pos, es_error_detail());
            poison(s, why);
            fail_accepted(t, ES_EFAILED);
            return 0;
        }
        raw += es_frame_size(t->evs[i].stream_len, t->evs[i].type_len, t->evs[i].payload_len);
        struct overlay_slot *o = overlay_get(s, t, t->evs[i].stream, t->evs[i].stream_len);
        if (o->no == UINT32_MAX) {
            o->no = no;
            t->nos[t->n_nos++] = no;
        }
    }
    s->unsynced = true;
    if (s->opt.sync == ES_SYNC_ALWAYS) {
        if ((rc = do_sync(s)) != 0) {
            fail_accepted(t, rc);
            return 0;
        }
    }
    es_index_publish(s->ix, last, t->nos, t->n_nos, t->commit_streams);
    atomic_store(&s->pub_last_ts, t->evs[t->n_evs - 1].ts_ns);
    return t->n_evs;
}

/* Hands the turn's appends (and what it published) to the acker; one
 * allocation holds the batch and its copy of the commit's streams. Without
 * memory for it, the turn is acknowledged here, as it was before the acker
 * (the writer's arrays are still valid until the next turn). */
static void complete(struct es_store *s, struct turn *t, size_t n_published)
{
    size_t n_streams = n_published ? t->n_nos : 0;
    struct ack_batch *b = malloc(sizeof(*b) + n_streams * sizeof(struct es_commit_stream));
    struct ack_batch local;
    struct ack_batch *use = b ? b : &local;
    memset(use, 0, sizeof(*use));
    use->appends = t->appends;
    t->appends = NULL;
    use->n_published = n_published;
    if (n_published) {
        use->log_bytes = s->frames.len;
        use->streams = b ? (struct es_commit_stream *)(b + 1) : t->commit_streams;
        if (b)
            memcpy(use->streams, t->commit_streams, n_streams * sizeof(*use->streams));
        use->commit = (struct es_commit){.first_pos = t->evs[0].pos,
                                         .last_pos = t->evs[t->n_evs - 1].pos,
                                         .all_view_bytes = es_index_all_bytes(s->ix),
                                         .n_streams = n_streams};
    }
    if (b)
        es_acker_push(s, b);
    else
        es_ack_batch_run(s, &local);
}

/* Seal and sync requests, after the appends queued with them. */
static void handle_controls(struct es_store *s, struct turn *t)
{
    while (t->controls) {
        struct append_req *r = t->controls;
        t->controls = r->next;
        int rc = atomic_load(&s->poisoned) ? ES_EFAILED : 0;
        if (rc == 0 && s->unsynced)
            rc = do_sync(s);
        if (r->kind == REQ_SYNC) {
            r->done(r->done_arg, rc, NULL);
            free(r);
            continue;
        }
        uint64_t target = es_log_last_pos(s->log);
        if (rc == 0 && (rc = es_log_rotate(s->log)) != 0)
            es_logf(&s->lg, ES_LOG_ERROR, "seal: starting a new segment failed: %s",
                    es_error_detail());
        if (rc) {
            r->done(r->done_arg, rc, NULL);
            free(r);
            continue;
        }
        struct seal_waiter *w = calloc(1, sizeof(*w));
        if (!w) {
            r->done(r->done_arg, -ENOMEM, NULL);
            free(r);
            continue;
        }
        w->target_pos = target;
        w->done = r->done;
        w->arg = r->done_arg;
        free(r);
        es_sealer_add_waiter(s, w);
        es_sealer_kick(s);
    }
}

static void after_turn(struct es_store *s)
{
    if (atomic_load(&s->poisoned))
        return;
    if (es_log_active_bytes(s->log) >= s->opt.segment_bytes) {
        if (s->unsynced && do_sync(s) != 0)
            return;
        if (es_log_rotate(s->log) == 0)
            es_sealer_kick(s);
        else
            es_logf(&s->lg, ES_LOG_WARN, "starting a new segment failed: %s", es_error_detail());
    }
    if (es_index_events_since_checkpoint(s->ix) >= s->opt.checkpoint_events) {
        if (s->unsynced && do_sync(s) != 0)
            return;
        if (es_index_checkpoint(s->ix) != 0)
            es_logf(&s->lg, ES_LOG_WARN,
                    "index checkpoint failed (the next open catches up "
                    "from the older one): %s",
                    es_error_detail());
        else {
            pthread_mutex_lock(&s->metrics.lock);
            s->metrics.m.checkpoints++;
            pthread_mutex_unlock(&s->metrics.lock);
        }
    }
}

static void batch_sync_if_due(struct es_store *s)
{
    if (s->opt.sync != ES_SYNC_BATCH || !s->unsynced || atomic_load(&s->poisoned))
        return;
    if (es_mono_ns() - s->last_sync_ns < (int64_t)s->opt.sync_batch_ms * 1000000)
        return;
    do_sync(s);
}

static void wait_for_work(struct es_store *s)
{
    while (!s->q_head && !s->closing) {
        if (s->opt.sync == ES_SYNC_BATCH && s->unsynced && !atomic_load(&s->poisoned)) {
            int64_t due = s->last_sync_ns + (int64_t)s->opt.sync_batch_ms * 1000000;
            int64_t now = es_mono_ns();
            if (due <= now)
                return;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t abs = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + (due - now);
            ts.tv_sec = abs / 1000000000;
            ts.tv_nsec = abs % 1000000000;
            pthread_cond_timedwait(&s->q_cond, &s->q_lock, &ts);
            return;
        }
        pthread_cond_wait(&s->q_cond, &s->q_lock);
    }
}

void *es_writer_main(void *arg)
{
    struct es_store *s = arg;
    struct turn t = {0};
    for (;;) {
        pthread_mutex_lock(&s->q_lock);
        wait_for_work(s);
        bool closing = s->closing && !s->q_head;
        size_t n_reqs, n_events;
        take_queue(s, &t, &n_reqs, &n_events);
        pthread_mutex_unlock(&s->q_lock);

        if (t.appends) {
            if (turn_prepare(&t, n_reqs, n_events) != 0) {
                for (struct append_req *r = t.appends; r; r = r->next)
                    r->rc = -ENOMEM;
                complete(s, &t, 0);
            } else {
                uint64_t post_bytes;
                assign(s, &t, &post_bytes);
                size_t n = commit(s, &t, post_bytes);
                complete(s, &t, n);
            }
        }
        handle_controls(s, &t);
        after_turn(s);
        batch_sync_if_due(s);
        if (closing)
            break;
    }
    /* closing: make everything durable and checkpoint the index */
    if (!atomic_load(&s->poisoned)) {
        if (s->unsynced)
            do_sync(s);
        if (!atomic_load(&s->poisoned) && es_index_checkpoint(s->ix) != 0)
            es_logf(&s->lg, ES_LOG_WARN, "index checkpoint at close failed: %s", es_error_detail());
    }
    turn_release(&t);
    return NULL;
}
