/*
 * ops_file.c - open files: open/create, write (line framing and appends),
 * flush, release, read, poll, fsync. Normative: docs/filesystem.md.
 *
 * Appending (PRODUCT.md, "Appending"): each open file keeps the unfinished
 * last line of its writes; a write's complete lines (with that line's
 * beginning) go to the store as one append, all or nothing, and the write is
 * answered from the store's writer thread once they are durable - no worker
 * thread waits. A line over --max-event-size fails every write that holds a
 * part of it with EMSGSIZE, and nothing of those writes is appended.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

static struct fs *fs_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

static struct fh *fh_new(struct fs *fs, enum fh_kind kind, const char *name, size_t len)
{
    struct fh *fh = calloc(1, sizeof(*fh));
    if (!fh)
        return NULL;
    fh->kind = kind;
    fh->fs = fs;
    if (name) {
        memcpy(fh->name, name, len);
        fh->len = len;
    }
    fh->expected = ES_VERSION_ANY;
    pthread_mutex_init(&fh->lock, NULL);
    atomic_fetch_add(&fs->open_files, 1);
    return fh;
}

static void fh_free(struct fh *fh)
{
    if (fh->counted_pending)
        pending_drop(fh->fs, fh->name, fh->len);
    atomic_fetch_sub(&fh->fs->open_files, 1);
    es_lines_release(&fh->lines);
    free(fh->text);
    pthread_mutex_destroy(&fh->lock);
    free(fh);
}

static bool wants_write(int flags)
{
    return (flags & O_ACCMODE) != O_RDONLY;
}

/* Opens streams/<id> for fh; the caller replies. */
static int open_stream(struct fs *fs, const char *name, size_t len, int flags, bool created,
                       struct fh **out)
{
    struct es_stream_info si;
    bool exists = es_store_stream_info(fs->store, name, len, &si) == 0;
    if (!exists && !created && !pending_has(fs, name, len))
        return ENOENT;
    if (wants_write(flags) && fs->opt.store_opt.read_only)
        return EROFS;
    if ((flags & O_TRUNC) && exists) {
        fs_log(fs, ES_LOG_WARN,
               "open of stream %.*s with O_TRUNC refused: events are immutable "
               "(EPERM)",
               (int)len, name);
        return EPERM;
    }
    struct fh *fh = fh_new(fs, FH_STREAM, name, len);
    if (!fh)
        return ENOMEM;
    fh->is_writer = wants_write(flags);
    fh->append_mode = (flags & O_APPEND) != 0;
    fh->next_off = exists ? si.view_bytes : 0;
    if (fh->is_writer && !exists) {
        pending_add(fs, name, len);
        fh->counted_pending = true;
    }
    *out = fh;
    return 0;
}

