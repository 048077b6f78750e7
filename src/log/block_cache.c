/*
 * block_cache.c - hash table + LRU list under one mutex (`lock` protects
 * every field of the cache and the refs/links of every cached block).
 * A cached block holds one reference for the cache itself.
 */
#include "block_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "base/err.h"
#include "segment.h"

#define N_BUCKETS 4096u

struct es_block_cache {
    pthread_mutex_t lock;
    size_t cap_bytes, used_bytes;
    struct es_block *buckets[N_BUCKETS];
    struct es_block lru; /* sentinel: lru.next is the most recent */
    uint64_t hits, misses;
};

static unsigned bucket_of(uint64_t seg_id, uint32_t idx)
{
    uint64_t h = seg_id * 0x9E3779B97F4A7C15ull ^ (uint64_t)idx * 0xC2B2AE3D27D4EB4Full;
    return (unsigned)(h >> 40) % N_BUCKETS;
}

struct es_block_cache *es_block_cache_new(size_t cap_bytes)
{
    struct es_block_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->cap_bytes = cap_bytes;
    c->lru.next = c->lru.prev = &c->lru;
    return c;
}

static void block_free(struct es_block *b)
{
    free((void *)b->data);
    free(b);
}

static void lru_unlink(struct es_block *b)
{
    b->prev->next = b->next;
    b->next->prev = b->prev;
}

static void lru_push_front(struct es_block_cache *c, struct es_block *b)
{
    b->next = c->lru.next;
    b->prev = &c->lru;
    c->lru.next->prev = b;
    c->lru.next = b;
}

static void table_remove(struct es_block_cache *c, struct es_block *b)
{
    struct es_block **pp = &c->buckets[bucket_of(b->seg_id, b->idx)];
    while (*pp && *pp != b)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = b->hnext;
}

/* Called with lock held; returns blocks whose last reference dropped in
 * *dead so they are freed after unlocking. */
static void evict(struct es_block_cache *c, struct es_block **dead)
{
    struct es_block *b = c->lru.prev;
    while (c->used_bytes > c->cap_bytes && b != &c->lru) {
        struct es_block *prev = b->prev;
        lru_unlink(b);
        table_remove(c, b);
        c->used_bytes -= b->len;
        if (--b->refs == 0) {
            b->hnext = *dead;
            *dead = b;
        }
        b = prev;
    }
}

void es_block_cache_free(struct es_block_cache *c)
{
    if (!c)
        return;
    struct es_block *b = c->lru.next;
    while (b != &c->lru) {
        struct es_block *next = b->next;
        if (--b->refs == 0)
            block_free(b);
        b = next;
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int es_block_cache_get(struct es_block_cache *c, const struct es_segment *seg, uint32_t idx,
                       struct es_block **out)
{
    unsigned h = bucket_of(seg->id, idx);
    pthread_mutex_lock(&c->lock);
    for (struct es_block *b = c->buckets[h]; b; b = b->hnext) {
        if (b->seg_id == seg->id && b->idx == idx) {
            b->refs++;
            lru_unlink(b);
            lru_push_front(c, b);
            c->hits++;
            pthread_mutex_unlock(&c->lock);
            *out = b;
            return 0;
        }
    }
    c->misses++;
    pthread_mutex_unlock(&c->lock);

    uint32_t len = seg->blocks[idx].raw_len;
    struct es_block *nb = calloc(1, sizeof(*nb));
    unsigned char *data = malloc(len);
    if (!nb || !data) {
        free(nb);
        free(data);
        return es_fail(-ENOMEM, "block of %u bytes", len);
    }
    int rc = es_segment_read_block(seg, idx, data);
    if (rc) {
        free(nb);
        free(data);
        return rc;
    }
    nb->data = data;
    nb->len = len;
    nb->seg_id = seg->id;
    nb->idx = idx;
    nb->refs = 2; /* the cache's and the caller's */

    struct es_block *dead = NULL;
    pthread_mutex_lock(&c->lock);
    for (struct es_block *b = c->buckets[h]; b; b = b->hnext) {
        if (b->seg_id == seg->id && b->idx == idx) { /* lost a race: use theirs */
            b->refs++;
            pthread_mutex_unlock(&c->lock);
            block_free(nb);
            *out = b;
            return 0;
        }
    }
    nb->hnext = c->buckets[h];
    c->buckets[h] = nb;
    lru_push_front(c, nb);
    c->used_bytes += len;
    evict(c, &dead);
    pthread_mutex_unlock(&c->lock);
    while (dead) {
        struct es_block *next = dead->hnext;
        block_free(dead);
        dead = next;
    }
    *out = nb;
    return 0;
}

void es_block_cache_put(struct es_block_cache *c, struct es_block *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&c->lock);
    int left = --b->refs;
    pthread_mutex_unlock(&c->lock);
    if (left == 0)
        block_free(b);
}

void es_block_cache_stats(struct es_block_cache *c, uint64_t *hits, uint64_t *misses)
{
    pthread_mutex_lock(&c->lock);
    *hits = c->hits;
    *misses = c->misses;
    pthread_mutex_unlock(&c->lock);
}
