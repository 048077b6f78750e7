/*
 * test_backup.c - backup and restore while a writer keeps appending
 * (README "Backup and restore", PRODUCT.md "The store directory"):
 *   - `esfs seal`, then `cp -a STORE/segments` during appends: the copy
 *     passes `esfs verify`, mounts --read-only with exactly the events up to
 *     the seal (a byte-exact prefix of the live `all` holding every event
 *     acknowledged before the seal), refuses writes (EROFS), and mounted
 *     read-write as a new store continues at the next position;
 *   - copies taken at random moments while 64 KiB segments are sealed in
 *     the background are valid stores too (segments enter segments/
 *     atomically).
 * Knob: ESFS_BACKUP_COPIES (random-moment copies, default 4).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mount_util.h"
#include "support/tmpdir.h"

struct backup {
    struct mu_mount live, copy;
    pid_t writer;
    int acks; /* read end: one uint32 seq per acknowledged event */
    uint32_t n_acked;
};

static int setup(void **state)
{
    struct backup *b = calloc(1, sizeof(*b));
    if (!b)
        return -1;
    mu_init(&b->live, "backup");
    mu_init(&b->copy, "restore");
    b->acks = -1;
    *state = b;
    return 0;
}

static void stop_writer(struct backup *b)
{
    if (b->writer > 0) {
        kill(b->writer, SIGKILL);
        while (waitpid(b->writer, NULL, 0) < 0 && errno == EINTR)
            ;
        b->writer = 0;
    }
    if (b->acks >= 0)
        close(b->acks);
    b->acks = -1;
}

static int teardown(void **state)
{
    struct backup *b = *state;
    stop_writer(b);
    mu_cleanup(&b->copy);
    mu_cleanup(&b->live);
    free(b);
    return 0;
}

/* Appends "bk-<seq>-..." lines to acct-<seq % 3> forever, reporting each
 * acknowledged seq; exits when the mount or the pipe goes away. */
static void writer_main(const char *mnt, uint32_t first, int out)
{
    int fds[3];
    for (int i = 0; i < 3; i++) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof(p), "%s/streams/acct-%d", mnt, i);
        fds[i] = open(p, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (fds[i] < 0)
            _exit(0);
    }
    char buf[600];
    for (uint32_t seq = first;; seq++) {
        int n = snprintf(buf, sizeof(buf), "bk-%u-", seq);
        for (int k = 0; k < 50 + (int)(seq * 37 % 400); k++)
            buf[n++] = (char)('a' + (seq + (unsigned)k) % 26);
        buf[n++] = '\n';
        if (write(fds[seq % 3], buf, (size_t)n) != n)
            _exit(0);
        if (write(out, &seq, sizeof(seq)) != sizeof(seq))
            _exit(0);
    }
}

static void start_writer(struct backup *b, uint32_t first)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        writer_main(b->live.mnt, first, p[1]);
    }
    close(p[1]);
    b->writer = pid;
    b->acks = p[0];
}

/* Takes acknowledgements until at least `until` have come (blocking), then
 * whatever is already there. */
