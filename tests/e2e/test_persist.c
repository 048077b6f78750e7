/*
 * test_persist.c - what survives a mount through real mounts: umount and
 * mount again keeps the same bytes in `all` and every stream, the same
 * stream list and versions, and positions continue (also with other
 * options); `esfs verify` passes and `esfs dump` equals `all`; a daemon
 * killed while appends run loses no acknowledged event; --read-only serves
 * a copy of a live store (every event) and a copy of its segments/ only
 * (exactly the events up to the seal), refuses writes with EROFS and
 * writes nothing to the store directory; that copy mounted read-write
 * continues at the next position. Indexes are derived: deleted (or
 * rebuilt by `esfs reindex`) they come back and nothing is lost. A torn
 * tail after a crash is cut back to the last whole frame and logged.
 * SIGTERM stops the daemon cleanly: it unmounts, blocked readers get an
 * error, no acknowledged append is lost.
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
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mount_util.h"
#include "support/tmpdir.h"
#include "view_util.h"

#define N_STREAMS 4

/* Everything a mount serves. */
struct snapshot {
    char *all;
    size_t all_len;
    char *streams[N_STREAMS + 4];
    size_t stream_len[N_STREAMS + 4];
    long version[N_STREAMS + 4];
    char listing[4096]; /* stream names of readdir, sorted, '\n'-separated */
};

static const char *const names[N_STREAMS] = {"Order-1", "Order-2", "Customer \xc3\xa9", "x"};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void take_snapshot(const struct e2e_mount *m, struct snapshot *s)
{
    memset(s, 0, sizeof(*s));
    s->all = e2e_read_all(e2e_path(m, "all"), &s->all_len);
    assert_non_null(s->all);
    for (int i = 0; i < N_STREAMS; i++) {
        const char *p = e2e_path(m, "streams/%s", names[i]);
        s->streams[i] = e2e_read_all(p, &s->stream_len[i]);
        s->version[i] = e2e_version(p);
    }
    DIR *d = opendir(e2e_path(m, "streams"));
    assert_non_null(d);
    char *list[64];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 64)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            list[n++] = strdup(de->d_name);
    closedir(d);
    qsort(list, n, sizeof(list[0]), cmp_str);
    for (size_t i = 0; i < n; i++) {
        strncat(s->listing, list[i], sizeof(s->listing) - strlen(s->listing) - 2);
        strcat(s->listing, "\n");
        free(list[i]);
    }
}

static void free_snapshot(struct snapshot *s)
{
    free(s->all);
    for (int i = 0; i < N_STREAMS + 4; i++)
        free(s->streams[i]);
}

static void assert_same(const struct snapshot *a, const struct snapshot *b, const char *what)
{
    if (a->all_len != b->all_len || memcmp(a->all, b->all, a->all_len) != 0)
        fail_msg("%s: all differs (%zu vs %zu bytes)", what, a->all_len, b->all_len);
    for (int i = 0; i < N_STREAMS; i++) {
        if (a->stream_len[i] != b->stream_len[i] || a->version[i] != b->version[i] ||
            (a->streams[i] && memcmp(a->streams[i], b->streams[i], a->stream_len[i]) != 0) ||
            !a->streams[i] != !b->streams[i])
            fail_msg("%s: streams/%s differs", what, names[i]);
    }
    assert_string_equal(a->listing, b->listing);
}

/* Appends n_writes multi-line writes of varied payloads. */
static void workload(const struct e2e_mount *m, uint64_t *rng, int n_writes)
{
    char *batch = malloc(1 << 20);
    assert_non_null(batch);
    for (int w = 0; w < n_writes; w++) {
        size_t len = 0, n = 1 + (size_t)(e2e_rand(rng) % 50);
        for (size_t k = 0; k < n; k++) {
            struct e2e_payload p;
            e2e_payload_make(rng, (uint64_t)w * 64 + k, 8000, &p);
            memcpy(batch + len, p.data, p.len);
            batch[len + p.len] = '\n';
            len += p.len + 1;
            e2e_payload_free(&p);
        }
        const char *path = e2e_path(m, "streams/%s", names[e2e_rand(rng) % N_STREAMS]);
        assert_int_equal(e2e_append(path, batch, len), 0);
    }
    free(batch);
}

