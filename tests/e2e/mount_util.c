/*
 * mount_util.c - the end-to-end harness (see mount_util.h): mounting and
 * unmounting real esfs file systems, child processes without inherited
 * signal masks or descriptors, the watchdog and the clean-up that never
 * leaves a mount behind, and small readers of the daemon's log, metrics
 * and /proc entries.
 */
#include "mount_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "support/tmpdir.h"

extern char **environ;

#ifndef ES_BINARY
#error "ES_BINARY (the esfs executable) must be defined"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* ---- the registry: what the safety net must undo ---- */

#define MAX_MOUNTS   16
#define MAX_CHILDREN 512

struct reg_mount {
    char mnt[PATH_MAX];
    volatile pid_t daemon;
    volatile sig_atomic_t used;
};

static struct reg_mount g_mounts[MAX_MOUNTS];
static volatile pid_t g_children[MAX_CHILDREN];
static pthread_mutex_t g_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t g_owner;
static volatile sig_atomic_t g_dying; /* the signal thread is cleaning up */
static char g_watch_what[256] = "a test";
static unsigned g_scale = 1;
static sigset_t g_thread_sigs; /* handled by the signal thread */

static int reg_mount_add(const char *mnt, pid_t daemon)
{
    pthread_mutex_lock(&g_reg_lock);
    int slot = -1;
    for (int i = 0; i < MAX_MOUNTS; i++)
        if (!g_mounts[i].used) {
            snprintf(g_mounts[i].mnt, sizeof(g_mounts[i].mnt), "%s", mnt);
            g_mounts[i].daemon = daemon;
            g_mounts[i].used = 1;
            slot = i;
            break;
        }
    pthread_mutex_unlock(&g_reg_lock);
    return slot;
}

static void reg_mount_drop(int slot)
{
    if (slot < 0)
        return;
    pthread_mutex_lock(&g_reg_lock);
    g_mounts[slot].used = 0;
    g_mounts[slot].daemon = 0;
    pthread_mutex_unlock(&g_reg_lock);
}

static void reg_child_add(pid_t pid)
{
    pthread_mutex_lock(&g_reg_lock);
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (!g_children[i]) {
            g_children[i] = pid;
            break;
        }
    pthread_mutex_unlock(&g_reg_lock);
}

static void reg_child_drop(pid_t pid)
{
    pthread_mutex_lock(&g_reg_lock);
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (g_children[i] == pid)
            g_children[i] = 0;
    pthread_mutex_unlock(&g_reg_lock);
}

static bool is_mount_point(const char *path)
{
    size_t len;
    char *text = e2e_read_all("/proc/self/mounts", &len);
    if (!text)
        return false;
    bool found = false;
    for (char *line = text; line && *line && !found;) {
        char *next = strchr(line, '\n');
        if (next)
            *next = '\0';
        char *sp = strchr(line, ' ');
        if (sp) {
            char *mp = sp + 1, *end = strchr(mp, ' ');
            if (end && (size_t)(end - mp) == strlen(path) && !memcmp(mp, path, strlen(path)))
                found = true;
        }
        line = next ? next + 1 : NULL;
    }
    free(text);
    return found;
}

