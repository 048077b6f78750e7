/*
 * test_watch.c - watch files through a real mount: `cat watch/streams/<id>`
 * and `cat watch/all` return the history, then block, then deliver a later
 * append; a watch on a stream that does not exist yet gets its first event;
 * Ctrl-C (SIGINT), SIGTERM and SIGKILL end a blocked reader promptly;
 * Ctrl-Z and fg (SIGSTOP, SIGCONT) lose nothing; a reader with a signal
 * handler gets EINTR and can read on; poll, select and
 * epoll report a watch file unreadable at its end, readable after an append
 * and readable when history is there; 1,024 blocked watchers all receive
 * one append while the daemon's thread count stays bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mount_util.h"
#include "view_util.h"

#define T_MS 30000 /* bound for an awaited event that should take milliseconds */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* `cat path` with its stdout in *out_fd. */
static pid_t spawn_cat(struct e2e_mount *m, const char *path, int *out_fd)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    const char *argv[] = {"cat", path, NULL};
    pid_t pid = e2e_spawn(m, argv, -1, p[1], -1);
    assert_true(pid > 0);
    close(p[1]);
    *out_fd = p[0];
    return pid;
}

static void expect_bytes(int fd, const char *want, size_t n, const char *what)
{
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    size_t got = e2e_read_n(fd, buf, n, T_MS);
    if (got != n || memcmp(buf, want, n) != 0)
        fail_msg("%s: got %zu bytes '%.*s', expected %zu bytes '%.*s'", what, got,
                 (int)(got > 200 ? 200 : got), buf, n, (int)(n > 200 ? 200 : n), want);
    free(buf);
}

/* Waits until the daemon holds at least n parked watch reads. */
static void wait_watchers(struct e2e_mount *m, long long n)
{
    long long v = e2e_wait_metric(m, "esfs_watchers", n, T_MS);
    if (v < n)
        fail_msg("%lld watch reads parked in the daemon, expected %lld", v, n);
}

static bool still_running(pid_t pid)
{
    int status;
    return waitpid(pid, &status, WNOHANG) == 0;
}

/* Sends sig to a blocked reader; it must be gone within a few seconds. */
static void end_reader(pid_t pid, int sig)
{
    double t0 = now_s();
    assert_int_equal(kill(pid, sig), 0);
    int status = e2e_wait(pid, 5000);
    if (status < 0)
        fail_msg("a blocked reader was still there 5 s after signal %d", sig);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), sig);
    print_message("reader gone %.0f ms after signal %d\n", (now_s() - t0) * 1000, sig);
}

static void test_watch_history_then_live(void **state)
{
    struct e2e_mount *m = *state;
    const char hist[] = "{\"type\":\"A\"}\nsecond\nthird\n";
    assert_int_equal(e2e_append(e2e_path(m, "streams/S"), hist, sizeof(hist) - 1), 0);
    size_t all_len;
    char *all = e2e_read_all(e2e_path(m, "all"), &all_len);
    assert_non_null(all);

    int s_fd, a_fd;
    pid_t s_cat = spawn_cat(m, e2e_path(m, "watch/streams/S"), &s_fd);
    pid_t a_cat = spawn_cat(m, e2e_path(m, "watch/all"), &a_fd);
    expect_bytes(s_fd, hist, sizeof(hist) - 1, "history of watch/streams/S");
    expect_bytes(a_fd, all, all_len, "history of watch/all");
    /* both block at the end instead of ending */
    wait_watchers(m, 2);
    assert_true(still_running(s_cat));
    assert_true(still_running(a_cat));

    assert_int_equal(e2e_append(e2e_path(m, "streams/S"), "live\n", 5), 0);
    expect_bytes(s_fd, "live\n", 5, "the live event on watch/streams/S");
    size_t all2_len;
    char *all2 = e2e_read_all(e2e_path(m, "all"), &all2_len);
    assert_true(all2_len > all_len);
    expect_bytes(a_fd, all2 + all_len, all2_len - all_len, "the live event on watch/all");
    /* an append to another stream reaches watch/all only */
    assert_int_equal(e2e_append(e2e_path(m, "streams/Other"), "other\n", 6), 0);
    char *all3 = e2e_read_all(e2e_path(m, "all"), &all_len);
    expect_bytes(a_fd, all3 + all2_len, all_len - all2_len, "the other stream on watch/all");
    wait_watchers(m, 2);
    struct pollfd p = {.fd = s_fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 0), 0); /* nothing arrived on the stream's watch */

    end_reader(s_cat, SIGINT);
    end_reader(a_cat, SIGINT);
    close(s_fd);
    close(a_fd);
    free(all);
    free(all2);
    free(all3);
}

