/*
 * mount.h - running a store behind a FUSE mount (the daemon's core).
 *
 * es_mount_start() opens the store and mounts it; es_mount_run() serves
 * requests until the file system is unmounted or a signal (SIGINT, SIGTERM,
 * SIGHUP) arrives; es_mount_stop() fails parked reads, closes the store (every
 * queued append is acknowledged or failed, never dropped) and unmounts.
 */
#ifndef ES_FUSE_MOUNT_H
#define ES_FUSE_MOUNT_H

#include <stdbool.h>
#include <stdio.h>

#include "esfs/esfs.h"

enum es_stream_nodes {
    ES_NODES_PER_OPEN = 0, /* a fresh node id per lookup: appends to one stream batch */
    ES_NODES_SHARED = 1,   /* one node id per stream: the kernel serialises its appends */
};

struct es_mount_options {
    const char *store;      /* absolute path */
    const char *mountpoint; /* absolute path */
    struct es_options store_opt;
    bool allow_other;
    enum es_log_level log_level;
    FILE *log_file; /* NULL: syslog */
    enum es_stream_nodes stream_nodes;
    unsigned max_threads; /* FUSE worker threads */
    unsigned armed_ttl_s; /* lifetime of an armed expected version */
};

struct fs;

/* Opens the store and mounts it. On failure returns a negative code with
 * es_error_detail() set, and nothing is left mounted. */
int es_mount_start(const struct es_mount_options *o, struct fs **out);
/* Serves requests; returns 0 after an unmount or a signal. */
int es_mount_run(struct fs *fs);
/* Stops serving, closes the store, unmounts, frees. Returns the store's
 * close result. */
int es_mount_stop(struct fs *fs);

#endif
