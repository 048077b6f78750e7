/*
 * test_concurrency.c - optimistic concurrency through a real mount: the
 * one-shot user.esfs.expected_version check (per calling thread, ECANCELED
 * and nothing appended on mismatch, 'any' disarms, a check armed before a
 * write that ends no line applies at close), 8 processes racing with
 * read-version/arm/write loops without a lost update, and O_CREAT|O_EXCL
 * (EEXIST on an existing or just-created stream; of 8 racing creators
 * exactly one wins). `esfs append --expect` of 1 MiB is one append.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "mount_util.h"
#include "view_util.h"

#define X_VERSION  "user.esfs.version"
#define X_EXPECTED "user.esfs.expected_version"

static void arm(const char *path, const char *value)
{
    if (setxattr(path, X_EXPECTED, value, strlen(value), 0) != 0)
        fail_msg("setxattr %s=%s on %s: %s", X_EXPECTED, value, path, strerror(errno));
}

/* One write(2) through a fresh open file: 0 or -errno of the write. */
static int write_once(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
        return -errno;
    ssize_t w = write(fd, s, strlen(s));
    int rc = w == (ssize_t)strlen(s) ? 0 : -errno;
    close(fd);
    return rc;
}

static void *write_in_thread(void *arg)
{
    return (void *)(intptr_t)write_once(arg, "from another thread\n");
}

static void test_expected_version_rules(void **state)
{
    struct e2e_mount *m = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", e2e_path(m, "streams/E"));

    /* 0: the stream must not exist yet. A path that does not exist has no
     * node to hold an xattr, so arm through an open (O_CREAT) file. */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(fsetxattr(fd, X_EXPECTED, "0", 1, 0), 0);
    assert_int_equal(write(fd, "one\n", 4), 4);
    assert_int_equal(close(fd), 0);
    assert_int_equal(e2e_version(path), 1);

    /* a wrong expectation: ECANCELED, nothing appended, logged */
    arm(path, "5");
    assert_int_equal(write_once(path, "never\nappended\n"), -ECANCELED);
    assert_int_equal(e2e_version(path), 1);
    assert_true(e2e_log_has(m, "E", "ECANCELED", "expected version 5"));
    /* one-shot: the failed write consumed it */
    assert_int_equal(write_once(path, "two\n"), 0);

    /* the right expectation, a multi-line write: checked once */
    arm(path, "2");
    assert_int_equal(write_once(path, "three\nfour\n"), 0);
    assert_int_equal(e2e_version(path), 4);
    assert_int_equal(write_once(path, "five\n"), 0); /* not armed any more */

    /* 'any' disarms; a value that is neither is EINVAL */
    arm(path, "99");
    arm(path, "any");
    assert_int_equal(write_once(path, "six\n"), 0);
    assert_int_equal(setxattr(path, X_EXPECTED, "abc", 3, 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(setxattr(path, X_VERSION, "1", 1, 0), -1); /* read-only */

    /* per thread: another thread's write is not checked, ours still is */
    arm(path, "1");
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_in_thread, path), 0);
    void *ret;
    pthread_join(t, &ret);
    assert_int_equal((intptr_t)ret, 0);
    assert_int_equal(write_once(path, "never\n"), -ECANCELED);
    assert_int_equal(e2e_version(path), 7);

    /* armed before a write that ends no line: the check applies when the
     * line becomes an event, at close */
    fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    arm(path, "3");
    assert_int_equal(write(fd, "unfinished", 10), 10);
    assert_int_equal(close(fd), -1);
    assert_int_equal(errno, ECANCELED);
    assert_int_equal(e2e_version(path), 7);

    size_t len;
    char *text = e2e_read_all(path, &len);
    assert_non_null(text);
    const char want[] = "one\ntwo\nthree\nfour\nfive\nsix\nfrom another thread\n";
    assert_int_equal(len, sizeof(want) - 1);
    assert_memory_equal(text, want, len);
    free(text);
}

