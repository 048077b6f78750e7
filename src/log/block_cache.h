/*
 * block_cache.h - a small LRU cache of decompressed sealed-segment blocks,
 * so a read decompresses one block, and a sequential reader decompresses
 * each block once.
 *
 * Ownership: es_block_cache_get() returns a reference the caller gives back
 * with es_block_cache_put(). An evicted block lives until its last user puts
 * it. Thread-safe; the mutex is not held while a block is read from disk.
 */
#ifndef ES_LOG_BLOCK_CACHE_H
#define ES_LOG_BLOCK_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct es_segment;

struct es_block {
    const unsigned char *data;
    uint32_t len;
    /* private */
    int refs;
    uint64_t seg_id;
    uint32_t idx;
    struct es_block *hnext, *prev, *next;
};

struct es_block_cache;

struct es_block_cache *es_block_cache_new(size_t cap_bytes);
void es_block_cache_free(struct es_block_cache *c);
int es_block_cache_get(struct es_block_cache *c, const struct es_segment *seg, uint32_t idx,
                       struct es_block **out);
void es_block_cache_put(struct es_block_cache *c, struct es_block *b);
void es_block_cache_stats(struct es_block_cache *c, uint64_t *hits, uint64_t *misses);

#endif
