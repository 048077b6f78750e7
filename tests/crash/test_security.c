/*
 * test_security.c - what another user, and a hostile name, can do to a
 * mount:
 *   - the mount is private by default: a process of another uid (nobody,
 *     via setuid in a forked child) gets EACCES for the mount, `all` and
 *     any stream;
 *   - names cannot escape streams/: "..", names with '/', "%2e%2e" (a plain
 *     name), link/symlink/mkdir/mknod/rename/unlink are refused, and nothing
 *     appears in the store directory or beside it but the store's own files;
 *   - the daemon runs as a non-root user through fusermount3 (store and
 *     mount point owned by nobody), serves that user, and refuses root.
 *     Where /dev/fuse is not open to other users (0600), the test gives
 *     itself a private mount namespace with a 0666 node of the same device
 *     bound over it; where even that is impossible it skips, saying why.
 * Lengths read from disk are bounded before use: that is the fuzzers' job
 * (tests/fuzz/fuzz_frame.c, fuzz_segment.c), not repeated here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "mount_util.h"

#define NOBODY_UID 65534
#define NOBODY_GID 65534

static int setup(void **state)
{
    struct mu_mount *m = calloc(1, sizeof(*m));
    if (!m)
        return -1;
    mu_init(m, "security");
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    mu_cleanup(*state);
    free(*state);
    return 0;
}

static void need_root_mount(void)
{
    const char *why = mu_skip_reason();
    if (!why && geteuid() != 0)
        why = "switching to another uid needs root";
    if (why) {
        print_message("[ security ] skipped: %s\n", why);
        skip();
    }
}

/* Runs fn(arg) in a child as nobody; returns its exit status (0: fn
 * returned 0), or -1 when the child could not become nobody. */
static int as_nobody(int (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(NOBODY_GID) != 0 || setuid(NOBODY_UID) != 0)
            _exit(125);
        _exit(fn(arg) & 0x7f);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) == 125)
        return -1;
    return WEXITSTATUS(st);
}

/* As another user: everything of a private mount is EACCES. Exit codes
 * name the first thing that was not refused. */
static int probe_private(void *arg)
{
    const struct mu_mount *m = arg;
    char p[PATH_MAX + 64];
    struct stat st;
    if (stat(m->mnt, &st) == 0 || errno != EACCES)
        return 1;
    snprintf(p, sizeof(p), "%s/all", m->mnt);
    if (open(p, O_RDONLY) >= 0 || errno != EACCES)
        return 2;
    snprintf(p, sizeof(p), "%s/streams/secret", m->mnt);
    if (open(p, O_RDONLY) >= 0 || errno != EACCES)
        return 3;
    if (open(p, O_WRONLY | O_APPEND | O_CREAT, 0644) >= 0 || errno != EACCES)
        return 4;
    snprintf(p, sizeof(p), "%s/streams", m->mnt);
    if (opendir(p) != NULL || errno != EACCES)
        return 5;
    char v[32];
    if (getxattr(m->mnt, "user.esfs.pid", v, sizeof(v)) >= 0 || errno != EACCES)
        return 6;
    return 0;
}

static void test_security_private_mount(void **state)
{
    struct mu_mount *m = *state;
    need_root_mount();
    char err[2048];
    if (mu_mount(m, err, sizeof(err), (const char *)NULL))
        fail_msg("mount: %s", err);
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/streams/secret", m->mnt);
    assert_int_equal(mu_append(p, "the-secret\n", 11), 0);
    int rc = as_nobody(probe_private, m);
    if (rc < 0)
        fail_msg("could not run a child as nobody");
    if (rc != 0)
        fail_msg("another user was not refused (check %d of probe_private)", rc);
    assert_int_equal(mu_umount(m), 0);
    print_message("[ security ] private mount: uid %d got EACCES for the mount, all, streams, "
                  "xattrs, create\n",
                  NOBODY_UID);
}

/* As another user on a mount shared with -o allow_other: the modes decide
 * (the daemon checks them itself: src/fuse/access.c). Reading works;
 * writing, creating, setting attributes and sealing are refused. */