static void test_watch_stream_that_does_not_exist_yet(void **state)
{
    struct e2e_mount *m = *state;
    int fd;
    pid_t cat = spawn_cat(m, e2e_path(m, "watch/streams/Future"), &fd);
    wait_watchers(m, 1);
    assert_true(still_running(cat));
    assert_int_equal(access(e2e_path(m, "streams/Future"), F_OK), -1);
    assert_int_equal(e2e_append(e2e_path(m, "streams/Future"), "first\nsecond\n", 13), 0);
    expect_bytes(fd, "first\nsecond\n", 13, "the first events of a new stream");
    wait_watchers(m, 1);
    assert_true(still_running(cat));
    end_reader(cat, SIGINT);
    close(fd);
}

static void test_watch_signals_end_blocked_readers(void **state)
{
    struct e2e_mount *m = *state;
    static const int sigs[] = {SIGINT, SIGTERM, SIGKILL};
    long long before = e2e_metric(m, "esfs_interrupted_reads_total");
    for (size_t i = 0; i < 3; i++) {
        int fd;
        pid_t cat = spawn_cat(m, e2e_path(m, i == 1 ? "watch/all" : "watch/streams/Quiet"), &fd);
        wait_watchers(m, 1);
        end_reader(cat, sigs[i]);
        close(fd);
        /* the daemon forgot the parked read */
        assert_int_equal(e2e_wait_metric_range(m, "esfs_watchers", 0, 0, T_MS), 0);
    }
    assert_true(e2e_metric(m, "esfs_interrupted_reads_total") >= before + 3);
    /* the mount still works */
    assert_int_equal(e2e_append(e2e_path(m, "streams/Quiet"), "x\n", 2), 0);
}

/* Ctrl-Z, then fg: the stopped reader gets what arrived meanwhile. */
static void test_watch_stop_and_continue(void **state)
{
    struct e2e_mount *m = *state;
    int fd;
    pid_t cat = spawn_cat(m, e2e_path(m, "watch/streams/Z"), &fd);
    wait_watchers(m, 1);
    assert_int_equal(kill(cat, SIGSTOP), 0);
    int status;
    assert_int_equal(waitpid(cat, &status, WUNTRACED), cat);
    assert_true(WIFSTOPPED(status));
    assert_int_equal(e2e_append(e2e_path(m, "streams/Z"), "while stopped\n", 14), 0);
    assert_int_equal(kill(cat, SIGCONT), 0);
    expect_bytes(fd, "while stopped\n", 14, "the event appended while the reader was stopped");
    wait_watchers(m, 1);
    assert_int_equal(e2e_append(e2e_path(m, "streams/Z"), "after\n", 6), 0);
    expect_bytes(fd, "after\n", 6, "the next event");
    end_reader(cat, SIGINT);
    close(fd);
}

static void on_usr1(int sig)
{
    (void)sig;
}

/* A reader with a SIGUSR1 handler: read(2) returns EINTR, and a second read
 * gets the next event (what GNU cat's safe_read does). */
static void test_watch_eintr_with_handler(void **state)
{
    struct e2e_mount *m = *state;
    const char *path = e2e_path(m, "watch/streams/Sig");
    int res[2];
    assert_int_equal(pipe(res), 0);
    pid_t pid = e2e_fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(res[0]);
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_usr1;
        sa.sa_flags = 0; /* no SA_RESTART */
        if (sigaction(SIGUSR1, &sa, NULL) != 0)
            _exit(2);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            _exit(3);
        char buf[64];
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r != -1 || errno != EINTR)
            _exit(4);
        if (write(res[1], "E", 1) != 1)
            _exit(5);
        r = read(fd, buf, sizeof(buf));
        if (r <= 0 || write(res[1], buf, (size_t)r) != r)
            _exit(6);
        _exit(0);
    }
    close(res[1]);
    wait_watchers(m, 1);
    assert_int_equal(kill(pid, SIGUSR1), 0);
    expect_bytes(res[0], "E", 1, "EINTR reported by the reader");
    wait_watchers(m, 1);
    assert_int_equal(e2e_append(e2e_path(m, "streams/Sig"), "after\n", 6), 0);
    expect_bytes(res[0], "after\n", 6, "the event read after EINTR");
    int status = e2e_wait(pid, T_MS);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(res[0]);
}

/* ---- poll, select, epoll ---- */

enum waiter_kind { W_POLL, W_SELECT, W_EPOLL };

struct poll_job {
    enum waiter_kind kind;
    int fd;
    int timeout_ms;
    int result; /* 1 readable, 0 timed out, -errno */
};

