/*
 * sealer.c - the sealer thread: seals rotated wal files in order and
 * completes seal requests once everything they cover is sealed and durable
 * in segments/. A failed seal (disk full, say) is logged, fails the waiting
 * requests, and is retried a second later; the wal stays the truth meanwhile.
 */
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "base/err.h"

void es_sealer_kick(struct es_store *s)
{
    pthread_mutex_lock(&s->seal_lock);
    pthread_cond_signal(&s->seal_cond);
    pthread_mutex_unlock(&s->seal_lock);
}

/* Completes (outside the lock) the waiters whose target is sealed, or all
 * with rc when rc != 0 and their target is past `through`. */
static void finish_waiters(struct es_store *s, uint64_t through, int rc)
{
    struct seal_waiter *done = NULL;
    pthread_mutex_lock(&s->seal_lock);
    s->sealed_through = through;
    struct seal_waiter **pp = &s->seal_waiters;
    while (*pp) {
        struct seal_waiter *w = *pp;
        if (w->target_pos <= through || rc != 0) {
            *pp = w->next;
            w->next = done;
            done = w;
        } else {
            pp = &w->next;
        }
    }
    pthread_mutex_unlock(&s->seal_lock);
    while (done) {
        struct seal_waiter *w = done;
        done = w->next;
        w->done(w->arg, w->target_pos <= through ? 0 : rc, NULL);
        free(w);
    }
}

void es_sealer_add_waiter(struct es_store *s, struct seal_waiter *w)
{
    /* Already sealed: complete it now. Left to the sealer, it would wait for
     * the sealer's next look at its waiters, and the sealer may be past that
     * look (completing others) with nothing left to seal, about to sleep. */
    pthread_mutex_lock(&s->seal_lock);
    bool sealed = w->target_pos <= s->sealed_through;
    if (!sealed) {
        w->next = s->seal_waiters;
        s->seal_waiters = w;
    }
    pthread_mutex_unlock(&s->seal_lock);
    if (sealed) {
        w->done(w->arg, 0, NULL);
        free(w);
    }
}

void *es_sealer_main(void *arg)
{
    struct es_store *s = arg;
    bool backoff = false;
    for (;;) {
        pthread_mutex_lock(&s->seal_lock);
        if (backoff && !s->sealer_stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&s->seal_cond, &s->seal_lock, &ts);
        }
        bool stop = s->sealer_stop;
        pthread_mutex_unlock(&s->seal_lock);
        if (stop)
            break;
        struct es_segment *wal = es_log_next_to_seal(s->log);
        if (!wal) {
            finish_waiters(s, es_log_sealed_through(s->log), 0);
            pthread_mutex_lock(&s->seal_lock);
            if (!s->sealer_stop && !es_log_has_pending_seal(s->log))
                pthread_cond_wait(&s->seal_cond, &s->seal_lock);
            pthread_mutex_unlock(&s->seal_lock);
            backoff = false;
            continue;
        }
        int rc = es_log_seal(s->log, wal);
        if (rc == 0) {
            pthread_mutex_lock(&s->metrics.lock);
            s->metrics.m.seals++;
            pthread_mutex_unlock(&s->metrics.lock);
            finish_waiters(s, es_log_sealed_through(s->log), 0);
            backoff = false;
        } else {
            es_logf(&s->lg, ES_LOG_ERROR, "sealing %s failed (retrying in 1 s): %s", wal->name,
                    es_error_detail());
            finish_waiters(s, es_log_sealed_through(s->log), rc);
            backoff = true;
        }
        es_segment_unref(wal);
    }
    finish_waiters(s, es_log_sealed_through(s->log), ES_ECLOSED);
    return NULL;
}
