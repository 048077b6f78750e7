/*
 * stream_table.c - stream names to stream records: an open-addressing hash
 * table of stream numbers, the records in number order, and each record's
 * chunk list in streams.idx (chunks of 4, 8, ... 32768 entries, then 65536).
 *
 * Invariants: stream numbers are dense (0..n_streams-1) in order of first
 * event; the table is at most half full; chunk k of a stream holds its
 * entries IX_CHUNK_MIN*(2^k-1) .. (docs/format.md, "streams.idx").
 */
#include "index_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/hash.h"

static uint32_t name_hash(const char *name, size_t len)
{
    return (uint32_t)es_hash64(name, len);
}

struct ix_stream *ix_stream_find(struct es_index *ix, const char *name, size_t len)
{
    if (!ix->table_cap)
        return NULL;
    uint32_t h = name_hash(name, len);
    uint32_t mask = ix->table_cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        struct ix_slot *sl = &ix->table[i];
        if (!sl->no_plus1)
            return NULL;
        if (sl->hash == h) {
            struct ix_stream *s = ix->streams[sl->no_plus1 - 1];
            if (s->name_len == len && memcmp(s->name, name, len) == 0)
                return s;
        }
    }
}

static void table_put(struct ix_slot *table, uint32_t cap, uint32_t h, uint32_t no)
{
    uint32_t mask = cap - 1;
    uint32_t i = h & mask;
    while (table[i].no_plus1)
        i = (i + 1) & mask;
    table[i].no_plus1 = no + 1;
    table[i].hash = h;
}

/* Called with the write lock held. */
static int table_grow(struct es_index *ix)
{
    uint32_t cap = ix->table_cap ? ix->table_cap * 2 : 1024;
    struct ix_slot *t = calloc(cap, sizeof(*t));
    if (!t)
        return es_fail(-ENOMEM, "stream table");
    for (uint32_t i = 0; i < ix->table_cap; i++)
        if (ix->table[i].no_plus1)
            table_put(t, cap, ix->table[i].hash, ix->table[i].no_plus1 - 1);
    free(ix->table);
    ix->table = t;
    ix->table_cap = cap;
    return 0;
}

int ix_stream_add(struct es_index *ix, const char *name, size_t len, struct ix_stream **out)
{
    struct ix_stream *s = calloc(1, sizeof(*s));
    char *copy = malloc(len ? len : 1);
    if (!s || !copy) {
        free(s);
        free(copy);
        return es_fail(-ENOMEM, "new stream");
    }
    memcpy(copy, name, len);
    s->name = copy;
    s->name_len = len;
    pthread_rwlock_wrlock(&ix->lock);
    int rc = 0;
    if (ix->n_streams == ix->cap_streams) {
        uint32_t cap = ix->cap_streams ? ix->cap_streams * 2 : 1024;
        struct ix_stream **p = realloc(ix->streams, cap * sizeof(*p));
        if (!p)
            rc = es_fail(-ENOMEM, "stream list");
        else {
            ix->streams = p;
            ix->cap_streams = cap;
        }
    }
    if (rc == 0 && (uint64_t)(ix->n_streams + 1) * 2 > ix->table_cap)
        rc = table_grow(ix);
    if (rc == 0) {
        s->no = ix->n_streams;
        ix->streams[ix->n_streams++] = s;
        table_put(ix->table, ix->table_cap, name_hash(name, len), s->no);
    }
    pthread_rwlock_unlock(&ix->lock);
    if (rc) {
        free(copy);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int ix_stream_reserve(struct es_index *ix, struct ix_stream *s, uint64_t version)
{
    uint32_t k;
    uint64_t slot;
    ix_chunk_of(version - 1, &k, &slot);
    if (k < s->n_chunks)
        return 0;
    /* version is the first entry of chunk k == n_chunks */
    uint64_t bytes = ix_chunk_cap(k) * IX_POST_REC;
    uint64_t off = ix->posts_end;
    int rc = 0;
    bool need_lock = off + bytes > ix->posts.mapped || s->n_chunks == s->cap_chunks;
    if (need_lock)
        pthread_rwlock_wrlock(&ix->lock);
    if (off + bytes > ix->posts.mapped)
        rc = es_mfile_ensure(&ix->posts, off + bytes);
    if (rc == 0 && s->n_chunks == s->cap_chunks) {
        uint32_t cap = s->cap_chunks ? s->cap_chunks * 2 : 4;
        uint64_t *p = realloc(s->chunks, cap * sizeof(*p));
        if (!p)
            rc = es_fail(-ENOMEM, "chunk list");
        else {
            s->chunks = p;
            s->cap_chunks = cap;
        }
    }
    if (rc == 0) {
        s->chunks[s->n_chunks++] = off;
        ix->posts_end = off + bytes;
    }
    if (need_lock)
        pthread_rwlock_unlock(&ix->lock);
    return rc;
}

void ix_streams_free(struct es_index *ix)
{
    for (uint32_t i = 0; i < ix->n_streams; i++) {
        free(ix->streams[i]->name);
        free(ix->streams[i]->chunks);
        free(ix->streams[i]);
    }
    free(ix->streams);
    free(ix->table);
    ix->streams = NULL;
    ix->table = NULL;
    ix->n_streams = ix->cap_streams = ix->table_cap = 0;
}