/* The last envelope of all. */
static void last_envelope(const char *all, size_t len, struct e2e_env *e)
{
    assert_true(len > 0 && all[len - 1] == '\n');
    size_t start = len - 1;
    while (start > 0 && all[start - 1] != '\n')
        start--;
    char why[300];
    if (!e2e_env_parse(all + start, len - start, e, why, sizeof(why)))
        fail_msg("last line of all: %s", why);
}

static void test_persist_remount_keeps_everything(void **state)
{
    struct e2e_mount *m = *state;
    uint64_t rng = e2e_seed(__func__);
    workload(m, &rng, 60);
    assert_int_equal(e2e_esfs(m, NULL, NULL, "seal", m->mnt, NULL), 0);
    workload(m, &rng, 40);
    struct snapshot before;
    take_snapshot(m, &before);
    size_t n_events = e2e_count_lines(before.all, before.all_len);
    print_message("%zu events, %lld sealed segments\n", n_events,
                  e2e_metric(m, "esfs_sealed_segments"));
    assert_int_equal(e2e_umount(m), 0);

    /* offline: the store is sound, and dump serves the same bytes */
    char *out = NULL;
    size_t out_len = 0;
    assert_int_equal(e2e_esfs(m, &out, &out_len, "verify", m->store, NULL), 0);
    free(out);
    assert_int_equal(e2e_esfs(m, &out, &out_len, "dump", m->store, NULL), 0);
    assert_int_equal(out_len, before.all_len);
    assert_memory_equal(out, before.all, out_len);
    free(out);

    static const char *const small[] = {"--segment-size=64K", NULL};
    assert_int_equal(e2e_mount_opts(m, NULL, small), 0);
    struct snapshot after;
    take_snapshot(m, &after);
    assert_same(&before, &after, "after a remount");

    /* positions and versions continue */
    struct e2e_env last;
    last_envelope(before.all, before.all_len, &last);
    assert_int_equal(last.pos, n_events);
    assert_int_equal(e2e_append(e2e_path(m, "streams/%s", names[0]), "after remount\n", 14), 0);
    size_t len;
    char *all = e2e_read_all(e2e_path(m, "all"), &len);
    assert_true(len > before.all_len);
    assert_memory_equal(all, before.all, before.all_len);
    struct e2e_env e;
    last_envelope(all, len, &e);
    assert_int_equal(e.pos, n_events + 1);
    assert_string_equal(e.stream, names[0]);
    assert_int_equal(e.ver, (uint64_t)before.version[0] + 1);
    assert_true(strcmp(e.ts, last.ts) >= 0);
    free(all);
    free_snapshot(&after);
    take_snapshot(m, &after);
    assert_int_equal(e2e_umount(m), 0);

    /* once more with the default options */
    assert_int_equal(e2e_mount_opts(m, NULL, NULL), 0);
    struct snapshot again;
    take_snapshot(m, &again);
    assert_same(&after, &again, "after a second remount");
    free_snapshot(&again);
    assert_int_equal(e2e_umount(m), 0);

    /* indexes are derived: deleted, they are rebuilt and nothing is lost */
    char index_dir[PATH_MAX];
    snprintf(index_dir, sizeof(index_dir), "%s/index", m->store);
    struct stat st;
    assert_int_equal(stat(index_dir, &st), 0);
    tmpdir_remove(index_dir);
    assert_int_equal(e2e_mount_opts(m, NULL, NULL), 0);
    take_snapshot(m, &again);
    assert_same(&after, &again, "after deleting the indexes");
    free_snapshot(&again);
    assert_int_equal(e2e_umount(m), 0);
    assert_int_equal(e2e_esfs(m, &out, &out_len, "reindex", m->store, NULL), 0);
    free(out);
    assert_int_equal(e2e_esfs(m, &out, &out_len, "verify", m->store, NULL), 0);
    free(out);
    assert_int_equal(e2e_mount_opts(m, NULL, NULL), 0);
    take_snapshot(m, &again);
    assert_same(&after, &again, "after esfs reindex");
    free_snapshot(&before);
    free_snapshot(&after);
    free_snapshot(&again);
}