/* Runs `fusermount3 -uz mnt` and waits for it (normal context only). */
static void lazy_unmount(const char *mnt)
{
    if (!is_mount_point(mnt))
        return;
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) { /* it may race with the daemon's own unmount */
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        execlp("fusermount3", "fusermount3", "-uz", mnt, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    /* fusermount3 missing or refused: as root the syscall does the same */
    umount2(mnt, MNT_DETACH);
}

static void kill_children(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (g_children[i] > 0)
            kill(g_children[i], SIGKILL);
}

/* The watchdog, and SIGINT/SIGTERM/SIGHUP: runs in its own thread. */
static void *signal_thread(void *arg)
{
    (void)arg;
    for (;;) {
        int sig = 0;
        if (sigwait(&g_thread_sigs, &sig) != 0)
            continue;
        g_dying = 1;
        if (sig == SIGALRM)
            fprintf(stderr,
                    "\ne2e watchdog: %s did not finish in time: killing its children and the "
                    "daemon, detaching the mounts\n",
                    g_watch_what);
        else
            fprintf(stderr, "\ne2e: %s: detaching the mounts\n", strsignal(sig));
        kill_children();
        for (int i = 0; i < MAX_MOUNTS; i++) {
            if (!g_mounts[i].used)
                continue;
            /* a killed daemon ends every request in flight, so nothing of
             * ours stays blocked in the kernel */
            if (g_mounts[i].daemon > 0)
                kill(g_mounts[i].daemon, sig == SIGALRM ? SIGKILL : SIGTERM);
            lazy_unmount(g_mounts[i].mnt);
            g_mounts[i].used = 0;
        }
        _exit(sig == SIGALRM ? 1 : 128 + sig);
    }
    return NULL;
}

static void fatal_handler(int sig)
{
    if (getpid() == g_owner) {
        for (int i = 0; i < MAX_MOUNTS; i++) {
            if (!g_mounts[i].used)
                continue;
            umount2(g_mounts[i].mnt, MNT_DETACH);
            if (g_mounts[i].daemon > 0)
                kill(g_mounts[i].daemon, SIGTERM);
        }
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void at_exit(void)
{
    if (getpid() != g_owner)
        return;
    /* the signal thread is cleaning up and ends the process with its
     * status: never exit with 0 under it */
    while (g_dying)
        pause();
    for (int i = 0; i < MAX_MOUNTS; i++)
        if (g_mounts[i].used) {
            fprintf(stderr, "e2e: %s still mounted at exit: detaching it\n", g_mounts[i].mnt);
            lazy_unmount(g_mounts[i].mnt);
            g_mounts[i].used = 0;
        }
}

static bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    char buf[PATH_MAX];
    for (const char *p = path; *p;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog);
        if (access(buf, X_OK) == 0)
            return true;
        p += n + (e ? 1 : 0);
    }
    return false;
}

void e2e_init(void)
{
    const char *why = NULL;
    if (geteuid() != 0)
        why = "not running as root (FUSE mounts and umount2 need it)";
    else if (access("/dev/fuse", R_OK | W_OK) != 0)
        why = "/dev/fuse is missing or not usable";
    else if (!in_path("fusermount3"))
        why = "fusermount3 is not installed (package fuse3)";
    if (why) {
        fprintf(stderr, "SKIP: end-to-end tests need real FUSE mounts: %s\n", why);
        exit(77);
    }
    g_owner = getpid();
    const char *s = getenv("E2E_TIMEOUT_SCALE");
    g_scale = s && atoi(s) > 0 ? (unsigned)atoi(s) : (SANITIZED ? 3 : 1);
    setvbuf(stdout, NULL, _IOLBF, 0);

    sigemptyset(&g_thread_sigs);
    sigaddset(&g_thread_sigs, SIGALRM);
    sigaddset(&g_thread_sigs, SIGINT);
    sigaddset(&g_thread_sigs, SIGTERM);
    sigaddset(&g_thread_sigs, SIGHUP);
    /* before any thread exists: every later thread inherits the mask */
    pthread_sigmask(SIG_BLOCK, &g_thread_sigs, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, signal_thread, NULL) != 0) {
        fprintf(stderr, "e2e: cannot start the signal thread\n");
        exit(1);
    }
    pthread_detach(t);
    static const int fatal[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = fatal_handler;
        sa.sa_flags = SA_RESETHAND;
        sigaction(fatal[i], &sa, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    atexit(at_exit);
}

void e2e_watchdog(unsigned seconds, const char *what)
{
    if (what)
        snprintf(g_watch_what, sizeof(g_watch_what), "%s", what);
    alarm(seconds * g_scale);
}

/* ---- paths ---- */

static _Thread_local char g_paths[16][PATH_MAX];
static _Thread_local unsigned g_path_next;

static const char *vjoin(const char *base, const char *fmt, va_list ap)
{
    char *out = g_paths[g_path_next++ % 16];
    int n = snprintf(out, PATH_MAX, "%s/", base);
    vsnprintf(out + n, (size_t)(PATH_MAX - n), fmt, ap);
    return out;
}

const char *e2e_path(const struct e2e_mount *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *p = vjoin(m->mnt, fmt, ap);
    va_end(ap);
    return p;
}

const char *e2e_tmp(const struct e2e_mount *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *p = vjoin(m->dir, fmt, ap);
    va_end(ap);
    return p;
}

/* ---- processes ---- */

static void child_reset(void)
{
    sigset_t none;
    sigemptyset(&none);
    static const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS,  SIGFPE, SIGILL,
                               SIGPIPE, SIGINT,  SIGTERM, SIGHUP, SIGALRM};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], SIG_DFL);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    alarm(0);
}

