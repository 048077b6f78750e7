/*
 * mount_util.h - the end-to-end harness: real esfs mounts in fresh temporary
 * directories, child processes, the daemon's log and metrics, and the
 * safety net that never leaves a mount behind.
 *
 * Every test program calls e2e_init() first. It exits 77 (ctest
 * SKIP_RETURN_CODE) with a message when real mounts cannot be made here
 * (not root, no /dev/fuse, no fusermount3), then installs:
 *   - a watchdog: alarm(2) per test (e2e_watchdog); SIGALRM is handled by a
 *     dedicated thread (sigwait), never by a thread that may sit in an
 *     unanswered FUSE request. On expiry it SIGKILLs the registered children
 *     and daemons (which ends every FUSE request in flight), runs
 *     `fusermount3 -uz` on every mount and exits 1;
 *   - SIGINT/SIGTERM/SIGHUP (same thread) and SIGABRT/SIGSEGV/SIGBUS/SIGFPE/
 *     SIGILL (handlers) and an atexit handler that detach every mount this
 *     process created (`fusermount3 -uz`; umount2(MNT_DETACH) inside a
 *     handler, where exec is not safe).
 * Children made with e2e_fork()/e2e_spawn() get the default signal mask
 * and dispositions and only the descriptors handed to them.
 *
 * Sanitizers: every esfs command (and so the daemon) runs with
 * ASAN_OPTIONS/UBSAN_OPTIONS extended by log_path=<dir>/san; e2e_umount()
 * and the teardown fail when such a report exists.
 *
 * Only the main thread may use cmocka assertions; children and helper
 * threads report through exit codes and return values.
 */
#ifndef ES_E2E_MOUNT_UTIL_H
#define ES_E2E_MOUNT_UTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A test's temporary directory and (at most) one mount in it. */
struct e2e_mount {
    char dir[PATH_MAX];   /* fresh temp dir, removed by e2e_free */
    char store[PATH_MAX]; /* <dir>/store: the store that is (or was) mounted */
    char mnt[PATH_MAX];   /* <dir>/es */
    char log[PATH_MAX];   /* <dir>/daemon.log */
    pid_t daemon;         /* the daemon (user.esfs.pid), 0 when not mounted */
    int daemon_fd;        /* pidfd of the daemon, -1 */
    bool mounted;
    int slot; /* in the registry */
};

/* Skips (exit 77) or prepares the process; see above. */
void e2e_init(void);

/* (Re)arms the watchdog for the running test: seconds from now (scaled by
 * E2E_TIMEOUT_SCALE, default 1; 3 under a sanitizer build). 0 disarms. */
void e2e_watchdog(unsigned seconds, const char *what);

/* A fresh temp dir (tag in its name) with nothing mounted. */
struct e2e_mount *e2e_new(const char *tag);
/* Mounts store (NULL: m->store) on m->mnt with `esfs mount
 * --log-file=m->log` plus the extra options (NULL-terminated list, or
 * NULL). Returns 0, or -1 after printing why (and the daemon log). */
int e2e_mount_opts(struct e2e_mount *m, const char *store, const char *const *opts);
/* e2e_new + e2e_mount_opts(store, opts); NULL when the mount failed. */
struct e2e_mount *e2e_new_mounted(const char *tag, const char *const *opts);
/* `esfs umount` (which waits for the daemon), then checks that the daemon
 * is gone and that no sanitizer report exists. 0 or -1 (printed). */
int e2e_umount(struct e2e_mount *m);
/* A crash: SIGKILLs the daemon, waits until it is gone, detaches the
 * mount (fusermount3 -uz). 0 or -1. */
int e2e_kill_daemon(struct e2e_mount *m);
/* After the daemon was told to stop (a signal): waits for its exit, then
 * detaches the mount if it is still there (*was_mounted says whether it
 * was). 0, or -1 when the daemon had to be killed. */
int e2e_wait_daemon_exit(struct e2e_mount *m, int timeout_ms, bool *was_mounted);
/* Puts another mount (e.g. a tmpfs a test made) under the safety net;
 * returns a slot for e2e_unregister_mount. */
int e2e_register_mount(const char *path);
void e2e_unregister_mount(int slot);
/* Unmounts when still mounted (forcefully if `esfs umount` fails), then
 * removes the directory (kept when E2E_KEEP is set). Returns 0, or -1 when
 * anything had to be forced or a sanitizer report exists. NULL is fine. */
