/*
 * target_file.c - the disk's limit: the same framed bytes esfs would write
 * (es_frame_encode from src/format, the only internal header the bench
 * uses, so the byte counts match exactly) appended to a plain file on the
 * same file system, acknowledged only once durable.
 *   --fsync=group  writers hand their frame to one committer thread, which
 *                  writes everything pending with one writev and one
 *                  fdatasync, then acknowledges all of them (group commit,
 *                  what esfs's writer thread does, minus FUSE and indexes);
 *   --fsync=each   every writer appends through its own descriptor and
 *                  calls fdatasync after every event.
 * --prealloc (with group) zero-fills the file first and then overwrites it
 * in place, so an fdatasync never has to write the inode (the size does not
 * change): what preallocated segments would gain.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "esfs/esfs.h"
#include "format/frame.h"

#define FRAME_TYPE "BenchEvent"

struct rec {
    const unsigned char *data;
    size_t len;
    bool done;
    int rc;
    pthread_cond_t cond;
    struct rec *next;
};

struct file_shared {
    bool group;
    bool prealloc; /* group: the file was zero-filled first; pwritev at end_off */
    off_t end_off; /* committer only */
    int fd;        /* group: the committer's */
    pthread_mutex_t lock;
    pthread_cond_t work;
    struct rec *head, **tail;
    bool stop;
    pthread_t committer;
    bool committer_running;
    uint64_t fsyncs, batches, max_batch; /* committer only */
};

struct file_writer {
    int fd; /* each: the writer's own */
    unsigned char *frame;
    size_t cap;
    uint64_t pos;
    struct rec rec;
};

static void *committer_main(void *p)
{
    struct file_shared *fs = p;
    struct iovec iov[IOV_MAX];
    pthread_mutex_lock(&fs->lock);
    for (;;) {
        while (!fs->head && !fs->stop)
            pthread_cond_wait(&fs->work, &fs->lock);
        if (!fs->head)
            break;
        struct rec *batch = fs->head;
        fs->head = NULL;
        fs->tail = &fs->head;
        pthread_mutex_unlock(&fs->lock);

        int rc = 0;
        uint64_t n = 0;
        for (struct rec *r = batch; r && rc == 0;) {
            int cnt = 0;
            size_t total = 0;
            for (; r && cnt < IOV_MAX; r = r->next, cnt++) {
                iov[cnt] = (struct iovec){(void *)r->data, r->len};
                total += r->len;
                n++;
            }
            ssize_t w =
                fs->prealloc ? pwritev(fs->fd, iov, cnt, fs->end_off) : writev(fs->fd, iov, cnt);
            if (w > 0)
                fs->end_off += w;
            if (w < 0)
                rc = -errno;
            else if ((size_t)w != total)
                rc = -EIO;
        }
        if (rc == 0 && fdatasync(fs->fd) != 0)
            rc = -errno;
        fs->fsyncs++;
        fs->batches++;
        if (n > fs->max_batch)
            fs->max_batch = n;

        pthread_mutex_lock(&fs->lock);
        for (struct rec *r = batch; r;) {
            struct rec *next = r->next;
            r->rc = rc;
            r->done = true;
            pthread_cond_signal(&r->cond);
            r = next;
        }
    }
    pthread_mutex_unlock(&fs->lock);
    return NULL;
}

static int file_setup(struct bench_run *r)
{
    const struct bench_opts *o = r->o;
    struct file_shared *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return -ENOMEM;
    fs->group = !o->fsync || !strcmp(o->fsync, "group");
    if (!fs->group && strcmp(o->fsync, "each") != 0) {
        fprintf(stderr, "esfs-bench: --fsync is group or each\n");
        free(fs);
        return -EINVAL;
    }
    fs->prealloc = o->prealloc;
    if (fs->prealloc && !fs->group) {
        fprintf(stderr, "esfs-bench: --prealloc goes with --fsync=group\n");
        free(fs);
        return -EINVAL;
    }
    fs->fd = open(o->path, O_WRONLY | (fs->prealloc ? 0 : O_APPEND) | O_CREAT | O_TRUNC | O_CLOEXEC,
                  0644);
    if (fs->fd < 0) {
        int e = errno;
        fprintf(stderr, "esfs-bench: open %s: %s\n", o->path, strerror(e));
        free(fs);
        return -e;
    }
    if (fs->prealloc) {
        /* zeros written and synced beforehand: appends then overwrite
         * allocated blocks and never change the file's size */
        static const char zeros[1 << 16];
        uint64_t want = o->events * (o->payload_bytes + 128) + (1 << 20);
        for (uint64_t done = 0; done < want; done += sizeof(zeros))
            if (write(fs->fd, zeros, sizeof(zeros)) != (ssize_t)sizeof(zeros)) {
                int e = errno;
                close(fs->fd);
                free(fs);
                return -e;
            }
    }
    fsync(fs->fd); /* the file's creation is not part of the measurement */
    pthread_mutex_init(&fs->lock, NULL);
    pthread_cond_init(&fs->work, NULL);
    fs->tail = &fs->head;
    r->shared = fs;
    if (fs->group) {
        if (pthread_create(&fs->committer, NULL, committer_main, fs) != 0)
            return -EAGAIN;
        fs->committer_running = true;
    }
    return 0;
}

