/*
 * test_offsets.c - sizes and byte offsets of streams/<id> and `all`
 * through a real mount whose log spans several sealed (compressed)
 * segments and the active one: stat's st_size is exact and grows with
 * every append, a descriptor kept open reads exactly the new bytes after
 * later appends (a byte offset is a resumable cursor), a view read earlier
 * is a prefix of the view later, pread at arbitrary offsets and lengths
 * equals the slice of the whole file, and lseek (SEEK_SET, SEEK_CUR,
 * SEEK_END) agrees with it; stat of `all` right after an append's
 * write(2) returned already counts it.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mount_util.h"
#include "view_util.h"

#define N_ROUNDS 40

struct view {
    const char *name;
    char path[PATH_MAX];
    int fd;      /* open since before the first append */
    char *bytes; /* everything read through fd so far */
    size_t len;
    char *early; /* the whole view after round 10 */
    size_t early_len;
};

static void read_more(struct view *v)
{
    char buf[1 << 16];
    for (;;) {
        ssize_t r = read(v->fd, buf, sizeof(buf));
        if (r < 0)
            fail_msg("%s: read: %s", v->name, strerror(errno));
        if (r == 0)
            return;
        v->bytes = realloc(v->bytes, v->len + (size_t)r);
        assert_non_null(v->bytes);
        memcpy(v->bytes + v->len, buf, (size_t)r);
        v->len += (size_t)r;
    }
}

static void check_whole(const struct view *v)
{
    size_t len;
    char *whole = e2e_read_all(v->path, &len);
    assert_non_null(whole);
    if (len != v->len || memcmp(whole, v->bytes, len) != 0)
        fail_msg("%s: a fresh read (%zu bytes) differs from the cursor's (%zu bytes)", v->name, len,
                 v->len);
    struct stat st;
    assert_int_equal(stat(v->path, &st), 0);
    if ((size_t)st.st_size != len)
        fail_msg("%s: st_size %lld, but %zu bytes are served", v->name, (long long)st.st_size, len);
    free(whole);
}

static void check_preads(const struct view *v, uint64_t *rng)
{
    int fd = open(v->path, O_RDONLY);
    assert_true(fd >= 0);
    size_t size = v->len;
    char *buf = malloc(256 * 1024);
    assert_non_null(buf);
    for (int i = 0; i < 400; i++) {
        uint64_t r = e2e_rand(rng);
        size_t off = (size_t)(e2e_rand(rng) % (size + 64));
        size_t n = r % 4 == 0 ? 1 + (size_t)(e2e_rand(rng) % (256 * 1024))
                              : 1 + (size_t)(e2e_rand(rng) % 600);
        if (r % 16 == 1) { /* at a line boundary, and just around it */
            const char *nl =
                memchr(v->bytes + (off < size ? off : 0), '\n', size - (off < size ? off : 0));
            if (nl)
                off = (size_t)(nl - v->bytes) + 1 - (size_t)(r / 16 % 3);
        }
        ssize_t got = pread(fd, buf, n, (off_t)off);
        size_t want = off >= size ? 0 : (size - off < n ? size - off : n);
        if (got != (ssize_t)want)
            fail_msg("%s: pread(%zu bytes at %zu) returned %zd, expected %zu (size %zu)", v->name,
                     n, off, got, want, size);
        if (want && memcmp(buf, v->bytes + off, want) != 0)
            fail_msg("%s: pread(%zu bytes at %zu) differs from the slice of the file", v->name, n,
                     off);
    }
    /* lseek */
    assert_int_equal(lseek(fd, 0, SEEK_END), (off_t)size);
    size_t mid = size / 3;
    assert_int_equal(lseek(fd, (off_t)mid, SEEK_SET), (off_t)mid);
    assert_int_equal(read(fd, buf, 100), (ssize_t)(size - mid < 100 ? size - mid : 100));
    assert_memory_equal(buf, v->bytes + mid, size - mid < 100 ? size - mid : 100);
    assert_int_equal(lseek(fd, -50, SEEK_CUR), (off_t)(mid + 50));
    assert_int_equal(read(fd, buf, 10), 10);
    assert_memory_equal(buf, v->bytes + mid + 50, 10);
    assert_int_equal(lseek(fd, (off_t)size, SEEK_SET), (off_t)size);
    assert_int_equal(read(fd, buf, 10), 0);
    free(buf);
    close(fd);
}