static void *poll_thread(void *arg)
{
    struct poll_job *j = arg;
    if (j->kind == W_POLL) {
        struct pollfd p = {.fd = j->fd, .events = POLLIN};
        int r = poll(&p, 1, j->timeout_ms);
        j->result = r < 0 ? -errno : (r == 1 && (p.revents & POLLIN)) ? 1 : 0;
    } else if (j->kind == W_SELECT) {
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(j->fd, &rd);
        struct timeval tv = {j->timeout_ms / 1000, (j->timeout_ms % 1000) * 1000};
        int r = select(j->fd + 1, &rd, NULL, NULL, &tv);
        j->result = r < 0 ? -errno : (r == 1 && FD_ISSET(j->fd, &rd)) ? 1 : 0;
    } else {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = j->fd};
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, j->fd, &ev) != 0) {
            j->result = -errno;
        } else {
            struct epoll_event out;
            int r = epoll_wait(ep, &out, 1, j->timeout_ms);
            j->result = r < 0 ? -errno : (r == 1 && (out.events & EPOLLIN)) ? 1 : 0;
        }
        if (ep >= 0)
            close(ep);
    }
    return NULL;
}

static int readiness_now(enum waiter_kind kind, int fd)
{
    struct poll_job j = {kind, fd, 0, -1};
    poll_thread(&j);
    return j.result;
}

static const char *const kind_names[] = {"poll", "select", "epoll"};

