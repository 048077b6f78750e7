/*
 * mount.c - the mount's life: open the store, create and mount the FUSE
 * session, serve with the multi-threaded loop, stop in order.
 *
 * Stop order: the loop has ended (unmount or signal); the watch thread
 * stops and parked watch reads get ESHUTDOWN (before the store goes away
 * under it); the store closes, so every queued append is committed and
 * answered while the channel is still open; then the file system is
 * unmounted (if it still is) and the session destroyed.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "fs.h"

#define MAX_WRITE (1u << 20)

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    struct fs *fs = userdata;
    /* one write(2) of up to 1 MiB arrives as one request: appended atomically */
    conn->max_write = MAX_WRITE;
    /* cold page-cache reads of all and streams: 1 MiB READ requests */
    conn->max_readahead = MAX_WRITE;
    conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
    /* page-cache reads are correct only if the kernel drops a file's cache
     * when its size changes (ops_file.c); without that, reads go direct */
    fs->cached_reads = (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) != 0;
    if (fs->cached_reads)
        conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
    conn->want &= ~(unsigned)FUSE_CAP_EXPLICIT_INVAL_DATA;
    conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
    fs_log(fs, ES_LOG_INFO, "FUSE protocol %u.%u, max_write %u, max_read %u", conn->proto_major,
           conn->proto_minor, conn->max_write, conn->max_read);
}

const struct fuse_lowlevel_ops *fs_ops_with_init(void);

static void check_request_timeouts(struct fs *fs)
{
    static const char *const files[] = {"/proc/sys/fs/fuse/default_request_timeout",
                                        "/proc/sys/fs/fuse/max_request_timeout"};
    for (size_t i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "re");
        if (!f)
            continue;
        long v = 0;
        if (fscanf(f, "%ld", &v) == 1 && v > 0)
            fs_log(fs, ES_LOG_WARN,
                   "%s is %ld: the kernel aborts the whole mount when a request waits longer, "
                   "and watch reads wait for events indefinitely; set it to 0",
                   files[i], v);
        fclose(f);
    }
}

static void fs_free(struct fs *fs)
{
    nodes_release(fs);
    xattr_release(fs);
    pthread_mutex_destroy(&fs->nodes_lock);
    pthread_mutex_destroy(&fs->xattr_lock);
    pthread_mutex_destroy(&fs->watch_lock);
    pthread_mutex_destroy(&fs->dirty_lock);
    pthread_cond_destroy(&fs->dirty_cond);
    free(fs);
}

int es_mount_start(const struct es_mount_options *o, struct fs **out)
{
    struct fs *fs = calloc(1, sizeof(*fs));
    if (!fs)
        return es_fail(-ENOMEM, "starting the mount");
    fs->opt = *o;
    fs->uid = getuid();
    fs->gid = getgid();
    fs->pid = getpid();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fs->mount_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    pthread_mutex_init(&fs->nodes_lock, NULL);
    pthread_mutex_init(&fs->xattr_lock, NULL);
    pthread_mutex_init(&fs->watch_lock, NULL);
    pthread_mutex_init(&fs->dirty_lock, NULL);
    pthread_cond_init(&fs->dirty_cond, NULL);
    int rc = nodes_init(fs);
    if (rc) {
        fs_free(fs);
        return es_fail(rc, "node table");
    }
    check_request_timeouts(fs);

    struct es_options so = o->store_opt;
    so.log = fs_store_log;
    so.log_arg = fs;
    so.on_commit = watch_on_commit;
    so.on_commit_arg = fs;
    if ((rc = es_store_open(o->store, &so, &fs->store)) != 0) {
        fs_free(fs);
        return rc;
    }
    if ((rc = watch_start(fs)) != 0) {
        es_fail(rc, "starting the watch thread");
        goto fail_store;
    }
    char opts[PATH_MAX + 128];
    /* no default_permissions: the daemon checks the (fixed) modes itself,
     * saving a GETATTR per open and setxattr (access.c) */
    snprintf(opts, sizeof(opts), "fsname=esfs:%s,subtype=esfs%s%s", o->store,
             o->allow_other ? ",allow_other" : "", o->store_opt.read_only ? ",ro" : "");
    char *argv[] = {"esfs", "-o", opts, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    fs->se = fuse_session_new(&args, fs_ops_with_init(), sizeof(struct fuse_lowlevel_ops), fs);
    fuse_opt_free_args(&args);
    if (!fs->se) {
        rc = es_fail(-EINVAL, "creating the FUSE session");
        goto fail_watch;
    }
    if (fuse_set_signal_handlers(fs->se) != 0) {
        rc = es_fail(-EIO, "installing signal handlers");
        goto fail_session;
    }
    if (fuse_session_mount(fs->se, o->mountpoint) != 0) {
        rc = es_fail(-EIO, "mounting on %s failed (does it exist, and is it free?)", o->mountpoint);
        fuse_remove_signal_handlers(fs->se);
        goto fail_session;
    }
    fs_log(fs, ES_LOG_INFO, "serving %s on %s (sync %s, %s nodes per stream%s)", o->store,
           o->mountpoint,
           o->store_opt.sync == ES_SYNC_ALWAYS  ? "always"
           : o->store_opt.sync == ES_SYNC_BATCH ? "batch"
                                                : "none",
           o->stream_nodes == ES_NODES_PER_OPEN ? "per-open" : "shared",
           o->store_opt.read_only ? ", read-only" : "");
    *out = fs;
    return 0;
fail_session:
    fuse_session_destroy(fs->se);
fail_watch:
    watch_stop(fs);
fail_store:
    es_store_close(fs->store);
    fs_free(fs);
    return rc;
}

int es_mount_run(struct fs *fs)
{
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    if (!cfg)
        return es_fail(-ENOMEM, "loop configuration");
    fuse_loop_cfg_set_clone_fd(cfg, 1);
    fuse_loop_cfg_set_max_threads(cfg, fs->opt.max_threads ? fs->opt.max_threads : 10);
    int rc = fuse_session_loop_mt(fs->se, cfg);
    fuse_loop_cfg_destroy(cfg);
    /* the loop returns 0 after an unmount, the signal number after a
     * signal, and a negative value on an error */
    if (rc > 0)
        fs_log(fs, ES_LOG_INFO, "stopping (signal %d, %s)", rc, strsignal(rc));
    else
        fs_log(fs, rc == 0 ? ES_LOG_INFO : ES_LOG_ERROR, "stopping (%s)",
               rc == 0 ? "unmounted" : "loop error");
    return rc < 0 ? es_fail(rc, "FUSE loop") : 0;
}

int es_mount_stop(struct fs *fs)
{
    watch_stop(fs);
    int rc = es_store_close(fs->store);
    if (rc)
        fs_log(fs, ES_LOG_ERROR, "closing the store: %s", es_strerror(rc));
    fuse_session_unmount(fs->se);
    fuse_remove_signal_handlers(fs->se);
    fuse_session_destroy(fs->se);
    fs_log(fs, ES_LOG_INFO, "stopped");
    fs_free(fs);
    return rc;
}

const struct fuse_lowlevel_ops *fs_ops_with_init(void)
{
    static struct fuse_lowlevel_ops ops;
    ops = fs_ops;
    ops.init = op_init;
    return &ops;
}
