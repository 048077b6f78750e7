/*
 * test_readback.c - bytes in = bytes out through a real mount: many events
 * with varied payloads (JSON and not, NUL bytes, control bytes, invalid
 * UTF-8, large ones) appended to several streams read back exactly from
 * streams/<id>, and `all` serves one envelope per event with the exact
 * field order, positions 1..n, versions per stream, the type rule, a ts
 * with nine fractional digits that never goes backwards, and data as the
 * raw payload when it is JSON or its JSON string otherwise. streams/ and
 * watch/streams/ list 1,500 streams once each, in order of first event.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mount_util.h"
#include "view_util.h"

#define N_STREAMS 3
static const char *const stream_names[N_STREAMS] = {
    "Order-123", "caf\xc3\xa9 \"quoted\" back\\slash \xe2\x82\xac", "s"};

struct expect {
    char *bytes; /* the stream view: payloads, each + '\n' */
    size_t len, cap;
    uint64_t n_events;
};

static void grow(struct expect *x, const void *p, size_t n)
{
    if (x->len + n > x->cap) {
        x->cap = (x->len + n) * 2;
        x->bytes = realloc(x->bytes, x->cap);
        assert_non_null(x->bytes);
    }
    memcpy(x->bytes + x->len, p, n);
    x->len += n;
}

/* One event of the global log as the test wrote it. */
struct logged {
    unsigned stream;
    uint64_t ver;
    struct e2e_payload p;
};

static void check_all(const char *all, size_t all_len, struct logged *log, size_t n_log)
{
    size_t off = 0, i = 0;
    const char *line;
    size_t line_len;
    char prev_ts[31] = "";
    char why[512];
    while (e2e_next_line(all, all_len, &off, &line, &line_len)) {
        struct e2e_env e;
        if (!e2e_env_parse(line, line_len, &e, why, sizeof(why)))
            fail_msg("all, line %zu: %s", i + 1, why);
        if (i >= n_log)
            fail_msg("all has more than the %zu events written", n_log);
        const struct logged *l = &log[i];
        if (e.pos != i + 1)
            fail_msg("all, line %zu: pos %llu", i + 1, (unsigned long long)e.pos);
        const char *name = stream_names[l->stream];
        if (e.stream_len != strlen(name) || memcmp(e.stream, name, e.stream_len) != 0)
            fail_msg("pos %zu: stream '%s', expected '%s'", i + 1, e.stream, name);
        if (e.ver != l->ver)
            fail_msg("pos %zu: ver %llu, expected %llu", i + 1, (unsigned long long)e.ver,
                     (unsigned long long)l->ver);
        if (e.type_len != strlen(l->p.type) || memcmp(e.type, l->p.type, e.type_len) != 0)
            fail_msg("pos %zu: type '%s', expected '%s' (payload %.60s)", i + 1, e.type, l->p.type,
                     l->p.data);
        if (strcmp(prev_ts, e.ts) > 0)
            fail_msg("pos %zu: ts %s goes backwards from %s", i + 1, e.ts, prev_ts);
        memcpy(prev_ts, e.ts, sizeof(prev_ts));
        size_t want_len;
        char *want = e2e_expected_data(&l->p, &want_len);
        if (want_len != e.data_len || memcmp(want, e.data, want_len) != 0)
            fail_msg("pos %zu: data differs (%s payload of %zu bytes): got %.*s, expected %.*s",
                     i + 1, l->p.is_json ? "JSON" : "non-JSON", l->p.len,
                     (int)(e.data_len > 120 ? 120 : e.data_len), e.data,
                     (int)(want_len > 120 ? 120 : want_len), want);
        free(want);
        i++;
    }
    assert_int_equal(i, n_log);
}

