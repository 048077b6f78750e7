/*
 * watch.c - reads that wait at the end of watch files, poll readiness, and
 * keeping st_size fresh after commits.
 *
 * A read of watch/all or watch/streams/<id> at the end of the view is parked
 * (no thread waits: the request is kept and answered later). The store's
 * commit hook only marks what changed and wakes the watch thread, so the
 * writer thread never does work per watcher; the watch thread answers the
 * parked reads the commit made readable and notifies poll handles. (Sizes
 * need no invalidation: growing files are never cached, see
 * fs_attr_timeout.)
 *
 * Waiter states (FUSE-NOTES §2), under watch_lock:
 *   NEW -> WAITING (parked) -> CLAIMED (being answered)
 *   NEW or WAITING -> CANCELLED (interrupted: answered EINTR)
 * Lock order: the request's own lock (inside fuse_req_interrupt_func) ->
 * watch_lock. fuse_req_interrupt_func is never called with watch_lock held.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "fs.h"

enum waiter_state { W_NEW, W_WAITING, W_CLAIMED, W_CANCELLED };

struct waiter {
    fuse_req_t req;
    struct fh *fh;
    uint64_t off;
    size_t size;
    enum waiter_state state;
    struct watch_target *target;
    struct waiter *prev, *next;
};

struct watch_target {
    bool is_all;
    char name[ES_STREAM_NAME_MAX];
    size_t len;
    struct waiter *waiters;
    struct fh *polls;
    struct watch_target *hnext;
};

struct dirty_stream {
    char name[ES_STREAM_NAME_MAX];
    size_t len;
};

#define TARGETS_CAP 4096u

uint64_t watch_view_size(struct fs *fs, const struct fh *fh)
{
    if (fh->kind == FH_WATCH_ALL) {
        struct es_log_info li;
        es_store_log_info(fs->store, &li);
        return li.all_view_bytes;
    }
    struct es_stream_info si;
    return es_store_stream_info(fs->store, fh->name, fh->len, &si) == 0 ? si.view_bytes : 0;
}

static size_t target_slot(const char *name, size_t len)
{
    return (size_t)es_hash64(name, len) & (TARGETS_CAP - 1);
}

/* The target of fh; created when create is set. watch_lock held. */
static struct watch_target *target_of(struct fs *fs, const struct fh *fh, bool create)
{
    if (fh->kind == FH_WATCH_ALL)
        return fs->all_target;
    size_t slot = target_slot(fh->name, fh->len);
    for (struct watch_target *t = fs->targets[slot]; t; t = t->hnext)
        if (t->len == fh->len && memcmp(t->name, fh->name, fh->len) == 0)
            return t;
    if (!create)
        return NULL;
    struct watch_target *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    memcpy(t->name, fh->name, fh->len);
    t->len = fh->len;
    t->hnext = fs->targets[slot];
    fs->targets[slot] = t;
    return t;
}

/* Frees a stream target nobody waits on. watch_lock held. */
static void target_maybe_free(struct fs *fs, struct watch_target *t)
{
    if (t->is_all || t->waiters || t->polls)
        return;
    struct watch_target **pp = &fs->targets[target_slot(t->name, t->len)];
    while (*pp && *pp != t)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = t->hnext;
    free(t);
}

static void waiter_unlink(struct fs *fs, struct waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        w->target->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
    fs->n_waiters--;
    target_maybe_free(fs, w->target);
}

static void on_interrupt(fuse_req_t req, void *data)
{
    struct waiter *w = data;
    struct fs *fs = fuse_req_userdata(req);
    pthread_mutex_lock(&fs->watch_lock);
    if (w->state == W_WAITING) {
        waiter_unlink(fs, w);
        w->state = W_CANCELLED;
        pthread_mutex_unlock(&fs->watch_lock);
        atomic_fetch_add(&fs->interrupts, 1);
        fuse_reply_err(req, EINTR);
        free(w);
        return;
    }
    if (w->state == W_NEW)
        w->state = W_CANCELLED; /* watch_park answers it */
    pthread_mutex_unlock(&fs->watch_lock);
}

/* Answers a claimed waiter with what its read finds now. */
struct memo {
    bool valid;
    bool is_all;
    char name[ES_STREAM_NAME_MAX]; /* a copy: the fh it came from may be freed
                                      as soon as its read is answered */
    size_t len;
    uint64_t off;
    size_t size;
    struct es_buf data;
};