static void take_acks(struct backup *b, uint32_t until)
{
    for (;;) {
        struct pollfd pf = {.fd = b->acks, .events = POLLIN};
        int r = poll(&pf, 1, b->n_acked >= until ? 0 : -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        uint32_t seqs[256];
        ssize_t n = read(b->acks, seqs, sizeof(seqs));
        if (n <= 0)
            fail_msg("the writer stopped: the live mount failed it");
        b->n_acked += (uint32_t)((size_t)n / sizeof(uint32_t));
    }
}

static char *read_all(const char *mnt, size_t *len)
{
    char p[PATH_MAX + 32];
    snprintf(p, sizeof(p), "%s/all", mnt);
    int err;
    char *d = mu_read(p, len, &err);
    if (!d)
        fail_msg("reading %s: %s", p, strerror(err));
    return d;
}

static void copy_segments(struct backup *b)
{
    tmpdir_remove(b->copy.store);
    assert_int_equal(mkdir(b->copy.store, 0755), 0);
    char src[PATH_MAX + 32], out[4096];
    snprintf(src, sizeof(src), "%s/segments", b->live.store);
    int rc = mu_runl(out, sizeof(out), "cp", "-a", src, b->copy.store, (const char *)NULL);
    if (rc != 0)
        fail_msg("cp -a %s: %s", src, out);
}

static void verify_ok(const char *store, const char *when)
{
    char out[8192];
    int rc = mu_runl(out, sizeof(out), "esfs", "verify", store, (const char *)NULL);
    if (rc != 0)
        fail_msg("esfs verify of %s (%s): exit %d\n%s", store, when, rc, out);
}

/* Mounts the copy read-only and returns its all (a prefix of live_all is
 * checked by the caller). */
static char *mount_copy_ro(struct backup *b, size_t *len)
{
    char err[2048];
    int rc = mu_mount(&b->copy, err, sizeof(err), "--read-only", (const char *)NULL);
    if (rc)
        fail_msg("mount --read-only of the copy: %s", err);
    char *all = read_all(b->copy.mnt, len);
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/streams/acct-0", b->copy.mnt);
    rc = mu_append(p, "nope\n", 5);
    if (rc != -EROFS && rc != -EACCES && rc != -EPERM)
        fail_msg("a write to the read-only copy: %s", rc ? strerror(-rc) : "succeeded");
    int st = mu_umount(&b->copy);
    if (st != 0)
        fail_msg("unmounting the read-only copy: %#x", st);
    return all;
}

static void test_backup_seal_copy_restore(void **state)
{
    struct backup *b = *state;
    const char *why = mu_skip_reason();
    if (why) {
        print_message("[ backup ] skipped: %s\n", why);
        skip();
    }
    char err[2048];
    /* large segments: only the explicit seal seals */
    if (mu_mount(&b->live, err, sizeof(err), (const char *)NULL))
        fail_msg("mount: %s", err);
    start_writer(b, 0);
    take_acks(b, 300);
    uint32_t acked_before_seal = b->n_acked;
    char out[4096];
    if (mu_runl(out, sizeof(out), "esfs", "seal", b->live.mnt, (const char *)NULL) != 0)
        fail_msg("esfs seal: %s", out);
    copy_segments(b); /* while the writer goes on */
    take_acks(b, b->n_acked + 100);
    stop_writer(b);
    size_t live_len;
    char *live = read_all(b->live.mnt, &live_len);

    verify_ok(b->copy.store, "a copy of segments/ after a seal");
    size_t len;
    char *copy = mount_copy_ro(b, &len);
    if (len > live_len || memcmp(copy, live, len) != 0)
        fail_msg("the copy's all (%zu bytes) is not a prefix of the live all (%zu bytes)", len,
                 live_len);
    size_t sealed = mu_count_lines(copy, len);
    if (sealed < acked_before_seal)
        fail_msg("the copy holds %zu events, %u were acknowledged before the seal", sealed,
                 acked_before_seal);
    /* exactly the events up to the seal: the live store's first segment */
    char seg[PATH_MAX + 64];
    snprintf(seg, sizeof(seg), "%s/segments/%020d.seg", b->live.store, 1);
    if (file_size(seg) < 0)
        fail_msg("the live store has no %s", seg);
    char next_seg[PATH_MAX + 64];
    snprintf(next_seg, sizeof(next_seg), "%s/wal/%020zu.wal", b->live.store, sealed + 1);
    if (file_size(next_seg) < 0)
        fail_msg("the copy ends at position %zu, but the live store's next segment does not "
                 "start at %zu",
                 sealed, sealed + 1);

    /* restored read-write as a new store: continues at the next position */
    if (mu_mount(&b->copy, err, sizeof(err), (const char *)NULL))
        fail_msg("mount of the copy read-write: %s", err);
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/streams/acct-0", b->copy.mnt);
    assert_int_equal(mu_append(p, "restored\n", 9), 0);
    size_t len2;
    char *after = read_all(b->copy.mnt, &len2);
    char want[96];
    snprintf(want, sizeof(want), "{\"pos\":%zu,\"stream\":\"acct-0\",", sealed + 1);
    if (len2 <= len || memcmp(after, copy, len) != 0 || strncmp(after + len, want, strlen(want)))
        fail_msg("the restored store does not continue at %zu: %.100s", sealed + 1,
                 len2 > len ? after + len : "(nothing)");
    if (mu_umount(&b->copy) != 0)
        fail_msg("unmounting the restored store");
    verify_ok(b->copy.store, "the restored store after an append");
    print_message("[ backup ] sealed copy: %zu events (%u acknowledged before the seal, %u by "
                  "the end), verified, read-only mount = prefix of the live store, restored at "
                  "position %zu\n",
                  sealed, acked_before_seal, b->n_acked, sealed + 1);
    free(after);
    free(copy);
    free(live);
    if (mu_umount(&b->live) != 0)
        fail_msg("unmounting the live store");
    verify_ok(b->live.store, "the live store");
}

static void test_backup_copy_at_any_moment(void **state)
{
    struct backup *b = *state;
    const char *why = mu_skip_reason();
    if (why) {
        print_message("[ backup ] skipped: %s\n", why);
        skip();
    }
    unsigned copies =
        (unsigned)(getenv("ESFS_BACKUP_COPIES") ? atoi(getenv("ESFS_BACKUP_COPIES")) : 4);
    char err[2048];
    if (mu_mount(&b->live, err, sizeof(err), "--segment-size=64K", (const char *)NULL))
        fail_msg("mount: %s", err);
    start_writer(b, 0);
    uint64_t rng = (uint64_t)time(NULL) | 1;
    size_t max_events = 0;
    for (unsigned i = 0; i < copies; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        take_acks(b, b->n_acked + 150 + (uint32_t)(rng % 300));
        copy_segments(b); /* no seal: whatever segments/ holds now */
        verify_ok(b->copy.store, "a copy of segments/ at a random moment");
        size_t len, live_len;
        char *copy = mount_copy_ro(b, &len);
        char *live = read_all(b->live.mnt, &live_len);
        if (len > live_len || memcmp(copy, live, len) != 0)
            fail_msg("copy %u: its all (%zu bytes) is not a prefix of the live all", i, len);
        size_t n = mu_count_lines(copy, len);
        if (n < max_events)
            fail_msg("copy %u holds fewer events (%zu) than an earlier one (%zu)", i, n,
                     max_events);
        max_events = n;
        free(copy);
        free(live);
    }
    stop_writer(b);
    if (mu_umount(&b->live) != 0)
        fail_msg("unmounting the live store");
    verify_ok(b->live.store, "the live store");
    print_message("[ backup ] %u copies at random moments during appends and background seals: "
                  "each verified and a prefix of the live store (last: %zu events of %u)\n",
                  copies, max_events, b->n_acked);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backup_seal_copy_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup_copy_at_any_moment, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