/* ~20,000 varied events in multi-line writes to three streams. */
static void test_readback_many_varied_events(void **state)
{
    struct e2e_mount *m = *state;
    uint64_t rng = e2e_seed(__func__);
    const size_t n_total = 20000;
    struct logged *log = calloc(n_total, sizeof(*log));
    assert_non_null(log);
    struct expect x[N_STREAMS];
    memset(x, 0, sizeof(x));
    int fds[N_STREAMS];
    for (unsigned s = 0; s < N_STREAMS; s++) {
        fds[s] =
            open(e2e_path(m, "streams/%s", stream_names[s]), O_WRONLY | O_APPEND | O_CREAT, 0644);
        assert_true(fds[s] >= 0);
    }
    size_t done = 0;
    char *batch = malloc(1 << 20);
    assert_non_null(batch);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (done < n_total) {
        unsigned s = (unsigned)(e2e_rand(&rng) % N_STREAMS);
        size_t want = 1 + (size_t)(e2e_rand(&rng) % 400);
        size_t len = 0;
        while (want-- > 0 && done < n_total) {
            struct e2e_payload p;
            e2e_payload_make(&rng, done, 48 * 1024, &p);
            if (len + p.len + 1 > (1 << 20)) {
                e2e_payload_free(&p);
                break;
            }
            memcpy(batch + len, p.data, p.len);
            batch[len + p.len] = '\n';
            len += p.len + 1;
            grow(&x[s], p.data, p.len);
            grow(&x[s], "\n", 1);
            log[done].stream = s;
            log[done].ver = ++x[s].n_events;
            log[done].p = p;
            done++;
        }
        /* every tenth batch through a fresh open file, the rest through the
         * long-lived one */
        if (e2e_rand(&rng) % 10 == 0)
            assert_int_equal(e2e_append(e2e_path(m, "streams/%s", stream_names[s]), batch, len), 0);
        else
            assert_int_equal(write(fds[s], batch, len), (ssize_t)len);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("wrote %zu events in %.2f s\n", done,
                  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    free(batch);
    for (unsigned s = 0; s < N_STREAMS; s++)
        assert_int_equal(close(fds[s]), 0);

    for (unsigned s = 0; s < N_STREAMS; s++) {
        const char *path = e2e_path(m, "streams/%s", stream_names[s]);
        size_t len;
        char *got = e2e_read_all(path, &len);
        assert_non_null(got);
        if (len != x[s].len || memcmp(got, x[s].bytes, len) != 0) {
            size_t k = 0;
            while (k < len && k < x[s].len && got[k] == x[s].bytes[k])
                k++;
            fail_msg("streams/%s: %zu bytes read, %zu written; first difference at byte %zu",
                     stream_names[s], len, x[s].len, k);
        }
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, (off_t)x[s].len);
        assert_int_equal(e2e_version(path), (long)x[s].n_events);
        assert_int_equal(e2e_count_lines(got, len), x[s].n_events);
        free(got);
    }
    size_t all_len;
    char *all = e2e_read_all(e2e_path(m, "all"), &all_len);
    assert_non_null(all);
    check_all(all, all_len, log, n_total);
    struct stat st;
    assert_int_equal(stat(e2e_path(m, "all"), &st), 0);
    assert_int_equal(st.st_size, (off_t)all_len);
    free(all);

    /* ls streams/ lists exactly the streams */
    DIR *d = opendir(e2e_path(m, "streams"));
    assert_non_null(d);
    struct dirent *de;
    unsigned seen = 0, entries = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        entries++;
        for (unsigned s = 0; s < N_STREAMS; s++)
            if (!strcmp(de->d_name, stream_names[s]))
                seen |= 1u << s;
    }
    closedir(d);
    assert_int_equal(entries, N_STREAMS);
    assert_int_equal(seen, (1u << N_STREAMS) - 1);

    for (size_t i = 0; i < n_total; i++)
        e2e_payload_free(&log[i].p);
    free(log);
    for (unsigned s = 0; s < N_STREAMS; s++)
        free(x[s].bytes);
}

/* A byte of the large payload: anything but '\n'. */
static char big_byte(size_t i)
{
    unsigned char c = (unsigned char)(i * 131u + (i >> 7));
    return c == '\n' ? 'n' : (char)c;
}