void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fs *fs = fs_of(req);
    struct fh *fh = NULL;
    bool writes = wants_write(fi->flags);
    struct node *n = ino >= INO_FIRST_DYNAMIC ? node_find(fs, ino) : NULL;
    if (ino >= INO_FIRST_DYNAMIC && !n) {
        fs_reply_err(fs, req, ENOENT);
        return;
    }
    int mask = (fi->flags & O_ACCMODE) == O_RDONLY   ? R_OK
               : (fi->flags & O_ACCMODE) == O_WRONLY ? W_OK
                                                     : R_OK | W_OK;
    if (fi->flags & O_TRUNC)
        mask |= W_OK;
    int err = fs_check_access(fs, req, ino, n, mask);
    if (err) {
        fs_reply_err(fs, req, err);
        return;
    }
    switch (ino) {
    case INO_ALL:
    case INO_WATCH_ALL:
    case INO_METRICS:
        if (writes || (fi->flags & O_TRUNC)) {
            fs_log(fs, ES_LOG_WARN, "open of %s for writing refused: it is read-only (EPERM)",
                   ino == INO_ALL         ? "all"
                   : ino == INO_WATCH_ALL ? "watch/all"
                                          : ".esfs/metrics");
            err = EPERM;
            break;
        }
        fh = fh_new(fs,
                    ino == INO_ALL         ? FH_ALL
                    : ino == INO_WATCH_ALL ? FH_WATCH_ALL
                                           : FH_METRICS,
                    NULL, 0);
        if (!fh)
            err = ENOMEM;
        else if (ino == INO_METRICS && metrics_render(fs, &fh->text, &fh->text_len) != 0)
            err = ENOMEM;
        break;
    case INO_SEAL:
        if (!writes)
            err = EACCES;
        else if (fs->opt.store_opt.read_only)
            err = EROFS;
        else if (!(fh = fh_new(fs, FH_SEAL, NULL, 0)))
            err = ENOMEM;
        break;
    default: {
        if (!n) {
            err = ino < INO_FIRST_DYNAMIC ? EISDIR : ENOENT;
            break;
        }
        if (n->kind == NODE_WATCH_STREAM) {
            if (writes) {
                fs_log(fs, ES_LOG_WARN, "open of watch/streams/%.*s for writing refused (EPERM)",
                       (int)n->len, n->name);
                err = EPERM;
            } else if (!(fh = fh_new(fs, FH_WATCH_STREAM, n->name, n->len))) {
                err = ENOMEM;
            }
            break;
        }
        err = open_stream(fs, n->name, n->len, fi->flags, false, &fh);
        if (!err)
            node_note_open(fs, n, writes);
    }
    }
    if (err) {
        if (fh)
            fh_free(fh);
        fs_reply_err(fs, req, err);
        return;
    }
    fi->fh = (uint64_t)(uintptr_t)fh;
    /* Reads of all and of streams opened read-only go through the page
     * cache: their bytes never change, and the kernel drops its cache of a
     * file whose size it sees change (FUSE_CAP_AUTO_INVAL_DATA, on: a
     * cached last page is never served short; FUSE-NOTES §4). Writers,
     * watch files (a read at the end must reach the daemon) and the
     * generated files use direct I/O. */
    bool cached = fs->cached_reads && !atomic_load(&fs->corruption_seen) && !writes &&
                  (fh->kind == FH_ALL || fh->kind == FH_STREAM);
    fi->direct_io = !cached;
    fi->keep_cache = cached;
    fi->noflush = !writes; /* nothing to flush: saves a request per close */
    if (fuse_reply_open(req, fi) != 0)
        fh_free(fh);
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
               struct fuse_file_info *fi)
{
    (void)mode;
    struct fs *fs = fs_of(req);
    size_t len = strlen(name);
    int aerr = fs_check_access(fs, req, parent, NULL, W_OK | X_OK);
    if (aerr) {
        fs_reply_err(fs, req, aerr);
        return;
    }
    if (parent != INO_STREAMS) {
        fs_log(fs, ES_LOG_WARN,
               "create of %s refused: new files can only be streams, in "
               "streams/ (EPERM)",
               name);
        fs_reply_err(fs, req, EPERM);
        return;
    }
    int rc = es_stream_name_check(name, len);
    if (rc) {
        fs_log(fs, ES_LOG_WARN, "create of stream '%s' refused: %s", name, es_error_detail());
        fs_reply_err(fs, req, es_errno(rc));
        return;
    }
    if (fs->opt.store_opt.read_only) {
        fs_reply_err(fs, req, EROFS);
        return;
    }
    struct es_stream_info si;
    bool exists =
        es_store_stream_info(fs->store, name, len, &si) == 0 || pending_has(fs, name, len);
    if (exists && (fi->flags & O_EXCL)) {
        fs_log(fs, ES_LOG_INFO, "exclusive create of stream %s refused: it exists (EEXIST)", name);
        fs_reply_err(fs, req, EEXIST);
        return;
    }
    struct fh *fh;
    int err = open_stream(fs, name, len, fi->flags | O_WRONLY, true, &fh);
    if (err) {
        fs_reply_err(fs, req, err);
        return;
    }
    if (fi->flags & O_EXCL)
        fh->expected = 0; /* the first append must still find the stream new */
    struct node *n = node_get(fs, NODE_STREAM, name, len);
    if (!n) {
        fh_free(fh);
        fs_reply_err(fs, req, ENOMEM);
        return;
    }
    node_note_open(fs, n, true);
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    e.ino = n->id;
    e.attr_timeout = fs_attr_timeout(n->id);
    e.entry_timeout = fs->opt.stream_nodes == ES_NODES_PER_OPEN ? 0.0 : 1.0;
    fs_fill_attr(fs, n->id, n, &e.attr);
    fi->fh = (uint64_t)(uintptr_t)fh;
    fi->direct_io = 1;
    if (fuse_reply_create(req, &e, fi) != 0) {
        node_forget(fs, n->id, 1);
        fh_free(fh);
    }
}

