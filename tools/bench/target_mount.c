/*
 * target_mount.c - appends through a mounted esfs, as a program would:
 * every writer thread opens its own O_APPEND descriptors on
 * MOUNT/streams/<id>, and an append is one write(2) of one line, which
 * returns once the event is durable (--sync=always). With --expect the
 * thread first arms the check with fsetxattr(user.esfs.expected_version);
 * with --expect-xattr one fsetxattr(user.esfs.append.N) checks and appends.
 * The result line adds the mount's fsync and group-commit counts for the
 * run (from .esfs/metrics), so the batch size can be read off, and the
 * daemon's CPU time per append (/proc/<pid>/stat; pid from user.esfs.pid).
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

struct mount_shared {
    double fsyncs0, commits0, events0;
    int daemon_pid;
    double daemon_cpu0_s;
};

/* CPU seconds (user + system) the daemon used so far; -1 if unknown. */
static double daemon_cpu_s(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long long utime = 0, stime = 0;
    /* after the command: 3 state ... 14 utime 15 stime */
    if (!p ||
        sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static int mount_setup(struct bench_run *r)
{
    struct mount_shared *ms = calloc(1, sizeof(*ms));
    if (!ms)
        return -ENOMEM;
    ms->fsyncs0 = bench_metric(r->o->dir, "esfs_fsyncs_total");
    ms->commits0 = bench_metric(r->o->dir, "esfs_group_commits_total");
    ms->events0 = bench_metric(r->o->dir, "esfs_events_total");
    char pid[32];
    ssize_t pn = getxattr(r->o->dir, "user.esfs.pid", pid, sizeof(pid) - 1);
    if (pn > 0) {
        pid[pn] = '\0';
        ms->daemon_pid = atoi(pid);
        ms->daemon_cpu0_s = daemon_cpu_s(ms->daemon_pid);
    }
    if (ms->fsyncs0 < 0) {
        fprintf(stderr, "esfs-bench: %s/.esfs/metrics is not readable: is esfs mounted there?\n",
                r->o->dir);
        free(ms);
        return -ENOENT;
    }
    r->shared = ms;
    return 0;
}

static int mount_writer_open(struct bench_writer *w)
{
    int *fds = calloc(w->n_streams, sizeof(int));
    if (!fds)
        return -ENOMEM;
    w->state = fds;
    for (size_t k = 0; k < w->n_streams; k++)
        fds[k] = -1;
    for (size_t k = 0; k < w->n_streams; k++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/streams/%s", w->run->o->dir, w->names[k]);
        fds[k] = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fds[k] < 0) {
            int e = errno;
            fprintf(stderr, "esfs-bench: open %s: %s\n", path, strerror(e));
            return -e;
        }
        if (w->run->o->expect) {
            char v[32];
            ssize_t n = fgetxattr(fds[k], "user.esfs.version", v, sizeof(v) - 1);
            if (n < 0) {
                int e = errno;
                fprintf(stderr, "esfs-bench: getxattr %s: %s\n", path, strerror(e));
                return -e;
            }
            v[n] = '\0';
            w->versions[k] = strtoull(v, NULL, 10);
        }
    }
    return 0;
}

static int mount_append(struct bench_writer *w, size_t k, const char *line, size_t len,
                        int64_t expected)
{
    int fd = ((int *)w->state)[k];
    if (expected >= 0 && w->run->o->expect_xattr) {
        /* the check and the append in one request */
        char name[64];
        snprintf(name, sizeof(name), "user.esfs.append.%" PRId64, expected);
        return fsetxattr(fd, name, line, len, 0) == 0 ? 0 : -errno;
    }
    if (expected >= 0) {
        char v[32];
        int n = snprintf(v, sizeof(v), "%" PRId64, expected);
        if (fsetxattr(fd, "user.esfs.expected_version", v, (size_t)n, 0) != 0)
            return -errno;
    }
    ssize_t n = write(fd, line, len);
    if (n < 0)
        return -errno;
    return (size_t)n == len ? 0 : -EIO;
}

static void mount_writer_close(struct bench_writer *w)
{
    int *fds = w->state;
    if (!fds)
        return;
    for (size_t k = 0; k < w->n_streams; k++)
        if (fds[k] >= 0)
            close(fds[k]);
    free(fds);
    w->state = NULL;
}

static void mount_report(struct bench_run *r)
{
    struct mount_shared *ms = r->shared;
    double fsyncs = bench_metric(r->o->dir, "esfs_fsyncs_total") - ms->fsyncs0;
    double commits = bench_metric(r->o->dir, "esfs_group_commits_total") - ms->commits0;
    double events = bench_metric(r->o->dir, "esfs_events_total") - ms->events0;
    printf(" fsyncs=%.0f group_commits=%.0f events_per_fsync=%.2f", fsyncs, commits,
           fsyncs > 0 ? events / fsyncs : 0.0);
    double cpu = ms->daemon_pid > 0 ? daemon_cpu_s(ms->daemon_pid) : -1;
    if (cpu >= 0 && ms->daemon_cpu0_s >= 0 && events > 0)
        printf(" daemon_cpu_us_per_append=%.1f", (cpu - ms->daemon_cpu0_s) * 1e6 / events);
}

static int mount_teardown(struct bench_run *r)
{
    free(r->shared);
    r->shared = NULL;
    return 0;
}

const struct bench_target bench_target_mount = {
    .name = "mount",
    .setup = mount_setup,
    .writer_open = mount_writer_open,
    .append = mount_append,
    .writer_close = mount_writer_close,
    .report = mount_report,
    .teardown = mount_teardown,
};