/* Each corner-case payload on its own, one event per write, and the
 * envelope checked line by line; also a payload of exactly the maximum
 * size (1 MiB by default) round-trips. */
static void test_readback_envelope_corner_cases(void **state)
{
    struct e2e_mount *m = *state;
    uint64_t rng = 1;
    struct logged log[40];
    size_t n = 0;
    const char *path = e2e_path(m, "streams/%s", stream_names[2]);
    struct expect x = {0};
    for (; n < 28; n++) {
        e2e_payload_make(&rng, n, 100, &log[n].p);
        log[n].stream = 2;
        log[n].ver = n + 1;
        char *line = malloc(log[n].p.len + 1);
        memcpy(line, log[n].p.data, log[n].p.len);
        line[log[n].p.len] = '\n';
        assert_int_equal(e2e_append(path, line, log[n].p.len + 1), 0);
        free(line);
        grow(&x, log[n].p.data, log[n].p.len);
        grow(&x, "\n", 1);
    }
    /* the largest event accepted by default: 1 MiB, '\n' not counted */
    struct e2e_payload *big = &log[n].p;
    big->len = 1 << 20;
    big->data = malloc(big->len + 1);
    for (size_t i = 0; i < big->len; i++)
        big->data[i] = big_byte(i);
    big->data[0] = 'Q';
    big->is_json = false;
    big->type[0] = '\0';
    log[n].stream = 2;
    log[n].ver = n + 1;
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, big->data, big->len), (ssize_t)big->len); /* no '\n': at close */
    assert_int_equal(close(fd), 0);
    grow(&x, big->data, big->len);
    grow(&x, "\n", 1);
    n++;

    size_t len;
    char *got = e2e_read_all(path, &len);
    assert_non_null(got);
    assert_int_equal(len, x.len);
    assert_memory_equal(got, x.bytes, len);
    free(got);
    char *all = e2e_read_all(e2e_path(m, "all"), &len);
    assert_non_null(all);
    check_all(all, len, log, n);
    free(all);
    for (size_t i = 0; i < n; i++)
        e2e_payload_free(&log[i].p);
    free(x.bytes);
}

/* Many streams: readdir of streams/ and watch/streams/ lists each one once,
 * in the order of their first events, over several readdir calls. */
static void test_readback_many_streams_listed(void **state)
{
    struct e2e_mount *m = *state;
    enum { N = 1500 };
    for (int i = 0; i < N; i++) {
        char line[64];
        int n = snprintf(line, sizeof(line), "{\"type\":\"Created\",\"i\":%d}\n", i);
        assert_int_equal(
            e2e_append(e2e_path(m, "streams/Stream-%04d-\xc3\xa9", i), line, (size_t)n), 0);
    }
    static const char *const dirs[] = {"streams", "watch/streams"};
    for (int d = 0; d < 2; d++) {
        DIR *dir = opendir(e2e_path(m, "%s", dirs[d]));
        assert_non_null(dir);
        int next = 0;
        struct dirent *de;
        while ((de = readdir(dir)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char want[64];
            snprintf(want, sizeof(want), "Stream-%04d-\xc3\xa9", next);
            if (strcmp(de->d_name, want) != 0)
                fail_msg("%s: entry %d is '%s', expected '%s'", dirs[d], next, de->d_name, want);
            next++;
        }
        closedir(dir);
        assert_int_equal(next, N);
    }
    assert_int_equal(e2e_metric(m, "esfs_streams"), N);
    /* user.esfs.version of all is the last position */
    assert_int_equal(e2e_version(e2e_path(m, "all")), N);
}

static int setup_sync_none(void **state)
{
    static const char *const opts[] = {"--sync=none", NULL};
    e2e_setup_opts = opts;
    int rc = e2e_setup(state);
    e2e_setup_opts = NULL;
    return rc;
}

int main(void)
{
    e2e_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_readback_many_varied_events, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_readback_envelope_corner_cases, e2e_setup,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_readback_many_streams_listed, setup_sync_none,
                                        e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
