/*
 * fs.h - the FUSE adapter's shared state. Only src/fuse includes libfuse.
 *
 * The adapter decodes a request, calls the store, maps the error once
 * (es_errno) and replies exactly once - now, or later from another thread
 * (an append's completion on the store's writer thread; a parked watch read
 * from the watch thread). No storage logic lives here.
 *
 * Locks (docs/architecture.md): nodes_lock (node table, open-writer
 * counts), xattr_lock (armed expectations), watch_lock (parked reads, poll
 * registrations), dirty_lock (commits not yet fanned out), and each file
 * handle's own lock. All are leaves except: fh->lock may be held while
 * calling es_store_append_async (which takes the store's queue lock). No
 * lock is held while replying, notifying or calling
 * fuse_req_interrupt_func (FUSE-NOTES §2: req->lock -> watch_lock only).
 */
#ifndef ES_FUSE_FS_H
#define ES_FUSE_FS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "format/lines.h"
#include "esfs/esfs.h"
#include "mount.h"

/* Fixed node ids. */
enum {
    INO_ROOT = FUSE_ROOT_ID, /* 1 */
    INO_STREAMS = 2,
    INO_ALL = 3,
    INO_WATCH = 4,
    INO_WATCH_ALL = 5,
    INO_WATCH_STREAMS = 6,
    INO_ESFS = 7,
    INO_METRICS = 8,
    INO_SEAL = 9,
    INO_FIRST_DYNAMIC = 16,
};

enum node_kind { NODE_STREAM = 1, NODE_WATCH_STREAM = 2 };

/* A looked-up stream file (streams/<id> or watch/streams/<id>). */
struct node {
    uint64_t id;
    enum node_kind kind;
    uint64_t nlookup;
    uint64_t st_ino; /* stable: derived from the name */
    char name[ES_STREAM_NAME_MAX];
    size_t len;
    struct node *id_next;   /* in the id table */
    struct node *name_next; /* in the name table (same kind and name) */
    bool read_opened;       /* opened read-only at least once */
    bool write_opened;      /* opened for writing at least once */
};

enum fh_kind {
    FH_STREAM,       /* streams/<id>, read and/or write */
    FH_ALL,          /* all */
    FH_WATCH_ALL,    /* watch/all */
    FH_WATCH_STREAM, /* watch/streams/<id> */
    FH_METRICS,      /* .esfs/metrics */
    FH_SEAL,         /* .esfs/seal */
    FH_DIR,
};

struct fs;

/* An open file. */
struct fh {
    enum fh_kind kind;
    struct fs *fs;
    char name[ES_STREAM_NAME_MAX];
    size_t len;
    pthread_mutex_t lock; /* protects everything below */
    /* writers (FH_STREAM opened for writing) */
    bool is_writer;
    bool counted_pending;  /* counted as an open writer of a stream without events */
    bool append_mode;      /* O_APPEND: the offset of a write is ignored */
    uint64_t next_off;     /* without O_APPEND: where the next write must start */
    struct es_lines lines; /* the unfinished line (format/lines.h) */
    int64_t expected;      /* checked by the next append (ES_VERSION_ANY: none) */
    /* watch files and poll (under fs->watch_lock) */
    uint64_t read_pos; /* offset after the last read */
    struct fuse_pollhandle *ph;
    struct fh *poll_next;
    bool in_poll_list;
    /* metrics */
    char *text;
    size_t text_len;
};

struct waiter;
struct watch_target;

/* Streams changed by commits not yet fanned out: entries plus an
 * open-addressing index for de-duplication (watch.c). */
struct dirty_stream;
struct dirty_set {
    struct dirty_stream *items;
    size_t n, cap;
    uint32_t *index; /* item number + 1; 0: empty */
    size_t index_cap;
};

struct fs {
    struct es_mount_options opt;
    struct es_store *store;
    struct fuse_session *se;
    uid_t uid;
    gid_t gid;
    pid_t pid;
    int64_t mount_ns;
    bool cached_reads; /* the kernel auto-invalidates: page-cache reads allowed */
    /* A read found corrupt data: from then on files open with direct I/O,
     * so an error covers exactly the damaged bytes, not the whole pages (and
     * read-ahead) the page cache reads around them. */
    _Atomic bool corruption_seen;

    pthread_mutex_t nodes_lock;
    struct node **id_table, **name_table;
    size_t table_cap;
    uint64_t next_id;
    size_t n_nodes;
    /* streams created by open(O_CREAT) that have no event yet: name -> open writers */
    struct pending *pending;

