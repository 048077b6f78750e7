/*
 * xattr.c - extended attributes: the stream version, and the one-shot
 * expected-version check armed per (stream, calling thread).
 *
 * Arming (docs/filesystem.md, "Optimistic concurrency"): setting
 * user.esfs.expected_version on a stream to N records (stream, tid of the
 * caller) -> N for armed_ttl_s seconds. The next write(2) from that thread
 * to that stream takes it: the check applies to the events that write
 * completes (or, if it completes none, to the next append of that open
 * file), atomically with the append, in the store's writer thread. "any"
 * disarms. Never replies ENOSYS (the kernel would turn xattrs off for the
 * whole mount): unknown names get ENODATA or ENOTSUP.
 *
 * Compare-and-append in one request: setting user.esfs.append.<N> (or
 * user.esfs.append.any) on a stream appends the value's lines as one
 * append checked against N, and the setxattr returns once they are durable
 * (ECANCELED on a mismatch). One round trip instead of setxattr + write
 * (+ the GETATTR the kernel adds after a setxattr); at most 64 KiB, the
 * kernel's limit for a value; no state is left between calls.
 * xattr_lock protects the armed list.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"

#define X_VERSION  "user.esfs.version"
#define X_EXPECTED "user.esfs.expected_version"
#define X_PID      "user.esfs.pid"
#define X_STORE    "user.esfs.store"
#define X_APPEND   "user.esfs.append."

struct armed {
    char name[ES_STREAM_NAME_MAX];
    size_t len;
    pid_t tid;
    int64_t expected;
    int64_t expires_ns;
    struct armed *next;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Unlinks and returns the entry for (name, tid), dropping expired ones. */
static struct armed *take_locked(struct fs *fs, const char *name, size_t len, pid_t tid)
{
    int64_t now = now_ns();
    struct armed *found = NULL;
    for (struct armed **pp = &fs->armed; *pp;) {
        struct armed *a = *pp;
        if (a->expires_ns <= now) {
            *pp = a->next;
            free(a);
            continue;
        }
        if (!found && a->tid == tid && a->len == len && memcmp(a->name, name, len) == 0) {
            *pp = a->next;
            found = a;
            continue;
        }
        pp = &a->next;
    }
    return found;
}

bool xattr_take_armed(struct fs *fs, const char *name, size_t len, pid_t tid, int64_t *expected)
{
    pthread_mutex_lock(&fs->xattr_lock);
    if (!fs->armed) {
        pthread_mutex_unlock(&fs->xattr_lock);
        return false;
    }
    struct armed *a = take_locked(fs, name, len, tid);
    pthread_mutex_unlock(&fs->xattr_lock);
    if (!a)
        return false;
    *expected = a->expected;
    free(a);
    return true;
}

void xattr_release(struct fs *fs)
{
    while (fs->armed) {
        struct armed *a = fs->armed;
        fs->armed = a->next;
        free(a);
    }
}

static struct fs *fs_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

static void reply_value(fuse_req_t req, const char *value, size_t len, size_t size)
{
    if (size == 0)
        fuse_reply_xattr(req, len);
    else if (size < len)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, value, len);
}