static int probe_shared(void *arg)
{
    const struct mu_mount *m = arg;
    char p[PATH_MAX + 64], buf[64];
    struct stat st;
    if (stat(m->mnt, &st) != 0)
        return 1;
    snprintf(p, sizeof(p), "%s/streams/shared", m->mnt);
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return 2;
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n != 7 || memcmp(buf, "public\n", 7) != 0)
        return 3;
    snprintf(p, sizeof(p), "%s/all", m->mnt);
    if ((fd = open(p, O_RDONLY)) < 0)
        return 4;
    close(fd);
    snprintf(p, sizeof(p), "%s/streams/shared", m->mnt);
    if (open(p, O_WRONLY | O_APPEND) >= 0 || errno != EACCES)
        return 5;
    if (setxattr(p, "user.esfs.expected_version", "1", 1, 0) == 0 || errno != EACCES)
        return 6;
    if (setxattr(p, "user.esfs.append.1", "x", 1, 0) == 0 || errno != EACCES)
        return 7;
    if (getxattr(p, "user.esfs.version", buf, sizeof(buf)) != 1)
        return 8;
    if (access(p, R_OK) != 0 || access(p, W_OK) == 0 || errno != EACCES)
        return 9;
    snprintf(p, sizeof(p), "%s/streams/new-one", m->mnt);
    if (open(p, O_WRONLY | O_APPEND | O_CREAT, 0644) >= 0 || errno != EACCES)
        return 10;
    snprintf(p, sizeof(p), "%s/.esfs/seal", m->mnt);
    if (open(p, O_WRONLY) >= 0 || errno != EACCES)
        return 11;
    snprintf(p, sizeof(p), "%s/streams/shared", m->mnt);
    if (utimes(p, NULL) == 0)
        return 12;
    return 0;
}

static void test_security_shared_mount_modes(void **state)
{
    struct mu_mount *m = *state;
    need_root_mount();
    char err[2048];
    if (mu_mount(m, err, sizeof(err), "-o", "allow_other", (const char *)NULL))
        fail_msg("mount: %s", err);
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/streams/shared", m->mnt);
    assert_int_equal(mu_append(p, "public\n", 7), 0);
    int rc = as_nobody(probe_shared, m);
    if (rc < 0)
        fail_msg("could not run a child as nobody");
    if (rc != 0)
        fail_msg("another user on a shared mount: check %d of probe_shared failed", rc);
    /* nothing of theirs landed */
    size_t len;
    int e;
    char *got = mu_read(p, &len, &e);
    assert_non_null(got);
    assert_int_equal(len, 7);
    free(got);
    assert_int_equal(mu_umount(m), 0);
}

/* Every entry under dir (recursively) is one of the store's own names. */
static void only_store_files(const char *dir, int depth)
{
    static const char *const ok[] = {"LOCK",       "segments",    "wal",
                                     "tmp",        "index",       "lost+found",
                                     "global.idx", "streams.idx", "checkpoint"};
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        bool known = false;
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
            known |= strcmp(de->d_name, ok[i]) == 0;
        unsigned long long v;
        char tail[16];
        if (sscanf(de->d_name, "%20llu.%15s", &v, tail) == 2 &&
            (!strcmp(tail, "seg") || !strcmp(tail, "wal")))
            known = true;
        if (!known)
            fail_msg("unexpected file %s/%s in the store", dir, de->d_name);
        char sub[PATH_MAX + 300];
        snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
        struct stat st;
        if (depth < 2 && lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            only_store_files(sub, depth + 1);
    }
    closedir(d);
}

static void expect_errno(int rc, int e1, int e2, const char *what)
{
    if (rc == 0)
        fail_msg("%s succeeded", what);
    if (errno != e1 && errno != e2)
        fail_msg("%s: %s, expected %s", what, strerror(errno), strerror(e1));
}

