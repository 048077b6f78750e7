/*
 * test_append.c - appending through a real mount: line framing per open
 * file (a line split over several write(2)s is joined, empty lines are not
 * events, the last unterminated line becomes an event at close, a writer
 * killed by a signal mid-line commits nothing of that line), `cat bigfile
 * >> stream` whose blocks cut lines, and atomic concurrent writes: N
 * processes each doing multi-line write(2)s to two streams, every write's
 * lines contiguous in its stream and at consecutive positions in `all`,
 * nothing lost (per-open and shared stream nodes).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "mount_util.h"
#include "view_util.h"

static void assert_file(const char *path, const char *want, size_t want_len)
{
    size_t len;
    char *got = e2e_read_all(path, &len);
    if (!got)
        fail_msg("%s: %s", path, strerror(errno));
    if (len != want_len || memcmp(got, want, len) != 0)
        fail_msg("%s holds %zu bytes '%.*s', expected %zu bytes '%.*s'", path, len,
                 (int)(len > 300 ? 300 : len), got, want_len,
                 (int)(want_len > 300 ? 300 : want_len), want);
    free(got);
}

#define ASSERT_FILE(path, lit) assert_file((path), (lit), sizeof(lit) - 1)

static void wr(int fd, const char *s)
{
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void test_append_partial_lines_joined(void **state)
{
    struct e2e_mount *m = *state;
    const char *p = e2e_path(m, "streams/P");
    int fd = open(p, O_WRONLY | O_APPEND | O_CREAT, 0644);
    assert_true(fd >= 0);
    wr(fd, "ab");
    ASSERT_FILE(p, ""); /* nothing is an event before its line ends */
    assert_int_equal(e2e_version(p), 0);
    wr(fd, "c\nde");
    ASSERT_FILE(p, "abc\n");
    wr(fd, "f\n\n\ng");
    ASSERT_FILE(p, "abc\ndef\n"); /* empty lines are not events */
    wr(fd, "h");
    wr(fd, "i");
    wr(fd, "\n");
    wr(fd, "\n");
    wr(fd, "crlf\r\n");
    ASSERT_FILE(p, "abc\ndef\nghi\ncrlf\r\n");
    wr(fd, "last line, no newline");
    assert_int_equal(e2e_version(p), 4);
    assert_int_equal(close(fd), 0);
    ASSERT_FILE(p, "abc\ndef\nghi\ncrlf\r\nlast line, no newline\n");
    assert_int_equal(e2e_version(p), 5);

    /* framing is per open file: two files' unfinished lines never mix */
    const char *q = e2e_path(m, "streams/Q");
    int a = open(q, O_WRONLY | O_APPEND | O_CREAT, 0644);
    int b = open(q, O_WRONLY | O_APPEND | O_CREAT, 0644);
    assert_true(a >= 0 && b >= 0);
    wr(a, "a1-");
    wr(b, "b1-");
    wr(a, "a1-end\na2-");
    wr(b, "b1-end\n");
    wr(a, "a2-end\n");
    assert_int_equal(close(a), 0);
    assert_int_equal(close(b), 0);
    ASSERT_FILE(q, "a1-a1-end\nb1-b1-end\na2-a2-end\n");

    /* only empty lines: no event, no stream */
    const char *e = e2e_path(m, "streams/Empty");
    assert_int_equal(e2e_append(e, "\n\n\n", 3), 0);
    assert_int_equal(e2e_version(e), -1);
    struct stat st;
    assert_int_equal(stat(e, &st), -1);
    assert_int_equal(errno, ENOENT);
}

/* A child that writes a whole line and part of the next one, tells the
 * parent, then waits to be killed (or exits when how == 0). */
static pid_t mid_line_writer(const char *path, int how)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = e2e_fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (fd < 0 || write(fd, "whole\n", 6) != 6 || write(fd, "part of a li", 12) != 12)
            _exit(1);
        if (write(pfd[1], "k", 1) != 1)
            _exit(1);
        if (how == 0)
            _exit(0); /* exit without close: the kernel closes it */
        for (;;)
            pause();
    }
    close(pfd[1]);
    char c;
    assert_int_equal(e2e_read_n(pfd[0], &c, 1, 30000), 1);
    close(pfd[0]);
    return pid;
}