static void answer(struct fs *fs, struct waiter *w, struct memo *m)
{
    struct fh *fh = w->fh;
    bool is_all = fh->kind == FH_WATCH_ALL;
    bool same = m->valid && m->is_all == is_all && m->off == w->off && m->size == w->size &&
                (is_all || (m->len == fh->len && !memcmp(m->name, fh->name, fh->len)));
    if (!same) {
        es_buf_reset(&m->data);
        if (es_buf_reserve(&m->data, w->size) != 0) {
            fs_reply_err(fs, w->req, ENOMEM);
            return;
        }
        ssize_t n = es_store_read_view(fs->store, is_all ? ES_VIEW_ALL : ES_VIEW_STREAM, fh->name,
                                       fh->len, w->off, m->data.data, w->size);
        if (n < 0) {
            m->valid = false;
            fs_log(fs, ES_LOG_ERROR, "watch read of %s%.*s at offset %llu failed: %s",
                   is_all ? "all" : "streams/", (int)fh->len, fh->name, (unsigned long long)w->off,
                   es_error_detail());
            fs_reply_err(fs, w->req, es_errno((int)n));
            return;
        }
        m->data.len = (size_t)n;
        m->valid = true;
        m->is_all = is_all;
        memcpy(m->name, fh->name, fh->len);
        m->len = fh->len;
        m->off = w->off;
        m->size = w->size;
    }
    pthread_mutex_lock(&fs->watch_lock);
    fh->read_pos = w->off + m->data.len;
    pthread_mutex_unlock(&fs->watch_lock);
    atomic_fetch_add_explicit(&fs->read_bytes, m->data.len, memory_order_relaxed);
    fuse_reply_buf(w->req, (const char *)m->data.data, m->data.len);
}

void watch_park(struct fs *fs, fuse_req_t req, struct fh *fh, uint64_t off, size_t size)
{
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w) {
        fs_reply_err(fs, req, ENOMEM);
        return;
    }
    w->req = req;
    w->fh = fh;
    w->off = off;
    w->size = size;
    w->state = W_NEW;
    fuse_req_interrupt_func(req, on_interrupt, w);
    pthread_mutex_lock(&fs->watch_lock);
    if (w->state == W_CANCELLED) {
        pthread_mutex_unlock(&fs->watch_lock);
        atomic_fetch_add(&fs->interrupts, 1);
        fuse_reply_err(req, EINTR);
        free(w);
        return;
    }
    struct watch_target *t = target_of(fs, fh, true);
    /* data may have landed between the read and now: check under the lock
     * the commit fan-out also takes */
    if (!t || off < watch_view_size(fs, fh)) {
        w->state = W_CLAIMED;
        pthread_mutex_unlock(&fs->watch_lock);
        fuse_req_interrupt_func(req, NULL, NULL);
        if (!t) {
            fs_reply_err(fs, req, ENOMEM);
        } else {
            struct memo m = {0};
            answer(fs, w, &m);
            es_buf_release(&m.data);
        }
        free(w);
        return;
    }
    w->state = W_WAITING;
    w->target = t;
    w->next = t->waiters;
    if (t->waiters)
        t->waiters->prev = w;
    t->waiters = w;
    fs->n_waiters++;
    pthread_mutex_unlock(&fs->watch_lock);
}

void watch_poll(struct fs *fs, fuse_req_t req, struct fh *fh, struct fuse_pollhandle *ph)
{
    uint64_t size = watch_view_size(fs, fh);
    struct fuse_pollhandle *old = NULL;
    pthread_mutex_lock(&fs->watch_lock);
    bool readable = fh->read_pos < size;
    if (!readable && ph) {
        struct watch_target *t = target_of(fs, fh, true);
        if (t) {
            old = fh->ph;
            fh->ph = ph;
            ph = NULL;
            if (!fh->in_poll_list) {
                fh->poll_next = t->polls;
                t->polls = fh;
                fh->in_poll_list = true;
                fs->n_polls++;
            }
        }
    }
    pthread_mutex_unlock(&fs->watch_lock);
    if (old)
        fuse_pollhandle_destroy(old);
    if (ph)
        fuse_pollhandle_destroy(ph);
    fuse_reply_poll(req, readable ? POLLIN | POLLRDNORM : 0);
}

/* Unlinks fh from its target's poll list; returns its handle. watch_lock held. */
static struct fuse_pollhandle *poll_unlink(struct fs *fs, struct fh *fh)
{
    if (!fh->in_poll_list)
        return NULL;
    struct watch_target *t = target_of(fs, fh, false);
    if (t) {
        struct fh **pp = &t->polls;
        while (*pp && *pp != fh)
            pp = &(*pp)->poll_next;
        if (*pp)
            *pp = fh->poll_next;
    }
    fh->in_poll_list = false;
    fh->poll_next = NULL;
    fs->n_polls--;
    struct fuse_pollhandle *ph = fh->ph;
    fh->ph = NULL;
    if (t)
        target_maybe_free(fs, t);
    return ph;
}