static void test_security_names_stay_in_streams(void **state)
{
    struct mu_mount *m = *state;
    need_root_mount();
    char err[2048];
    if (mu_mount(m, err, sizeof(err), (const char *)NULL))
        fail_msg("mount: %s", err);
    char p[PATH_MAX + 128], q[PATH_MAX + 128];
    /* ".." is the kernel's: streams/.. is the mount's root, a directory */
    snprintf(p, sizeof(p), "%s/streams/..", m->mnt);
    int rc = mu_append(p, "x\n", 2);
    if (rc != -EISDIR)
        fail_msg("append to streams/..: %s", rc ? strerror(-rc) : "accepted");
    snprintf(p, sizeof(p), "%s/streams/../all", m->mnt);
    rc = mu_append(p, "x\n", 2);
    if (rc != -EPERM && rc != -EACCES)
        fail_msg("append to streams/../all: %s", rc ? strerror(-rc) : "accepted");
    /* '/' cannot be in a name: these are paths through a stream */
    snprintf(p, sizeof(p), "%s/streams/nosuch/b", m->mnt);
    rc = mu_append(p, "x\n", 2);
    if (rc != -ENOENT)
        fail_msg("append to streams/nosuch/b: %s", rc ? strerror(-rc) : "accepted");
    snprintf(p, sizeof(p), "%s/streams/a", m->mnt);
    assert_int_equal(mu_append(p, "a\n", 2), 0);
    snprintf(p, sizeof(p), "%s/streams/a/b", m->mnt);
    rc = mu_append(p, "x\n", 2);
    if (rc != -ENOTDIR)
        fail_msg("append to streams/a/b: %s", rc ? strerror(-rc) : "accepted");
    /* encoded dots and slashes are plain names */
    static const char *const plain[] = {
        "%2e%2e", "x..%2f..%2fetc%2fpasswd", "a\\..\\b", "~root", "$(id)", "-rf"};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        snprintf(p, sizeof(p), "%s/streams/%s", m->mnt, plain[i]);
        char line[64];
        int n = snprintf(line, sizeof(line), "plain-%zu\n", i);
        rc = mu_append(p, line, (size_t)n);
        if (rc)
            fail_msg("append to the plain name %s: %s", plain[i], strerror(-rc));
        size_t len;
        int e;
        char *d = mu_read(p, &len, &e);
        if (!d || len != (size_t)n || memcmp(d, line, len) != 0)
            fail_msg("the plain name %s does not read back", plain[i]);
        free(d);
    }
    /* a leading dot stays refused, encoded or not */
    static const char *const dotted[] = {".%2e", "..%2fetc", ".esfs-x"};
    for (size_t i = 0; i < sizeof(dotted) / sizeof(dotted[0]); i++) {
        snprintf(p, sizeof(p), "%s/streams/%s", m->mnt, dotted[i]);
        rc = mu_append(p, "x\n", 2);
        if (rc != -EINVAL)
            fail_msg("append to %s: %s, expected EINVAL", dotted[i],
                     rc ? strerror(-rc) : "accepted");
    }
    /* the refusals */
    snprintf(p, sizeof(p), "%s/streams/dir", m->mnt);
    expect_errno(mkdir(p, 0755), EPERM, EACCES, "mkdir in streams/");
    expect_errno(symlink("/etc/passwd", p), EPERM, EACCES, "symlink in streams/");
    snprintf(q, sizeof(q), "%s/streams/a", m->mnt);
    expect_errno(link(q, p), EPERM, EACCES, "link in streams/");
    expect_errno(mknod(p, S_IFIFO | 0644, 0), EPERM, EACCES, "mknod in streams/");
    expect_errno(rename(q, p), EPERM, EACCES, "rename of a stream");
    expect_errno(unlink(q), EPERM, EACCES, "unlink of a stream");
    expect_errno(truncate(q, 0), EPERM, EACCES, "truncate of a stream");
    expect_errno(chmod(q, 0777), EPERM, EACCES, "chmod of a stream");
    snprintf(p, sizeof(p), "%s/escape", m->mnt);
    expect_errno(mkdir(p, 0755), EPERM, EACCES, "mkdir at the mount's root");
    assert_int_equal(mu_umount(m), 0);
    /* nothing was created anywhere but inside the store's own files */
    only_store_files(m->store, 0);
    DIR *d = opendir(m->root);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "store") &&
            strcmp(de->d_name, "mnt") && strcmp(de->d_name, "daemon.log"))
            fail_msg("unexpected %s beside the store", de->d_name);
    closedir(d);
    d = opendir(m->mnt);
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            fail_msg("%s left in the mount point", de->d_name);
    closedir(d);
    print_message("[ security ] names: .., paths through streams, encoded dots and 8 refused "
                  "operations; the store holds only its own files\n");
}

