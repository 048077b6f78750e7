/*
 * mfile.h - an index file mapped into memory that grows by doubling.
 *
 * The writer thread stores into the mapping; readers load from it. Growing
 * may move the mapping: callers hold their index's write lock around
 * es_mfile_ensure() and a read lock around every access through `base`.
 * Durability goes through the I/O seam (es_mfile_sync: msync + fsync).
 */
#ifndef ES_INDEX_MFILE_H
#define ES_INDEX_MFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct es_mfile {
    int fd;
    unsigned char *base;
    size_t mapped; /* bytes mapped == file size */
    char name[64];
};

/* Opens (creating when missing) path, or an anonymous in-memory file when
 * path is NULL, mapped with at least min_bytes. */
int es_mfile_open(struct es_mfile *mf, const char *path, const char *name, size_t min_bytes);
/* Maps an existing file read-only, as it is (es_mfile_ensure not allowed). */
int es_mfile_open_readonly(struct es_mfile *mf, const char *path, const char *name);
/* Makes at least size bytes available (file and mapping). May move base. */
int es_mfile_ensure(struct es_mfile *mf, size_t size);
/* msync and fsync of the whole file. */
int es_mfile_sync(struct es_mfile *mf);
void es_mfile_close(struct es_mfile *mf);

#endif