/* ---- a killed daemon loses no acknowledged event ---- */

#define N_KILL_WRITERS 4

static void test_persist_daemon_killed_during_appends(void **state)
{
    struct e2e_mount *m = *state;
    int res[2];
    assert_int_equal(pipe(res), 0);
    pid_t pids[N_KILL_WRITERS];
    for (unsigned p = 0; p < N_KILL_WRITERS; p++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s", e2e_path(m, "streams/W%u", p));
        pids[p] = e2e_fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            close(res[0]);
            int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
            if (fd < 0)
                _exit(2);
            unsigned acked = 0;
            for (;;) {
                char line[64];
                int len = snprintf(line, sizeof(line), "w%u k%u\n", p, acked);
                if (write(fd, line, (size_t)len) != len)
                    break;
                acked++;
            }
            unsigned msg[2] = {p, acked};
            _exit(write(res[1], msg, sizeof(msg)) == sizeof(msg) ? 0 : 3);
        }
    }
    close(res[1]);
    if (e2e_wait_metric(m, "esfs_last_position", 1500, 60000) < 1500)
        fail_msg("the writers did not get going");
    assert_int_equal(e2e_kill_daemon(m), 0);
    unsigned acked[N_KILL_WRITERS] = {0};
    for (unsigned i = 0; i < N_KILL_WRITERS; i++) {
        int status = e2e_wait(pids[i], 30000);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        unsigned msg[2];
        assert_int_equal(e2e_read_n(res[0], msg, sizeof(msg), 10000), sizeof(msg));
        acked[msg[0]] = msg[1];
    }
    close(res[0]);

    assert_int_equal(e2e_mount_opts(m, NULL, NULL), 0);
    uint64_t total = 0;
    for (unsigned p = 0; p < N_KILL_WRITERS; p++) {
        size_t len;
        char *text = e2e_read_all(e2e_path(m, "streams/W%u", p), &len);
        assert_non_null(text);
        size_t off = 0;
        const char *line;
        size_t ll;
        unsigned k = 0;
        while (e2e_next_line(text, len, &off, &line, &ll)) {
            unsigned wp, wk;
            if (e2e_scan_line(line, ll, "w%u k%u", &wp, &wk) != 2 || wp != p || wk != k)
                fail_msg("W%u: event %u is '%.*s'", p, k + 1, (int)ll, line);
            k++;
        }
        /* every acknowledged write is there; at most the one in flight more */
        if (k < acked[p] || k > acked[p] + 1)
            fail_msg("W%u: %u events after the crash, %u were acknowledged", p, k, acked[p]);
        total += k;
        free(text);
    }
    print_message("%llu events survived the kill (%u+%u+%u+%u acknowledged)\n",
                  (unsigned long long)total, acked[0], acked[1], acked[2], acked[3]);
    size_t len;
    char *all = e2e_read_all(e2e_path(m, "all"), &len);
    assert_int_equal(e2e_count_lines(all, len), total);
    struct e2e_env e;
    last_envelope(all, len, &e);
    assert_int_equal(e.pos, total);
    free(all);
    /* and it goes on */
    assert_int_equal(e2e_append(e2e_path(m, "streams/W0"), "w0 after\n", 9), 0);
    assert_int_equal(e2e_umount(m), 0);
    char *out = NULL;
    size_t out_len;
    assert_int_equal(e2e_esfs(m, &out, &out_len, "verify", m->store, NULL), 0);
    free(out);
}

/* ---- a torn tail after a crash ---- */

/* The one file in <store>/wal (the active segment), or "". */
static void active_segment(const struct e2e_mount *m, char *out, size_t cap)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/wal", m->store);
    out[0] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            snprintf(out, cap, "%s/%s", dir, de->d_name);
    closedir(d);
}

