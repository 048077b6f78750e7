/*
 * ops_dir.c - names and metadata: lookup, forget, getattr, setattr,
 * readdir, statfs, and the refusals (unlink, rename, mkdir, ... -> EPERM).
 * Normative: docs/filesystem.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fs.h"

#define FIXED_ENTRY_TIMEOUT 3600.0
#define ATTR_TIMEOUT        1.0

static struct fs *fs_of(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

static void ts_of(int64_t ns, struct timespec *ts)
{
    ts->tv_sec = ns / 1000000000;
    ts->tv_nsec = ns % 1000000000;
}

void fs_fill_attr(struct fs *fs, fuse_ino_t ino, const struct node *n, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = ino;
    st->st_uid = fs->uid;
    st->st_gid = fs->gid;
    st->st_blksize = 1 << 20; /* cat, cp, dd size their reads from it: 1 MiB = one FUSE read */
    struct es_log_info li;
    es_store_log_info(fs->store, &li);
    int64_t t = li.last_ts_ns ? li.last_ts_ns : fs->mount_ns;
    switch (ino) {
    case INO_ROOT:
    case INO_STREAMS:
    case INO_WATCH:
    case INO_WATCH_STREAMS:
    case INO_ESFS: st->st_nlink = 2; break;
    case INO_ALL:
    case INO_WATCH_ALL:
        st->st_nlink = 1;
        st->st_size = (off_t)li.all_view_bytes;
        break;
    case INO_METRICS:
        st->st_nlink = 1;
        t = fs->mount_ns;
        break;
    case INO_SEAL:
        st->st_nlink = 1;
        t = fs->mount_ns;
        break;
    default:
        if (!n)
            break;
        st->st_ino = n->st_ino;
        st->st_nlink = 1;
        struct es_stream_info si;
        if (es_store_stream_info(fs->store, n->name, n->len, &si) == 0) {
            st->st_size = (off_t)si.view_bytes;
            t = si.last_ts_ns;
        } else {
            t = fs->mount_ns;
        }
        break;
    }
    st->st_mode = fs_mode_of(fs, ino, n);
    st->st_blocks = (st->st_size + 511) / 512;
    ts_of(t, &st->st_mtim);
    ts_of(t, &st->st_ctim);
    ts_of(t, &st->st_atim);
}

/* Files that grow are never cached: a stat right after an append's write(2)
 * returned must count it (`echo ... >> streams/x; tail -n 1 all`), and an
 * invalidation sent after the reply would race it (measured: 6-13% stale
 * for all, 5% for fstat of an open stream file). Every stat of them is one
 * GETATTR round trip; reads do not need attributes. Directories and the
 * fixed .esfs files keep a short cache. */
double fs_attr_timeout(fuse_ino_t ino)
{
    if (ino == INO_ALL || ino == INO_WATCH_ALL || ino >= INO_FIRST_DYNAMIC)
        return 0.0;
    return ATTR_TIMEOUT;
}

static bool is_dir(fuse_ino_t ino)
{
    return ino == INO_ROOT || ino == INO_STREAMS || ino == INO_WATCH || ino == INO_WATCH_STREAMS ||
           ino == INO_ESFS;
}

static void reply_fixed(struct fs *fs, fuse_req_t req, fuse_ino_t ino)
{
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    e.ino = ino;
    e.attr_timeout = fs_attr_timeout(ino);
    e.entry_timeout = FIXED_ENTRY_TIMEOUT;
    fs_fill_attr(fs, ino, NULL, &e.attr);
    fuse_reply_entry(req, &e);
}

static void reply_node(struct fs *fs, fuse_req_t req, enum node_kind kind, const char *name,
                       size_t len)
{
    struct node *n = node_get(fs, kind, name, len);
    if (!n) {
        fs_reply_err(fs, req, ENOMEM);
        return;
    }
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    e.ino = n->id;
    e.attr_timeout = fs_attr_timeout(n->id);
    e.entry_timeout = fs->opt.stream_nodes == ES_NODES_PER_OPEN ? 0.0 : ATTR_TIMEOUT;
    fs_fill_attr(fs, n->id, n, &e.attr);
    if (fuse_reply_entry(req, &e) != 0)
        node_forget(fs, n->id, 1); /* the kernel never got it */
}