static void test_append_killed_writer_commits_nothing_of_its_line(void **state)
{
    struct e2e_mount *m = *state;
    static const int sigs[] = {SIGKILL, SIGTERM, SIGINT};
    for (size_t i = 0; i < 3; i++) {
        const char *p = e2e_path(m, "streams/K%zu", i);
        pid_t pid = mid_line_writer(p, 1);
        assert_int_equal(kill(pid, sigs[i]), 0);
        int status = e2e_wait(pid, 30000);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == sigs[i]);
        /* the close of a dying process is finished before it can be reaped */
        ASSERT_FILE(p, "whole\n");
        assert_int_equal(e2e_version(p), 1);
        char name[16];
        snprintf(name, sizeof(name), "K%zu", i);
        if (!e2e_log_has(m, name, "killed by a signal", NULL))
            fail_msg("no log line says the writer of %s was killed mid-line", name);
    }
    /* a normal exit closes the file: the last line becomes an event */
    const char *p = e2e_path(m, "streams/Exit");
    pid_t pid = mid_line_writer(p, 0);
    int status = e2e_wait(pid, 30000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_FILE(p, "whole\npart of a li\n");
}

/* `cat bigfile >> stream`: 3 MB of lines of 1..300 bytes; cat's blocks
 * cut lines, the daemon joins them. */
static void test_append_cat_bigfile(void **state)
{
    struct e2e_mount *m = *state;
    uint64_t rng = e2e_seed(__func__);
    size_t cap = 3u << 20, len = 0, lines = 0;
    char *big = malloc(cap);
    assert_non_null(big);
    while (len + 302 < cap) {
        size_t n = 1 + (size_t)(e2e_rand(&rng) % 300);
        for (size_t i = 0; i < n; i++)
            big[len + i] = (char)('!' + e2e_rand(&rng) % 94);
        big[len + n] = '\n';
        len += n + 1;
        lines++;
    }
    const char *src = e2e_tmp(m, "big.txt");
    int fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(e2e_write_full(fd, big, len), 0);
    close(fd);
    const char *p = e2e_path(m, "streams/Big");
    assert_int_equal(e2e_sh(m, "cat \"$1\" >> \"$2\"", src, p, NULL), 0);
    assert_file(p, big, len);
    assert_int_equal(e2e_version(p), (long)lines);
    /* again through a pipe, where cat's reads (and so its writes) are
     * whatever the pipe hands over */
    assert_int_equal(e2e_sh(m, "cat \"$1\" | cat >> \"$2\"", src, p, NULL), 0);
    assert_int_equal(e2e_version(p), (long)(2 * lines));
    /* and as one write(2) of 3 MB: the kernel splits it at 1 MiB, inside
     * lines */
    int wfd = open(p, O_WRONLY | O_APPEND);
    assert_true(wfd >= 0);
    assert_int_equal(write(wfd, big, len), (ssize_t)len);
    assert_int_equal(close(wfd), 0);
    assert_int_equal(e2e_version(p), (long)(3 * lines));
    size_t got_len;
    char *got = e2e_read_all(p, &got_len);
    assert_int_equal(got_len, 3 * len);
    assert_memory_equal(got + len, big, len);
    assert_memory_equal(got + 2 * len, big, len);
    free(got);
    free(big);
}

/* Many files closed with an unfinished last line, at the same time: each
 * close (FLUSH) makes it an event (or fails it with ECANCELED when a check
 * was armed), answered from the store's writer thread while the RELEASE
 * that follows frees the open file. */
#define N_CLOSERS 6
#define N_CLOSES  200

static void test_append_last_line_at_close_many_times(void **state)
{
    struct e2e_mount *m = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", e2e_path(m, "streams/Closing"));
    pid_t pids[N_CLOSERS];
    for (unsigned p = 0; p < N_CLOSERS; p++) {
        pids[p] = e2e_fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            for (unsigned i = 0; i < N_CLOSES; i++) {
                int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
                if (fd < 0)
                    _exit(2);
                /* every other line with an expectation that fails: the
                 * close is answered at once, without an fsync */
                bool doomed = i % 2 == 1;
                if (doomed && fsetxattr(fd, "user.esfs.expected_version", "999999", 6, 0) != 0)
                    _exit(5);
                char line[32];
                int len = snprintf(line, sizeof(line), "p%u i%u", p, i);
                if (write(fd, line, (size_t)len) != len)
                    _exit(3);
                int rc = close(fd);
                if (doomed ? rc != -1 || errno != ECANCELED : rc != 0)
                    _exit(4);
            }
            _exit(0);
        }
    }
    for (unsigned p = 0; p < N_CLOSERS; p++) {
        int status = e2e_wait(pids[p], 120000);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("closer %u failed (status 0x%x)", p, status);
    }
    size_t len;
    char *text = e2e_read_all(path, &len);
    assert_non_null(text);
    unsigned next[N_CLOSERS] = {0}, n = 0;
    size_t off = 0;
    const char *line;
    size_t ll;
    while (e2e_next_line(text, len, &off, &line, &ll)) {
        unsigned p, i;
        if (e2e_scan_line(line, ll, "p%u i%u", &p, &i) != 2 || p >= N_CLOSERS || i != next[p])
            fail_msg("unexpected event '%.*s'", (int)ll, line);
        next[p] += 2; /* the odd ones failed their check */
        n++;
    }
    assert_int_equal(n, N_CLOSERS * N_CLOSES / 2);
    free(text);
}

