/*
 * test_hostile_input.c - bad input through the mount (PRODUCT.md, "Bad
 * input gets a clear error, and nothing is lost"): payloads with NUL bytes
 * and invalid UTF-8, 1 MiB lines split across many writes, a partial line
 * that grows past --max-event-size (EMSGSIZE, nothing of it committed),
 * one write of many large lines, names of 255 bytes, writers killed
 * mid-line (nothing of the partial line committed), and many streams (one
 * process appending one event to each; ESFS_CRASH_STREAMS, default 20000,
 * 100000 documented for a full run). All on one daemon, which must never
 * crash and whose memory must stay bounded: its RSS is read from
 * /proc/<pid>/status, and hostile rounds repeated must not grow it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mount_util.h"

/* AddressSanitizer keeps freed memory in quarantine (up to 256 MiB), so a
 * sanitized daemon's RSS says nothing about leaks: the bounds are checked
 * in the normal build only (LeakSanitizer checks the sanitized one at its
 * clean exit). */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_CHECKED false
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_CHECKED false
#endif
#endif
#ifndef RSS_CHECKED
#define RSS_CHECKED true
#endif

static struct mu_mount g_m;
static bool g_mounted;
static long g_rss_start;

static int group_setup(void **state)
{
    (void)state;
    mu_init(&g_m, "hostile");
    if (mu_skip_reason())
        return 0;
    char err[2048];
    /* the durability of these events is not the point: --sync=none keeps
     * the many-streams part quick */
    if (mu_mount(&g_m, err, sizeof(err), "--sync=none", (const char *)NULL) != 0) {
        fprintf(stderr, "mount: %s\n", err);
        return -1;
    }
    g_mounted = true;
    g_rss_start = mu_rss_kib(g_m.daemon);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    mu_cleanup(&g_m);
    return 0;
}

static void need_mount(void)
{
    const char *why = mu_skip_reason();
    if (why || !g_mounted) {
        print_message("[ hostile ] skipped: %s\n", why ? why : "no mount");
        skip();
    }
    if (!mu_daemon_alive(&g_m))
        fail_msg("the daemon is dead (wait status %#x)", g_m.daemon_status);
}

static void path_of(char *buf, size_t cap, const char *rel)
{
    snprintf(buf, cap, "%s/%s", g_m.mnt, rel);
}

static char *read_rel(const char *rel, size_t *len)
{
    char p[PATH_MAX + 600];
    path_of(p, sizeof(p), rel);
    int err;
    char *d = mu_read(p, len, &err);
    if (!d)
        fail_msg("reading %s: %s", rel, strerror(err));
    return d;
}

static void expect_stream(const char *name, const void *want, size_t want_len)
{
    char rel[600];
    snprintf(rel, sizeof(rel), "streams/%s", name);
    size_t len;
    char *d = read_rel(rel, &len);
    if (len != want_len || memcmp(d, want, want_len) != 0)
        fail_msg("streams/%.40s serves %zu bytes, expected %zu", name, len, want_len);
    free(d);
}

/* The last line of all (without its newline) into buf. */
static void last_envelope(char *buf, size_t cap)
{
    size_t len;
    char *all = read_rel("all", &len);
    assert_true(len > 0 && all[len - 1] == '\n');
    size_t s = len - 1;
    while (s > 0 && all[s - 1] != '\n')
        s--;
    snprintf(buf, cap, "%.*s", (int)(len - 1 - s), all + s);
    free(all);
}

static int append_rel(const char *rel, const void *data, size_t len)
{
    char p[PATH_MAX + 600];
    path_of(p, sizeof(p), rel);
    return mu_append(p, data, len);
}

/* Every line of all is JSON (python3's parser; skipped without python3). */
static void all_is_json(void)
{
    char p[PATH_MAX + 32], out[4096];
    path_of(p, sizeof(p), "all");
    int rc = mu_runl(out, sizeof(out), "python3", "-c",
                     "import json,sys\n"
                     "n=0\n"
                     "for l in open(sys.argv[1],'rb'):\n"
                     "    json.loads(l); n+=1\n"
                     "print(n)\n",
                     p, (const char *)NULL);
    if (rc == 127)
        return;
    if (rc != 0)
        fail_msg("a line of all is not JSON:\n%s", out);
}