int e2e_free(struct e2e_mount *m);

/* cmocka fixtures: *state = e2e_new_mounted(test name) with default options
 * (e2e_setup) or the options in e2e_setup_opts (set before the run). */
extern const char *const *e2e_setup_opts;
int e2e_setup(void **state);
int e2e_teardown(void **state);

/* "<mnt>/<printf>" in one of 16 rotating thread-local buffers. */
const char *e2e_path(const struct e2e_mount *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "<dir>/<printf>", same buffers. */
const char *e2e_tmp(const struct e2e_mount *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- processes ---- */

/* fork(): the child gets default signal handling; its pid is registered so
 * the watchdog can kill it. The child must leave with _exit(). */
pid_t e2e_fork(void);
/* Runs argv[0] (PATH searched) with stdin/stdout/stderr from the given fds
 * (-1: /dev/null for stdin, inherited for stdout/stderr); all other fds are
 * closed. With m, the sanitizer log path of m is put in the environment. */
pid_t e2e_spawn(const struct e2e_mount *m, const char *const argv[], int in_fd, int out_fd,
                int err_fd);
/* Waits for child pid at most timeout_ms (-1: forever). Returns its wait
 * status, or -1 on timeout (the child is then SIGKILLed and reaped). */
int e2e_wait(pid_t pid, int timeout_ms);
/* Runs the esfs binary with args (NULL-terminated) and waits (60 s).
 * stdout goes to *out (malloc'd, NUL-terminated) when out is not NULL.
 * Returns the exit status (0..255), or -1 if it did not exit normally. */
int e2e_esfs(const struct e2e_mount *m, char **out, size_t *out_len, const char *arg, ...)
    __attribute__((sentinel));
/* Runs `/bin/sh -c script` with $1.. = args (NULL-terminated); returns the
 * exit status or -1. */
int e2e_sh(const struct e2e_mount *m, const char *script, ...) __attribute__((sentinel));

/* ---- files ---- */

/* Reads the whole file by read(2) until end-of-file (never trusts
 * st_size). NULL (errno set) on failure. */
char *e2e_read_all(const char *path, size_t *len);
/* Reads fd until n bytes arrived or timeout_ms passed since the call
 * (poll on fd). Returns the bytes read. */
size_t e2e_read_n(int fd, void *buf, size_t n, int timeout_ms);
/* One open(O_WRONLY|O_APPEND|O_CREAT), one write(2), close. 0 or -errno
 * (of the write, else of the close). */
int e2e_append(const char *path, const void *data, size_t len);
/* write(2) until done; 0 or -errno. */
int e2e_write_full(int fd, const void *data, size_t len);
/* user.esfs.version of a stream file, or -1. */
long e2e_version(const char *path);

/* ---- the daemon ---- */

/* Value of a metric (first sample line that starts with name followed by a
 * space) in .esfs/metrics; -1 if absent. */
long long e2e_metric(const struct e2e_mount *m, const char *name);
/* Re-reads the metric until it is >= min (bounded by timeout_ms; a 1 ms
 * pause between reads). Returns the last value. */
long long e2e_wait_metric(const struct e2e_mount *m, const char *name, long long min,
                          int timeout_ms);
/* Re-reads the metric until lo <= value <= hi; returns the last value. */
long long e2e_wait_metric_range(const struct e2e_mount *m, const char *name, long long lo,
                                long long hi, int timeout_ms);
/* Whether a line of the daemon log contains every given text. */
bool e2e_log_has(const struct e2e_mount *m, const char *a, const char *b, const char *c);
/* Prints the daemon log's last lines (for failures). */
void e2e_log_dump(const struct e2e_mount *m);
/* Threads: of /proc/<daemon>/status, or -1. */
int e2e_daemon_threads(const struct e2e_mount *m);
/* Number of sanitizer reports in m->dir (and prints them). */
int e2e_san_reports(const struct e2e_mount *m);

/* ---- deterministic randomness ---- */
uint64_t e2e_rand(uint64_t *state);
/* A seed: E2E_SEED from the environment, else fixed; printed. */
uint64_t e2e_seed(const char *test);

#endif