/* Parses "any" or a decimal count; false when it is neither. */
static bool parse_expected(const char *value, size_t size, int64_t *out)
{
    char buf[32];
    while (size > 0 &&
           (value[size - 1] == '\n' || value[size - 1] == ' ' || value[size - 1] == '\0'))
        size--;
    if (size == 0 || size >= sizeof(buf))
        return false;
    memcpy(buf, value, size);
    buf[size] = '\0';
    if (!strcmp(buf, "any")) {
        *out = ES_VERSION_ANY;
        return true;
    }
    int64_t v = 0;
    for (size_t i = 0; i < size; i++) {
        if (buf[i] < '0' || buf[i] > '9' || v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (buf[i] - '0');
    }
    *out = v;
    return true;
}

struct xattr_append {
    struct fs *fs;
    fuse_req_t req;
    char name[ES_STREAM_NAME_MAX];
    size_t len;
    int64_t expected;
    size_t n_events;
};

static void xattr_append_done(void *arg, int rc, const struct es_append_result *res)
{
    struct xattr_append *xa = arg;
    if (rc == ES_ECONFLICT)
        fs_log(xa->fs, ES_LOG_WARN,
               "append of %zu event(s) to %.*s through %s refused: expected version %lld, the "
               "stream is at version %llu (ECANCELED)",
               xa->n_events, (int)xa->len, xa->name, X_APPEND "<N>", (long long)xa->expected,
               (unsigned long long)(res ? res->version : 0));
    else if (rc)
        fs_log(xa->fs, ES_LOG_ERROR, "append of %zu event(s) to %.*s through %s failed: %s",
               xa->n_events, (int)xa->len, xa->name, X_APPEND "<N>", es_strerror(rc));
    if (rc)
        fs_reply_err(xa->fs, xa->req, es_errno(rc));
    else
        fuse_reply_err(xa->req, 0);
    free(xa);
}

/* setxattr user.esfs.append.<N>: the value's lines, appended if the stream
 * holds exactly N events. Replies now on a refusal, later otherwise. */
static void append_by_xattr(struct fs *fs, fuse_req_t req, const struct node *n, const char *suffix,
                            const char *value, size_t size)
{
    int64_t expected;
    if (!n || n->kind != NODE_STREAM) {
        fs_reply_err(fs, req, ENOTSUP);
        return;
    }
    if (fs->opt.store_opt.read_only) {
        fs_reply_err(fs, req, EROFS);
        return;
    }
    if (!parse_expected(suffix, strlen(suffix), &expected)) {
        fs_log(fs, ES_LOG_WARN, "%s%s on %.*s: neither a number of events nor 'any' (EINVAL)",
               X_APPEND, suffix, (int)n->len, n->name);
        fs_reply_err(fs, req, EINVAL);
        return;
    }
    /* the lines of the value; a last line without '\n' is an event too */
    struct es_lines lines;
    es_lines_init(&lines);
    struct es_lines_split sp;
    size_t max = fs->opt.store_opt.max_event_bytes;
    int rc = es_lines_split(&lines, value, size, max, &sp);
    struct es_payload *events = NULL;
    size_t n_events = 0;
    if (rc == 0) {
        const char *rest = sp.ended ? sp.rest : sp.data;
        size_t rest_len = sp.ended ? sp.rest_len : sp.data_len;
        events = malloc((sp.n_events + 1) * sizeof(*events));
        if (!events) {
            rc = -ENOMEM;
        } else {
            memcpy(events, sp.events, sp.n_events * sizeof(*events));
            n_events = sp.n_events;
            if (rest_len)
                events[n_events++] = (struct es_payload){rest, rest_len};
        }
    }
    int err = 0;
    if (rc == ES_ETOOBIG) {
        fs_log(fs, ES_LOG_WARN,
               "%s on %.*s refused: a line over the %zu-byte --max-event-size "
               "(EMSGSIZE)",
               X_APPEND "<N>", (int)n->len, n->name, max);
        err = EMSGSIZE;
    } else if (rc) {
        err = ENOMEM;
    } else if (n_events == 0) {
        fs_log(fs, ES_LOG_WARN,
               "%s on %.*s: no event in the value (empty lines are not "
               "events) (EINVAL)",
               X_APPEND "<N>", (int)n->len, n->name);
        err = EINVAL;
    }
    struct xattr_append *xa = err ? NULL : calloc(1, sizeof(*xa));
    if (!err && !xa)
        err = ENOMEM;
    if (!err) {
        xa->fs = fs;
        xa->req = req;
        memcpy(xa->name, n->name, n->len);
        xa->len = n->len;
        xa->expected = expected;
        xa->n_events = n_events;
        struct es_append a = {.stream = n->name,
                              .stream_len = n->len,
                              .events = events,
                              .n_events = n_events,
                              .expected_version = expected,
                              .done = xattr_append_done,
                              .done_arg = xa};
        rc = es_store_append_async(fs->store, &a);
        if (rc) {
            fs_log(fs, ES_LOG_ERROR, "append to %.*s through %s refused: %s", (int)n->len, n->name,
                   X_APPEND "<N>", es_error_detail());
            free(xa);
            err = es_errno(rc);
        }
    }
    free(events);
    es_lines_split_release(&sp);
    es_lines_release(&lines);
    if (err)
        fs_reply_err(fs, req, err);
}

void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
                 int flags)
{
    (void)flags;
    struct fs *fs = fs_of(req);
    struct node *n = ino >= INO_FIRST_DYNAMIC ? node_find(fs, ino) : NULL;
    /* user.* attributes of a file: its writers may set them */
    int aerr = fs_check_access(fs, req, ino, n, W_OK);
    if (aerr) {
        fs_reply_err(fs, req, aerr);
        return;
    }
    if (!strncmp(name, X_APPEND, strlen(X_APPEND))) {
        append_by_xattr(fs, req, n, name + strlen(X_APPEND), value, size);
        return;
    }
    if (!strcmp(name, X_VERSION)) {
        fs_log(fs, ES_LOG_WARN, "setting %s refused: it is read-only (EPERM)", X_VERSION);
        fs_reply_err(fs, req, EPERM);
        return;
    }
    if (strcmp(name, X_EXPECTED) != 0 || !n || n->kind != NODE_STREAM) {
        fs_reply_err(fs, req, ENOTSUP);
        return;
    }
    int64_t expected;
    if (!parse_expected(value, size, &expected)) {
        fs_log(fs, ES_LOG_WARN,
               "%s of %.*s: '%.*s' is neither a number of events nor 'any' "
               "(EINVAL)",
               X_EXPECTED, (int)n->len, n->name, (int)(size > 40 ? 40 : size), value);
        fs_reply_err(fs, req, EINVAL);
        return;
    }
    pid_t tid = fuse_req_ctx(req)->pid;
    int err = 0;
    pthread_mutex_lock(&fs->xattr_lock);
    struct armed *a = take_locked(fs, n->name, n->len, tid);
    if (expected != ES_VERSION_ANY) {
        if (!a)
            a = calloc(1, sizeof(*a));
        if (a) {
            memcpy(a->name, n->name, n->len);
            a->len = n->len;
            a->tid = tid;
            a->expected = expected;
            a->expires_ns = now_ns() + (int64_t)fs->opt.armed_ttl_s * 1000000000;
            a->next = fs->armed;
            fs->armed = a;
            a = NULL;
        } else {
            err = ENOMEM;
        }
    }
    pthread_mutex_unlock(&fs->xattr_lock);
    free(a);
    if (err)
        fs_reply_err(fs, req, err);
    else
        fuse_reply_err(req, 0);
}