/* ---- atomic concurrent writes ---- */

#define N_WRITERS 8
#define N_WRITES  30

/* The lines of write w of writer p: "p<p> w<w> l<l>/<n> <pad>\n".
 * Write 0 is exactly 1 MiB (from a page-aligned buffer), write 1 is
 * 1 MiB - 4095 bytes (from a buffer 4095 bytes into a page): both fill
 * the 256 pages one FUSE request carries. The others are 1..64 lines. */
#define BIG_ALIGNED   (1u << 20)
#define BIG_UNALIGNED ((1u << 20) - 4095)

static size_t make_write(uint64_t *rng, unsigned p, unsigned w, char *buf, size_t cap,
                         unsigned *n_lines)
{
    size_t total = w == 0 ? BIG_ALIGNED : w == 1 ? BIG_UNALIGNED : 0;
    unsigned n = total ? (unsigned)((total + 399) / 400) : 1 + (unsigned)(e2e_rand(rng) % 64);
    size_t len = 0;
    for (unsigned l = 0; l < n; l++) {
        size_t start = len;
        size_t pad = (size_t)(e2e_rand(rng) % 400);
        len += (size_t)snprintf(buf + len, cap - len, "p%u w%u l%u/%u ", p, w, l, n);
        if (total) { /* lines of 400 bytes, the last one what is left */
            size_t line = l + 1 < n ? 400 : total - (size_t)l * 400;
            pad = line - 1 - (len - start);
        }
        if (len + pad + 1 > cap)
            abort(); /* the sizes above never get there */
        for (size_t k = 0; k < pad; k++)
            buf[len++] = (char)('a' + (p + w + l + k) % 26);
        buf[len++] = '\n';
    }
    *n_lines = n;
    return len;
}

static void writer_child(const char *path, unsigned p, int go_fd)
{
    char c;
    if (read(go_fd, &c, 1) != 0) /* the parent closes it: everyone starts */
        _exit(2);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
        _exit(3);
    uint64_t rng = 0x1234567ull * (p + 1);
    char *base = NULL;
    if (posix_memalign((void **)&base, 4096, 2u << 20) != 0)
        _exit(4);
    for (unsigned w = 0; w < N_WRITES; w++) {
        char *buf = w == 1 ? base + 4095 : base;
        unsigned n;
        size_t len = make_write(&rng, p, w, buf, (1u << 20) + 8192, &n);
        ssize_t r = write(fd, buf, len);
        if (r != (ssize_t)len)
            _exit(5);
    }
    free(base);
    _exit(close(fd) == 0 ? 0 : 6);
}

struct seen {
    unsigned next_w; /* the next write expected from this writer */
    unsigned cur_l, cur_n;
    uint64_t last_pos;
};

static void check_stream_contiguous(const char *text, size_t len, unsigned parity,
                                    uint64_t *n_lines)
{
    struct seen s[N_WRITERS];
    memset(s, 0, sizeof(s));
    size_t off = 0;
    const char *line;
    size_t ll;
    int cur = -1; /* the writer whose write is being read */
    while (e2e_next_line(text, len, &off, &line, &ll)) {
        unsigned p, w, l, n;
        if (e2e_scan_line(line, ll, "p%u w%u l%u/%u ", &p, &w, &l, &n) != 4 || p >= N_WRITERS ||
            p % 2 != parity)
            fail_msg("unexpected line %.60s", line);
        if (cur >= 0 && (unsigned)cur != p)
            fail_msg("line %.40s of writer %u inside write %u of writer %d", line, p, s[cur].next_w,
                     cur);
        if (w != s[p].next_w || l != s[p].cur_l)
            fail_msg("writer %u: got w%u l%u, expected w%u l%u (lost, reordered or split)", p, w, l,
                     s[p].next_w, s[p].cur_l);
        s[p].cur_l++;
        cur = (int)p;
        if (s[p].cur_l == n) {
            s[p].cur_l = 0;
            s[p].next_w++;
            cur = -1;
        }
        (*n_lines)++;
    }
    assert_int_equal(cur, -1);
    for (unsigned p = parity; p < N_WRITERS; p += 2)
        if (s[p].next_w != N_WRITES)
            fail_msg("writer %u: %u of %u writes found", p, s[p].next_w, N_WRITES);
}