/* ---- appending ---- */

struct pending_write {
    struct fs *fs;
    fuse_req_t req;
    struct fh *fh;
    size_t size;         /* bytes to acknowledge */
    struct es_buf saved; /* the partial line before this write, restored on failure */
    bool is_flush;
    size_t n_events;
    int64_t expected;
};

static void log_append_failure(struct fs *fs, const struct pending_write *pw, int rc,
                               const struct es_append_result *res)
{
    const struct fh *fh = pw->fh;
    if (rc == ES_ECONFLICT)
        fs_log(fs, ES_LOG_WARN,
               "append of %zu event(s) to %.*s refused: expected version %lld, the stream is at "
               "version %llu (ECANCELED)",
               pw->n_events, (int)fh->len, fh->name, (long long)pw->expected,
               (unsigned long long)(res ? res->version : 0));
    else
        fs_log(fs, rc == -ENOSPC ? ES_LOG_WARN : ES_LOG_ERROR,
               "append of %zu event(s) to %.*s failed: %s (%s)", pw->n_events, (int)fh->len,
               fh->name, es_strerror(rc), strerror(es_errno(rc)));
}

static void append_done(void *arg, int rc, const struct es_append_result *res)
{
    struct pending_write *pw = arg;
    struct fh *fh = pw->fh;
    if (rc != 0) {
        log_append_failure(pw->fs, pw, rc, res);
        if (!pw->is_flush) {
            /* the write failed as a whole: its bytes were never accepted */
            pthread_mutex_lock(&fh->lock);
            es_buf_reset(&fh->lines.partial);
            es_buf_append(&fh->lines.partial, pw->saved.data, pw->saved.len);
            pthread_mutex_unlock(&fh->lock);
        }
        atomic_fetch_add(&pw->fs->write_errors, 1);
        fs_reply_err(pw->fs, pw->req, es_errno(rc));
    } else if (pw->is_flush) {
        fuse_reply_err(pw->req, 0);
    } else {
        fuse_reply_write(pw->req, pw->size);
    }
    es_buf_release(&pw->saved);
    free(pw);
}

/* Submits events as one append checked against expected (the caller has
 * consumed fh's one-shot expectation); on success the reply comes from
 * append_done. A write holds fh->lock; a flush must not (see op_flush).
 * Once the append is queued, fh is not touched: the reply may be sent from
 * the writer thread before this returns. Returns 0 when queued, or a
 * positive errno. */
static int submit(struct fs *fs, fuse_req_t req, struct fh *fh, struct es_payload *events, size_t n,
                  size_t ack_size, bool is_flush, int64_t expected)
{
    struct pending_write *pw = calloc(1, sizeof(*pw));
    if (!pw)
        return ENOMEM;
    pw->fs = fs;
    pw->req = req;
    pw->fh = fh;
    pw->size = ack_size;
    pw->is_flush = is_flush;
    pw->n_events = n;
    pw->expected = expected;
    if (!is_flush &&
        es_buf_append(&pw->saved, fh->lines.partial.data, fh->lines.partial.len) != 0) {
        free(pw);
        return ENOMEM;
    }
    struct es_append a = {.stream = fh->name,
                          .stream_len = fh->len,
                          .events = events,
                          .n_events = n,
                          .expected_version = expected,
                          .done = append_done,
                          .done_arg = pw};
    int rc = es_store_append_async(fs->store, &a);
    if (rc) {
        fs_log(fs, ES_LOG_ERROR, "append of %zu event(s) to %.*s refused: %s", n, (int)fh->len,
               fh->name, es_error_detail());
        es_buf_release(&pw->saved);
        free(pw);
        return es_errno(rc);
    }
    return 0;
}