/* ---- 8 processes: read the version, arm it, write; retry on ECANCELED ---- */

#define N_PROCS     8
#define PER_PROCESS 25

/* how version_child appends: arm user.esfs.expected_version, then write(2);
 * or check and append in one setxattr of user.esfs.append.N */
static bool child_uses_append_xattr;

static void version_child(const char *path, unsigned p, int go_fd, int result_fd)
{
    char c;
    if (read(go_fd, &c, 1) != 0)
        _exit(2);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
        _exit(3);
    unsigned done = 0, conflicts = 0;
    while (done < PER_PROCESS) {
        char v[32];
        ssize_t n = fgetxattr(fd, X_VERSION, v, sizeof(v) - 1);
        if (n <= 0)
            _exit(4);
        v[n] = '\0';
        char line[96];
        int len = snprintf(line, sizeof(line), "p%u k%u at %s\n", p, done, v);
        ssize_t w;
        if (child_uses_append_xattr) {
            char name[64];
            snprintf(name, sizeof(name), "user.esfs.append.%s", v);
            w = fsetxattr(fd, name, line, (size_t)len, 0) == 0 ? len : -1;
        } else {
            if (fsetxattr(fd, X_EXPECTED, v, (size_t)n, 0) != 0)
                _exit(5);
            w = write(fd, line, (size_t)len);
        }
        if (w == len)
            done++;
        else if (w < 0 && errno == ECANCELED)
            conflicts++;
        else
            _exit(6);
    }
    if (close(fd) != 0)
        _exit(7);
    if (write(result_fd, &conflicts, sizeof(conflicts)) != sizeof(conflicts))
        _exit(8);
    _exit(0);
}

static void no_lost_update(struct e2e_mount *m, bool append_xattr)
{
    child_uses_append_xattr = append_xattr;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", e2e_path(m, "streams/Counter"));
    int go[2], res[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(res), 0);
    pid_t pids[N_PROCS];
    for (unsigned p = 0; p < N_PROCS; p++) {
        pids[p] = e2e_fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(go[1]);
            close(res[0]);
            version_child(path, p, go[0], res[1]);
        }
    }
    close(go[0]);
    close(go[1]); /* go */
    close(res[1]);
    unsigned conflicts = 0;
    for (unsigned p = 0; p < N_PROCS; p++) {
        int status = e2e_wait(pids[p], 120000);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("process %u failed (status 0x%x)", p, status);
        unsigned c;
        assert_int_equal(e2e_read_n(res[0], &c, sizeof(c), 10000), sizeof(c));
        conflicts += c;
    }
    close(res[0]);
    print_message("%d appends, %u conflicts retried\n", N_PROCS * PER_PROCESS, conflicts);

    /* exactly the successful appends, each at the version its writer read */
    const unsigned n = N_PROCS * PER_PROCESS;
    assert_int_equal(e2e_version(path), (long)n);
    size_t len;
    char *text = e2e_read_all(path, &len);
    assert_non_null(text);
    unsigned next_k[N_PROCS] = {0};
    size_t off = 0;
    const char *line;
    size_t ll;
    unsigned i = 0;
    while (e2e_next_line(text, len, &off, &line, &ll)) {
        unsigned p, k, at;
        if (e2e_scan_line(line, ll, "p%u k%u at %u", &p, &k, &at) != 3 || p >= N_PROCS)
            fail_msg("unexpected event %.60s", line);
        if (at != i)
            fail_msg("event %u was written expecting version %u: a lost update", i + 1, at);
        if (k != next_k[p])
            fail_msg("process %u: append k%u where k%u was due", p, k, next_k[p]);
        next_k[p]++;
        i++;
    }
    assert_int_equal(i, n);
    free(text);

    /* versions 1..n in all */
    char *all = e2e_read_all(e2e_path(m, "all"), &len);
    assert_non_null(all);
    off = 0;
    uint64_t ver = 0;
    char why[300];
    while (e2e_next_line(all, len, &off, &line, &ll)) {
        struct e2e_env e;
        if (!e2e_env_parse(line, ll, &e, why, sizeof(why)))
            fail_msg("all: %s", why);
        assert_string_equal(e.stream, "Counter");
        assert_int_equal(e.ver, ++ver);
        assert_int_equal(e.pos, ver);
    }
    assert_int_equal(ver, n);
    free(all);
    if (conflicts > 0)
        assert_true(e2e_log_has(m, "Counter", "ECANCELED", NULL));
}