static void test_persist_torn_tail_after_crash(void **state)
{
    struct e2e_mount *m = *state;
    const char *path = e2e_path(m, "streams/T");
    for (int i = 1; i <= 5; i++) {
        char line[16];
        int n = snprintf(line, sizeof(line), "ev%d\n", i);
        assert_int_equal(e2e_append(path, line, (size_t)n), 0);
    }
    size_t all_len;
    char *all = e2e_read_all(e2e_path(m, "all"), &all_len);
    assert_non_null(all);
    assert_int_equal(e2e_kill_daemon(m), 0);
    char wal[PATH_MAX];
    active_segment(m, wal, sizeof(wal));
    if (!wal[0])
        fail_msg("no active segment in %s/wal", m->store);
    /* a frame cut short: the first 25 bytes of a copy of the last 30 */
    size_t len;
    char *data = e2e_read_all(wal, &len);
    assert_non_null(data);
    assert_true(len > 30);
    int fd = open(wal, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data + len - 30, 25), 25);
    close(fd);
    free(data);

    assert_int_equal(e2e_mount_opts(m, NULL, NULL), 0);
    if (!e2e_log_has(m, "cut", "torn", NULL)) {
        e2e_log_dump(m);
        fail_msg("the recovery did not log the torn tail");
    }
    char *again = e2e_read_all(e2e_path(m, "all"), &len);
    assert_non_null(again);
    assert_int_equal(len, all_len);
    assert_memory_equal(again, all, len);
    free(again);
    assert_int_equal(e2e_append(path, "ev6\n", 4), 0);
    data = e2e_read_all(path, &len);
    assert_int_equal(len, 24);
    assert_memory_equal(data, "ev1\nev2\nev3\nev4\nev5\nev6\n", 24);
    free(data);
    free(all);
}

/* ---- SIGTERM ---- */

static void test_persist_sigterm_stops_cleanly(void **state)
{
    struct e2e_mount *m = *state;
    int res[2];
    assert_int_equal(pipe(res), 0);
    pid_t writer = e2e_fork();
    assert_true(writer >= 0);
    if (writer == 0) {
        close(res[0]);
        int fd = open(e2e_path(m, "streams/Busy"), O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (fd < 0)
            _exit(2);
        unsigned acked = 0;
        for (;;) {
            char line[32];
            int len = snprintf(line, sizeof(line), "k%u\n", acked);
            if (write(fd, line, (size_t)len) != len)
                break;
            acked++;
        }
        _exit(write(res[1], &acked, sizeof(acked)) == sizeof(acked) ? 0 : 3);
    }
    close(res[1]);
    int cat_out[2];
    assert_int_equal(pipe2(cat_out, O_CLOEXEC), 0);
    const char *argv[] = {"cat", e2e_path(m, "watch/streams/Never"), NULL};
    pid_t cat = e2e_spawn(m, argv, -1, cat_out[1], -1);
    close(cat_out[1]);
    if (e2e_wait_metric(m, "esfs_watchers", 1, 30000) < 1)
        fail_msg("the watcher did not park");
    if (e2e_wait_metric(m, "esfs_last_position", 300, 30000) < 300)
        fail_msg("the writer did not get going");

    pid_t daemon = m->daemon;
    assert_int_equal(kill(daemon, SIGTERM), 0);
    bool was_mounted = true;
    assert_int_equal(e2e_wait_daemon_exit(m, 30000, &was_mounted), 0);
    assert_false(was_mounted); /* the daemon unmounted itself */
    /* the blocked reader was answered with an error, promptly */
    int status = e2e_wait(cat, 10000);
    assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0);
    status = e2e_wait(writer, 30000);
    assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    unsigned acked = 0;
    assert_int_equal(e2e_read_n(res[0], &acked, sizeof(acked), 10000), sizeof(acked));
    close(res[0]);
    close(cat_out[0]);
    if (!e2e_log_has(m, "stopping", "signal 15", NULL) ||
        !e2e_log_has(m, "info: stopped", NULL, NULL)) {
        e2e_log_dump(m);
        fail_msg("the log does not tell a clean stop on SIGTERM");
    }
    assert_false(e2e_log_has(m, "loop error", NULL, NULL));

    assert_int_equal(e2e_mount_opts(m, NULL, NULL), 0);
    long v = e2e_version(e2e_path(m, "streams/Busy"));
    if (v < (long)acked || v > (long)acked + 1)
        fail_msg("%ld events after SIGTERM, %u were acknowledged", v, acked);
    print_message("SIGTERM: %u appends acknowledged, %ld kept\n", acked, v);
}