void watch_forget_fh(struct fs *fs, struct fh *fh)
{
    pthread_mutex_lock(&fs->watch_lock);
    struct fuse_pollhandle *ph = poll_unlink(fs, fh);
    pthread_mutex_unlock(&fs->watch_lock);
    if (ph)
        fuse_pollhandle_destroy(ph);
}

/* Answers every waiter of t that data reached, and notifies its polls. */
static void fan_out(struct fs *fs, struct watch_target *t_hint, const char *name, size_t len,
                    bool is_all, uint64_t size)
{
    (void)t_hint;
    struct waiter *claimed = NULL;
    struct fuse_pollhandle *local_ph[64];
    struct fuse_pollhandle **phs = local_ph;
    size_t n_ph = 0, cap_ph = 64;
    pthread_mutex_lock(&fs->watch_lock);
    struct watch_target *t = fs->all_target;
    if (!is_all) {
        t = NULL;
        for (struct watch_target *x = fs->targets[target_slot(name, len)]; x; x = x->hnext)
            if (x->len == len && !memcmp(x->name, name, len))
                t = x;
    }
    if (t) {
        for (struct waiter *w = t->waiters, *next; w; w = next) {
            next = w->next;
            if (w->off >= size)
                continue;
            w->state = W_CLAIMED;
            if (w->prev)
                w->prev->next = w->next;
            else
                t->waiters = w->next;
            if (w->next)
                w->next->prev = w->prev;
            fs->n_waiters--;
            w->next = claimed;
            claimed = w;
        }
        for (struct fh *fh = t->polls, *next; fh; fh = next) {
            next = fh->poll_next;
            if (fh->read_pos >= size || !fh->ph)
                continue;
            if (n_ph == cap_ph) {
                struct fuse_pollhandle **more = malloc(cap_ph * 2 * sizeof(*more));
                if (!more)
                    break;
                memcpy(more, phs, n_ph * sizeof(*phs));
                if (phs != local_ph)
                    free(phs);
                phs = more;
                cap_ph *= 2;
            }
            phs[n_ph++] = fh->ph;
            fh->ph = NULL;
        }
        target_maybe_free(fs, t);
    }
    pthread_mutex_unlock(&fs->watch_lock);

    struct memo m = {0};
    while (claimed) {
        struct waiter *w = claimed;
        claimed = w->next;
        fuse_req_interrupt_func(w->req, NULL, NULL);
        answer(fs, w, &m);
        free(w);
    }
    es_buf_release(&m.data);
    for (size_t i = 0; i < n_ph; i++) {
        fuse_lowlevel_notify_poll(phs[i]);
        fuse_pollhandle_destroy(phs[i]);
    }
    if (phs != local_ph)
        free(phs);
}

static int dirty_add(struct dirty_set *d, const char *name, size_t len)
{
    if ((d->n + 1) * 2 > d->index_cap) {
        size_t cap = d->index_cap ? d->index_cap * 2 : 256;
        uint32_t *idx = calloc(cap, sizeof(*idx));
        struct dirty_stream *items = realloc(d->items, cap / 2 * sizeof(*items));
        if (!idx || !items) {
            free(idx);
            if (items)
                d->items = items;
            return -ENOMEM;
        }
        d->items = items;
        d->cap = cap / 2;
        for (size_t i = 0; i < d->n; i++) {
            size_t s = (size_t)es_hash64(items[i].name, items[i].len) & (cap - 1);
            while (idx[s])
                s = (s + 1) & (cap - 1);
            idx[s] = (uint32_t)i + 1;
        }
        free(d->index);
        d->index = idx;
        d->index_cap = cap;
    }
    size_t s = (size_t)es_hash64(name, len) & (d->index_cap - 1);
    while (d->index[s]) {
        struct dirty_stream *it = &d->items[d->index[s] - 1];
        if (it->len == len && !memcmp(it->name, name, len))
            return 0;
        s = (s + 1) & (d->index_cap - 1);
    }
    memcpy(d->items[d->n].name, name, len);
    d->items[d->n].len = len;
    d->index[s] = (uint32_t)++d->n;
    return 0;
}

static void dirty_clear(struct dirty_set *d)
{
    if (d->n)
        memset(d->index, 0, d->index_cap * sizeof(*d->index));
    d->n = 0;
}

static void dirty_release(struct dirty_set *d)
{
    free(d->items);
    free(d->index);
    memset(d, 0, sizeof(*d));
}

