/*
 * io.h - the I/O seam: every syscall that touches the store directory goes
 * through one replaceable table, so tests can inject EIO, ENOSPC, short
 * writes and crashes (the SQLite os_unix.c habit).
 *
 * The table's entries behave exactly like the syscalls they stand for
 * (-1 and errno on failure). The es_io_* helpers below wrap them in the
 * library convention: 0 or a positive count on success, -errno on failure,
 * with es_fail() detail recorded.
 *
 * Not through the seam: mmap of index files (tests simulate their loss by
 * restoring the file contents at the last fsync, which does go through it),
 * and directory listings.
 */
#ifndef ES_BASE_IO_H
#define ES_BASE_IO_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct es_io_ops {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    int (*fsync)(int fd);
    int (*fdatasync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*fstat)(int fd, struct stat *st);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    int (*mkdir)(const char *path, mode_t mode);
    int (*fallocate)(int fd, int mode, off_t off, off_t len);
    int64_t (*clock_realtime_ns)(void);
};

/* The real syscalls. */
extern const struct es_io_ops es_io_posix;

/* The table in use. Replace it only while no store is open. */
extern const struct es_io_ops *es_io;
/* Installs ops (NULL: es_io_posix). */
void es_io_set(const struct es_io_ops *ops);

/* Helpers in the library convention (-errno, detail recorded). */
int es_io_open(const char *path, int flags, mode_t mode);
int es_io_close(int fd);
/* Writes all n bytes at off, retrying short writes and EINTR. */
int es_io_pwrite_all(int fd, const void *buf, size_t n, uint64_t off, const char *what);
/* Reads exactly n bytes at off; ES_ECORRUPT when the file ends first. */
int es_io_pread_exact(int fd, void *buf, size_t n, uint64_t off, const char *what);
/* Reads up to n bytes at off; returns the count read (short only at EOF). */
ssize_t es_io_pread_upto(int fd, void *buf, size_t n, uint64_t off, const char *what);
int es_io_fsync(int fd, const char *what);
int es_io_fdatasync(int fd, const char *what);
int es_io_ftruncate(int fd, uint64_t len, const char *what);
/* Allocates disk blocks for [off, off+len) so later writes (also through
 * a mapping) cannot fail for lack of space. */
int es_io_fallocate(int fd, uint64_t off, uint64_t len, const char *what);
int es_io_file_size(int fd, uint64_t *size, const char *what);
int es_io_rename(const char *from, const char *to);
int es_io_unlink(const char *path);
/* mkdir that accepts an existing directory. */
int es_io_mkdir(const char *path);
/* Opens a directory and fsyncs it, making entries created in it durable. */
int es_io_fsync_dir(const char *path);
/* Replaces dir/name with data atomically and durably: writes dir/name.tmp,
 * fsyncs it, renames it over dir/name, fsyncs dir. */
int es_io_write_file_atomic(const char *dir, const char *name, const void *data, size_t len);
/* Reads a whole small file into a malloc'd buffer (*out, *len). */
int es_io_read_file(const char *path, void **out, size_t *len, size_t max_len);
int64_t es_io_now_ns(void);

#endif
