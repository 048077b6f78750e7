/*
 * test_errors.c - PRODUCT.md's error table through a real mount (with
 * --max-event-size=4096): a line over the limit fails its write with
 * EMSGSIZE and nothing of that write is appended; bad stream names give
 * EINVAL and a 256-byte name ENAMETOOLONG; truncate, overwrite inside,
 * unlink, rename, chmod of a stream and any write to `all` (and the other
 * read-only files) give EPERM (EACCES where the kernel decides first); and
 * the daemon log has a line naming the stream and the reason for each.
 * Also the rows that need a damaged disk: a full disk (a small tmpfs)
 * fails appends with ENOSPC, nothing half-written is ever visible, and
 * appends work again when space returns; a corrupt sealed segment is
 * never served: reads of it fail with EIO, the rest is served, and
 * `esfs verify` fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "mount_util.h"
#include "view_util.h"

#define MAX_EVENT 4096

static void expect_log(const struct e2e_mount *m, const char *a, const char *b, const char *c)
{
    if (!e2e_log_has(m, a, b, c)) {
        e2e_log_dump(m);
        fail_msg("no daemon log line with '%s' '%s' '%s'", a, b ? b : "", c ? c : "");
    }
}

static void expect_content(const char *path, const char *want, size_t want_len)
{
    size_t len;
    char *got = e2e_read_all(path, &len);
    assert_non_null(got);
    if (len != want_len || memcmp(got, want, len) != 0)
        fail_msg("%s: %zu bytes, expected %zu", path, len, want_len);
    free(got);
}

static char *repeat(char c, size_t n, const char *prefix, const char *suffix)
{
    size_t p = prefix ? strlen(prefix) : 0, s = suffix ? strlen(suffix) : 0;
    char *buf = malloc(p + n + s + 1);
    assert_non_null(buf);
    if (p)
        memcpy(buf, prefix, p);
    memset(buf + p, c, n);
    if (s)
        memcpy(buf + p + n, suffix, s);
    buf[p + n + s] = '\0';
    return buf;
}

/* write(2) of s, expecting failure with err. */
static void write_fails(int fd, const char *s, int err, const char *what)
{
    errno = 0;
    ssize_t w = write(fd, s, strlen(s));
    if (w != -1 || errno != err)
        fail_msg("%s: write returned %zd (%s), expected %s", what, w, strerror(errno),
                 strerror(err));
}

static void test_errors_event_over_max_size(void **state)
{
    struct e2e_mount *m = *state;
    const char *path = e2e_path(m, "streams/T");
    char want[16384];
    size_t want_len = 0;
    assert_int_equal(e2e_append(path, "ok\n", 3), 0);
    memcpy(want, "ok\n", 3);
    want_len = 3;
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);

    /* a too-long line between good ones: the whole write fails */
    char *s = repeat('x', MAX_EVENT + 1, "a\n", "\nb\n");
    write_fails(fd, s, EMSGSIZE, "a line of max+1 bytes between two good lines");
    free(s);
    assert_int_equal(e2e_version(path), 1);
    expect_log(m, "T", "EMSGSIZE", NULL);

    /* exactly the limit is fine */
    s = repeat('L', MAX_EVENT, NULL, "\n");
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    memcpy(want + want_len, s, strlen(s));
    want_len += strlen(s);
    free(s);
    assert_int_equal(e2e_version(path), 2);

    /* a line that grows over the limit across writes */
    s = repeat('y', 3000, NULL, NULL);
    assert_int_equal(write(fd, s, 3000), 3000);
    free(s);
    s = repeat('y', 3000, NULL, "\nafter\n");
    write_fails(fd, s, EMSGSIZE, "the second half of a line over the limit");
    free(s);
    assert_int_equal(write(fd, "next\n", 5), 5);
    memcpy(want + want_len, "next\n", 5);
    want_len += 5;

    /* a too-long line whose end comes in a later write: both writes fail */
    s = repeat('z', MAX_EVENT + 10, NULL, NULL);
    write_fails(fd, s, EMSGSIZE, "an unfinished line over the limit");
    free(s);
    write_fails(fd, "end of the long line\nnext2\n", EMSGSIZE,
                "the end of a line that was over the limit");
    assert_int_equal(write(fd, "next3\n", 6), 6);
    memcpy(want + want_len, "next3\n", 6);
    want_len += 6;

    /* complete lines before an unfinished over-long one: nothing appended */
    s = repeat('w', MAX_EVENT + 1, "c\n", NULL);
    write_fails(fd, s, EMSGSIZE, "good lines, then an unfinished line over the limit");
    free(s);
    assert_int_equal(close(fd), 0);
    expect_content(path, want, want_len);
    assert_int_equal(e2e_version(path), 4);
    assert_true(e2e_metric(m, "esfs_write_errors_total") >= 5);
}