void watch_on_commit(void *arg, const struct es_commit *c)
{
    struct fs *fs = arg;
    /* Nobody parked or polling: nothing to fan out. Safe without a later
     * look: this commit is published, and a read that parks from now on
     * checks the size under watch_lock before it waits (watch_park). */
    pthread_mutex_lock(&fs->watch_lock);
    bool interested = fs->n_waiters > 0 || fs->n_polls > 0;
    pthread_mutex_unlock(&fs->watch_lock);
    if (!interested)
        return;
    pthread_mutex_lock(&fs->dirty_lock);
    if (fs->watch_stop) {
        pthread_mutex_unlock(&fs->dirty_lock);
        return;
    }
    fs->dirty_all = true;
    for (size_t i = 0; i < c->n_streams; i++)
        dirty_add(&fs->dirty_pending, c->streams[i].name, c->streams[i].name_len);
    pthread_cond_signal(&fs->dirty_cond);
    pthread_mutex_unlock(&fs->dirty_lock);
}

static void *watch_main(void *arg)
{
    struct fs *fs = arg;
    for (;;) {
        pthread_mutex_lock(&fs->dirty_lock);
        while (!fs->dirty_all && fs->dirty_pending.n == 0 && !fs->watch_stop)
            pthread_cond_wait(&fs->dirty_cond, &fs->dirty_lock);
        bool stop = fs->watch_stop;
        bool all = fs->dirty_all;
        fs->dirty_all = false;
        struct dirty_set tmp = fs->dirty_work;
        fs->dirty_work = fs->dirty_pending;
        fs->dirty_pending = tmp;
        dirty_clear(&fs->dirty_pending);
        pthread_mutex_unlock(&fs->dirty_lock);
        if (stop)
            break;
        if (all) {
            struct es_log_info li;
            es_store_log_info(fs->store, &li);
            fan_out(fs, NULL, NULL, 0, true, li.all_view_bytes);
        }
        for (size_t i = 0; i < fs->dirty_work.n; i++) {
            const struct dirty_stream *d = &fs->dirty_work.items[i];
            struct es_stream_info si;
            if (es_store_stream_info(fs->store, d->name, d->len, &si) != 0)
                continue;
            fan_out(fs, NULL, d->name, d->len, false, si.view_bytes);
        }
        dirty_clear(&fs->dirty_work);
    }
    return NULL;
}

int watch_start(struct fs *fs)
{
    fs->targets_cap = TARGETS_CAP;
    fs->targets = calloc(TARGETS_CAP, sizeof(*fs->targets));
    fs->all_target = calloc(1, sizeof(*fs->all_target));
    if (!fs->targets || !fs->all_target)
        return -ENOMEM;
    fs->all_target->is_all = true;
    int rc = pthread_create(&fs->watch_thread, NULL, watch_main, fs);
    if (rc)
        return -rc;
    fs->watch_running = true;
    return 0;
}

/* Answers every parked read with ESHUTDOWN and drops every poll handle. */
static void drain_target(struct fs *fs, struct watch_target *t)
{
    for (;;) {
        pthread_mutex_lock(&fs->watch_lock);
        struct waiter *w = t->waiters;
        if (w) {
            t->waiters = w->next;
            if (w->next)
                w->next->prev = NULL;
            w->state = W_CLAIMED;
            fs->n_waiters--;
        }
        pthread_mutex_unlock(&fs->watch_lock);
        if (!w)
            break;
        fuse_req_interrupt_func(w->req, NULL, NULL);
        fuse_reply_err(w->req, ESHUTDOWN);
        free(w);
    }
    while (t->polls) {
        struct fh *fh = t->polls;
        t->polls = fh->poll_next;
        fh->in_poll_list = false;
        if (fh->ph)
            fuse_pollhandle_destroy(fh->ph);
        fh->ph = NULL;
    }
}

void watch_stop(struct fs *fs)
{
    if (fs->watch_running) {
        pthread_mutex_lock(&fs->dirty_lock);
        fs->watch_stop = true;
        pthread_cond_signal(&fs->dirty_cond);
        pthread_mutex_unlock(&fs->dirty_lock);
        pthread_join(fs->watch_thread, NULL);
        fs->watch_running = false;
    }
    if (fs->all_target)
        drain_target(fs, fs->all_target);
    for (size_t i = 0; fs->targets && i < fs->targets_cap; i++)
        while (fs->targets[i]) {
            struct watch_target *t = fs->targets[i];
            fs->targets[i] = t->hnext;
            drain_target(fs, t);
            free(t);
        }
    free(fs->targets);
    free(fs->all_target);
    fs->targets = NULL;
    fs->all_target = NULL;
    dirty_release(&fs->dirty_pending);
    dirty_release(&fs->dirty_work);
}