struct nobody_io {
    const struct mu_mount *m;
    int out; /* the daemon pid is written here */
};

static int nobody_uses_mount(void *arg)
{
    struct nobody_io *io = arg;
    char p[PATH_MAX + 64], v[32];
    ssize_t n = getxattr(io->m->mnt, "user.esfs.pid", v, sizeof(v) - 1);
    if (n <= 0)
        return 1;
    if (write(io->out, v, (size_t)n) != n)
        return 2;
    snprintf(p, sizeof(p), "%s/streams/mine", io->m->mnt);
    if (mu_append(p, "by-nobody\n", 10) != 0)
        return 3;
    size_t len;
    int e;
    char *d = mu_read(p, &len, &e);
    if (!d || len != 10)
        return 4;
    free(d);
    return 0;
}

/* Gives this process (only) a /dev/fuse that nobody may open: a private
 * mount namespace with a 0666 node bound over it. The machine's own
 * /dev/fuse is not touched. */
static const char *private_dev_fuse(const struct mu_mount *m)
{
    struct stat st;
    if (stat("/dev/fuse", &st) != 0)
        return "no /dev/fuse";
    if ((st.st_mode & 0006) == 0006)
        return NULL;
    if (unshare(CLONE_NEWNS) != 0)
        return "unshare(CLONE_NEWNS) failed";
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return "making / private failed";
    char node[PATH_MAX + 32];
    snprintf(node, sizeof(node), "%s/fuse-dev", m->root);
    if (mknod(node, S_IFCHR | 0666, st.st_rdev) != 0 || chmod(node, 0666) != 0)
        return "mknod of a fuse device node failed";
    if (mount(node, "/dev/fuse", NULL, MS_BIND, NULL) != 0)
        return "binding it over /dev/fuse failed";
    return NULL;
}

/* The unprivileged run, in a child of its own (its mount namespace may be
 * private). Returns NULL, or what failed; *skip for "cannot here". */
static const char *unprivileged_run(struct mu_mount *m, bool *skip_it, char *msg, size_t cap)
{
    *skip_it = false;
    const char *why = private_dev_fuse(m);
    if (why) {
        *skip_it = true;
        return why;
    }
    char logopt[PATH_MAX + 64], out[4096];
    snprintf(logopt, sizeof(logopt), "--log-file=%s", m->log);
    const char *argv[] = {"esfs", "mount", logopt, m->store, m->mnt, NULL};
    int rc = mu_run_as(NOBODY_UID, NOBODY_GID, out, sizeof(out), argv);
    if (rc != 0) {
        snprintf(msg, cap, "esfs mount as uid %d: exit %d: %s", NOBODY_UID, rc, out);
        *skip_it = true;
        return msg;
    }
    int p[2];
    if (pipe(p) != 0)
        return "pipe";
    struct nobody_io io = {m, p[1]};
    rc = as_nobody(nobody_uses_mount, &io);
    close(p[1]);
    char pid[32] = "";
    ssize_t n = read(p[0], pid, sizeof(pid) - 1);
    close(p[0]);
    pid_t daemon = n > 0 ? (pid_t)atoi(pid) : 0;
    const char *fail = NULL;
    if (rc != 0) {
        snprintf(msg, cap, "nobody cannot use its own mount (check %d)", rc);
        fail = msg;
    }
    /* the daemon runs as nobody */
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)daemon);
    FILE *f = fopen(path, "re");
    int uid = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "Uid: %d", &uid) == 1)
            break;
    if (f)
        fclose(f);
    if (!fail && uid != NOBODY_UID) {
        snprintf(msg, cap, "the daemon runs as uid %d", uid);
        fail = msg;
    }
    /* root is another user to this private mount */
    struct stat st;
    errno = 0;
    if (!fail && (stat(m->mnt, &st) == 0 || errno != EACCES)) {
        snprintf(msg, cap, "root could stat nobody's private mount (%s)", strerror(errno));
        fail = msg;
    }
    const char *um[] = {"esfs", "umount", m->mnt, NULL};
    rc = mu_run_as(NOBODY_UID, NOBODY_GID, out, sizeof(out), um);
    if (!fail && rc != 0) {
        snprintf(msg, cap, "esfs umount as nobody: %s", out);
        fail = msg;
    }
    if (rc != 0 && daemon > 0) {
        kill(daemon, SIGKILL);
        umount2(m->mnt, MNT_DETACH);
    }
    int wst = 0;
    if (daemon > 0)
        while (waitpid(daemon, &wst, 0) < 0 && errno == EINTR)
            ;
    if (!fail && (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0)) {
        snprintf(msg, cap, "the unprivileged daemon ended with status %#x", wst);
        fail = msg;
    }
    return fail;
}