/* The write of buf to a stream file (fh->lock held). Returns 0 when the
 * reply is done or deferred, else a positive errno to reply. */
static int stream_write(struct fs *fs, fuse_req_t req, struct fh *fh, const char *buf, size_t size)
{
    const size_t max = fs->opt.store_opt.max_event_bytes;
    struct es_lines_split sp;
    int rc = es_lines_split(&fh->lines, buf, size, max, &sp);
    if (rc == ES_ETOOBIG) {
        fs_log(fs, ES_LOG_WARN,
               "write to %.*s refused: it holds part of a line of %zu bytes or more, over the "
               "%zu-byte --max-event-size (EMSGSIZE); nothing of the write appended",
               (int)fh->len, fh->name, sp.too_long, max);
        es_lines_split_release(&sp);
        return EMSGSIZE;
    }
    if (rc) {
        es_lines_split_release(&sp);
        return ENOMEM;
    }
    int err = 0;
    if (sp.n_events == 0) {
        /* no line ended, or only empty ones: nothing to append */
        if (es_lines_accept(&fh->lines, &sp) != 0)
            err = ENOMEM;
        else
            fuse_reply_write(req, size);
    } else {
        int64_t expected = fh->expected;
        fh->expected = ES_VERSION_ANY; /* one-shot: consumed by this append */
        err = submit(fs, req, fh, sp.events, sp.n_events, size, false, expected);
        /* the store copied the events; keep the new unfinished line */
        if (err == 0 && es_lines_accept(&fh->lines, &sp) != 0)
            fs_log(fs, ES_LOG_ERROR, "out of memory keeping the unfinished line of %.*s",
                   (int)fh->len, fh->name);
    }
    es_lines_split_release(&sp);
    return err;
}

static void seal_done(void *arg, int rc, const struct es_append_result *res)
{
    (void)res;
    struct pending_write *pw = arg;
    if (rc) {
        fs_log(pw->fs, ES_LOG_ERROR, "seal requested through .esfs/seal failed: %s (%s)",
               es_strerror(rc), strerror(es_errno(rc)));
        fs_reply_err(pw->fs, pw->req, es_errno(rc));
    } else {
        fuse_reply_write(pw->req, pw->size);
    }
    free(pw);
}

void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
              struct fuse_file_info *fi)
{
    (void)ino;
    struct fs *fs = fs_of(req);
    struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
    atomic_fetch_add_explicit(&fs->writes, 1, memory_order_relaxed);
    if (fh->kind == FH_SEAL) {
        struct pending_write *pw = calloc(1, sizeof(*pw));
        if (!pw) {
            fs_reply_err(fs, req, ENOMEM);
            return;
        }
        pw->fs = fs;
        pw->req = req;
        pw->size = size;
        int rc = es_store_seal_async(fs->store, seal_done, pw);
        if (rc) {
            free(pw);
            fs_reply_err(fs, req, es_errno(rc));
        }
        return;
    }
    if (fh->kind != FH_STREAM || !fh->is_writer) {
        fs_reply_err(fs, req, EBADF);
        return;
    }
    pthread_mutex_lock(&fh->lock);
    int err = 0;
    if (!fh->append_mode && (uint64_t)off != fh->next_off) {
        fs_log(fs, ES_LOG_WARN,
               "write at offset %lld of stream %.*s refused: only appends at the "
               "end (%llu) are allowed (EPERM)",
               (long long)off, (int)fh->len, fh->name, (unsigned long long)fh->next_off);
        err = EPERM;
    }
    if (!err) {
        const struct fuse_ctx *ctx = fuse_req_ctx(req);
        int64_t armed;
        if (xattr_take_armed(fs, fh->name, fh->len, ctx->pid, &armed))
            fh->expected = armed;
        err = stream_write(fs, req, fh, buf, size);
        if (!err && !fh->append_mode)
            fh->next_off += size;
    }
    pthread_mutex_unlock(&fh->lock);
    if (err) {
        atomic_fetch_add(&fs->write_errors, 1);
        fs_reply_err(fs, req, err);
    }
}

