/*
 * nodes.c - the table of looked-up stream files, and the set of streams
 * created by open(O_CREAT) that have no event yet.
 *
 * With ES_NODES_PER_OPEN every lookup of streams/<id> gets a fresh node id
 * (entry timeout 0), so every open has its own kernel inode and appends to
 * one stream from many files are not serialised by the kernel's inode lock
 * (FUSE-NOTES §1.4); st_ino stays stable because it is derived from the
 * name. The exception is a node that was opened read-only and never for
 * writing: later lookups get it again, so readers share one kernel inode
 * and its page cache (a fresh node's first open decides; a node a writer
 * opens is never handed out again, so concurrent writers starting together
 * still get inodes of their own). With ES_NODES_SHARED one node serves all
 * lookups of a name.
 * nodes_lock protects both tables, n_nodes, next_id and the pending set.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "fs.h"

struct pending {
    char name[ES_STREAM_NAME_MAX];
    size_t len;
    unsigned writers;
    struct pending *next;
};

#define TABLE_CAP 65536u

int nodes_init(struct fs *fs)
{
    fs->table_cap = TABLE_CAP;
    fs->id_table = calloc(TABLE_CAP, sizeof(*fs->id_table));
    fs->name_table = calloc(TABLE_CAP, sizeof(*fs->name_table));
    fs->next_id = INO_FIRST_DYNAMIC;
    if (!fs->id_table || !fs->name_table)
        return -ENOMEM;
    return 0;
}

void nodes_release(struct fs *fs)
{
    if (fs->id_table)
        for (size_t i = 0; i < fs->table_cap; i++)
            while (fs->id_table[i]) {
                struct node *n = fs->id_table[i];
                fs->id_table[i] = n->id_next;
                free(n);
            }
    free(fs->id_table);
    free(fs->name_table);
    while (fs->pending) {
        struct pending *p = fs->pending;
        fs->pending = p->next;
        free(p);
    }
}

uint64_t stream_st_ino(enum node_kind kind, const char *name, size_t len)
{
    /* high bit set: never collides with the fixed inode numbers */
    uint64_t h = es_hash64(name, len) | (1ull << 63);
    return kind == NODE_WATCH_STREAM ? h ^ 1 : h & ~1ull;
}

static size_t name_slot(struct fs *fs, enum node_kind kind, const char *name, size_t len)
{
    return (size_t)(es_hash64(name, len) + (uint64_t)kind) & (fs->table_cap - 1);
}

struct node *node_get(struct fs *fs, enum node_kind kind, const char *name, size_t len)
{
    pthread_mutex_lock(&fs->nodes_lock);
    size_t ns = name_slot(fs, kind, name, len);
    bool any = fs->opt.stream_nodes == ES_NODES_SHARED || kind == NODE_WATCH_STREAM;
    for (struct node *n = fs->name_table[ns]; n; n = n->name_next)
        if (n->kind == kind && n->len == len && memcmp(n->name, name, len) == 0 &&
            (any || (n->read_opened && !n->write_opened))) {
            n->nlookup++;
            pthread_mutex_unlock(&fs->nodes_lock);
            return n;
        }
    struct node *n = calloc(1, sizeof(*n));
    if (!n) {
        pthread_mutex_unlock(&fs->nodes_lock);
        return NULL;
    }
    n->id = fs->next_id++;
    n->kind = kind;
    n->nlookup = 1;
    memcpy(n->name, name, len);
    n->len = len;
    n->st_ino = stream_st_ino(kind, name, len);
    size_t is = (size_t)n->id & (fs->table_cap - 1);
    n->id_next = fs->id_table[is];
    fs->id_table[is] = n;
    n->name_next = fs->name_table[ns];
    fs->name_table[ns] = n;
    fs->n_nodes++;
    pthread_mutex_unlock(&fs->nodes_lock);
    return n;
}

struct node *node_find(struct fs *fs, uint64_t id)
{
    pthread_mutex_lock(&fs->nodes_lock);
    struct node *n = fs->id_table[(size_t)id & (fs->table_cap - 1)];
    while (n && n->id != id)
        n = n->id_next;
    pthread_mutex_unlock(&fs->nodes_lock);
    return n;
}

void node_note_open(struct fs *fs, struct node *n, bool writes)
{
    pthread_mutex_lock(&fs->nodes_lock);
    if (writes)
        n->write_opened = true;
    else
        n->read_opened = true;
    pthread_mutex_unlock(&fs->nodes_lock);
}

void node_forget(struct fs *fs, uint64_t id, uint64_t count)
{
    pthread_mutex_lock(&fs->nodes_lock);
    struct node **pp = &fs->id_table[(size_t)id & (fs->table_cap - 1)];
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->id_next;
    struct node *n = *pp;
    if (n && n->nlookup <= count) {
        *pp = n->id_next;
        struct node **qq = &fs->name_table[name_slot(fs, n->kind, n->name, n->len)];
        while (*qq && *qq != n)
            qq = &(*qq)->name_next;
        if (*qq)
            *qq = n->name_next;
        fs->n_nodes--;
        free(n);
    } else if (n) {
        n->nlookup -= count;
    }
    pthread_mutex_unlock(&fs->nodes_lock);
}

static struct pending **pending_find(struct fs *fs, const char *name, size_t len)
{
    struct pending **pp = &fs->pending;
    while (*pp && ((*pp)->len != len || memcmp((*pp)->name, name, len) != 0))
        pp = &(*pp)->next;
    return pp;
}

void pending_add(struct fs *fs, const char *name, size_t len)
{
    pthread_mutex_lock(&fs->nodes_lock);
    struct pending **pp = pending_find(fs, name, len);
    if (*pp) {
        (*pp)->writers++;
    } else {
        struct pending *p = calloc(1, sizeof(*p));
        if (p) {
            memcpy(p->name, name, len);
            p->len = len;
            p->writers = 1;
            p->next = fs->pending;
            fs->pending = p;
        }
    }
    pthread_mutex_unlock(&fs->nodes_lock);
}

void pending_drop(struct fs *fs, const char *name, size_t len)
{
    pthread_mutex_lock(&fs->nodes_lock);
    struct pending **pp = pending_find(fs, name, len);
    if (*pp && --(*pp)->writers == 0) {
        struct pending *p = *pp;
        *pp = p->next;
        free(p);
    }
    pthread_mutex_unlock(&fs->nodes_lock);
}

bool pending_has(struct fs *fs, const char *name, size_t len)
{
    pthread_mutex_lock(&fs->nodes_lock);
    bool has = *pending_find(fs, name, len) != NULL;
    pthread_mutex_unlock(&fs->nodes_lock);
    return has;
}
