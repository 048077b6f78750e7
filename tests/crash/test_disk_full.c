/*
 * test_disk_full.c - a full disk under a mounted store: the store lives on
 * a small tmpfs this test mounts, a filler file takes the rest of it.
 * Proves (PRODUCT.md, "Bad input gets a clear error, and nothing is lost"):
 * appends fail with ENOSPC, also one whose bytes only partly fit; nothing
 * half-written ever becomes visible (`all` and the streams stay byte for
 * byte what they were, also after a remount); a seal fails cleanly; the
 * daemon logs each failure with the stream and the reason and keeps
 * running; once space returns appends and seals work again at the next
 * position, and `esfs verify` is clean.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mount_util.h"
#include "support/tmpdir.h"

static int setup(void **state)
{
    struct mu_mount *m = calloc(1, sizeof(*m));
    if (!m)
        return -1;
    mu_init(m, "diskfull");
    *state = m;
    return 0;
}

static int teardown(void **state)
{
    mu_cleanup(*state);
    free(*state);
    return 0;
}

static char *read_or_fail(const char *path, size_t *len)
{
    int err;
    char *d = mu_read(path, len, &err);
    if (!d)
        fail_msg("reading %s: %s", path, strerror(err));
    return d;
}

/* Writes path until the file system is full; returns the bytes written. */
static size_t fill(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    static char chunk[4096];
    memset(chunk, 'f', sizeof(chunk));
    size_t total = 0;
    for (;;) {
        ssize_t w = write(fd, chunk, sizeof(chunk));
        if (w <= 0)
            break;
        total += (size_t)w;
    }
    assert_int_equal(errno, ENOSPC);
    close(fd);
    return total;
}

/* The two views and both streams, as they are now. */
struct views {
    char *all, *a, *b;
    size_t all_len, a_len, b_len;
};

static void views_read(struct mu_mount *m, struct views *v)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/all", m->mnt);
    v->all = read_or_fail(p, &v->all_len);
    snprintf(p, sizeof(p), "%s/streams/full-a", m->mnt);
    v->a = read_or_fail(p, &v->a_len);
    snprintf(p, sizeof(p), "%s/streams/full-b", m->mnt);
    v->b = read_or_fail(p, &v->b_len);
}

static void views_free(struct views *v)
{
    free(v->all);
    free(v->a);
    free(v->b);
}

static void views_same(struct mu_mount *m, const struct views *want, const char *when)
{
    struct views now;
    views_read(m, &now);
    if (now.all_len != want->all_len || memcmp(now.all, want->all, want->all_len) != 0)
        fail_msg("%s: all changed (%zu bytes, was %zu)", when, now.all_len, want->all_len);
    if (now.a_len != want->a_len || memcmp(now.a, want->a, want->a_len) != 0 ||
        now.b_len != want->b_len || memcmp(now.b, want->b, want->b_len) != 0)
        fail_msg("%s: a stream changed", when);
    views_free(&now);
}

static char *lines(size_t n, size_t len, char tag)
{
    char *buf = malloc(n * (len + 1) + 1);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++) {
        memset(buf + i * (len + 1), tag, len);
        snprintf(buf + i * (len + 1), len, "%c%zu-", tag, i);
        buf[i * (len + 1) + strlen(buf + i * (len + 1))] = tag;
        buf[i * (len + 1) + len] = '\n';
    }
    buf[n * (len + 1)] = '\0';
    return buf;
}