    pthread_mutex_t xattr_lock;
    struct armed *armed;

    pthread_mutex_t watch_lock;
    struct watch_target **targets;
    size_t targets_cap;
    struct watch_target *all_target;
    uint64_t n_waiters, n_polls;

    pthread_mutex_t dirty_lock;
    pthread_cond_t dirty_cond;
    bool dirty_all;
    struct dirty_set dirty_pending; /* under dirty_lock */
    struct dirty_set dirty_work;    /* the watch thread's */
    bool watch_stop;
    pthread_t watch_thread;
    bool watch_running;

    /* counters for .esfs/metrics */
    _Atomic uint64_t reads, read_bytes, writes, write_errors, interrupts, open_files;
    _Atomic uint64_t errors_by_errno[135];
};

/* log.c */
void fs_log(struct fs *fs, enum es_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The store's log callback. */
void fs_store_log(void *arg, enum es_log_level level, const char *msg);
/* Replies err (a positive errno) and counts it. */
void fs_reply_err(struct fs *fs, fuse_req_t req, int err);

/* nodes.c */
int nodes_init(struct fs *fs);
void nodes_release(struct fs *fs);
/* A node for a lookup, with nlookup + 1: in per-open mode a new one, except
 * that a stream node only ever opened read-only is handed out again (so the
 * kernel keeps that inode and its page cache for readers) and watch nodes
 * are always shared; in shared mode the one node of the name. */
struct node *node_get(struct fs *fs, enum node_kind kind, const char *name, size_t len);
/* A node by id; NULL if unknown. The node stays valid while the kernel
 * holds a lookup on it (until FORGET), which covers every request on it. */
struct node *node_find(struct fs *fs, uint64_t id);
/* Records that n was opened (for writing or not): see node_get. */
void node_note_open(struct fs *fs, struct node *n, bool writes);
void node_forget(struct fs *fs, uint64_t id, uint64_t n);
uint64_t stream_st_ino(enum node_kind kind, const char *name, size_t len);
/* Open writers of a stream that has no event yet. */
void pending_add(struct fs *fs, const char *name, size_t len);
void pending_drop(struct fs *fs, const char *name, size_t len);
bool pending_has(struct fs *fs, const char *name, size_t len);

/* ops_*.c */
extern const struct fuse_lowlevel_ops fs_ops;
void fs_fill_attr(struct fs *fs, fuse_ino_t ino, const struct node *n, struct stat *st);
/* access.c: the mode of a file (type bits included), and the permission
 * check the daemon makes instead of the kernel's default_permissions:
 * 0 or EACCES for mask (R_OK | W_OK | X_OK). */
mode_t fs_mode_of(const struct fs *fs, fuse_ino_t ino, const struct node *n);
int fs_check_access(struct fs *fs, fuse_req_t req, fuse_ino_t ino, const struct node *n, int mask);
void op_access(fuse_req_t req, fuse_ino_t ino, int mask);
/* Attribute cache lifetime for ino: 0 for every file that grows. */
double fs_attr_timeout(fuse_ino_t ino);

/* ops_file.c */
void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
               struct fuse_file_info *fi);
void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
              struct fuse_file_info *fi);
void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph);

/* xattr.c */
void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
                 int flags);
void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
/* Takes (and disarms) the expectation armed by thread tid for the stream. */
bool xattr_take_armed(struct fs *fs, const char *name, size_t len, pid_t tid, int64_t *expected);
void xattr_release(struct fs *fs);

/* watch.c */
int watch_start(struct fs *fs);
void watch_stop(struct fs *fs);
/* The store's commit hook. */
void watch_on_commit(void *arg, const struct es_commit *c);
/* Parks a read of a watch file at its end; replies later. */
void watch_park(struct fs *fs, fuse_req_t req, struct fh *fh, uint64_t off, size_t size);
/* Poll of a watch file handle. */
void watch_poll(struct fs *fs, fuse_req_t req, struct fh *fh, struct fuse_pollhandle *ph);
/* Forgets fh's poll registration (at release). */
void watch_forget_fh(struct fs *fs, struct fh *fh);
/* Size of the view a watch handle reads. */
uint64_t watch_view_size(struct fs *fs, const struct fh *fh);

/* metrics_text.c */
int metrics_render(struct fs *fs, char **text, size_t *len);

#endif