static void test_watch_poll_select_epoll(void **state)
{
    struct e2e_mount *m = *state;
    const char *stream = e2e_path(m, "streams/P");
    assert_int_equal(e2e_append(stream, "h1\nh2\n", 6), 0);
    for (int k = W_POLL; k <= W_EPOLL; k++) {
        enum waiter_kind kind = (enum waiter_kind)k;
        const char *what = kind_names[k];
        int fd = open(e2e_path(m, "watch/streams/P"), O_RDONLY);
        assert_true(fd >= 0);
        int all = open(e2e_path(m, "watch/all"), O_RDONLY);
        assert_true(all >= 0);
        /* history: readable at once */
        if (readiness_now(kind, fd) != 1 || readiness_now(kind, all) != 1)
            fail_msg("%s: a watch file with history is not readable", what);
        /* read it all (exactly, so no read blocks): then not readable */
        char buf[1 << 16];
        size_t have;
        char *hist = e2e_read_all(stream, &have);
        assert_int_equal(read(fd, buf, have), (ssize_t)have);
        assert_memory_equal(buf, hist, have);
        free(hist);
        char *a = e2e_read_all(e2e_path(m, "all"), &have);
        assert_int_equal(read(all, buf, have), (ssize_t)have);
        free(a);
        if (readiness_now(kind, fd) != 0 || readiness_now(kind, all) != 0)
            fail_msg("%s: a watch file read to its end is readable", what);

        /* a waiter registered in the daemon, then an append wakes it */
        struct poll_job j = {kind, fd, T_MS, -1};
        pthread_t t;
        int ep = -1;
        if (kind == W_EPOLL) {
            /* epoll registers at EPOLL_CTL_ADD: wait for it right here */
            ep = epoll_create1(EPOLL_CLOEXEC);
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
            assert_true(ep >= 0);
            assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
            assert_int_equal(epoll_wait(ep, &ev, 1, 0), 0);
        } else {
            /* the files of the previous round are released asynchronously */
            if (e2e_wait_metric_range(m, "esfs_poll_waiters", 0, 0, T_MS) != 0)
                fail_msg("%s: poll registrations of closed files remain", what);
            assert_int_equal(pthread_create(&t, NULL, poll_thread, &j), 0);
            if (e2e_wait_metric(m, "esfs_poll_waiters", 1, T_MS) < 1)
                fail_msg("%s: no poll registered in the daemon", what);
        }
        double t0 = now_s();
        assert_int_equal(e2e_append(stream, "new\n", 4), 0);
        if (kind == W_EPOLL) {
            struct epoll_event out;
            int r = epoll_wait(ep, &out, 1, T_MS);
            j.result = r == 1 && (out.events & EPOLLIN) ? 1 : r < 0 ? -errno : 0;
            close(ep);
        } else {
            pthread_join(t, NULL);
        }
        if (j.result != 1)
            fail_msg("%s: not readable after an append (result %d)", what, j.result);
        print_message("%s woke %.1f ms after the append started\n", what, (now_s() - t0) * 1000);
        assert_int_equal(read(fd, buf, sizeof(buf)), 4);
        assert_memory_equal(buf, "new\n", 4);
        if (readiness_now(kind, all) != 1)
            fail_msg("%s: watch/all not readable after an append", what);
        ssize_t got = read(all, buf, sizeof(buf));
        assert_true(got > 0);
        assert_int_equal(buf[got - 1], '\n');
        if (readiness_now(kind, fd) != 0 || readiness_now(kind, all) != 0)
            fail_msg("%s: readable again without a new event", what);
        close(fd);
        close(all);
    }
    /* a watch on a stream without events: not readable */
    int fd = open(e2e_path(m, "watch/streams/Nothing"), O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(readiness_now(W_POLL, fd), 0);
    close(fd);
}

/* ---- 1,024 blocked watchers ---- */

#define N_WATCHERS 1024

struct watcher {
    const char *path;
    char buf[512];
    ssize_t got;
    int err;
};

static void *watcher_thread(void *arg)
{
    struct watcher *w = arg;
    int fd = open(w->path, O_RDONLY);
    if (fd < 0) {
        w->err = errno;
        return NULL;
    }
    w->got = read(fd, w->buf, sizeof(w->buf));
    if (w->got < 0)
        w->err = errno;
    close(fd);
    return NULL;
}

static void test_watch_thousand_blocked_watchers(void **state)
{
    struct e2e_mount *m = *state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 4096) {
        rl.rlim_cur = 4096;
        if (rl.rlim_max < 4096)
            rl.rlim_max = 4096;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    char stream_watch[PATH_MAX], all_watch[PATH_MAX];
    snprintf(stream_watch, sizeof(stream_watch), "%s", e2e_path(m, "watch/streams/Many"));
    snprintf(all_watch, sizeof(all_watch), "%s", e2e_path(m, "watch/all"));
    struct watcher *w = calloc(N_WATCHERS, sizeof(*w));
    pthread_t *t = calloc(N_WATCHERS, sizeof(*t));
    assert_non_null(w);
    assert_non_null(t);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int threads_before = e2e_daemon_threads(m);
    for (int i = 0; i < N_WATCHERS; i++) {
        w[i].path = i % 5 < 3 ? stream_watch : all_watch; /* 3/5 on the stream */
        assert_int_equal(pthread_create(&t[i], &attr, watcher_thread, &w[i]), 0);
    }
    pthread_attr_destroy(&attr);
    long long parked = e2e_wait_metric(m, "esfs_watchers", N_WATCHERS, 60000);
    int threads = e2e_daemon_threads(m);
    print_message("%lld reads parked; daemon threads: %d before, %d with them parked\n", parked,
                  threads_before, threads);

    /* the append comes first even when a check failed, so that no thread
     * stays blocked */
    const char payload[] = "{\"type\":\"Broadcast\"}\n";
    double t0 = now_s();
    int rc = e2e_append(e2e_path(m, "streams/Many"), payload, sizeof(payload) - 1);
    for (int i = 0; i < N_WATCHERS; i++)
        pthread_join(t[i], NULL);
    print_message("all %d watchers had the event %.0f ms after the append started\n", N_WATCHERS,
                  (now_s() - t0) * 1000);
    free(t);
    assert_int_equal(rc, 0);
    assert_int_equal(parked, N_WATCHERS);
    if (threads > 24 || threads < 1)
        fail_msg("the daemon runs %d threads with %d parked reads (at most 24 expected)", threads,
                 N_WATCHERS);
    size_t all_len;
    char *all = e2e_read_all(e2e_path(m, "all"), &all_len);
    assert_non_null(all);
    for (int i = 0; i < N_WATCHERS; i++) {
        bool on_stream = w[i].path == stream_watch;
        const char *want = on_stream ? payload : all;
        size_t want_len = on_stream ? sizeof(payload) - 1 : all_len;
        if (w[i].err || w[i].got != (ssize_t)want_len || memcmp(w[i].buf, want, want_len) != 0)
            fail_msg("watcher %d (%s): %zd bytes, error %s", i, w[i].path, w[i].got,
                     strerror(w[i].err));
    }
    free(all);
    assert_int_equal(e2e_metric(m, "esfs_watchers"), 0);
    threads = e2e_daemon_threads(m);
    assert_true(threads <= 24);
    free(w);
}

int main(void)
{
    e2e_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_watch_history_then_live, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_watch_stream_that_does_not_exist_yet, e2e_setup,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_watch_signals_end_blocked_readers, e2e_setup,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_watch_stop_and_continue, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_watch_eintr_with_handler, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_watch_poll_select_epoll, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_watch_thousand_blocked_watchers, e2e_setup,
                                        e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