static void test_offsets_sizes_cursors_and_preads(void **state)
{
    struct e2e_mount *m = *state;
    uint64_t rng = e2e_seed(__func__);
    struct view v[3] = {{.name = "streams/A"}, {.name = "streams/B"}, {.name = "all"}};
    const char *const streams[2] = {"A", "B"};
    /* the streams exist from their first event on: start them */
    assert_int_equal(e2e_append(e2e_path(m, "streams/A"), "a0\n", 3), 0);
    assert_int_equal(e2e_append(e2e_path(m, "streams/B"), "b0\n", 3), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(v[i].path, sizeof(v[i].path), "%s", e2e_path(m, "%s", v[i].name));
        v[i].fd = open(v[i].path, O_RDONLY);
        assert_true(v[i].fd >= 0);
        read_more(&v[i]);
    }
    size_t prev_size[3] = {0};
    char *batch = malloc(1 << 20);
    assert_non_null(batch);
    for (int round = 0; round < N_ROUNDS; round++) {
        unsigned s = (unsigned)(e2e_rand(&rng) % 2);
        size_t n = 1 + (size_t)(e2e_rand(&rng) % 60), len = 0;
        for (size_t k = 0; k < n; k++) {
            struct e2e_payload p;
            e2e_payload_make(&rng, 1000 + (uint64_t)round * 100 + k, 20000, &p);
            memcpy(batch + len, p.data, p.len);
            batch[len + p.len] = '\n';
            len += p.len + 1;
            e2e_payload_free(&p);
        }
        assert_int_equal(e2e_append(e2e_path(m, "streams/%s", streams[s]), batch, len), 0);
        if (round == N_ROUNDS / 2)
            assert_int_equal(e2e_esfs(m, NULL, NULL, "seal", m->mnt, NULL), 0);
        for (int i = 0; i < 3; i++) {
            read_more(&v[i]); /* from where the previous read ended */
            check_whole(&v[i]);
            if (v[i].len < prev_size[i])
                fail_msg("%s shrank from %zu to %zu bytes", v[i].name, prev_size[i], v[i].len);
            if ((i == 2 || (unsigned)i == s) && v[i].len <= prev_size[i])
                fail_msg("%s did not grow after an append", v[i].name);
            prev_size[i] = v[i].len;
            if (round == 10) {
                v[i].early = malloc(v[i].len);
                memcpy(v[i].early, v[i].bytes, v[i].len);
                v[i].early_len = v[i].len;
            }
        }
    }
    free(batch);
    long long sealed = e2e_metric(m, "esfs_sealed_segments");
    print_message("all: %zu bytes over %lld sealed segments and the active one\n", v[2].len,
                  sealed);
    assert_true(sealed >= 2);
    for (int i = 0; i < 3; i++) {
        /* what was read early is still there, byte for byte */
        assert_true(v[i].len >= v[i].early_len);
        assert_memory_equal(v[i].bytes, v[i].early, v[i].early_len);
        check_preads(&v[i], &rng);
        close(v[i].fd);
        free(v[i].bytes);
        free(v[i].early);
    }
}

/* `echo … >> streams/S; tail -n 1 all` must show the event: stat of `all`
 * right after an append's write(2) returned gives the size with it, even
 * when all's attributes were looked at a moment before. */
static void test_offsets_all_size_right_after_each_append(void **state)
{
    struct e2e_mount *m = *state;
    enum { N = 300 };
    off_t seen[N];
    char all[PATH_MAX];
    snprintf(all, sizeof(all), "%s", e2e_path(m, "all"));
    int fd = open(e2e_path(m, "streams/Now"), O_WRONLY | O_APPEND | O_CREAT, 0644);
    assert_true(fd >= 0);
    struct stat st;
    for (int i = 0; i < N; i++) {
        assert_int_equal(write(fd, "x\n", 2), 2);
        assert_int_equal(stat(all, &st), 0);
        seen[i] = st.st_size;
    }
    close(fd);
    size_t len;
    char *text = e2e_read_all(all, &len);
    assert_non_null(text);
    int stale = 0, i = 0;
    for (size_t off = 0; off < len && i < N; off++)
        if (text[off] == '\n' && seen[i++] != (off_t)(off + 1))
            stale++;
    free(text);
    if (stale)
        fail_msg("%d of %d stat(all) right after an append showed an older size", stale, N);
}

static int setup_small_segments(void **state)
{
    static const char *const opts[] = {"--segment-size=64K", NULL};
    e2e_setup_opts = opts;
    int rc = e2e_setup(state);
    e2e_setup_opts = NULL;
    return rc;
}

int main(void)
{
    e2e_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_offsets_sizes_cursors_and_preads, setup_small_segments,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_offsets_all_size_right_after_each_append, e2e_setup,
                                        e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