static bool stream_exists(struct fs *fs, const char *name, size_t len)
{
    struct es_stream_info si;
    return es_store_stream_info(fs->store, name, len, &si) == 0 || pending_has(fs, name, len);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fs *fs = fs_of(req);
    size_t len = strlen(name);
    static const struct {
        fuse_ino_t parent;
        const char *name;
        fuse_ino_t ino;
    } fixed[] = {{INO_ROOT, "streams", INO_STREAMS}, {INO_ROOT, "all", INO_ALL},
                 {INO_ROOT, "watch", INO_WATCH},     {INO_ROOT, ".esfs", INO_ESFS},
                 {INO_WATCH, "all", INO_WATCH_ALL},  {INO_WATCH, "streams", INO_WATCH_STREAMS},
                 {INO_ESFS, "metrics", INO_METRICS}, {INO_ESFS, "seal", INO_SEAL}};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (fixed[i].parent == parent && !strcmp(fixed[i].name, name)) {
            reply_fixed(fs, req, fixed[i].ino);
            return;
        }
    if (parent == INO_STREAMS || parent == INO_WATCH_STREAMS) {
        if (es_stream_name_check(name, len) != 0) {
            fuse_reply_err(req, ENOENT);
            return;
        }
        if (parent == INO_STREAMS && !stream_exists(fs, name, len)) {
            fuse_reply_err(req, ENOENT);
            return;
        }
        /* a watch on a stream that does not exist yet waits for its first event */
        reply_node(fs, req, parent == INO_STREAMS ? NODE_STREAM : NODE_WATCH_STREAM, name, len);
        return;
    }
    fuse_reply_err(req, is_dir(parent) ? ENOENT : ENOTDIR);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    if (ino >= INO_FIRST_DYNAMIC)
        node_forget(fs_of(req), ino, nlookup);
    fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    for (size_t i = 0; i < count; i++)
        if (forgets[i].ino >= INO_FIRST_DYNAMIC)
            node_forget(fs_of(req), forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct fs *fs = fs_of(req);
    struct node *n = NULL;
    if (ino >= INO_FIRST_DYNAMIC && !(n = node_find(fs, ino))) {
        fs_reply_err(fs, req, ENOENT);
        return;
    }
    if (ino < INO_FIRST_DYNAMIC && ino > INO_SEAL) {
        fs_reply_err(fs, req, ENOENT);
        return;
    }
    struct stat st;
    fs_fill_attr(fs, ino, n, &st);
    fuse_reply_attr(req, &st, fs_attr_timeout(ino));
}

static const char *what_is(struct node *n, fuse_ino_t ino)
{
    if (n)
        return n->kind == NODE_STREAM ? "stream" : "watch file";
    switch (ino) {
    case INO_ALL: return "all";
    case INO_WATCH_ALL: return "watch/all";
    case INO_METRICS: return ".esfs/metrics";
    case INO_SEAL: return ".esfs/seal";
    default: return "directory";
    }
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
    (void)fi;
    struct fs *fs = fs_of(req);
    struct node *n = ino >= INO_FIRST_DYNAMIC ? node_find(fs, ino) : NULL;
    if (ino >= INO_FIRST_DYNAMIC && !n) {
        fs_reply_err(fs, req, ENOENT);
        return;
    }
    struct stat st;
    fs_fill_attr(fs, ino, n, &st);
    const char *refused = NULL;
    if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != st.st_size)
        refused = "truncate";
    else if (to_set & FUSE_SET_ATTR_MODE)
        refused = "chmod";
    else if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
        refused = "chown";
    if (refused) {
        fs_log(fs, ES_LOG_WARN, "%s of %s%s%.*s refused: events are immutable (EPERM)", refused,
               what_is(n, ino), n ? " " : "", n ? (int)n->len : 0, n ? n->name : "");
        fs_reply_err(fs, req, EPERM);
        return;
    }
    /* times (touch) are accepted and ignored - a stream's mtime is its last
     * event's - but only from the owner or root, as the kernel would */
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    if (ctx->uid != 0 && ctx->uid != fs->uid) {
        fs_reply_err(fs, req, EPERM);
        return;
    }
    fuse_reply_attr(req, &st, fs_attr_timeout(ino));
}

