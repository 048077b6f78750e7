/*
 * mfile.c - mapped, growable index files (see mfile.h for the locking
 * rule). Growth doubles the file, so appends cost amortised O(1) and the
 * mapping moves O(log n) times over a store's life. New space is allocated
 * with fallocate: a store on a full disk gets ENOSPC from es_mfile_ensure,
 * never SIGBUS from a store into a mapped hole.
 */
#include "mfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/err.h"
#include "base/io.h"

#define MIN_MAP (1u << 20)

/* Doubling up to 1 GiB, then steps of 256 MiB. */
static size_t round_up(size_t n)
{
    if (n > ((size_t)1 << 30))
        return (n + ((size_t)1 << 28) - 1) & ~(((size_t)1 << 28) - 1);
    size_t m = MIN_MAP;
    while (m < n)
        m *= 2;
    return m;
}

int es_mfile_open(struct es_mfile *mf, const char *path, const char *name, size_t min_bytes)
{
    memset(mf, 0, sizeof(*mf));
    mf->fd = -1;
    snprintf(mf->name, sizeof(mf->name), "%s", name);
    int fd;
    if (path) {
        fd = es_io_open(path, O_RDWR | O_CREAT, 0644);
        if (fd < 0)
            return fd;
    } else {
        fd = memfd_create(name, MFD_CLOEXEC);
        if (fd < 0)
            return es_fail_errno(errno, "memfd for %s", name);
    }
    mf->fd = fd;
    uint64_t size;
    int rc = es_io_file_size(fd, &size, name);
    if (rc) {
        es_mfile_close(mf);
        return rc;
    }
    size_t want = round_up(size > min_bytes ? (size_t)size : min_bytes);
    if (size < want && (rc = es_io_fallocate(fd, 0, want, name)) != 0) {
        es_mfile_close(mf);
        return rc;
    }
    void *p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        rc = es_fail_errno(errno, "mapping %s", name);
        es_mfile_close(mf);
        return rc;
    }
    mf->base = p;
    mf->mapped = want;
    return 0;
}

int es_mfile_open_readonly(struct es_mfile *mf, const char *path, const char *name)
{
    memset(mf, 0, sizeof(*mf));
    snprintf(mf->name, sizeof(mf->name), "%s", name);
    mf->fd = es_io_open(path, O_RDONLY, 0);
    if (mf->fd < 0)
        return mf->fd;
    uint64_t size;
    int rc = es_io_file_size(mf->fd, &size, name);
    if (rc == 0 && size == 0)
        rc = es_fail(ES_ECORRUPT, "%s is empty", name);
    void *p = MAP_FAILED;
    if (rc == 0) {
        p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, mf->fd, 0);
        if (p == MAP_FAILED)
            rc = es_fail_errno(errno, "mapping %s", name);
    }
    if (rc) {
        es_mfile_close(mf);
        return rc;
    }
    mf->base = p;
    mf->mapped = (size_t)size;
    return 0;
}

int es_mfile_ensure(struct es_mfile *mf, size_t size)
{
    if (size <= mf->mapped)
        return 0;
    size_t want = round_up(size);
    int rc = es_io_fallocate(mf->fd, mf->mapped, want - mf->mapped, mf->name);
    if (rc)
        return rc;
    void *p = mremap(mf->base, mf->mapped, want, MREMAP_MAYMOVE);
    if (p == MAP_FAILED)
        return es_fail_errno(errno, "growing the mapping of %s", mf->name);
    mf->base = p;
    mf->mapped = want;
    return 0;
}

int es_mfile_sync(struct es_mfile *mf)
{
    if (msync(mf->base, mf->mapped, MS_SYNC) != 0)
        return es_fail_errno(errno, "msync %s", mf->name);
    return es_io_fsync(mf->fd, mf->name);
}

void es_mfile_close(struct es_mfile *mf)
{
    if (mf->base)
        munmap(mf->base, mf->mapped);
    if (mf->fd >= 0)
        es_io_close(mf->fd);
    mf->base = NULL;
    mf->fd = -1;
}