static void test_security_unprivileged_daemon(void **state)
{
    struct mu_mount *m = *state;
    need_root_mount();
    /* a store and a mount point owned by nobody */
    assert_int_equal(mkdir(m->store, 0755), 0);
    assert_int_equal(chown(m->store, NOBODY_UID, NOBODY_GID), 0);
    assert_int_equal(chown(m->mnt, NOBODY_UID, NOBODY_GID), 0);
    int lfd = open(m->log, O_WRONLY | O_CREAT, 0644);
    assert_true(lfd >= 0);
    close(lfd);
    assert_int_equal(chown(m->log, NOBODY_UID, NOBODY_GID), 0);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        prctl(PR_SET_CHILD_SUBREAPER, 1); /* the daemon becomes our child */
        char msg[4096];
        bool skip_it;
        const char *why = unprivileged_run(m, &skip_it, msg, sizeof(msg));
        if (why && write(p[1], why, strlen(why)) < 0)
            _exit(3);
        _exit(!why ? 0 : skip_it ? 77 : 1);
    }
    close(p[1]);
    char msg[4096];
    ssize_t n = 0, r;
    while ((r = read(p[0], msg + n, sizeof(msg) - 1 - (size_t)n)) > 0)
        n += r;
    close(p[0]);
    msg[n > 0 ? n : 0] = '\0';
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
        print_message("[ security ] skipped: a non-root daemon cannot mount here: %s\n", msg);
        skip();
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("unprivileged daemon: %s (status %#x)", msg, st);
    /* everything it wrote belongs to nobody, and is sound */
    struct stat sb;
    char ck[PATH_MAX + 64], out[8192];
    snprintf(ck, sizeof(ck), "%s/index/checkpoint", m->store);
    if (stat(ck, &sb) != 0 || sb.st_uid != NOBODY_UID)
        fail_msg("the checkpoint is not owned by nobody");
    int rc = mu_runl(out, sizeof(out), "esfs", "verify", m->store, (const char *)NULL);
    if (rc != 0)
        fail_msg("verify of nobody's store: %s", out);
    print_message("[ security ] daemon as uid %d via fusermount3%s: served its user, refused "
                  "root, stopped cleanly\n",
                  NOBODY_UID,
                  (stat("/dev/fuse", &sb) == 0 && (sb.st_mode & 0006) == 0006)
                      ? ""
                      : " (in a private mount namespace with its own 0666 /dev/fuse node, as "
                        "this machine's is 0600)");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_security_private_mount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_security_shared_mount_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_security_names_stay_in_streams, setup, teardown),
        cmocka_unit_test_setup_teardown(test_security_unprivileged_daemon, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
