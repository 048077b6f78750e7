/*
 * io.c - the default syscall table and the helpers around the seam.
 *
 * Invariant: nothing in esfs calls open/pwrite/fsync/rename/... on store
 * files except through es_io, so a test that installs its own table sees
 * (and may fail or drop) every durable effect.
 */
#include "io.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int posix_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags | O_CLOEXEC, mode);
}

static int64_t posix_clock_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const struct es_io_ops es_io_posix = {
    .open = posix_open,
    .close = close,
    .pread = pread,
    .pwrite = pwrite,
    .fsync = fsync,
    .fdatasync = fdatasync,
    .ftruncate = ftruncate,
    .fstat = fstat,
    .rename = rename,
    .unlink = unlink,
    .mkdir = mkdir,
    .fallocate = fallocate,
    .clock_realtime_ns = posix_clock_realtime_ns,
};

const struct es_io_ops *es_io = &es_io_posix;

void es_io_set(const struct es_io_ops *ops)
{
    es_io = ops ? ops : &es_io_posix;
}

int es_io_open(const char *path, int flags, mode_t mode)
{
    int fd;
    do {
        fd = es_io->open(path, flags, mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return es_fail_errno(errno, "open %s", path);
    return fd;
}

int es_io_close(int fd)
{
    if (fd < 0)
        return 0;
    if (es_io->close(fd) != 0 && errno != EINTR)
        return es_fail_errno(errno, "close fd %d", fd);
    return 0;
}

int es_io_pwrite_all(int fd, const void *buf, size_t n, uint64_t off, const char *what)
{
    const unsigned char *p = buf;
    while (n > 0) {
        size_t chunk = n > (size_t)1 << 30 ? (size_t)1 << 30 : n;
        ssize_t w = es_io->pwrite(fd, p, chunk, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return es_fail_errno(errno, "write %s at offset %llu", what, (unsigned long long)off);
        }
        if (w == 0)
            return es_fail_errno(EIO, "write %s at offset %llu wrote nothing", what,
                                 (unsigned long long)off);
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

ssize_t es_io_pread_upto(int fd, void *buf, size_t n, uint64_t off, const char *what)
{
    unsigned char *p = buf;
    size_t done = 0;
    while (done < n) {
        ssize_t r = es_io->pread(fd, p + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return es_fail_errno(errno, "read %s at offset %llu", what,
                                 (unsigned long long)(off + done));
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

int es_io_pread_exact(int fd, void *buf, size_t n, uint64_t off, const char *what)
{
    ssize_t r = es_io_pread_upto(fd, buf, n, off, what);
    if (r < 0)
        return (int)r;
    if ((size_t)r != n)
        return es_fail(ES_ECORRUPT, "%s ends at offset %llu, %zu bytes expected at %llu", what,
                       (unsigned long long)(off + (uint64_t)r), n, (unsigned long long)off);
    return 0;
}

int es_io_fsync(int fd, const char *what)
{
    if (es_io->fsync(fd) != 0)
        return es_fail_errno(errno, "fsync %s", what);
    return 0;
}

int es_io_fdatasync(int fd, const char *what)
{
    if (es_io->fdatasync(fd) != 0)
        return es_fail_errno(errno, "fdatasync %s", what);
    return 0;
}

int es_io_ftruncate(int fd, uint64_t len, const char *what)
{
    int rc;
    do {
        rc = es_io->ftruncate(fd, (off_t)len);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0)
        return es_fail_errno(errno, "truncate %s to %llu bytes", what, (unsigned long long)len);
    return 0;
}

int es_io_fallocate(int fd, uint64_t off, uint64_t len, const char *what)
{
    int rc;
    do {
        rc = es_io->fallocate(fd, 0, (off_t)off, (off_t)len);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0)
        return es_fail_errno(errno, "allocating %llu bytes of %s", (unsigned long long)len, what);
    return 0;
}

int es_io_file_size(int fd, uint64_t *size, const char *what)
{
    struct stat st;
    if (es_io->fstat(fd, &st) != 0)
        return es_fail_errno(errno, "stat %s", what);
    *size = (uint64_t)st.st_size;
    return 0;
}

int es_io_rename(const char *from, const char *to)
{
    if (es_io->rename(from, to) != 0)
        return es_fail_errno(errno, "rename %s to %s", from, to);
    return 0;
}

int es_io_unlink(const char *path)
{
    if (es_io->unlink(path) != 0)
        return es_fail_errno(errno, "unlink %s", path);
    return 0;
}

int es_io_mkdir(const char *path)
{
    if (es_io->mkdir(path, 0755) != 0 && errno != EEXIST)
        return es_fail_errno(errno, "mkdir %s", path);
    return 0;
}

int es_io_fsync_dir(const char *path)
{
    int fd = es_io_open(path, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return fd;
    int rc = es_io_fsync(fd, path);
    es_io_close(fd);
    return rc;
}

int es_io_write_file_atomic(const char *dir, const char *name, const void *data, size_t len)
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name) >= (int)sizeof(tmp) ||
        snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst))
        return es_fail(-ENAMETOOLONG, "path %s/%s", dir, name);
    int fd = es_io_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return fd;
    int rc = es_io_pwrite_all(fd, data, len, 0, tmp);
    if (rc == 0)
        rc = es_io_fsync(fd, tmp);
    int crc = es_io_close(fd);
    if (rc == 0)
        rc = crc;
    if (rc == 0)
        rc = es_io_rename(tmp, dst);
    if (rc == 0)
        rc = es_io_fsync_dir(dir);
    if (rc != 0)
        es_io->unlink(tmp);
    return rc;
}

int es_io_read_file(const char *path, void **out, size_t *len, size_t max_len)
{
    int fd = es_io_open(path, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    uint64_t size;
    int rc = es_io_file_size(fd, &size, path);
    if (rc == 0 && size > max_len)
        rc = es_fail(ES_ECORRUPT, "%s is %llu bytes, more than the %zu expected", path,
                     (unsigned long long)size, max_len);
    void *buf = NULL;
    if (rc == 0) {
        buf = malloc(size ? size : 1);
        if (!buf)
            rc = es_fail(-ENOMEM, "reading %s", path);
    }
    if (rc == 0)
        rc = es_io_pread_exact(fd, buf, size, 0, path);
    es_io_close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = size;
    return 0;
}

int64_t es_io_now_ns(void)
{
    return es_io->clock_realtime_ns();
}