/* The i-th entry of a directory: false past the end. */
static bool dir_entry(struct fs *fs, fuse_ino_t dir, uint64_t i, char *name, size_t cap,
                      struct stat *st)
{
    memset(st, 0, sizeof(*st));
    static const char *const root[] = {".", "..", "streams", "all", "watch", ".esfs"};
    static const fuse_ino_t root_ino[] = {INO_ROOT, INO_ROOT,  INO_STREAMS,
                                          INO_ALL,  INO_WATCH, INO_ESFS};
    static const char *const watch[] = {".", "..", "all", "streams"};
    static const fuse_ino_t watch_ino[] = {INO_WATCH, INO_ROOT, INO_WATCH_ALL, INO_WATCH_STREAMS};
    static const char *const esfs[] = {".", "..", "metrics", "seal"};
    static const fuse_ino_t esfs_ino[] = {INO_ESFS, INO_ROOT, INO_METRICS, INO_SEAL};
    const char *const *names = NULL;
    const fuse_ino_t *inos = NULL;
    size_t count = 0;
    if (dir == INO_ROOT) {
        names = root, inos = root_ino, count = 6;
    } else if (dir == INO_WATCH) {
        names = watch, inos = watch_ino, count = 4;
    } else if (dir == INO_ESFS) {
        names = esfs, inos = esfs_ino, count = 4;
    }
    if (names) {
        if (i >= count)
            return false;
        snprintf(name, cap, "%s", names[i]);
        st->st_ino = inos[i];
        st->st_mode = is_dir(inos[i]) ? S_IFDIR : S_IFREG;
        return true;
    }
    /* streams/ and watch/streams/ */
    if (i < 2) {
        snprintf(name, cap, "%s", i == 0 ? "." : "..");
        st->st_ino = i == 0 ? dir : (dir == INO_STREAMS ? INO_ROOT : INO_WATCH);
        st->st_mode = S_IFDIR;
        return true;
    }
    if (i - 2 > UINT32_MAX)
        return false;
    ssize_t len = es_store_stream_name(fs->store, (uint32_t)(i - 2), name, cap - 1);
    if (len < 0)
        return false;
    name[len] = '\0';
    st->st_ino =
        stream_st_ino(dir == INO_STREAMS ? NODE_STREAM : NODE_WATCH_STREAM, name, (size_t)len);
    st->st_mode = S_IFREG;
    return true;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    if (!is_dir(ino)) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    fi->fh = 0;
    fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    (void)fi;
    struct fs *fs = fs_of(req);
    char *buf = malloc(size);
    if (!buf) {
        fs_reply_err(fs, req, ENOMEM);
        return;
    }
    size_t used = 0;
    char name[ES_STREAM_NAME_MAX + 1];
    struct stat st;
    for (uint64_t i = (uint64_t)off; dir_entry(fs, ino, i, name, sizeof(name), &st); i++) {
        size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t)(i + 1));
        if (need > size - used)
            break;
        used += need;
    }
    fuse_reply_buf(req, buf, used);
    free(buf);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    (void)ino;
    struct fs *fs = fs_of(req);
    struct statvfs sv;
    if (statvfs(fs->opt.store, &sv) != 0)
        memset(&sv, 0, sizeof(sv));
    struct es_log_info li;
    es_store_log_info(fs->store, &li);
    sv.f_files = li.n_streams;
    sv.f_ffree = 0;
    sv.f_namemax = ES_STREAM_NAME_MAX;
    fuse_reply_statfs(req, &sv);
}

static void refuse(fuse_req_t req, const char *what, const char *name)
{
    struct fs *fs = fs_of(req);
    fs_log(fs, ES_LOG_WARN, "%s of %s refused: events are immutable (EPERM)", what,
           name ? name : "an entry");
    fs_reply_err(fs, req, EPERM);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    (void)parent;
    refuse(req, "unlink", name);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    (void)parent;
    refuse(req, "rmdir", name);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    (void)parent;
    (void)mode;
    refuse(req, "mkdir", name);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
    (void)parent;
    (void)mode;
    (void)rdev;
    refuse(req, "mknod", name);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
    (void)link;
    (void)parent;
    refuse(req, "symlink", name);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    (void)ino;
    (void)newparent;
    refuse(req, "link", newname);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                      const char *newname, unsigned int flags)
{
    (void)parent;
    (void)newparent;
    (void)newname;
    (void)flags;
    refuse(req, "rename", name);
}

const struct fuse_lowlevel_ops fs_ops = {
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .fsync = op_fsync,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .statfs = op_statfs,
    .setxattr = op_setxattr,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .removexattr = op_removexattr,
    .create = op_create,
    .poll = op_poll,
    .access = op_access,
};
