/*
 * read.c - sequential reads the way `cat` does them: open, read(2) until end
 * of file, close, with GNU cat's buffer size: the larger of 128 KiB and the
 * file's st_blksize (coreutils io_blksize), unless --read-size sets one. Either one file
 * (--path: the mount's `all`, or a plain copy of it) or the files
 * DIR/PREFIX0 .. DIR/PREFIX<S-1> one after the other (--dir, --prefix,
 * --streams: single streams through the mount, or plain copies of them).
 * Counts bytes and lines (= events) and reports events/s and MB/s
 * (10^6 bytes).
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAT_MIN_READ (128u << 10)
#define CAT_MAX_READ (8u << 20)

/* buf holds CAT_MAX_READ bytes; size 0: cat's choice for this file. */
static int read_one(const char *path, char *buf, size_t size, uint64_t *bytes, uint64_t *lines)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "esfs-bench: open %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (size == 0) {
        size = CAT_MIN_READ;
        if (fstat(fd, &st) == 0 && (size_t)st.st_blksize > size)
            size = (size_t)st.st_blksize;
        if (size > CAT_MAX_READ)
            size = CAT_MAX_READ;
    }
    ssize_t n;
    while ((n = read(fd, buf, size)) > 0) {
        *bytes += (uint64_t)n;
        for (const char *p = buf, *end = buf + n; (p = memchr(p, '\n', (size_t)(end - p))); p++)
            (*lines)++;
    }
    int e = errno;
    close(fd);
    if (n < 0) {
        fprintf(stderr, "esfs-bench: read %s: %s\n", path, strerror(e));
        return -1;
    }
    return 0;
}

int bench_read(const struct bench_opts *o)
{
    size_t size = o->read_bytes; /* 0: cat's choice per file */
    char *buf = malloc(size ? size : CAT_MAX_READ);
    if (!buf)
        return 1;
    uint64_t bytes = 0, lines = 0, files = 0;
    int status = 0;
    int64_t t0 = bench_now_ns();
    if (o->path) {
        files = 1;
        status = read_one(o->path, buf, size, &bytes, &lines) ? 1 : 0;
    } else {
        for (unsigned k = 0; k < o->streams && status == 0; k++) {
            char name[BENCH_NAME_MAX], path[4096];
            bench_stream_name(o, k, name, sizeof(name));
            snprintf(path, sizeof(path), "%s/%s", o->dir, name);
            status = read_one(path, buf, size, &bytes, &lines) ? 1 : 0;
            files++;
        }
    }
    int64_t t1 = bench_now_ns();
    free(buf);
    if (status)
        return status;
    double secs = (double)(t1 - t0) / 1e9;
    printf("mode=read files=%" PRIu64 " bytes=%" PRIu64 " events=%" PRIu64
           " read_size=%zu elapsed_s=%.4f events_per_s=%.0f mb_per_s=%.1f files_per_s=%.0f\n",
           files, bytes, lines, o->read_bytes, secs, secs > 0 ? (double)lines / secs : 0.0,
           secs > 0 ? (double)bytes / secs / 1e6 : 0.0, secs > 0 ? (double)files / secs : 0.0);
    return 0;
}