static int file_writer_open(struct bench_writer *w)
{
    struct file_shared *fs = w->run->shared;
    struct file_writer *fw = calloc(1, sizeof(*fw));
    if (!fw)
        return -ENOMEM;
    w->state = fw;
    fw->fd = -1;
    fw->pos = (uint64_t)w->id << 40;
    pthread_cond_init(&fw->rec.cond, NULL);
    if (!fs->group) {
        fw->fd = open(w->run->o->path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fw->fd < 0)
            return -errno;
    }
    return 0;
}

static int file_append(struct bench_writer *w, size_t k, const char *line, size_t len,
                       int64_t expected)
{
    (void)expected;
    struct file_shared *fs = w->run->shared;
    struct file_writer *fw = w->state;
    size_t name_len = strlen(w->names[k]);
    size_t payload_len = len - 1;
    size_t size = es_frame_size(name_len, strlen(FRAME_TYPE), payload_len);
    if (size > fw->cap) {
        unsigned char *more = realloc(fw->frame, size);
        if (!more)
            return -ENOMEM;
        fw->frame = more;
        fw->cap = size;
    }
    struct es_event ev = {.pos = ++fw->pos,
                          .version = w->versions[k] + 1,
                          .ts_ns = bench_now_ns(),
                          .stream = w->names[k],
                          .stream_len = name_len,
                          .type = FRAME_TYPE,
                          .type_len = strlen(FRAME_TYPE),
                          .payload = (const unsigned char *)line,
                          .payload_len = payload_len,
                          .payload_is_json = true};
    size = es_frame_encode(&ev, fw->frame);
    if (!fs->group) {
        ssize_t n = write(fw->fd, fw->frame, size);
        if (n < 0)
            return -errno;
        if ((size_t)n != size)
            return -EIO;
        return fdatasync(fw->fd) == 0 ? 0 : -errno;
    }
    struct rec *r = &fw->rec;
    r->data = fw->frame;
    r->len = size;
    r->done = false;
    r->next = NULL;
    pthread_mutex_lock(&fs->lock);
    *fs->tail = r;
    fs->tail = &r->next;
    pthread_cond_signal(&fs->work);
    while (!r->done)
        pthread_cond_wait(&r->cond, &fs->lock);
    pthread_mutex_unlock(&fs->lock);
    return r->rc;
}

static void file_writer_close(struct bench_writer *w)
{
    struct file_writer *fw = w->state;
    if (!fw)
        return;
    if (fw->fd >= 0)
        close(fw->fd);
    pthread_cond_destroy(&fw->rec.cond);
    free(fw->frame);
    free(fw);
    w->state = NULL;
}

static void file_report(struct bench_run *r)
{
    struct file_shared *fs = r->shared;
    if (!fs->group)
        return;
    uint64_t done = 0;
    for (unsigned i = 0; i < r->o->writers; i++)
        done += r->writers[i].n_done;
    printf(" fsyncs=%" PRIu64 " events_per_fsync=%.2f max_batch=%" PRIu64, fs->fsyncs,
           fs->fsyncs ? (double)done / (double)fs->fsyncs : 0.0, fs->max_batch);
}

static int file_teardown(struct bench_run *r)
{
    struct file_shared *fs = r->shared;
    if (fs->committer_running) {
        pthread_mutex_lock(&fs->lock);
        fs->stop = true;
        pthread_cond_signal(&fs->work);
        pthread_mutex_unlock(&fs->lock);
        pthread_join(fs->committer, NULL);
    }
    close(fs->fd);
    pthread_mutex_destroy(&fs->lock);
    pthread_cond_destroy(&fs->work);
    free(fs);
    r->shared = NULL;
    return 0;
}

const struct bench_target bench_target_file = {
    .name = "file",
    .setup = file_setup,
    .writer_open = file_writer_open,
    .append = file_append,
    .writer_close = file_writer_close,
    .report = file_report,
    .teardown = file_teardown,
};