pid_t e2e_fork(void)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        child_reset();
    else if (pid > 0)
        reg_child_add(pid);
    return pid;
}

/* environ with the sanitizer options pointed at m's directory. */
static char **child_env(const struct e2e_mount *m, char **owned, size_t *n_owned)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 3, sizeof(*env));
    if (!env)
        return NULL;
    size_t k = 0;
    *n_owned = 0;
    static const char *const vars[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS"};
    for (size_t i = 0; i < n; i++) {
        bool skip = false;
        for (size_t v = 0; m && v < 2; v++)
            if (!strncmp(environ[i], vars[v], strlen(vars[v])) &&
                environ[i][strlen(vars[v])] == '=')
                skip = true;
        if (!skip)
            env[k++] = environ[i];
    }
    for (size_t v = 0; m && v < 2; v++) {
        const char *old = getenv(vars[v]);
        size_t len = strlen(vars[v]) + (old ? strlen(old) : 0) + strlen(m->dir) + 32;
        char *s = malloc(len);
        if (!s)
            continue;
        snprintf(s, len, "%s=%s%slog_path=%s/san", vars[v], old ? old : "", old && *old ? ":" : "",
                 m->dir);
        owned[(*n_owned)++] = s;
        env[k++] = s;
    }
    env[k] = NULL;
    return env;
}