/* Whether thread tid is exiting because a signal killed it
 * (/proc/<tid>/stat: flags has PF_EXITING, exit_code holds a signal). */
static bool killed_by_signal(pid_t tid)
{
    if (tid <= 0)
        return false;
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)tid);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return false;
    /* fields after the command: 3 state, 4 ppid, ... 9 flags, ... 52 exit_code */
    unsigned long long field[53] = {0};
    int i = 3;
    char *save = NULL; /* strtok_r: flushes run on several worker threads at once */
    for (char *tok = strtok_r(p + 2, " ", &save); tok && i <= 52;
         tok = strtok_r(NULL, " ", &save), i++)
        field[i] = strtoull(tok, NULL, 10);
    if (i <= 52)
        return false;
    const unsigned long long pf_exiting = 0x4;
    return (field[9] & pf_exiting) && (field[52] & 0x7f) != 0;
}

void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    struct fs *fs = fs_of(req);
    struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
    if (fh->kind != FH_STREAM || !fh->is_writer) {
        fuse_reply_err(req, 0);
        return;
    }
    pthread_mutex_lock(&fh->lock);
    int err = 0;
    struct es_buf line = {0};
    int64_t expected = ES_VERSION_ANY;
    if (fh->lines.discarding) {
        fh->lines.discarding = false;
        es_buf_reset(&fh->lines.partial);
    } else if (fh->lines.partial.len > 0) {
        const struct fuse_ctx *ctx = fuse_req_ctx(req);
        if (killed_by_signal(ctx->pid)) {
            fs_log(fs, ES_LOG_WARN,
                   "writer of %.*s (thread %d) killed by a signal mid-line: "
                   "%zu bytes of an unfinished line discarded",
                   (int)fh->len, fh->name, (int)ctx->pid, fh->lines.partial.len);
            es_buf_reset(&fh->lines.partial);
        } else {
            int64_t armed;
            if (xattr_take_armed(fs, fh->name, fh->len, ctx->pid, &armed))
                fh->expected = armed;
            /* the line leaves fh, and is submitted after the unlock: the
             * flush may be answered (from the writer thread) before this
             * handler returns, and the RELEASE that follows frees fh */
            line = fh->lines.partial;
            memset(&fh->lines.partial, 0, sizeof(fh->lines.partial));
            expected = fh->expected;
            fh->expected = ES_VERSION_ANY;
        }
    }
    pthread_mutex_unlock(&fh->lock);
    if (line.len > 0) {
        struct es_payload ev = {line.data, line.len};
        err = submit(fs, req, fh, &ev, 1, 0, true, expected);
        es_buf_release(&line); /* the store copied it */
        if (err == 0)
            return; /* answered by append_done */
    }
    if (err)
        fs_reply_err(fs, req, err);
    else
        fuse_reply_err(req, 0);
}

void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    struct fs *fs = fs_of(req);
    struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
    if (fh->kind == FH_STREAM && fh->is_writer) {
        if (fh->lines.partial.len > 0)
            fs_log(fs, ES_LOG_WARN, "closing %.*s: %zu bytes of an unfinished line discarded",
                   (int)fh->len, fh->name, fh->lines.partial.len);
    }
    if (fh->kind == FH_WATCH_ALL || fh->kind == FH_WATCH_STREAM)
        watch_forget_fh(fs, fh);
    fh_free(fh);
    fuse_reply_err(req, 0);
}