static void check_all_contiguous(const char *all, size_t len, uint64_t want_events)
{
    struct seen s[N_WRITERS];
    memset(s, 0, sizeof(s));
    size_t off = 0;
    const char *line;
    size_t ll;
    uint64_t pos = 0;
    char why[300];
    while (e2e_next_line(all, len, &off, &line, &ll)) {
        struct e2e_env e;
        if (!e2e_env_parse(line, ll, &e, why, sizeof(why)))
            fail_msg("all: %s", why);
        assert_int_equal(e.pos, ++pos);
        unsigned p, w, l, n;
        if (e.data_len < 2 ||
            e2e_scan_line(e.data + 1, e.data_len - 1, "p%u w%u l%u/%u ", &p, &w, &l, &n) != 4 ||
            p >= N_WRITERS)
            fail_msg("all: unexpected data %.60s", e.data);
        if (w != s[p].next_w || l != s[p].cur_l)
            fail_msg("all, pos %llu: writer %u w%u l%u, expected w%u l%u",
                     (unsigned long long)e.pos, p, w, l, s[p].next_w, s[p].cur_l);
        if (l > 0 && e.pos != s[p].last_pos + 1)
            fail_msg("all: line %u of write %u of writer %u at pos %llu, the previous one at %llu",
                     l, w, p, (unsigned long long)e.pos, (unsigned long long)s[p].last_pos);
        s[p].last_pos = e.pos;
        if (++s[p].cur_l == n) {
            s[p].cur_l = 0;
            s[p].next_w++;
        }
    }
    assert_int_equal(pos, want_events);
}

static void test_append_atomic_concurrent_writes(void **state)
{
    struct e2e_mount *m = *state;
    int go[2];
    assert_int_equal(pipe(go), 0);
    pid_t pids[N_WRITERS];
    uint64_t want = 0;
    for (unsigned p = 0; p < N_WRITERS; p++) {
        uint64_t rng = 0x1234567ull * (p + 1);
        char *buf = malloc((1u << 20) + 8192);
        for (unsigned w = 0; w < N_WRITES; w++) {
            unsigned n;
            make_write(&rng, p, w, buf, (1u << 20) + 8192, &n);
            want += n;
        }
        free(buf);
        const char *path = e2e_path(m, "streams/%s", p % 2 ? "Odd" : "Even");
        pids[p] = e2e_fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(go[1]);
            writer_child(path, p, go[0]);
        }
    }
    close(go[0]);
    close(go[1]);
    for (unsigned p = 0; p < N_WRITERS; p++) {
        int status = e2e_wait(pids[p], 120000);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("writer %u failed (status 0x%x)", p, status);
    }
    uint64_t lines = 0;
    for (unsigned parity = 0; parity < 2; parity++) {
        size_t len;
        char *text = e2e_read_all(e2e_path(m, "streams/%s", parity ? "Odd" : "Even"), &len);
        assert_non_null(text);
        check_stream_contiguous(text, len, parity, &lines);
        free(text);
    }
    assert_int_equal(lines, want);
    size_t len;
    char *all = e2e_read_all(e2e_path(m, "all"), &len);
    assert_non_null(all);
    check_all_contiguous(all, len, want);
    free(all);
    print_message("%llu events from %d writers, %lld group commits\n", (unsigned long long)want,
                  N_WRITERS, e2e_metric(m, "esfs_group_commits_total"));
}

/* The same with one kernel inode per stream (the kernel then serialises
 * the appends to one stream). */
static void test_append_atomic_concurrent_writes_shared_nodes(void **state)
{
    test_append_atomic_concurrent_writes(state);
}

static int setup_shared_nodes(void **state)
{
    static const char *const opts[] = {"--stream-nodes=shared", NULL};
    e2e_setup_opts = opts;
    int rc = e2e_setup(state);
    e2e_setup_opts = NULL;
    return rc;
}

int main(void)
{
    e2e_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_partial_lines_joined, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_append_killed_writer_commits_nothing_of_its_line,
                                        e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_append_cat_bigfile, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_append_last_line_at_close_many_times, e2e_setup,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_append_atomic_concurrent_writes, e2e_setup,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_append_atomic_concurrent_writes_shared_nodes,
                                        setup_shared_nodes, e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
