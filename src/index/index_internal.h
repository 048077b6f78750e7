/*
 * index_internal.h - the index's state, shared by the files of src/index.
 */
#ifndef ES_INDEX_INDEX_INTERNAL_H
#define ES_INDEX_INDEX_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include "base/endian.h"
#include "index.h"
#include "mfile.h"

#define IX_FILE_HEADER  64u
#define IX_GLOBAL_REC   16u
#define IX_POST_REC     16u
#define IX_CHUNK_MIN    4u
#define IX_CHUNK_MAX    65536u
#define IX_SMALL_CHUNKS 14u /* chunks 0..13 hold 4, 8, ..., 32768 entries */
#define IX_SMALL_TOTAL  (IX_CHUNK_MIN * ((1u << IX_SMALL_CHUNKS) - 1u))
#define IX_GLOBAL_MAGIC "ESFSGIX\0"
#define IX_POSTS_MAGIC  "ESFSPIX\0"
#define IX_CKPT_MAGIC   "ESFSCKP\0"
#define IX_CKPT_HEADER  96u

struct ix_stream {
    char *name;
    size_t name_len;
    uint32_t no;
    /* the writer's working state */
    uint64_t n_events, view_bytes;
    int64_t first_ts, last_ts;
    uint64_t *chunks; /* byte offsets of its chunks in streams.idx */
    uint32_t n_chunks, cap_chunks;
    /* what readers may see */
    _Atomic uint64_t pub_events, pub_view_bytes;
    _Atomic int64_t pub_last_ts;
};

struct ix_slot {
    uint32_t no_plus1; /* 0: empty */
    uint32_t hash;
};

struct es_index {
    pthread_rwlock_t lock;
    const struct es_logger *lg;
    struct es_log *log;
    char dir[PATH_MAX];
    bool in_memory;
    struct es_mfile global, posts;

    /* writer-owned; structure changes under the write lock */
    struct ix_stream **streams;
    uint32_t n_streams, cap_streams;
    struct ix_slot *table;
    uint32_t table_cap; /* power of two */
    uint64_t posts_end; /* bump allocation end in streams.idx */
    uint64_t applied_pos;
    uint64_t all_bytes;
    uint64_t global_hash, posts_hash; /* additive hashes of every entry */
    uint64_t ckpt_pos;

    /* published to readers */
    _Atomic uint64_t pub_pos, pub_all_bytes;
    _Atomic uint32_t pub_n_streams;
};

/* Entry accessors (callers hold the lock, or are the writer). */
static inline unsigned char *ix_global_rec(struct es_index *ix, uint64_t pos)
{
    return ix->global.base + IX_FILE_HEADER + (pos - 1) * IX_GLOBAL_REC;
}
static inline uint64_t ix_chunk_cap(uint32_t k)
{
    return k < IX_SMALL_CHUNKS ? (uint64_t)IX_CHUNK_MIN << k : IX_CHUNK_MAX;
}
/* Chunk number and slot of 0-based entry i. */
static inline void ix_chunk_of(uint64_t i, uint32_t *k, uint64_t *slot)
{
    if (i < IX_SMALL_TOTAL) {
        uint32_t kk = 0;
        uint64_t q = i / IX_CHUNK_MIN + 1;
        while (q >>= 1)
            kk++;
        *k = kk;
        *slot = i - IX_CHUNK_MIN * (((uint64_t)1 << kk) - 1);
    } else {
        *k = IX_SMALL_CHUNKS + (uint32_t)((i - IX_SMALL_TOTAL) / IX_CHUNK_MAX);
        *slot = (i - IX_SMALL_TOTAL) % IX_CHUNK_MAX;
    }
}
static inline unsigned char *ix_post_rec(struct es_index *ix, const struct ix_stream *s,
                                         uint64_t version)
{
    uint32_t k;
    uint64_t slot;
    ix_chunk_of(version - 1, &k, &slot);
    return ix->posts.base + s->chunks[k] + slot * IX_POST_REC;
}

uint64_t ix_global_entry_hash(uint64_t pos, uint64_t all_end, uint64_t raw_off);
uint64_t ix_post_entry_hash(uint32_t no, uint64_t version, uint64_t pos, uint64_t view_end);

/* stream table (stream_table.c) */
struct ix_stream *ix_stream_find(struct es_index *ix, const char *name, size_t len);
/* Creates stream number ix->n_streams; takes the write lock itself. */
int ix_stream_add(struct es_index *ix, const char *name, size_t len, struct ix_stream **out);
/* Makes room for the entry of version v (allocating a chunk, under the
 * write lock when the chunk list or the mapping must grow). */
int ix_stream_reserve(struct es_index *ix, struct ix_stream *s, uint64_t version);
void ix_streams_free(struct es_index *ix);

/* checkpoint (checkpoint.c) */
int ix_checkpoint_write(struct es_index *ix);
/* Loads the checkpoint into an empty index; *why on a damaged one. */
int ix_checkpoint_load(struct es_index *ix, const char **why);

#endif