static void test_hostile_nul_and_invalid_utf8(void **state)
{
    (void)state;
    need_mount();
    char env[4096];
    static const char nul[] = "a\0b\0\0c\n";
    assert_int_equal(append_rel("streams/bin", nul, sizeof(nul) - 1), 0);
    expect_stream("bin", nul, sizeof(nul) - 1);
    last_envelope(env, sizeof(env));
    if (!strstr(env, "\"data\":\"a\\u0000b\\u0000\\u0000c\"}"))
        fail_msg("NUL bytes in the envelope: %s", env);
    static const char bad[] = "\xff\xfe\xc0\x80z\xed\xa0\x80!\n";
    assert_int_equal(append_rel("streams/bin", bad, sizeof(bad) - 1), 0);
    last_envelope(env, sizeof(env));
    if (!strstr(env, "\"data\":\"\\ufffd\\ufffd\\ufffd\\ufffdz\\ufffd\\ufffd\\ufffd!\"}"))
        fail_msg("invalid UTF-8 in the envelope: %s", env);
    static const char ctl[] = "\r\t\x01\x1b[31m\x7f\"\\\n";
    assert_int_equal(append_rel("streams/bin", ctl, sizeof(ctl) - 1), 0);
    static const char json_bad[] = "{\"type\":\"x\",\"a\":[1,2\n{\"type\":\"\\ud800\"}\n";
    assert_int_equal(append_rel("streams/bin", json_bad, sizeof(json_bad) - 1), 0);
    char want[256];
    size_t wl = 0;
    memcpy(want + wl, nul, sizeof(nul) - 1);
    wl += sizeof(nul) - 1;
    memcpy(want + wl, bad, sizeof(bad) - 1);
    wl += sizeof(bad) - 1;
    memcpy(want + wl, ctl, sizeof(ctl) - 1);
    wl += sizeof(ctl) - 1;
    memcpy(want + wl, json_bad, sizeof(json_bad) - 1);
    wl += sizeof(json_bad) - 1;
    expect_stream("bin", want, wl);
    all_is_json();
}

static char *pattern(size_t n, unsigned seed)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('A' + (i * 7 + seed) % 26);
    p[n] = '\0';
    return p;
}

