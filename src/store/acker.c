/*
 * acker.c - the acknowledging thread: runs the completion callbacks of a
 * group commit, wakes es_store_wait() sleepers, and calls the commit hook,
 * while the writer thread already writes and syncs the next turn. Replies
 * (one write to /dev/fuse each through the mount) took a third of the
 * writer's time between two fsyncs (docs/performance.md).
 *
 * Invariants: a turn is handed over only after the fdatasync that covers
 * its appends (under ES_SYNC_ALWAYS), so nobody is acknowledged early;
 * turns are acknowledged in the order they were committed; the commit hook
 * of a turn runs after its callbacks. ack_lock protects the queue and
 * ack_stop.
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

static void account(struct es_store *s, const struct ack_batch *b)
{
    int64_t now = es_mono_ns();
    pthread_mutex_lock(&s->metrics.lock);
    struct es_metrics *m = &s->metrics.m;
    for (const struct append_req *r = b->appends; r; r = r->next) {
        if (r->rc == 0) {
            m->appends++;
            es_hist_add(&m->append_latency_s, es_latency_bounds_s,
                        (double)(now - r->queued_ns) / 1e9);
            for (size_t i = 0; i < r->n_events; i++)
                m->payload_bytes += r->events[i].payload_len;
        } else {
            m->append_failures++;
            if (r->rc == ES_ECONFLICT)
                m->conflicts++;
        }
    }
    if (b->n_published) {
        m->events += b->n_published;
        m->log_bytes += b->log_bytes;
        m->batches++;
        es_hist_add(&m->batch_events, es_batch_bounds, (double)b->n_published);
    }
    pthread_mutex_unlock(&s->metrics.lock);
}

void es_ack_batch_run(struct es_store *s, struct ack_batch *b)
{
    account(s, b);
    for (struct append_req *r = b->appends; r; r = r->next)
        r->done(r->done_arg, r->rc, &r->res);
    if (b->n_published) {
        pthread_mutex_lock(&s->wait_lock);
        pthread_cond_broadcast(&s->wait_cond);
        pthread_mutex_unlock(&s->wait_lock);
        if (s->opt.on_commit) {
            b->commit.streams = b->streams;
            s->opt.on_commit(s->opt.on_commit_arg, &b->commit);
        }
    }
    while (b->appends) {
        struct append_req *r = b->appends;
        b->appends = r->next;
        free(r->data);
        free(r->events);
        free(r);
    }
}

void es_acker_push(struct es_store *s, struct ack_batch *b)
{
    if (!s->acker_running) {
        es_ack_batch_run(s, b);
        free(b);
        return;
    }
    b->next = NULL;
    pthread_mutex_lock(&s->ack_lock);
    if (s->ack_tail)
        s->ack_tail->next = b;
    else
        s->ack_head = b;
    s->ack_tail = b;
    pthread_cond_signal(&s->ack_cond);
    pthread_mutex_unlock(&s->ack_lock);
}

void *es_acker_main(void *arg)
{
    struct es_store *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->ack_lock);
        while (!s->ack_head && !s->ack_stop)
            pthread_cond_wait(&s->ack_cond, &s->ack_lock);
        struct ack_batch *list = s->ack_head;
        s->ack_head = s->ack_tail = NULL;
        bool stop = s->ack_stop;
        pthread_mutex_unlock(&s->ack_lock);
        while (list) {
            struct ack_batch *b = list;
            list = b->next;
            es_ack_batch_run(s, b);
            free(b); /* with its streams: one allocation (writer.c) */
        }
        if (stop)
            break; /* the writer has ended: nothing more can come */
    }
    return NULL;
}