/* ---- read-only mounts of copies ---- */

/* A listing of every file under dir with its size and content hash. */
static void tree_digest(const char *dir, const char *rel, char **out, size_t *len, size_t *cap)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s%s%s", dir, *rel ? "/" : "", rel);
    DIR *d = opendir(path);
    assert_non_null(d);
    char *ents[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 256)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            ents[n++] = strdup(de->d_name);
    closedir(d);
    qsort(ents, n, sizeof(ents[0]), cmp_str);
    for (size_t i = 0; i < n; i++) {
        char sub[PATH_MAX], full[PATH_MAX];
        snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", ents[i]);
        snprintf(full, sizeof(full), "%s/%s", dir, sub);
        struct stat st;
        assert_int_equal(lstat(full, &st), 0);
        uint64_t h = 1469598103934665603ull;
        if (S_ISREG(st.st_mode)) {
            size_t flen;
            char *data = e2e_read_all(full, &flen);
            assert_non_null(data);
            for (size_t k = 0; k < flen; k++)
                h = (h ^ (unsigned char)data[k]) * 1099511628211ull;
            free(data);
        }
        if (*len + PATH_MAX + 64 > *cap) {
            *cap = (*cap + PATH_MAX + 64) * 2;
            *out = realloc(*out, *cap);
        }
        *len +=
            (size_t)snprintf(*out + *len, *cap - *len, "%s %o %lld %llx\n", sub,
                             (unsigned)st.st_mode, (long long)st.st_size, (unsigned long long)h);
        if (S_ISDIR(st.st_mode))
            tree_digest(dir, sub, out, len, cap);
        free(ents[i]);
    }
}

static char *digest(const char *dir)
{
    char *out = NULL;
    size_t len = 0, cap = 0;
    tree_digest(dir, "", &out, &len, &cap);
    if (!out)
        out = strdup("");
    return out;
}

static void expect_erofs(long rc, const char *what)
{
    if (rc != -1 || errno != EROFS)
        fail_msg("%s on a read-only mount: %ld (%s), expected EROFS", what, rc, strerror(errno));
}

static void writes_refused(struct e2e_mount *ro)
{
    errno = 0;
    expect_erofs(open(e2e_path(ro, "streams/%s", names[0]), O_WRONLY | O_APPEND),
                 "open for append");
    errno = 0;
    expect_erofs(open(e2e_path(ro, "streams/Brand-new"), O_WRONLY | O_APPEND | O_CREAT, 0644),
                 "create");
    errno = 0;
    expect_erofs(open(e2e_path(ro, ".esfs/seal"), O_WRONLY), "open .esfs/seal");
    errno = 0;
    expect_erofs(
        setxattr(e2e_path(ro, "streams/%s", names[0]), "user.esfs.expected_version", "1", 1, 0),
        "setxattr expected_version");
    errno = 0;
    expect_erofs(truncate(e2e_path(ro, "streams/%s", names[0]), 0), "truncate");
    assert_int_not_equal(e2e_esfs(ro, NULL, NULL, "seal", ro->mnt, NULL), 0);
    assert_int_equal(
        e2e_esfs(ro, NULL, NULL, "append", e2e_path(ro, "streams/%s", names[0]), "nope", NULL), 1);
    assert_int_not_equal(
        e2e_sh(ro, "{ echo x >> \"$1\"; } 2>/dev/null", e2e_path(ro, "streams/%s", names[0]), NULL),
        0);
}

