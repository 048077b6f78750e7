/*
 * mount_util.h - real mounts for the crash tests: start the esfs daemon
 * (the ES_BINARY the build made), stop it cleanly or kill it with SIGKILL,
 * run commands, read and append through the mount, and always clean up:
 * every mount (and tmpfs) a test makes is registered, and mu_cleanup()
 * runs from the tests' teardown and again at exit, so a failing test never
 * leaves a mount behind.
 *
 * The test process makes itself a child subreaper, so the daemon (forked
 * by `esfs mount`, which then exits) becomes its child: its death is
 * observed with waitpid, never by polling, and its exit status tells a
 * SIGKILL from a crash.
 */
#ifndef ES_TEST_MOUNT_UTIL_H
#define ES_TEST_MOUNT_UTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mu_mount {
    char root[PATH_MAX];       /* temporary directory holding everything */
    char store[PATH_MAX + 32]; /* root/store unless set otherwise */
    char mnt[PATH_MAX + 32];   /* root/mnt */
    char log[PATH_MAX + 32];   /* root/daemon.log (--log-file) */
    char tmpfs[PATH_MAX + 32]; /* a tmpfs this test mounted ("": none) */
    pid_t daemon;              /* the daemon's pid while mounted, else 0 */
    int daemon_status;         /* its wait status once it ended */
};

/* NULL when real mounts work here, else why not (for cmocka skip). */
const char *mu_skip_reason(void);

/* A fresh root with store/ (not created) and mnt/ (created). */
void mu_init(struct mu_mount *m, const char *tag);

/* `esfs mount --log-file=LOG [extra args...] STORE MNT` (extra args end
 * with NULL). 0 when mounted (m->daemon set), else esfs's exit status with
 * its message in err. */
int mu_mount(struct mu_mount *m, char *err, size_t err_cap, ...);
/* `esfs umount MNT`, then reaps the daemon. Returns the daemon's wait
 * status (0: it exited cleanly) or -1 when the unmount failed. */
int mu_umount(struct mu_mount *m);
/* SIGKILL to the daemon, reaps it, detaches the dead mount (fusermount3
 * -uz). Returns 0 when the daemon died of that SIGKILL, -1 when it had
 * already died of something else (m->daemon_status says what). */
int mu_kill9(struct mu_mount *m);
/* Whether the daemon is still running (it has not exited). */
bool mu_daemon_alive(struct mu_mount *m);
/* Unmounts whatever is still mounted, kills the daemon, unmounts the
 * tmpfs and removes root. Idempotent. */
void mu_cleanup(struct mu_mount *m);

/* Mounts a tmpfs of size_kib at root/fs (m->tmpfs). 0 or -errno. */
int mu_mount_tmpfs(struct mu_mount *m, unsigned size_kib);

/* Runs argv (NULL-terminated, argv[0] looked up in PATH; "esfs" means the
 * built binary), with stdout and stderr into out (NUL-terminated, cut at
 * cap). Returns the exit status, or 128 + signal. */
int mu_run(char *out, size_t cap, const char *const argv[]);
/* mu_run as another user (setgroups/setgid/setuid in the child). */
int mu_run_as(uid_t uid, gid_t gid, char *out, size_t cap, const char *const argv[]);
/* The same with the arguments inline, ending with NULL. */
int mu_runl(char *out, size_t cap, const char *arg0, ...);

/* One write(2) of data to path opened O_WRONLY|O_APPEND|O_CREAT; 0, or
 * -errno of whichever call failed (a short write is -EIO). */
int mu_append(const char *path, const void *data, size_t len);
/* Reads path with read(2) to the end. NULL with *err = errno on failure
 * (the bytes read before it in *len, freed). */
char *mu_read(const char *path, size_t *len, int *err);

/* VmRSS of pid in KiB, or -1. */
long mu_rss_kib(pid_t pid);
/* Counts lines of a file holding text (0 if missing). */
size_t mu_count_lines(const char *data, size_t len);
/* Whether the daemon log holds a line containing all of the texts (NULL-
 * terminated). */
bool mu_log_has(const struct mu_mount *m, ...);

#endif
