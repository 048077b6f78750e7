/*
 * mount_util.c - real mounts for the crash tests (see mount_util.h).
 */
#include "mount_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <grp.h>
#include <unistd.h>

#include "support/tmpdir.h"

#ifndef ES_BINARY
#error "ES_BINARY (the esfs executable) must be defined by the build"
#endif

#define MU_MAX_MOUNTS 16

static struct mu_mount *registry[MU_MAX_MOUNTS];
static bool atexit_done;
static char asan_dir[PATH_MAX]; /* where a mount's sanitizer reports go */

static void cleanup_all(void)
{
    for (int i = 0; i < MU_MAX_MOUNTS; i++)
        if (registry[i])
            mu_cleanup(registry[i]);
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

const char *mu_skip_reason(void)
{
    if (access("/dev/fuse", R_OK | W_OK) != 0)
        return "no access to /dev/fuse: FUSE mounts cannot work here";
    if (!in_path("fusermount3"))
        return "fusermount3 is not installed";
    if (access(ES_BINARY, X_OK) != 0)
        return "the esfs binary is missing";
    return NULL;
}

void mu_init(struct mu_mount *m, const char *tag)
{
    memset(m, 0, sizeof(*m));
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (!atexit_done) {
        atexit(cleanup_all);
        atexit_done = true;
    }
    tmpdir_make(m->root, sizeof(m->root), tag);
    chmod(m->root, 0755);
    snprintf(m->store, sizeof(m->store), "%s/store", m->root);
    snprintf(m->mnt, sizeof(m->mnt), "%s/mnt", m->root);
    snprintf(m->log, sizeof(m->log), "%s/daemon.log", m->root);
    mkdir(m->mnt, 0755);
    for (int i = 0; i < MU_MAX_MOUNTS; i++)
        if (!registry[i]) {
            registry[i] = m;
            break;
        }
}

static uid_t run_uid = (uid_t)-1;
static gid_t run_gid = (gid_t)-1;

int mu_run_as(uid_t uid, gid_t gid, char *out, size_t cap, const char *const argv[])
{
    run_uid = uid;
    run_gid = gid;
    int rc = mu_run(out, cap, argv);
    run_uid = (uid_t)-1;
    run_gid = (gid_t)-1;
    return rc;
}

int mu_run(char *out, size_t cap, const char *const argv[])
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, STDIN_FILENO);
        dup2(p[1], STDOUT_FILENO);
        dup2(p[1], STDERR_FILENO);
        if (run_uid != (uid_t)-1 &&
            (setgroups(0, NULL) != 0 || setgid(run_gid) != 0 || setuid(run_uid) != 0)) {
            fprintf(stderr, "dropping to uid %d: %s\n", (int)run_uid, strerror(errno));
            _exit(126);
        }
        if (asan_dir[0] && getenv("ASAN_OPTIONS")) {
            char opts[PATH_MAX * 2];
            snprintf(opts, sizeof(opts), "%s:log_path=%s/sanitizer", getenv("ASAN_OPTIONS"),
                     asan_dir);
            setenv("ASAN_OPTIONS", opts, 1);
        }
        const char *prog = strcmp(argv[0], "esfs") == 0 ? ES_BINARY : argv[0];
        execvp(prog, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    char sink[4096];
    for (;;) {
        char *dst = out && n + 1 < cap ? out + n : sink;
        size_t room = out && n + 1 < cap ? cap - 1 - n : sizeof(sink);
        ssize_t r = read(p[0], dst, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (dst != sink)
            n += (size_t)r;
    }
    close(p[0]);
    if (out && cap)
        out[n] = '\0';
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

int mu_runl(char *out, size_t cap, const char *arg0, ...)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = arg0;
    va_list ap;
    va_start(ap, arg0);
    const char *a;
    while (n < 63 && (a = va_arg(ap, const char *)) != NULL)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return mu_run(out, cap, argv);
}

int mu_mount(struct mu_mount *m, char *err, size_t err_cap, ...)
{
    const char *argv[64];
    char logopt[PATH_MAX + 64];
    snprintf(logopt, sizeof(logopt), "--log-file=%s", m->log);
    int n = 0;
    argv[n++] = "esfs";
    argv[n++] = "mount";
    argv[n++] = logopt;
    va_list ap;
    va_start(ap, err_cap);
    const char *a;
    while (n < 60 && (a = va_arg(ap, const char *)) != NULL)
        argv[n++] = a;
    va_end(ap);
    argv[n++] = m->store;
    argv[n++] = m->mnt;
    argv[n] = NULL;
    char buf[2048];
    snprintf(asan_dir, sizeof(asan_dir), "%s", m->root);
    int rc = mu_run(buf, sizeof(buf), argv);
    asan_dir[0] = '\0';
    if (err && err_cap)
        snprintf(err, err_cap, "%s", buf);
    if (rc != 0)
        return rc;
    char pid[32];
    ssize_t l = getxattr(m->mnt, "user.esfs.pid", pid, sizeof(pid) - 1);
    if (l <= 0) {
        if (err && err_cap)
            snprintf(err, err_cap, "mounted, but user.esfs.pid of %s: %s", m->mnt, strerror(errno));
        return 1;
    }
    pid[l] = '\0';
    m->daemon = (pid_t)atoi(pid);
    m->daemon_status = 0;
    return 0;
}

static void reap(struct mu_mount *m)
{
    if (m->daemon <= 0)
        return;
    int st = 0;
    while (waitpid(m->daemon, &st, 0) < 0) {
        if (errno != EINTR) {
            st = -1; /* not our child (no subreaper): it is gone anyway */
            break;
        }
    }
    m->daemon_status = st;
    m->daemon = 0;
}

static void detach(const char *path)
{
    if (geteuid() == 0) {
        umount2(path, MNT_DETACH);
        return;
    }
    mu_runl(NULL, 0, "fusermount3", "-uz", path, (const char *)NULL);
}

int mu_umount(struct mu_mount *m)
{
    char out[1024];
    int rc = mu_runl(out, sizeof(out), "esfs", "umount", m->mnt, (const char *)NULL);
    if (rc != 0) {
        fprintf(stderr, "esfs umount %s: exit %d: %s\n", m->mnt, rc, out);
        if (m->daemon > 0)
            kill(m->daemon, SIGKILL);
        reap(m);
        detach(m->mnt);
        return -1;
    }
    reap(m);
    return m->daemon_status;
}

int mu_kill9(struct mu_mount *m)
{
    if (m->daemon <= 0)
        return -1;
    int rc = 0;
    int st;
    pid_t w = waitpid(m->daemon, &st, WNOHANG);
    if (w == m->daemon) {
        m->daemon_status = st;
        m->daemon = 0;
        rc = -1; /* it had died already */
    } else {
        kill(m->daemon, SIGKILL);
        reap(m);
        if (!(WIFSIGNALED(m->daemon_status) && WTERMSIG(m->daemon_status) == SIGKILL))
            rc = -1;
    }
    mu_runl(NULL, 0, "fusermount3", "-uz", m->mnt, (const char *)NULL);
    return rc;
}

bool mu_daemon_alive(struct mu_mount *m)
{
    if (m->daemon <= 0)
        return false;
    int st;
    pid_t w = waitpid(m->daemon, &st, WNOHANG);
    if (w == m->daemon) {
        m->daemon_status = st;
        m->daemon = 0;
        return false;
    }
    return w == 0;
}

void mu_cleanup(struct mu_mount *m)
{
    if (!m->root[0])
        return;
    if (m->daemon > 0) {
        kill(m->daemon, SIGKILL);
        reap(m);
    }
    detach(m->mnt);
    if (m->tmpfs[0]) {
        umount2(m->tmpfs, MNT_DETACH);
        m->tmpfs[0] = '\0';
    }
    if (getenv("ESFS_CRASH_KEEP"))
        fprintf(stderr, "kept %s (ESFS_CRASH_KEEP)\n", m->root);
    else
        tmpdir_remove(m->root);
    m->root[0] = '\0';
    for (int i = 0; i < MU_MAX_MOUNTS; i++)
        if (registry[i] == m)
            registry[i] = NULL;
}

int mu_mount_tmpfs(struct mu_mount *m, unsigned size_kib)
{
    char path[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/fs", m->root);
    mkdir(path, 0755);
    char opts[64];
    snprintf(opts, sizeof(opts), "size=%uk,mode=0755", size_kib);
    if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
        return -errno;
    snprintf(m->tmpfs, sizeof(m->tmpfs), "%s", path);
    return 0;
}

int mu_append(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    ssize_t w = write(fd, data, len);
    int rc = 0;
    if (w < 0)
        rc = -errno;
    else if ((size_t)w != len)
        rc = -EIO;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

char *mu_read(const char *path, size_t *len, int *err)
{
    *err = 0;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *err = errno;
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) {
            *err = ENOMEM;
            break;
        }
        if (n == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                continue;
            }
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *err = errno;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *len = n;
    if (*err) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

long mu_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

size_t mu_count_lines(const char *data, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += data[i] == '\n';
    return n;
}

bool mu_log_has(const struct mu_mount *m, ...)
{
    size_t len;
    int err;
    char *log = mu_read(m->log, &len, &err);
    if (!log)
        return false;
    bool found = false;
    for (char *line = log; line && *line && !found;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        va_list ap;
        va_start(ap, m);
        bool all = true;
        const char *t;
        while ((t = va_arg(ap, const char *)) != NULL)
            all &= strstr(line, t) != NULL;
        va_end(ap);
        found = all;
        line = end ? end + 1 : NULL;
    }
    free(log);
    return found;
}