static void test_persist_read_only_copies(void **state)
{
    struct e2e_mount *m = *state;
    uint64_t rng = e2e_seed(__func__);
    workload(m, &rng, 30);
    assert_int_equal(e2e_esfs(m, NULL, NULL, "seal", m->mnt, NULL), 0);
    struct snapshot sealed;
    take_snapshot(m, &sealed);
    workload(m, &rng, 20); /* in the active segment only */
    struct snapshot full;
    take_snapshot(m, &full);
    assert_true(full.all_len > sealed.all_len);

    /* copies taken while the daemon runs */
    struct e2e_mount *live = e2e_new("ro-live");
    struct e2e_mount *seg = e2e_new("ro-seg");
    assert_non_null(live);
    assert_non_null(seg);
    assert_int_equal(tree_copy(m->store, live->store), 0);
    mkdir(seg->store, 0755);
    char segdir[PATH_MAX], src[PATH_MAX];
    snprintf(segdir, sizeof(segdir), "%s/segments", seg->store);
    snprintf(src, sizeof(src), "%s/segments", m->store);
    assert_int_equal(tree_copy(src, segdir), 0);
    char *live_digest = digest(live->store), *seg_digest = digest(seg->store);

    static const char *const ro[] = {"--read-only", NULL};
    assert_int_equal(e2e_mount_opts(live, NULL, ro), 0);
    assert_int_equal(e2e_mount_opts(seg, NULL, ro), 0);
    struct snapshot got;
    take_snapshot(live, &got);
    assert_same(&full, &got, "read-only mount of a copy of the live store");
    free_snapshot(&got);
    take_snapshot(seg, &got);
    assert_same(&sealed, &got, "read-only mount of a copy of segments/");
    free_snapshot(&got);
    writes_refused(live);
    writes_refused(seg);
    assert_int_equal(e2e_umount(live), 0);
    assert_int_equal(e2e_umount(seg), 0);
    /* nothing was written to either directory */
    char *d2 = digest(live->store), *d3 = digest(seg->store);
    assert_string_equal(live_digest, d2);
    assert_string_equal(seg_digest, d3);
    free(d2);
    free(d3);
    free(live_digest);
    free(seg_digest);
    char *out = NULL;
    size_t out_len;
    assert_int_equal(e2e_esfs(seg, &out, &out_len, "verify", seg->store, NULL), 0);
    free(out);

    /* the original, read-only once its daemon is gone */
    assert_int_equal(e2e_umount(m), 0);
    assert_int_equal(e2e_mount_opts(m, NULL, ro), 0);
    take_snapshot(m, &got);
    assert_same(&full, &got, "read-only mount of the store itself");
    free_snapshot(&got);
    assert_int_equal(e2e_umount(m), 0);

    /* the segments copy mounted read-write continues after the seal */
    assert_int_equal(e2e_mount_opts(seg, NULL, NULL), 0);
    assert_int_equal(e2e_append(e2e_path(seg, "streams/Restored"), "next\n", 5), 0);
    size_t len;
    char *all = e2e_read_all(e2e_path(seg, "all"), &len);
    assert_int_equal(len > sealed.all_len, true);
    assert_memory_equal(all, sealed.all, sealed.all_len);
    struct e2e_env e;
    last_envelope(all, len, &e);
    assert_int_equal(e.pos, e2e_count_lines(sealed.all, sealed.all_len) + 1);
    free(all);
    assert_int_equal(e2e_free(live), 0);
    assert_int_equal(e2e_free(seg), 0);
    free_snapshot(&sealed);
    free_snapshot(&full);
}

int main(void)
{
    e2e_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_persist_remount_keeps_everything, e2e_setup,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_persist_daemon_killed_during_appends, e2e_setup,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_persist_read_only_copies, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_persist_torn_tail_after_crash, e2e_setup,
                                        e2e_teardown),
        cmocka_unit_test_setup_teardown(test_persist_sigterm_stops_cleanly, e2e_setup,
                                        e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