pid_t e2e_spawn(const struct e2e_mount *m, const char *const argv[], int in_fd, int out_fd,
                int err_fd)
{
    char *owned[2];
    size_t n_owned = 0;
    char **env = child_env(m, owned, &n_owned);
    if (!env)
        return -1;
    pid_t pid = e2e_fork();
    if (pid == 0) {
        int fds[3] = {in_fd, out_fd, err_fd};
        int high[3];
        for (int i = 0; i < 3; i++)
            high[i] = fds[i] >= 0 ? fcntl(fds[i], F_DUPFD, 100) : -1;
        if (high[0] < 0)
            high[0] = open("/dev/null", O_RDONLY);
        for (int i = 0; i < 3; i++)
            if (high[i] >= 0)
                dup2(high[i], i);
        syscall(SYS_close_range, 3u, ~0u, 0u);
        execvpe(argv[0], (char *const *)argv, env);
        fprintf(stderr, "e2e: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    free(env);
    return pid;
}

static int pidfd_of(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int e2e_wait(pid_t pid, int timeout_ms)
{
    int status = 0;
    if (timeout_ms >= 0) {
        int pfd = pidfd_of(pid);
        if (pfd >= 0) {
            struct pollfd p = {.fd = pfd, .events = POLLIN};
            int r;
            while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
                ;
            close(pfd);
            if (r == 0) {
                fprintf(stderr, "e2e: child %d still running after %d ms: killed\n", (int)pid,
                        timeout_ms);
                kill(pid, SIGKILL);
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                    ;
                reg_child_drop(pid);
                return -1;
            }
        }
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            reg_child_drop(pid);
            return -1;
        }
    }
    reg_child_drop(pid);
    return status;
}

/* Reads fd to its end (bounded by timeout_ms) into a malloc'd buffer. */
static char *slurp_fd(int fd, size_t *len, int timeout_ms)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (buf) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long spent = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= timeout_ms)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(timeout_ms - spent));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (n == cap) {
            char *more = realloc(buf, cap * 2 + 1);
            if (!more) {
                free(buf);
                return NULL;
            }
            buf = more;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    if (buf)
        buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static int run_argv(const struct e2e_mount *m, const char *const *argv, char **out, size_t *out_len,
                    int timeout_ms)
{
    int pipefd[2] = {-1, -1};
    if (out && pipe2(pipefd, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = e2e_spawn(m, argv, -1, out ? pipefd[1] : -1, -1);
    if (out)
        close(pipefd[1]);
    if (pid < 0) {
        if (out)
            close(pipefd[0]);
        return -1;
    }
    if (out) {
        *out = slurp_fd(pipefd[0], out_len, timeout_ms);
        close(pipefd[0]);
    }
    int status = e2e_wait(pid, timeout_ms);
    if (status < 0 || !WIFEXITED(status)) {
        if (status >= 0 && WIFSIGNALED(status))
            fprintf(stderr, "e2e: %s killed by signal %d\n", argv[0], WTERMSIG(status));
        return -1;
    }
    return WEXITSTATUS(status);
}

#define MAX_ARGS 64

int e2e_esfs(const struct e2e_mount *m, char **out, size_t *out_len, const char *arg, ...)
{
    const char *argv[MAX_ARGS + 2];
    size_t n = 0;
    argv[n++] = ES_BINARY;
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && n < MAX_ARGS; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return run_argv(m, argv, out, out_len, 60000 * (int)g_scale);
}

int e2e_sh(const struct e2e_mount *m, const char *script, ...)
{
    const char *argv[MAX_ARGS + 4];
    size_t n = 0;
    argv[n++] = "/bin/sh";
    argv[n++] = "-c";
    argv[n++] = script;
    argv[n++] = "sh";
    va_list ap;
    va_start(ap, script);
    for (const char *a = va_arg(ap, const char *); a && n < MAX_ARGS; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return run_argv(m, argv, NULL, NULL, 60000 * (int)g_scale);
}

/* ---- mounting ---- */

struct e2e_mount *e2e_new(const char *tag)
{
    struct e2e_mount *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    tmpdir_make(m->dir, sizeof(m->dir), tag);
    snprintf(m->store, sizeof(m->store), "%s/store", m->dir);
    snprintf(m->mnt, sizeof(m->mnt), "%s/es", m->dir);
    snprintf(m->log, sizeof(m->log), "%s/daemon.log", m->dir);
    mkdir(m->mnt, 0755);
    m->daemon_fd = -1;
    m->slot = -1;
    return m;
}

int e2e_mount_opts(struct e2e_mount *m, const char *store, const char *const *opts)
{
    if (m->mounted) {
        fprintf(stderr, "e2e: %s is already mounted\n", m->mnt);
        return -1;
    }
    if (store && store != m->store)
        snprintf(m->store, sizeof(m->store), "%s", store);
    char logopt[PATH_MAX + 16];
    snprintf(logopt, sizeof(logopt), "--log-file=%s", m->log);
    const char *argv[MAX_ARGS + 8];
    size_t n = 0;
    argv[n++] = ES_BINARY;
    argv[n++] = "mount";
    argv[n++] = logopt;
    for (size_t i = 0; opts && opts[i] && n < MAX_ARGS; i++)
        argv[n++] = opts[i];
    argv[n++] = m->store;
    argv[n++] = m->mnt;
    argv[n] = NULL;
    int rc = run_argv(m, argv, NULL, NULL, 60000 * (int)g_scale);
    if (rc != 0) {
        fprintf(stderr, "e2e: esfs mount %s %s failed (exit %d)\n", m->store, m->mnt, rc);
        e2e_log_dump(m);
        return -1;
    }
    char buf[32];
    ssize_t len = getxattr(m->mnt, "user.esfs.pid", buf, sizeof(buf) - 1);
    if (len <= 0) {
        fprintf(stderr, "e2e: %s: no user.esfs.pid after the mount: %s\n", m->mnt, strerror(errno));
        lazy_unmount(m->mnt);
        return -1;
    }
    buf[len] = '\0';
    m->daemon = (pid_t)atoi(buf);
    m->daemon_fd = pidfd_of(m->daemon);
    m->mounted = true;
    m->slot = reg_mount_add(m->mnt, m->daemon);
    return 0;
}

struct e2e_mount *e2e_new_mounted(const char *tag, const char *const *opts)
{
    struct e2e_mount *m = e2e_new(tag);
    if (!m)
        return NULL;
    if (e2e_mount_opts(m, NULL, opts) != 0) {
        e2e_free(m);
        return NULL;
    }
    return m;
}

int e2e_san_reports(const struct e2e_mount *m)
{
    DIR *d = opendir(m->dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "san.", 4) != 0)
            continue;
        n++;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", m->dir, de->d_name);
        size_t len;
        char *text = file_read_all(path, &len);
        fprintf(stderr, "e2e: sanitizer report %s:\n%s\n", path, text ? text : "(unreadable)");
        free(text);
    }
    closedir(d);
    return n;
}

int e2e_umount(struct e2e_mount *m)
{
    if (!m->mounted)
        return 0;
    int rc = e2e_esfs(m, NULL, NULL, "umount", m->mnt, NULL);
    if (rc != 0) {
        fprintf(stderr, "e2e: esfs umount %s failed (exit %d)\n", m->mnt, rc);
        e2e_log_dump(m);
        return -1;
    }
    int result = 0;
    if (m->daemon_fd >= 0) {
        struct pollfd p = {.fd = m->daemon_fd, .events = POLLIN};
        int r = poll(&p, 1, 10000 * (int)g_scale);
        if (r <= 0) {
            fprintf(stderr, "e2e: the daemon %d is still running after esfs umount\n",
                    (int)m->daemon);
            kill(m->daemon, SIGKILL);
            result = -1;
        }
        close(m->daemon_fd);
        m->daemon_fd = -1;
    }
    m->mounted = false;
    reg_mount_drop(m->slot);
    m->slot = -1;
    m->daemon = 0;
    if (e2e_san_reports(m) > 0)
        result = -1;
    return result;
}

int e2e_register_mount(const char *path)
{
    return reg_mount_add(path, 0);
}

void e2e_unregister_mount(int slot)
{
    reg_mount_drop(slot);
}

int e2e_wait_daemon_exit(struct e2e_mount *m, int timeout_ms, bool *was_mounted)
{
    if (!m->mounted)
        return -1;
    int rc = 0;
    if (m->daemon_fd >= 0) {
        struct pollfd p = {.fd = m->daemon_fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms * (int)g_scale) <= 0) {
            fprintf(stderr, "e2e: the daemon %d did not exit\n", (int)m->daemon);
            kill(m->daemon, SIGKILL);
            poll(&p, 1, 30000);
            rc = -1;
        }
        close(m->daemon_fd);
        m->daemon_fd = -1;
    }
    bool mounted = is_mount_point(m->mnt);
    if (was_mounted)
        *was_mounted = mounted;
    if (mounted)
        lazy_unmount(m->mnt);
    m->mounted = false;
    reg_mount_drop(m->slot);
    m->slot = -1;
    m->daemon = 0;
    return rc;
}

int e2e_kill_daemon(struct e2e_mount *m)
{
    if (!m->mounted)
        return -1;
    kill(m->daemon, SIGKILL);
    int rc = 0;
    if (m->daemon_fd >= 0) {
        struct pollfd p = {.fd = m->daemon_fd, .events = POLLIN};
        if (poll(&p, 1, 30000 * (int)g_scale) <= 0) {
            fprintf(stderr, "e2e: the daemon %d survived SIGKILL\n", (int)m->daemon);
            rc = -1;
        }
        close(m->daemon_fd);
        m->daemon_fd = -1;
    }
    lazy_unmount(m->mnt);
    m->mounted = false;
    reg_mount_drop(m->slot);
    m->slot = -1;
    m->daemon = 0;
    return rc;
}

static bool still_mounted(const struct e2e_mount *m)
{
    struct stat a, b;
    if (stat(m->mnt, &a) != 0)
        return errno == ENOTCONN;
    if (stat(m->dir, &b) != 0)
        return false;
    return a.st_dev != b.st_dev;
}

int e2e_free(struct e2e_mount *m)
{
    if (!m)
        return 0;
    int rc = 0;
    if (m->mounted && e2e_umount(m) != 0) {
        rc = -1;
        if (m->mounted) {
            fprintf(stderr, "e2e: forcing the unmount of %s\n", m->mnt);
            if (m->daemon > 0)
                kill(m->daemon, SIGKILL);
            lazy_unmount(m->mnt);
            if (m->daemon_fd >= 0)
                close(m->daemon_fd);
            m->daemon_fd = -1;
            m->mounted = false;
            reg_mount_drop(m->slot);
        }
    }
    if (e2e_san_reports(m) > 0)
        rc = -1;
    if (getenv("E2E_KEEP"))
        fprintf(stderr, "e2e: keeping %s\n", m->dir);
    else if (still_mounted(m))
        fprintf(stderr, "e2e: %s is still mounted: not removing %s\n", m->mnt, m->dir);
    else
        tmpdir_remove(m->dir);
    free(m);
    return rc;
}

const char *const *e2e_setup_opts;

int e2e_setup(void **state)
{
    e2e_watchdog(120, "the running test");
    struct e2e_mount *m = e2e_new_mounted("e2e", e2e_setup_opts);
    *state = m;
    return m ? 0 : -1;
}

int e2e_teardown(void **state)
{
    struct e2e_mount *m = *state;
    *state = NULL;
    e2e_watchdog(60, "the teardown");
    int rc = e2e_free(m);
    e2e_watchdog(0, NULL);
    return rc;
}

/* ---- files ---- */

char *e2e_read_all(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            char *more = realloc(buf, cap * 2 + 1);
            if (!more) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = more;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            buf = NULL;
            errno = e;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    int e = errno;
    close(fd);
    errno = e;
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

size_t e2e_read_n(int fd, void *buf, size_t n, int timeout_ms)
{
    size_t got = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (got < n) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long spent = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= timeout_ms)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(timeout_ms - spent));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        ssize_t k = read(fd, (char *)buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}

int e2e_write_full(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int e2e_append(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = 0;
    ssize_t w = write(fd, data, len);
    if (w < 0)
        rc = -errno;
    else if ((size_t)w != len)
        rc = -EIO;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

long e2e_version(const char *path)
{
    char buf[32];
    ssize_t n = getxattr(path, "user.esfs.version", buf, sizeof(buf) - 1);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return atol(buf);
}

/* ---- the daemon ---- */

long long e2e_metric(const struct e2e_mount *m, const char *name)
{
    size_t len;
    char *text = e2e_read_all(e2e_path(m, ".esfs/metrics"), &len);
    if (!text)
        return -1;
    long long v = -1;
    size_t nl = strlen(name);
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (!strncmp(line, name, nl) && line[nl] == ' ') {
            v = strtoll(line + nl + 1, NULL, 10);
            break;
        }
        line = next ? next + 1 : NULL;
    }
    free(text);
    return v;
}

long long e2e_wait_metric(const struct e2e_mount *m, const char *name, long long min,
                          int timeout_ms)
{
    return e2e_wait_metric_range(m, name, min, LLONG_MAX, timeout_ms);
}

long long e2e_wait_metric_range(const struct e2e_mount *m, const char *name, long long lo,
                                long long hi, int timeout_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        long long v = e2e_metric(m, name);
        if (v >= lo && v <= hi)
            return v;
        if (v < 0 && m->daemon_fd >= 0) {
            struct pollfd p = {.fd = m->daemon_fd, .events = POLLIN};
            if (poll(&p, 1, 0) == 1) {
                fprintf(stderr, "e2e: waiting for %s: the daemon is gone\n", name);
                return v;
            }
        }
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long spent = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= timeout_ms * (long)g_scale)
            return v;
        /* a condition re-checked, not a guess at a duration */
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
}

bool e2e_log_has(const struct e2e_mount *m, const char *a, const char *b, const char *c)
{
    size_t len;
    char *text = file_read_all(m->log, &len);
    if (!text)
        return false;
    bool found = false;
    for (char *line = text; line && *line && !found;) {
        char *next = strchr(line, '\n');
        if (next)
            *next = '\0';
        found = (!a || strstr(line, a)) && (!b || strstr(line, b)) && (!c || strstr(line, c));
        line = next ? next + 1 : NULL;
    }
    free(text);
    return found;
}

void e2e_log_dump(const struct e2e_mount *m)
{
    size_t len;
    char *text = file_read_all(m->log, &len);
    if (!text)
        return;
    const char *from = text;
    if (len > 4000) {
        from = text + len - 4000;
        const char *nl = strchr(from, '\n');
        if (nl)
            from = nl + 1;
    }
    fprintf(stderr, "---- daemon log %s (end) ----\n%s---- end of daemon log ----\n", m->log, from);
    free(text);
}

int e2e_daemon_threads(const struct e2e_mount *m)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)m->daemon);
    size_t len;
    char *text = e2e_read_all(path, &len);
    if (!text)
        return -1;
    int n = -1;
    char *p = strstr(text, "\nThreads:");
    if (p)
        n = atoi(p + 9);
    free(text);
    return n;
}

/* ---- randomness ---- */

uint64_t e2e_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

uint64_t e2e_seed(const char *test)
{
    const char *s = getenv("E2E_SEED");
    uint64_t seed = s ? strtoull(s, NULL, 0) : 0x5eed5eedull;
    if (seed == 0)
        seed = 1;
    print_message("%s: seed %llu (E2E_SEED)\n", test, (unsigned long long)seed);
    return seed;
}