static void create_fails(const struct e2e_mount *m, const char *name, int err)
{
    errno = 0;
    int fd = open(e2e_path(m, "streams/%s", name), O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0 || errno != err)
        fail_msg("creating stream '%s': %s, expected %s", name,
                 fd >= 0 ? "it worked" : strerror(errno), strerror(err));
    /* and the shell way */
    int rc = e2e_sh(m, "{ echo x >> \"$1\"; } 2>/dev/null", e2e_path(m, "streams/%s", name), NULL);
    assert_int_not_equal(rc, 0);
}

static void test_errors_bad_stream_names(void **state)
{
    struct e2e_mount *m = *state;
    create_fails(m, ".hidden", EINVAL);
    expect_log(m, ".hidden", "refused", "'.'");
    create_fails(m, "ctl\x01char", EINVAL);
    expect_log(m, "ctl\x01char", "refused", "control");
    create_fails(m, "tab\tname", EINVAL);
    create_fails(m, "del\x7f", EINVAL);
    create_fails(m, "bad\xff\xfeutf8", EINVAL);
    expect_log(m, "bad\xff\xfeutf8", "refused", "UTF-8");
    char *long_name = repeat('n', 256, NULL, NULL);
    create_fails(m, long_name, ENAMETOOLONG);
    expect_log(m, "refused", "256 bytes", NULL);
    /* 255 bytes is the longest name */
    long_name[255] = '\0';
    assert_int_equal(e2e_append(e2e_path(m, "streams/%s", long_name), "fine\n", 5), 0);
    /* nothing else was created */
    size_t len;
    char *all = e2e_read_all(e2e_path(m, "all"), &len);
    assert_int_equal(e2e_count_lines(all, len), 1);
    free(all);
    assert_int_equal(e2e_metric(m, "esfs_streams"), 1);
    free(long_name);
    /* an empty name cannot be spelt as a path: streams/ is the directory */
    assert_int_equal(open(e2e_path(m, "streams/"), O_WRONLY | O_APPEND), -1);
    assert_int_equal(errno, EISDIR);
}

/* A call that must fail with EPERM (or EACCES, where the kernel refuses
 * before asking the daemon). */
#define REFUSED(call, what)                                                                        \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long rc_ = (long)(call);                                                                   \
        if (rc_ != -1 || (errno != EPERM && errno != EACCES))                                      \
            fail_msg("%s: returned %ld (%s), expected EPERM or EACCES", what, rc_,                 \
                     strerror(errno));                                                             \
    } while (0)