void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    struct fs *fs = fs_of(req);
    char value[PATH_MAX + 32];
    int len = -1;
    struct node *n = ino >= INO_FIRST_DYNAMIC ? node_find(fs, ino) : NULL;
    int aerr = fs_check_access(fs, req, ino, n, R_OK);
    if (aerr) {
        fuse_reply_err(req, aerr);
        return;
    }
    if (n && !strcmp(name, X_VERSION)) {
        struct es_stream_info si;
        uint64_t v = es_store_stream_info(fs->store, n->name, n->len, &si) == 0 ? si.version : 0;
        len = snprintf(value, sizeof(value), "%" PRIu64, v);
    } else if (n && n->kind == NODE_STREAM && !strcmp(name, X_EXPECTED)) {
        pid_t tid = fuse_req_ctx(req)->pid;
        pthread_mutex_lock(&fs->xattr_lock);
        for (struct armed *a = fs->armed; a; a = a->next)
            if (a->tid == tid && a->len == n->len && !memcmp(a->name, n->name, n->len))
                len = snprintf(value, sizeof(value), "%" PRId64, a->expected);
        pthread_mutex_unlock(&fs->xattr_lock);
    } else if ((ino == INO_ALL || ino == INO_WATCH_ALL) && !strcmp(name, X_VERSION)) {
        struct es_log_info li;
        es_store_log_info(fs->store, &li);
        len = snprintf(value, sizeof(value), "%" PRIu64, li.last_pos);
    } else if (ino == INO_ROOT && !strcmp(name, X_PID)) {
        len = snprintf(value, sizeof(value), "%d", (int)fs->pid);
    } else if (ino == INO_ROOT && !strcmp(name, X_STORE)) {
        len = snprintf(value, sizeof(value), "%s", fs->opt.store);
    }
    if (len < 0) {
        fuse_reply_err(req, ENODATA);
        return;
    }
    reply_value(req, value, (size_t)len, size);
}

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    static const char stream_list[] = X_VERSION;
    static const char root_list[] = X_PID "\0" X_STORE;
    if (ino >= INO_FIRST_DYNAMIC || ino == INO_ALL || ino == INO_WATCH_ALL)
        reply_value(req, stream_list, sizeof(stream_list), size);
    else if (ino == INO_ROOT)
        reply_value(req, root_list, sizeof(root_list), size);
    else
        reply_value(req, "", 0, size);
}

void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    struct fs *fs = fs_of(req);
    struct node *n = ino >= INO_FIRST_DYNAMIC ? node_find(fs, ino) : NULL;
    int aerr = fs_check_access(fs, req, ino, n, W_OK);
    if (aerr) {
        fuse_reply_err(req, aerr);
        return;
    }
    if (n && n->kind == NODE_STREAM && !strcmp(name, X_EXPECTED)) {
        pthread_mutex_lock(&fs->xattr_lock);
        struct armed *a = take_locked(fs, n->name, n->len, fuse_req_ctx(req)->pid);
        pthread_mutex_unlock(&fs->xattr_lock);
        free(a);
        fuse_reply_err(req, 0);
        return;
    }
    fuse_reply_err(req, !strcmp(name, X_VERSION) ? EPERM : ENODATA);
}