static void test_expected_version_no_lost_update(void **state)
{
    no_lost_update(*state, false);
}

/* the same race through user.esfs.append.N (one request per attempt) */
static void test_append_xattr_no_lost_update(void **state)
{
    no_lost_update(*state, true);
}

/* user.esfs.append.N: every rule, seen through setxattr(2) */
static void test_append_xattr_rules(void **state)
{
    struct e2e_mount *m = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", e2e_path(m, "streams/X"));
    /* a new stream, through a descriptor opened with O_CREAT */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(fsetxattr(fd, "user.esfs.append.0", "a1", 2, 0), 0);
    close(fd);
    assert_int_equal(e2e_version(path), 1);
    /* a mismatch appends nothing */
    errno = 0;
    assert_int_equal(setxattr(path, "user.esfs.append.0", "no", 2, 0), -1);
    assert_int_equal(errno, ECANCELED);
    assert_true(e2e_log_has(m, "X", "ECANCELED", NULL));
    /* several lines, empty ones skipped, the last without '\n' counts */
    const char *multi = "b1\nb2\n\nb3";
    assert_int_equal(setxattr(path, "user.esfs.append.1", multi, strlen(multi), 0), 0);
    assert_int_equal(setxattr(path, "user.esfs.append.any", "c1\n", 3, 0), 0);
    /* refusals */
    errno = 0;
    assert_int_equal(setxattr(path, "user.esfs.append.x1", "d", 1, 0), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(setxattr(path, "user.esfs.append.5", "\n\n", 2, 0), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(setxattr(e2e_path(m, "all"), "user.esfs.append.any", "e", 1, 0), -1);
    assert_true(errno == ENOTSUP || errno == EACCES || errno == EPERM);
    size_t len;
    char *text = e2e_read_all(path, &len);
    assert_non_null(text);
    const char want[] = "a1\nb1\nb2\nb3\nc1\n";
    assert_int_equal(len, sizeof(want) - 1);
    assert_memory_equal(text, want, len);
    free(text);
    assert_int_equal(e2e_version(path), 5);
}

/* ---- O_CREAT|O_EXCL ---- */

static void test_excl_create(void **state)
{
    struct e2e_mount *m = *state;
    const char *path = e2e_path(m, "streams/New");
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    /* created but without an event yet: it exists for a second creator */
    assert_int_equal(open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, 0644), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(write(fd, "first\n", 6), 6);
    assert_int_equal(close(fd), 0);
    assert_int_equal(open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, 0644), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(open(path, O_WRONLY | O_CREAT | O_EXCL, 0644), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(e2e_version(path), 1);
    /* a plain O_CREAT append to it still works */
    assert_int_equal(e2e_append(path, "second\n", 7), 0);
    size_t len;
    char *text = e2e_read_all(path, &len);
    assert_non_null(text);
    assert_int_equal(len, 13);
    assert_memory_equal(text, "first\nsecond\n", 13);
    free(text);
}

#define N_RACERS 8
#define N_ROUNDS 10

static void test_excl_create_race_one_wins(void **state)
{
    struct e2e_mount *m = *state;
    for (unsigned r = 0; r < N_ROUNDS; r++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s", e2e_path(m, "streams/Race-%u", r));
        int go[2];
        assert_int_equal(pipe(go), 0);
        pid_t pids[N_RACERS];
        for (unsigned p = 0; p < N_RACERS; p++) {
            pids[p] = e2e_fork();
            assert_true(pids[p] >= 0);
            if (pids[p] == 0) {
                close(go[1]);
                char c;
                if (read(go[0], &c, 1) != 0)
                    _exit(2);
                int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, 0644);
                if (fd < 0)
                    _exit(errno == EEXIST ? 10 : 3);
                char line[32];
                int len = snprintf(line, sizeof(line), "winner %u\n", p);
                if (write(fd, line, (size_t)len) != len)
                    _exit(4);
                _exit(close(fd) == 0 ? 0 : 5);
            }
        }
        close(go[0]);
        close(go[1]);
        int winner = -1;
        for (unsigned p = 0; p < N_RACERS; p++) {
            int status = e2e_wait(pids[p], 60000);
            assert_true(WIFEXITED(status));
            int code = WEXITSTATUS(status);
            if (code == 0) {
                if (winner >= 0)
                    fail_msg("round %u: creators %d and %u both won", r, winner, p);
                winner = (int)p;
            } else if (code != 10) {
                fail_msg("round %u: creator %u failed (exit %d)", r, p, code);
            }
        }
        if (winner < 0)
            fail_msg("round %u: nobody won", r);
        char want[32];
        snprintf(want, sizeof(want), "winner %d\n", winner);
        size_t len;
        char *text = e2e_read_all(path, &len);
        assert_non_null(text);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(text, want, len);
        free(text);
    }
}

/* `esfs append --expect` of exactly 1 MiB: one write(2) that reaches the
 * daemon as one request, so the check and the whole append are one step
 * (a buffer that does not start a page needs 257 pages, and the kernel
 * splits such a write into two requests: two appends, the second one
 * unchecked). */
static void test_esfs_append_expect_one_mib(void **state)
{
    struct e2e_mount *m = *state;
    const size_t total = 1u << 20;
    char *data = malloc(total);
    assert_non_null(data);
    unsigned lines = 0;
    for (size_t off = 0; off < total; lines++) {
        size_t len = total - off < 400 ? total - off : 400;
        int n = snprintf(data + off, len, "line %u ", lines);
        memset(data + off + n, 'x', len - 1 - (size_t)n);
        data[off + len - 1] = '\n';
        off += len;
    }
    const char *src = e2e_tmp(m, "one-mib.txt");
    int fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(e2e_write_full(fd, data, total), 0);
    close(fd);
    const char *path = e2e_path(m, "streams/Big");
    long long before = e2e_metric(m, "esfs_writes_total");
    assert_int_equal(
        e2e_sh(m, "\"$1\" append --expect 0 \"$2\" < \"$3\"", ES_BINARY, path, src, NULL), 0);
    long long requests = e2e_metric(m, "esfs_writes_total") - before;
    if (requests != 1)
        fail_msg("esfs append of 1 MiB reached the daemon as %lld write requests", requests);
    assert_int_equal(e2e_version(path), (long)lines);
    size_t len;
    char *got = e2e_read_all(path, &len);
    assert_non_null(got);
    assert_int_equal(len, total);
    assert_memory_equal(got, data, total);
    free(got);
    /* the same again is a conflict: exit 3, nothing appended */
    assert_int_equal(e2e_sh(m, "\"$1\" append --expect 0 \"$2\" < \"$3\" 2>/dev/null", ES_BINARY,
                            path, src, NULL),
                     3);
    assert_int_equal(e2e_version(path), (long)lines);
    free(data);
}

int main(void)
{
    e2e_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_expected_version_rules, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_append_xattr_rules, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_append_xattr_no_lost_update, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_expected_version_no_lost_update, e2e_setup,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_esfs_append_expect_one_mib, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_excl_create, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_excl_create_race_one_wins, e2e_setup, e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