/* One round of line-size attacks on a fresh stream. */
static void huge_lines_round(unsigned round)
{
    char name[64], rel[96], p[PATH_MAX + 128];
    snprintf(name, sizeof(name), "huge-%u", round);
    snprintf(rel, sizeof(rel), "streams/%s", name);
    path_of(p, sizeof(p), rel);
    const size_t max = 1u << 20;
    /* a line of exactly --max-event-size bytes in 4 KiB writes */
    char *line = pattern(max, round);
    int fd = open(p, O_WRONLY | O_APPEND | O_CREAT, 0644);
    assert_true(fd >= 0);
    for (size_t off = 0; off < max; off += 4096)
        assert_int_equal(write(fd, line + off, 4096), 4096);
    assert_int_equal(write(fd, "\n", 1), 1);
    assert_int_equal(close(fd), 0);
    /* a partial line that grows past the limit: EMSGSIZE from the write
     * that crosses it, for every later part, and for its newline */
    fd = open(p, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    size_t sent = 0;
    int refused = 0;
    while (sent < max + 300000) {
        ssize_t w = write(fd, line, 65536);
        if (w < 0) {
            if (errno != EMSGSIZE)
                fail_msg("a growing line: %s, expected EMSGSIZE", strerror(errno));
            refused++;
        } else if (sent + 65536 > max) {
            fail_msg("a write taking a line past %zu bytes succeeded", max);
        }
        sent += 65536;
    }
    errno = 0;
    if (write(fd, "tail\n", 5) != -1 || errno != EMSGSIZE)
        fail_msg("the newline ending an oversized line: %s", strerror(errno));
    /* the next line is fine again */
    assert_int_equal(write(fd, "after-the-long-one\n", 19), 19);
    assert_int_equal(close(fd), 0);
    assert_true(refused >= 1);
    /* one write of 30 lines of 100 KiB: the kernel splits it at 1 MiB, the
     * lines crossing the splits are joined */
    size_t big_len = 30 * (100000 + 1);
    char *big = malloc(big_len);
    assert_non_null(big);
    for (int i = 0; i < 30; i++) {
        memcpy(big + (size_t)i * 100001, line + i, 100000);
        big[(size_t)i * 100001] = (char)('a' + i % 26);
        big[(size_t)i * 100001 + 100000] = '\n';
    }
    assert_int_equal(append_rel(rel, big, big_len), 0);
    /* exactly: the 1 MiB line, after-the-long-one, the 30 lines */
    size_t want_len = max + 1 + 19 + big_len;
    char *want = malloc(want_len);
    assert_non_null(want);
    memcpy(want, line, max);
    want[max] = '\n';
    memcpy(want + max + 1, "after-the-long-one\n", 19);
    memcpy(want + max + 20, big, big_len);
    expect_stream(name, want, want_len);
    free(want);
    free(big);
    free(line);
}

/* A writer killed mid-line: nothing of the partial line is committed. */
static void killed_writer_round(unsigned round)
{
    char name[64], rel[96], p[PATH_MAX + 128];
    snprintf(name, sizeof(name), "killed-%u", round);
    snprintf(rel, sizeof(rel), "streams/%s", name);
    path_of(p, sizeof(p), rel);
    assert_int_equal(append_rel(rel, "first\n", 6), 0);
    for (int variant = 0; variant < 3; variant++) {
        int sync_pipe[2];
        assert_int_equal(pipe(sync_pipe), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(sync_pipe[0]);
            int fd = open(p, O_WRONLY | O_APPEND);
            if (fd < 0)
                _exit(1);
            if (variant == 0 && write(fd, "partial-no-newline", 18) != 18)
                _exit(1);
            if (variant == 1 && write(fd, "complete\npartial", 16) != 16)
                _exit(1);
            if (variant == 2) {
                /* a big unfinished line, in pieces */
                char chunk[8192];
                memset(chunk, 'k', sizeof(chunk));
                for (int i = 0; i < 20; i++)
                    if (write(fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk))
                        _exit(1);
            }
            if (write(sync_pipe[1], "x", 1) != 1)
                _exit(1);
            raise(SIGKILL);
            _exit(1);
        }
        close(sync_pipe[1]);
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        char x;
        ssize_t got = read(sync_pipe[0], &x, 1);
        close(sync_pipe[0]);
        if (got != 1 || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
            fail_msg("the writer did not get to its kill (status %#x)", st);
    }
    /* a writer that exits normally: its last line becomes an event */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(p, O_WRONLY | O_APPEND);
        if (fd < 0 || write(fd, "last-without-newline", 20) != 20)
            _exit(1);
        _exit(close(fd) == 0 ? 0 : 2);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("the writer closing a last line without newline: status %#x", st);
    static const char want[] = "first\ncomplete\nlast-without-newline\n";
    expect_stream(name, want, sizeof(want) - 1);
}

static void test_hostile_huge_lines(void **state)
{
    (void)state;
    need_mount();
    huge_lines_round(0);
    if (!mu_log_has(&g_m, "huge-0", "EMSGSIZE", (const char *)NULL))
        fail_msg("no daemon log line names the stream and EMSGSIZE");
}

static void test_hostile_killed_writer(void **state)
{
    (void)state;
    need_mount();
    killed_writer_round(0);
    if (!mu_log_has(&g_m, "killed-0", "killed by a signal", (const char *)NULL))
        print_message("[ hostile ] note: no log line about the killed writer's partial line\n");
}

static void test_hostile_names(void **state)
{
    (void)state;
    need_mount();
    char name[300], rel[400];
    memset(name, 'n', 255);
    name[255] = '\0';
    snprintf(rel, sizeof(rel), "streams/%s", name);
    assert_int_equal(append_rel(rel, "long-name\n", 10), 0);
    expect_stream(name, "long-name\n", 10);
    /* 255 bytes of multi-byte UTF-8 (85 x U+20AC) */
    name[0] = '\0';
    for (int i = 0; i < 85; i++)
        strcat(name, "\xe2\x82\xac");
    snprintf(rel, sizeof(rel), "streams/%s", name);
    assert_int_equal(append_rel(rel, "euro\n", 5), 0);
    expect_stream(name, "euro\n", 5);
    char env[2048];
    last_envelope(env, sizeof(env));
    if (!strstr(env, name))
        fail_msg("the 255-byte UTF-8 name is not in the envelope");
    /* 256 bytes */
    memset(name, 'n', 256);
    name[256] = '\0';
    snprintf(rel, sizeof(rel), "streams/%s", name);
    int rc = append_rel(rel, "x\n", 2);
    if (rc != -ENAMETOOLONG)
        fail_msg("a 256-byte name: %s", rc ? strerror(-rc) : "accepted");
    /* bad names */
    static const char *const bad[] = {".hidden", "ctl\x01name", "bad\xff", "del\x7f"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(rel, sizeof(rel), "streams/%s", bad[i]);
        rc = append_rel(rel, "x\n", 2);
        if (rc != -EINVAL)
            fail_msg("name %zu: %s, expected EINVAL", i, rc ? strerror(-rc) : "accepted");
    }
}

static void test_hostile_many_streams(void **state)
{
    (void)state;
    need_mount();
    unsigned long n =
        strtoul(getenv("ESFS_CRASH_STREAMS") ? getenv("ESFS_CRASH_STREAMS") : "20000", NULL, 0);
    long rss0 = mu_rss_kib(g_m.daemon);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char p[PATH_MAX + 64], line[64];
    for (unsigned long i = 0; i < n; i++) {
        snprintf(p, sizeof(p), "%s/streams/many-%lu", g_m.mnt, i);
        int len = snprintf(line, sizeof(line), "{\"type\":\"Made\",\"i\":%lu}\n", i);
        int rc = mu_append(p, line, (size_t)len);
        if (rc)
            fail_msg("stream %lu of %lu: %s", i, n, strerror(-rc));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long rss1 = mu_rss_kib(g_m.daemon);
    /* ls streams lists them all */
    char cmd[PATH_MAX + 64], out[64];
    snprintf(cmd, sizeof(cmd), "ls -f %s/streams | grep -c '^many-'", g_m.mnt);
    mu_runl(out, sizeof(out), "sh", "-c", cmd, (const char *)NULL);
    if (strtoul(out, NULL, 10) != n)
        fail_msg("ls lists %s many- streams, %lu were made", out, n);
    /* a second pass over every stream must not grow the daemon */
    for (unsigned long i = 0; i < n; i += 1) {
        snprintf(p, sizeof(p), "%s/streams/many-%lu", g_m.mnt, i);
        int rc = mu_append(p, "again\n", 6);
        if (rc)
            fail_msg("second append to stream %lu: %s", i, strerror(-rc));
    }
    long rss2 = mu_rss_kib(g_m.daemon);
    snprintf(p, sizeof(p), "many-%lu", n / 2);
    snprintf(line, sizeof(line), "{\"type\":\"Made\",\"i\":%lu}\nagain\n", n / 2);
    expect_stream(p, line, strlen(line));
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("[ hostile ] %lu streams by one process in %.1f s; daemon RSS %ld KiB before, "
                  "%ld KiB after (%.2f KiB per stream), %ld KiB after a second pass\n",
                  n, secs, rss0, rss1, (double)(rss1 - rss0) / (double)n, rss2);
    if (RSS_CHECKED && rss1 - rss0 > (long)(n * 4 + 65536))
        fail_msg("%lu streams cost the daemon %ld KiB", n, rss1 - rss0);
    if (RSS_CHECKED && rss2 - rss1 > 32768)
        fail_msg("a second append to each stream grew the daemon by %ld KiB", rss2 - rss1);
}

/* Hostile rounds repeated: the daemon's memory must not grow with them. */
static void test_hostile_memory_bounded(void **state)
{
    (void)state;
    need_mount();
    unsigned rounds =
        getenv("ESFS_HOSTILE_ROUNDS") ? (unsigned)atoi(getenv("ESFS_HOSTILE_ROUNDS")) : 6;
    if (rounds < 2 || rounds > 1000)
        rounds = 6;
    long first = 0, last = 0;
    char seen[4096] = "";
    for (unsigned r = 1; r <= rounds; r++) {
        huge_lines_round(r);
        killed_writer_round(r);
        last = mu_rss_kib(g_m.daemon);
        if (r == 1)
            first = last;
        if (strlen(seen) < sizeof(seen) - 32)
            snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), " %ld", last);
    }
    print_message("[ hostile ] daemon RSS (KiB): %ld at the mount; after each of %u hostile "
                  "rounds:%s%s\n",
                  g_rss_start, rounds, seen, RSS_CHECKED ? "" : " (sanitizer build: not checked)");
    /* the block cache (32 MiB) and per-thread read buffers may still fill;
     * anything beyond that is growth per round */
    if (RSS_CHECKED && last - first > 48 * 1024)
        fail_msg("%u more hostile rounds grew the daemon from %ld to %ld KiB", rounds - 1, first,
                 last);
    all_is_json();
    /* and it stops cleanly, leaving a sound store */
    int st = mu_umount(&g_m);
    g_mounted = false;
    if (st != 0)
        fail_msg("the daemon did not exit cleanly: %#x", st);
    char out[8192];
    if (mu_runl(out, sizeof(out), "esfs", "verify", g_m.store, (const char *)NULL) != 0)
        fail_msg("esfs verify after the hostile input:\n%s", out);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_nul_and_invalid_utf8),
        cmocka_unit_test(test_hostile_huge_lines),
        cmocka_unit_test(test_hostile_killed_writer),
        cmocka_unit_test(test_hostile_names),
        cmocka_unit_test(test_hostile_many_streams),
        cmocka_unit_test(test_hostile_memory_bounded),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