static void sync_done(void *arg, int rc, const struct es_append_result *res)
{
    (void)res;
    struct pending_write *pw = arg;
    if (rc)
        fs_reply_err(pw->fs, pw->req, es_errno(rc));
    else
        fuse_reply_err(pw->req, 0);
    free(pw);
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)ino;
    (void)datasync;
    (void)fi;
    struct fs *fs = fs_of(req);
    if (fs->opt.store_opt.read_only || fs->opt.store_opt.sync == ES_SYNC_ALWAYS) {
        /* every acknowledged append is already durable */
        fuse_reply_err(req, 0);
        return;
    }
    struct pending_write *pw = calloc(1, sizeof(*pw));
    if (!pw) {
        fs_reply_err(fs, req, ENOMEM);
        return;
    }
    pw->fs = fs;
    pw->req = req;
    int rc = es_store_sync_async(fs->store, sync_done, pw);
    if (rc) {
        free(pw);
        fs_reply_err(fs, req, es_errno(rc));
    }
}

/* ---- reading ---- */

static _Thread_local struct es_buf read_buf;

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)ino;
    struct fs *fs = fs_of(req);
    struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
    atomic_fetch_add_explicit(&fs->reads, 1, memory_order_relaxed);
    if (fh->kind == FH_METRICS) {
        size_t from = (uint64_t)off < fh->text_len ? (size_t)off : fh->text_len;
        size_t n = fh->text_len - from < size ? fh->text_len - from : size;
        /* reply from this thread's buffer, never from fh->text: the reader's
         * close may have the RELEASE free it on another worker while this
         * reply's writev returns, and the ASan build's writev interceptor
         * checks the iovec after the call (the instrumented daemon aborted) */
        es_buf_reset(&read_buf);
        if (es_buf_append(&read_buf, fh->text + from, n) != 0) {
            fs_reply_err(fs, req, ENOMEM);
            return;
        }
        fuse_reply_buf(req, (const char *)read_buf.data, n);
        return;
    }
    if (fh->kind == FH_SEAL || fh->kind == FH_DIR) {
        fs_reply_err(fs, req, EBADF);
        return;
    }
    es_buf_reset(&read_buf);
    if (es_buf_reserve(&read_buf, size) != 0) {
        fs_reply_err(fs, req, ENOMEM);
        return;
    }
    bool is_all = fh->kind == FH_ALL || fh->kind == FH_WATCH_ALL;
    ssize_t n = es_store_read_view(fs->store, is_all ? ES_VIEW_ALL : ES_VIEW_STREAM, fh->name,
                                   fh->len, (uint64_t)off, read_buf.data, size);
    if (n == ES_ENOTFOUND)
        n = 0; /* a stream without events yet reads as empty */
    if (n < 0) {
        if (n == ES_ECORRUPT)
            atomic_store(&fs->corruption_seen, true);
        fs_log(fs, ES_LOG_ERROR, "read of %s%.*s at offset %lld failed: %s", is_all ? "all" : "",
               (int)fh->len, fh->name, (long long)off, es_error_detail());
        fs_reply_err(fs, req, es_errno((int)n));
        return;
    }
    if (n == 0 && (fh->kind == FH_WATCH_ALL || fh->kind == FH_WATCH_STREAM)) {
        watch_park(fs, req, fh, (uint64_t)off, size);
        return;
    }
    if (fh->kind == FH_WATCH_ALL || fh->kind == FH_WATCH_STREAM) {
        pthread_mutex_lock(&fs->watch_lock);
        fh->read_pos = (uint64_t)off + (uint64_t)n;
        pthread_mutex_unlock(&fs->watch_lock);
    }
    atomic_fetch_add_explicit(&fs->read_bytes, (uint64_t)n, memory_order_relaxed);
    fuse_reply_buf(req, (const char *)read_buf.data, (size_t)n);
}

void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
    (void)ino;
    struct fs *fs = fs_of(req);
    struct fh *fh = (struct fh *)(uintptr_t)fi->fh;
    if (fh && (fh->kind == FH_WATCH_ALL || fh->kind == FH_WATCH_STREAM)) {
        watch_poll(fs, req, fh, ph);
        return;
    }
    /* everything else never blocks */
    if (ph)
        fuse_pollhandle_destroy(ph);
    fuse_reply_poll(req, POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM);
}