static void test_disk_full_enospc_then_recovers(void **state)
{
    struct mu_mount *m = *state;
    const char *why = mu_skip_reason();
    if (!why && geteuid() != 0)
        why = "mounting a tmpfs needs root";
    if (why) {
        print_message("[ disk_full ] skipped: %s\n", why);
        skip();
    }
    int rc = mu_mount_tmpfs(m, 8 * 1024);
    if (rc) {
        print_message("[ disk_full ] skipped: cannot mount a tmpfs: %s\n", strerror(-rc));
        skip();
    }
    snprintf(m->store, sizeof(m->store), "%s/store", m->tmpfs);
    char err[2048];
    rc = mu_mount(m, err, sizeof(err), "--segment-size=64K", (const char *)NULL);
    if (rc)
        fail_msg("mount: %s", err);
    char a[PATH_MAX + 64], b[PATH_MAX + 64], seal[PATH_MAX + 64];
    snprintf(a, sizeof(a), "%s/streams/full-a", m->mnt);
    snprintf(b, sizeof(b), "%s/streams/full-b", m->mnt);
    snprintf(seal, sizeof(seal), "%s/.esfs/seal", m->mnt);
    /* a baseline, with a seal */
    for (int i = 0; i < 20; i++) {
        char *l = lines(5, 200, 'a' + (char)(i % 2));
        assert_int_equal(mu_append(i % 2 ? b : a, l, strlen(l)), 0);
        free(l);
    }
    assert_int_equal(mu_append(seal, "1", 1), 0);
    assert_int_equal(mu_append(a, "before-full\n", 12), 0);
    struct views before;
    views_read(m, &before);
    size_t events_before = mu_count_lines(before.all, before.all_len);
    assert_int_equal(events_before, 101);

    /* leave exactly 16 KiB free: a 64 KiB write gets a short pwrite, then
     * ENOSPC, and must be cut back whole */
    char filler[PATH_MAX + 64], gap[PATH_MAX + 64];
    snprintf(filler, sizeof(filler), "%s/filler", m->tmpfs);
    snprintf(gap, sizeof(gap), "%s/gap", m->tmpfs);
    char *sixteen = malloc(16384);
    memset(sixteen, 'g', 16384);
    assert_int_equal(file_write_all(gap, sixteen, 16384), 0);
    free(sixteen);
    size_t filled = fill(filler);
    assert_int_equal(unlink(gap), 0);
    char *big = lines(100, 640, 'x');
    rc = mu_append(a, big, strlen(big));
    if (rc != -ENOSPC)
        fail_msg("a 64 KiB append with 16 KiB free: %s, expected ENOSPC",
                 rc ? strerror(-rc) : "success");
    views_same(m, &before, "after an append that only partly fit");
    /* an event that fits in the active segment's last page, then nothing
     * fits any more: a seal has no room for the sealed copy */
    rc = mu_append(a, "in-the-wal\n", 11);
    if (rc != 0 && rc != -ENOSPC)
        fail_msg("a small append with a few KiB free: %s", strerror(-rc));
    views_free(&before);
    views_read(m, &before);
    events_before = mu_count_lines(before.all, before.all_len);
    fill(gap);
    rc = mu_append(seal, "1", 1);
    if (rc == 0 && !strstr(before.all + before.all_len - 40, "in-the-wal"))
        print_message("[ disk_full ] note: nothing was left to seal\n");
    else if (rc == 0)
        fail_msg("a seal succeeded on a full disk");
    views_same(m, &before, "after a seal on a full disk");
    int enospc = 0;
    for (int i = 0; i < 10; i++) {
        char *l = lines(3, 3000, 'y');
        rc = mu_append(i % 2 ? a : b, l, strlen(l));
        free(l);
        if (rc == -ENOSPC)
            enospc++;
        else if (rc != 0)
            fail_msg("append on a full disk: %s, expected ENOSPC", strerror(-rc));
        else
            fail_msg("an append of 9 KiB succeeded on a full disk");
    }
    views_same(m, &before, "on a full disk");
    if (!mu_daemon_alive(m))
        fail_msg("the daemon died on a full disk (status %#x)", m->daemon_status);
    if (!mu_log_has(m, "full-a", "No space left on device", (const char *)NULL) ||
        !mu_log_has(m, "full-b", "No space left on device", (const char *)NULL))
        fail_msg("the daemon log has no line naming the stream and ENOSPC (%s)", m->log);

    /* a remount while full: recovery must not need space it has not got,
     * and still shows exactly the events from before */
    int st = mu_umount(m);
    if (st != 0)
        fail_msg("clean stop on a full disk: daemon wait status %#x", st);
    rc = mu_mount(m, err, sizeof(err), "--segment-size=64K", (const char *)NULL);
    if (rc)
        fail_msg("mounting the store on a full disk failed: %s", err);
    views_same(m, &before, "after a remount on a full disk");
    char line[64];
    char *z = lines(2, 3000, 'z');
    for (int i = 0; i < 3; i++) {
        rc = mu_append(b, z, strlen(z));
        if (rc != -ENOSPC)
            fail_msg("append on a full disk after a remount: %s", rc ? strerror(-rc) : "success");
        enospc++;
    }
    free(z);

    /* space returns */
    assert_int_equal(unlink(filler), 0);
    assert_int_equal(unlink(gap), 0);
    snprintf(line, sizeof(line), "after-full-1\n");
    assert_int_equal(mu_append(a, line, strlen(line)), 0);
    assert_int_equal(mu_append(b, "after-full-2\nafter-full-3\n", 26), 0);
    assert_int_equal(mu_append(seal, "1", 1), 0);
    struct views after;
    views_read(m, &after);
    if (after.all_len < before.all_len || memcmp(after.all, before.all, before.all_len) != 0)
        fail_msg("all lost its old events after the disk was full");
    const char *tail = after.all + before.all_len;
    char want[64];
    snprintf(want, sizeof(want), "{\"pos\":%zu,\"stream\":\"full-a\"", events_before + 1);
    if (strncmp(tail, want, strlen(want)) != 0)
        fail_msg("the first event after the full disk is not %s...: %.80s", want, tail);
    assert_int_equal(mu_count_lines(after.all, after.all_len), events_before + 3);
    views_free(&after);
    views_free(&before);
    free(big);
    st = mu_umount(m);
    if (st != 0)
        fail_msg("clean stop: daemon wait status %#x", st);
    char out[8192];
    rc = mu_runl(out, sizeof(out), "esfs", "verify", m->store, (const char *)NULL);
    if (rc != 0)
        fail_msg("esfs verify after the full disk: exit %d\n%s", rc, out);
    print_message("[ disk_full ] %zu KiB filler; %d appends failed with ENOSPC, one 64 KiB "
                  "append cut back after a short write; views unchanged; recovered at position "
                  "%zu\n",
                  filled / 1024, enospc + 1, events_before + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disk_full_enospc_then_recovers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