static void test_errors_streams_and_all_are_immutable(void **state)
{
    struct e2e_mount *m = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", e2e_path(m, "streams/S"));
    assert_int_equal(e2e_append(path, "one\ntwo\n", 8), 0);
    size_t all_len;
    char *all_before = e2e_read_all(e2e_path(m, "all"), &all_len);
    assert_non_null(all_before);

    /* truncate */
    REFUSED(truncate(path, 0), "truncate(stream, 0)");
    expect_log(m, "truncate", "stream S", "EPERM");
    REFUSED(truncate(path, 3), "truncate(stream, 3)");
    REFUSED(truncate(path, 100), "truncate(stream, 100)");
    REFUSED(open(path, O_WRONLY | O_TRUNC), "open(stream, O_TRUNC)");
    expect_log(m, "O_TRUNC", "S", "EPERM");
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    REFUSED(ftruncate(fd, 0), "ftruncate(stream)");
    close(fd);
    assert_int_not_equal(e2e_sh(m, "{ echo x > \"$1\"; } 2>/dev/null", path, NULL), 0);

    /* overwrite inside: a write at an offset inside, without O_APPEND */
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    REFUSED(pwrite(fd, "XX\n", 3, 0), "pwrite at offset 0");
    expect_log(m, "write at offset 0", "S", "EPERM");
    REFUSED(pwrite(fd, "XX\n", 3, 5), "pwrite at offset 5");
    REFUSED(write(fd, "XX\n", 3), "write at the file position 0");
    /* at the end, the same write is an append */
    assert_int_equal(pwrite(fd, "three\n", 6, 8), 6);
    close(fd);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    REFUSED(pwrite(fd, "XX\n", 3, 4), "pwrite at offset 4 (O_RDWR)");
    close(fd);

    /* unlink, rename, link, chmod, chown */
    REFUSED(unlink(path), "unlink(stream)");
    expect_log(m, "unlink", "S", "EPERM");
    REFUSED(rename(path, e2e_path(m, "streams/Renamed")), "rename(stream)");
    expect_log(m, "rename", "S", "EPERM");
    REFUSED(link(path, e2e_path(m, "streams/Linked")), "link(stream)");
    REFUSED(chmod(path, 0600), "chmod(stream)");
    expect_log(m, "chmod", "S", "EPERM");
    REFUSED(chown(path, 1, 1), "chown(stream)");
    REFUSED(removexattr(path, "user.esfs.version"), "removexattr(version)");
    REFUSED(setxattr(path, "user.esfs.version", "7", 1, 0), "setxattr(version)");
    REFUSED(mkdir(e2e_path(m, "streams/dir"), 0755), "mkdir in streams/");
    REFUSED(rmdir(e2e_path(m, "streams")), "rmdir(streams)");
    REFUSED(symlink("S", e2e_path(m, "streams/sym")), "symlink in streams/");

    /* any write to all (and to the other read-only files) */
    const char *const ro[] = {"all", "watch/all", "watch/streams/S", ".esfs/metrics"};
    for (size_t i = 0; i < 4; i++) {
        const char *p = e2e_path(m, "%s", ro[i]);
        char what[96];
        snprintf(what, sizeof(what), "open(%s, O_WRONLY)", ro[i]);
        REFUSED(open(p, O_WRONLY), what);
        snprintf(what, sizeof(what), "open(%s, O_RDWR)", ro[i]);
        REFUSED(open(p, O_RDWR), what);
        snprintf(what, sizeof(what), "open(%s, O_WRONLY|O_APPEND)", ro[i]);
        REFUSED(open(p, O_WRONLY | O_APPEND), what);
        snprintf(what, sizeof(what), "truncate(%s)", ro[i]);
        REFUSED(truncate(p, 1), what); /* to another size: metrics has st_size 0 */
        if (i < 3)
            REFUSED(truncate(p, 0), what);
        snprintf(what, sizeof(what), "unlink(%s)", ro[i]);
        REFUSED(unlink(p), what);
        snprintf(what, sizeof(what), "chmod(%s)", ro[i]);
        REFUSED(chmod(p, 0666), what);
        assert_int_not_equal(e2e_sh(m, "{ echo x >> \"$1\"; } 2>/dev/null", p, NULL), 0);
    }
    expect_log(m, "open of all for writing", "EPERM", NULL);
    expect_log(m, "truncate", "all", "EPERM");
    expect_log(m, "unlink", "all", "EPERM");
    /* a write(2) on a read-only descriptor never reaches the daemon */
    fd = open(e2e_path(m, "all"), O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x\n", 2), -1);
    assert_int_equal(errno, EBADF);
    close(fd);

    /* nothing changed but the one append at the end */
    expect_content(path, "one\ntwo\nthree\n", 14);
    size_t len;
    char *all_after = e2e_read_all(e2e_path(m, "all"), &len);
    assert_true(len > all_len);
    assert_memory_equal(all_after, all_before, all_len);
    assert_int_equal(e2e_count_lines(all_after, len), 3);
    free(all_before);
    free(all_after);
}

/* ---- disk full ---- */

static int g_tmpfs_slot = -1; /* -2: no tmpfs here, the test skips */

static int setup_small_disk(void **state)
{
    e2e_watchdog(120, "the disk-full test");
    struct e2e_mount *m = e2e_new("enospc");
    *state = m;
    if (!m)
        return -1;
    mkdir(m->store, 0755);
    if (mount("esfs-e2e-tmpfs", m->store, "tmpfs", 0, "size=4m") != 0) {
        print_message("cannot mount a tmpfs (%s)\n", strerror(errno));
        g_tmpfs_slot = -2;
        return 0;
    }
    g_tmpfs_slot = e2e_register_mount(m->store);
    static const char *const opts[] = {"--segment-size=64K", NULL};
    return e2e_mount_opts(m, NULL, opts);
}

static int teardown_small_disk(void **state)
{
    struct e2e_mount *m = *state;
    *state = NULL;
    int rc = 0;
    if (m && m->mounted && e2e_umount(m) != 0) {
        rc = -1;
        if (m->mounted)
            e2e_kill_daemon(m);
    }
    if (m && g_tmpfs_slot >= 0) {
        if (umount2(m->store, 0) != 0)
            umount2(m->store, MNT_DETACH);
        e2e_unregister_mount(g_tmpfs_slot);
    }
    g_tmpfs_slot = -1;
    if (e2e_free(m) != 0)
        rc = -1;
    e2e_watchdog(0, NULL);
    return rc;
}

static void test_errors_disk_full(void **state)
{
    struct e2e_mount *m = *state;
    if (g_tmpfs_slot == -2)
        skip();
    uint64_t rng = e2e_seed(__func__);
    const char *path = e2e_path(m, "streams/Fill");
    enum { LINE = 1000, LINES = 8, BATCH = LINE * LINES };
    size_t cap = 64u << 20, acked = 0;
    char *want = malloc(cap);
    char batch[BATCH];
    assert_non_null(want);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    assert_true(fd >= 0);
    int err = 0;
    for (int i = 0; i < 2000 && !err; i++) {
        /* random bytes: nothing for compression to win back */
        for (int k = 0; k < BATCH; k++) {
            char c = (char)(e2e_rand(&rng) & 0xff);
            batch[k] = k % LINE == LINE - 1 ? '\n' : c == '\n' ? 'n' : c;
        }
        ssize_t w = write(fd, batch, BATCH);
        if (w == BATCH) {
            memcpy(want + acked, batch, BATCH);
            acked += BATCH;
        } else {
            err = w < 0 ? errno : EIO;
        }
    }
    if (err != ENOSPC)
        fail_msg("writes to a full disk: %s after %zu bytes, expected ENOSPC", strerror(err),
                 acked);
    print_message("ENOSPC after %zu acknowledged events\n", acked / LINE);
    /* exactly the acknowledged events, nothing of the failed write */
    size_t len;
    char *got = e2e_read_all(path, &len);
    assert_non_null(got);
    if (len != acked || memcmp(got, want, len) != 0)
        fail_msg("after ENOSPC the stream holds %zu bytes, %zu were acknowledged", len, acked);
    free(got);
    assert_int_equal(e2e_version(path), (long)(acked / LINE));
    char *all = e2e_read_all(e2e_path(m, "all"), &len);
    assert_non_null(all);
    assert_int_equal(e2e_count_lines(all, len), acked / LINE);
    free(all);
    if (!e2e_log_has(m, "Fill", "No space left on device", NULL)) {
        e2e_log_dump(m);
        fail_msg("no log line names the stream and the full disk");
    }

    /* space returns: appends work again, on the same open file */
    assert_int_equal(mount("esfs-e2e-tmpfs", m->store, "tmpfs", MS_REMOUNT, "size=96m"), 0);
    for (int k = 0; k < BATCH; k++)
        batch[k] = k % LINE == LINE - 1 ? '\n' : 'r';
    ssize_t w = write(fd, batch, BATCH);
    if (w != BATCH)
        fail_msg("a write after space returned: %s", w < 0 ? strerror(errno) : "short");
    memcpy(want + acked, batch, BATCH);
    acked += BATCH;
    assert_int_equal(close(fd), 0);
    assert_int_equal(e2e_append(path, "last\n", 5), 0);
    memcpy(want + acked, "last\n", 5);
    acked += 5;
    got = e2e_read_all(path, &len);
    assert_non_null(got);
    if (len != acked || memcmp(got, want, len) != 0)
        fail_msg("after space returned the stream holds %zu bytes, %zu were acknowledged", len,
                 acked);
    free(got);
    assert_int_equal(e2e_metric(m, "esfs_failed"), 0);
    assert_int_equal(e2e_umount(m), 0);
    char *out = NULL;
    assert_int_equal(e2e_esfs(m, &out, &len, "verify", m->store, NULL), 0);
    free(out);
    free(want);
}

/* ---- a corrupt sealed segment ---- */

static void test_errors_corrupt_sealed_segment(void **state)
{
    struct e2e_mount *m = *state;
    uint64_t rng = e2e_seed(__func__);
    char line[400];
    for (int i = 0; i < 60; i++) {
        int n = snprintf(line, sizeof(line), "{\"type\":\"T\",\"i\":%d,\"pad\":\"", i);
        for (int k = 0; k < 300; k++)
            line[n++] =
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[e2e_rand(&rng) %
                                                                                 62];
        n += snprintf(line + n, sizeof(line) - (size_t)n, "\"}\n");
        assert_int_equal(e2e_append(e2e_path(m, "streams/A"), line, (size_t)n), 0);
    }
    assert_int_equal(e2e_esfs(m, NULL, NULL, "seal", m->mnt, NULL), 0);
    assert_int_equal(e2e_append(e2e_path(m, "streams/B"), "tail-event\n", 11), 0);
    size_t all_len;
    char *all = e2e_read_all(e2e_path(m, "all"), &all_len);
    assert_non_null(all);
    size_t last = all_len - 1;
    while (last > 0 && all[last - 1] != '\n')
        last--;
    assert_int_equal(e2e_umount(m), 0);

    /* flip one byte in the middle of the sealed segment */
    char segdir[PATH_MAX], seg[PATH_MAX] = "";
    snprintf(segdir, sizeof(segdir), "%s/segments", m->store);
    DIR *d = opendir(segdir);
    assert_non_null(d);
    struct dirent *de;
    int n_seg = 0;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') {
            snprintf(seg, sizeof(seg), "%s/%s", segdir, de->d_name);
            n_seg++;
        }
    closedir(d);
    assert_int_equal(n_seg, 1);
    int fd = open(seg, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    unsigned char b;
    off_t mid = st.st_size / 2;
    assert_int_equal(pread(fd, &b, 1, mid), 1);
    b ^= 0x55;
    assert_int_equal(pwrite(fd, &b, 1, mid), 1);
    close(fd);

    char *out = NULL;
    size_t out_len;
    int rc = e2e_esfs(m, &out, &out_len, "verify", m->store, NULL);
    free(out);
    assert_int_equal(rc, 1);

    if (e2e_mount_opts(m, NULL, NULL) != 0) {
        print_message("the store with a corrupt segment does not mount: nothing is served\n");
        free(all);
        return;
    }
    /* what lies in the damaged segment is never served */
    errno = 0;
    char *got = e2e_read_all(e2e_path(m, "all"), &out_len);
    if (got || errno != EIO)
        fail_msg("reading all over a corrupt segment: %s, expected EIO",
                 got ? "it worked" : strerror(errno));
    errno = 0;
    got = e2e_read_all(e2e_path(m, "streams/A"), &out_len);
    if (got || errno != EIO)
        fail_msg("reading streams/A: %s, expected EIO", got ? "it worked" : strerror(errno));
    assert_true(e2e_log_has(m, "segments/", "corrupt", NULL));
    /* what lies elsewhere is */
    got = e2e_read_all(e2e_path(m, "streams/B"), &out_len);
    assert_non_null(got);
    assert_int_equal(out_len, 11);
    assert_memory_equal(got, "tail-event\n", 11);
    free(got);
    fd = open(e2e_path(m, "all"), O_RDONLY);
    assert_true(fd >= 0);
    char buf[1024];
    assert_int_equal(pread(fd, buf, all_len - last, (off_t)last), (ssize_t)(all_len - last));
    assert_memory_equal(buf, all + last, all_len - last);
    close(fd);
    free(all);
}

static int setup_small_events(void **state)
{
    static const char *const opts[] = {"--max-event-size=4096", NULL};
    e2e_setup_opts = opts;
    int rc = e2e_setup(state);
    e2e_setup_opts = NULL;
    return rc;
}

int main(void)
{
    e2e_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_errors_event_over_max_size, setup_small_events,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_errors_bad_stream_names, setup_small_events,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_errors_streams_and_all_are_immutable,
                                        setup_small_events, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_errors_disk_full, setup_small_disk,
                                        teardown_small_disk),
        cmocka_unit_test_setup_teardown(test_errors_corrupt_sealed_segment, e2e_setup,
                                        e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
