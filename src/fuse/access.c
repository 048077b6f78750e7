/*
 * access.c - who may do what: the mode of every file of the mount, and the
 * classic owner/other permission check on it, made by the daemon.
 *
 * The mount does not use the kernel's default_permissions: with it, and
 * attributes never cached (files grow), every open(2) and setxattr(2) cost
 * an extra GETATTR round trip to refresh the mode before checking it
 * (docs/performance.md). The modes are fixed, so the daemon checks them
 * itself, the way the kernel would: root may read and write anything (the
 * refusals of an event store - EPERM for truncate, unlink, ... - still
 * apply); the owner (the user who mounted) gets the owner bits; everyone
 * else the other bits. The group bits equal the other bits for every file
 * here, so groups need no lookup. Without -o allow_other the kernel lets no
 * other user reach the daemon at all.
 */
#include <errno.h>
#include <unistd.h>

#include "fs.h"

mode_t fs_mode_of(const struct fs *fs, fuse_ino_t ino, const struct node *n)
{
    bool ro = fs->opt.store_opt.read_only;
    switch (ino) {
    case INO_ROOT:
    case INO_STREAMS:
    case INO_WATCH:
    case INO_WATCH_STREAMS:
    case INO_ESFS: return S_IFDIR | 0755;
    case INO_ALL:
    case INO_WATCH_ALL:
    case INO_METRICS: return S_IFREG | 0444;
    case INO_SEAL: return S_IFREG | (ro ? 0 : 0200);
    default:
        if (n && n->kind == NODE_STREAM && !ro)
            return S_IFREG | 0644;
        return S_IFREG | 0444;
    }
}

int fs_check_access(struct fs *fs, fuse_req_t req, fuse_ino_t ino, const struct node *n, int mask)
{
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    mode_t mode = fs_mode_of(fs, ino, n);
    if (ctx->uid == 0) {
        /* root: like CAP_DAC_OVERRIDE, execute needs some x bit */
        if ((mask & X_OK) && !S_ISDIR(mode) && !(mode & 0111))
            return EACCES;
        return 0;
    }
    unsigned bits = ctx->uid == fs->uid ? (mode >> 6) & 7 : mode & 7;
    unsigned want = ((mask & R_OK) ? 4 : 0) | ((mask & W_OK) ? 2 : 0) | ((mask & X_OK) ? 1 : 0);
    return (bits & want) == want ? 0 : EACCES;
}

void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
    struct fs *fs = fuse_req_userdata(req);
    struct node *n = NULL;
    if (ino >= INO_FIRST_DYNAMIC && !(n = node_find(fs, ino))) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    fuse_reply_err(req, mask == F_OK ? 0 : fs_check_access(fs, req, ino, n, mask));
}
