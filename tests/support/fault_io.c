/*
 * fault_io.c - the fault-injecting seam (see fault_io.h). Thread-safe: the
 * store's writer and sealer threads call it concurrently with the test.
 */
#include "fault_io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/io.h"

#define MAX_RULES 16
#define MAX_FDS   4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault_rule rules[MAX_RULES];
static uint64_t rule_seen[MAX_RULES], rule_failed[MAX_RULES];
static int n_rules;
static uint64_t calls[FAULT_N_OPS], failed[FAULT_N_OPS];
static char *fd_path[MAX_FDS];

static void remember(int fd, const char *path)
{
    if (fd < 0 || fd >= MAX_FDS)
        return;
    pthread_mutex_lock(&lock);
    free(fd_path[fd]);
    fd_path[fd] = strdup(path);
    pthread_mutex_unlock(&lock);
}

/* Counts a call; returns the rule that fails it (or -1), with the lock
 * released. */
static int decide(enum fault_op op, const char *path, int fd)
{
    pthread_mutex_lock(&lock);
    calls[op]++;
    if (!path && fd >= 0 && fd < MAX_FDS)
        path = fd_path[fd];
    int hit = -1;
    for (int i = 0; i < n_rules && hit < 0; i++) {
        struct fault_rule *r = &rules[i];
        if (r->op != op)
            continue;
        if (r->path_contains && (!path || !strstr(path, r->path_contains)))
            continue;
        uint64_t seen = rule_seen[i]++;
        if (seen < r->skip)
            continue;
        if (r->times && rule_failed[i] >= r->times)
            continue;
        rule_failed[i]++;
        failed[op]++;
        hit = i;
    }
    pthread_mutex_unlock(&lock);
    return hit;
}

static int f_open(const char *path, int flags, mode_t mode)
{
    int hit = decide(FAULT_OPEN, path, -1);
    if (hit >= 0) {
        errno = rules[hit].errno_value;
        return -1;
    }
    int fd = es_io_posix.open(path, flags, mode);
    if (fd >= 0)
        remember(fd, path);
    return fd;
}

static int f_close(int fd)
{
    return es_io_posix.close(fd);
}

static ssize_t f_pread(int fd, void *buf, size_t n, off_t off)
{
    int hit = decide(FAULT_PREAD, NULL, fd);
    if (hit >= 0) {
        errno = rules[hit].errno_value;
        return -1;
    }
    return es_io_posix.pread(fd, buf, n, off);
}

static ssize_t f_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    int hit = decide(FAULT_PWRITE, NULL, fd);
    if (hit >= 0) {
        if (rules[hit].short_write && n > 1) {
            /* a short write: half goes through; the retry of the rest fails */
            ssize_t w = es_io_posix.pwrite(fd, buf, n / 2, off);
            if (w > 0)
                return w;
        }
        errno = rules[hit].errno_value;
        return -1;
    }
    return es_io_posix.pwrite(fd, buf, n, off);
}

#define SIMPLE_FD(name, OP, call)                                                                  \
    static int name(int fd)                                                                        \
    {                                                                                              \
        int hit = decide(OP, NULL, fd);                                                            \
        if (hit >= 0) {                                                                            \
            errno = rules[hit].errno_value;                                                        \
            return -1;                                                                             \
        }                                                                                          \
        return call(fd);                                                                           \
    }
SIMPLE_FD(f_fsync, FAULT_FSYNC, es_io_posix.fsync)
SIMPLE_FD(f_fdatasync, FAULT_FDATASYNC, es_io_posix.fdatasync)

static int f_ftruncate(int fd, off_t len)
{
    int hit = decide(FAULT_FTRUNCATE, NULL, fd);
    if (hit >= 0) {
        errno = rules[hit].errno_value;
        return -1;
    }
    return es_io_posix.ftruncate(fd, len);
}

static int f_rename(const char *a, const char *b)
{
    int hit = decide(FAULT_RENAME, b, -1);
    if (hit >= 0) {
        errno = rules[hit].errno_value;
        return -1;
    }
    return es_io_posix.rename(a, b);
}

static int f_unlink(const char *p)
{
    int hit = decide(FAULT_UNLINK, p, -1);
    if (hit >= 0) {
        errno = rules[hit].errno_value;
        return -1;
    }
    return es_io_posix.unlink(p);
}

static int f_mkdir(const char *p, mode_t m)
{
    int hit = decide(FAULT_MKDIR, p, -1);
    if (hit >= 0) {
        errno = rules[hit].errno_value;
        return -1;
    }
    return es_io_posix.mkdir(p, m);
}

static int f_fallocate(int fd, int mode, off_t off, off_t len)
{
    int hit = decide(FAULT_FALLOCATE, NULL, fd);
    if (hit >= 0) {
        errno = rules[hit].errno_value;
        return -1;
    }
    return es_io_posix.fallocate(fd, mode, off, len);
}

static int f_fstat(int fd, struct stat *st)
{
    return es_io_posix.fstat(fd, st);
}

static const struct es_io_ops fault_ops = {
    .open = f_open,
    .close = f_close,
    .pread = f_pread,
    .pwrite = f_pwrite,
    .fsync = f_fsync,
    .fdatasync = f_fdatasync,
    .ftruncate = f_ftruncate,
    .fstat = f_fstat,
    .rename = f_rename,
    .unlink = f_unlink,
    .mkdir = f_mkdir,
    .fallocate = f_fallocate,
    .clock_realtime_ns = NULL,
};

static struct es_io_ops installed;

void fault_io_install(void)
{
    fault_io_reset();
    installed = fault_ops;
    installed.clock_realtime_ns = es_io_posix.clock_realtime_ns;
    es_io_set(&installed);
}

void fault_io_uninstall(void)
{
    es_io_set(NULL);
    fault_io_reset();
}

void fault_io_set_clock(int64_t (*now_ns)(void))
{
    installed.clock_realtime_ns = now_ns ? now_ns : es_io_posix.clock_realtime_ns;
}

void fault_io_reset(void)
{
    pthread_mutex_lock(&lock);
    n_rules = 0;
    memset(rule_seen, 0, sizeof(rule_seen));
    memset(rule_failed, 0, sizeof(rule_failed));
    memset(calls, 0, sizeof(calls));
    memset(failed, 0, sizeof(failed));
    pthread_mutex_unlock(&lock);
}

void fault_io_add(const struct fault_rule *r)
{
    pthread_mutex_lock(&lock);
    if (n_rules < MAX_RULES)
        rules[n_rules++] = *r;
    pthread_mutex_unlock(&lock);
}

uint64_t fault_io_calls(enum fault_op op)
{
    pthread_mutex_lock(&lock);
    uint64_t n = calls[op];
    pthread_mutex_unlock(&lock);
    return n;
}

uint64_t fault_io_failed(enum fault_op op)
{
    pthread_mutex_lock(&lock);
    uint64_t n = failed[op];
    pthread_mutex_unlock(&lock);
    return n;
}
