/*
 * test_corruption.c - damage on purpose: bit flips and truncations in a
 * sealed segment (header, a block, the block index, the footer), in the
 * active segment (header, a middle frame with valid frames after it, the
 * last frame, a cut inside a frame) and in every index file (flips,
 * truncations, removal). For each, on a fresh copy of one store:
 *   - `esfs verify` names the file and the offset, and exits 1, except for
 *     a torn tail of the active segment (reported, exit 0: the next open
 *     cuts it) and a missing index file (reported, rebuilt at the next open);
 *   - mounting either refuses with a message naming the file (damaged
 *     segment metadata), or serves the store: then every byte read through
 *     the mount is what the intact store serves at that offset, and a read
 *     of damaged data fails with EIO, never returns other bytes;
 *   - a damaged index is rebuilt at the mount (logged) and serves exactly
 *     the intact store's bytes; verify is clean after the unmount.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mount_util.h"
#include "support/tmpdir.h"

struct corrupt {
    struct mu_mount m;
    char pristine[PATH_MAX + 32];
    char *all;
    size_t all_len;
    char *stream[3];
    size_t stream_len[3];
    char seg[PATH_MAX + 64]; /* relative: segments/<first>.seg (the first) */
    char wal[PATH_MAX + 64]; /* relative: wal/<first>.wal (the active one) */
    uint64_t seg2_all_off;   /* where the second segment's events start in all */
    unsigned cases, refused, eio_reads, rebuilt;
};

static const char *const streams[3] = {"Order-1", "Order-2", "Invoice-7"};

static int setup(void **state)
{
    struct corrupt *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    mu_init(&c->m, "corrupt");
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct corrupt *c = *state;
    mu_cleanup(&c->m);
    free(c->all);
    for (int i = 0; i < 3; i++)
        free(c->stream[i]);
    free(c);
    return 0;
}

static void first_file(const char *dir, const char *suffix, bool last, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char best[256] = "";
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < strlen(suffix) || strcmp(de->d_name + l - strlen(suffix), suffix) != 0)
            continue;
        if (!best[0] || (last ? strcmp(de->d_name, best) > 0 : strcmp(de->d_name, best) < 0))
            snprintf(best, sizeof(best), "%s", de->d_name);
    }
    closedir(d);
    assert_true(best[0] != '\0');
    snprintf(out, cap, "%s", best);
}

static char *read_mnt(struct corrupt *c, const char *rel, size_t *len, int *err)
{
    char p[PATH_MAX + 128];
    snprintf(p, sizeof(p), "%s/%s", c->m.mnt, rel);
    return mu_read(p, len, err);
}

/* Builds the store: 3 sealed segments' worth of events, an active segment
 * holding more, a checkpoint; keeps the views it serves. */
static void build(struct corrupt *c)
{
    char err[2048];
    if (mu_mount(&c->m, err, sizeof(err), "--segment-size=64K", (const char *)NULL))
        fail_msg("mount: %s", err);
    char buf[16384];
    for (int i = 0; i < 90; i++) {
        size_t len = 0;
        for (int k = 0; k < 8; k++) {
            int e = i * 8 + k;
            if (e % 3 == 0)
                len += (size_t)sprintf(buf + len, "{\"type\":\"Placed\",\"n\":%d,\"pad\":\"", e);
            else
                len += (size_t)sprintf(buf + len, "event %d ", e);
            for (int p = 0; p < 150 + e % 200; p++)
                buf[len++] = (char)('a' + (e + p) % 26);
            if (e % 3 == 0)
                len += (size_t)sprintf(buf + len, "\"}");
            buf[len++] = '\n';
        }
        char p[PATH_MAX + 64];
        snprintf(p, sizeof(p), "%s/streams/%s", c->m.mnt, streams[i % 3]);
        assert_int_equal(mu_append(p, buf, len), 0);
    }
    int err_no;
    c->all = read_mnt(c, "all", &c->all_len, &err_no);
    assert_non_null(c->all);
    for (int i = 0; i < 3; i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "streams/%s", streams[i]);
        c->stream[i] = read_mnt(c, rel, &c->stream_len[i], &err_no);
        assert_non_null(c->stream[i]);
    }
    int st = mu_umount(&c->m);
    if (st != 0)
        fail_msg("clean stop: %#x", st);
    char dir[PATH_MAX + 64];
    snprintf(dir, sizeof(dir), "%s/segments", c->m.store);
    first_file(dir, ".seg", false, c->seg, sizeof(c->seg));
    char name2[256];
    /* the second segment starts at the position in its name */
    DIR *d = opendir(dir);
    unsigned long long first2 = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        unsigned long long v;
        if (sscanf(de->d_name, "%20llu.seg", &v) == 1 && v > 1 && (!first2 || v < first2))
            first2 = v;
    }
    closedir(d);
    if (!first2)
        fail_msg("the store has fewer than two sealed segments");
    snprintf(name2, sizeof(name2), "{\"pos\":%llu,", first2);
    char *at = strstr(c->all, name2);
    assert_non_null(at);
    c->seg2_all_off = (uint64_t)(at - c->all);
    char seg[PATH_MAX + 64];
    snprintf(seg, sizeof(seg), "segments/%s", c->seg);
    snprintf(c->seg, sizeof(c->seg), "%s", seg);
    snprintf(dir, sizeof(dir), "%s/wal", c->m.store);
    char w[256];
    first_file(dir, ".wal", true, w, sizeof(w));
    snprintf(c->wal, sizeof(c->wal), "wal/%s", w);
    snprintf(c->pristine, sizeof(c->pristine), "%s/pristine", c->m.root);
    assert_int_equal(tree_copy(c->m.store, c->pristine), 0);
    char out[8192];
    int rc = mu_runl(out, sizeof(out), "esfs", "verify", c->m.store, (const char *)NULL);
    if (rc != 0)
        fail_msg("verify of the intact store: %s", out);
}

/* ---- damage ---- */

enum dmg { FLIP, CUT, REMOVE };

static int64_t fsize(struct corrupt *c, const char *rel)
{
    char p[PATH_MAX + 128];
    snprintf(p, sizeof(p), "%s/%s", c->m.store, rel);
    return file_size(p);
}

static void damage(struct corrupt *c, const char *rel, enum dmg kind, int64_t off)
{
    char p[PATH_MAX + 128];
    snprintf(p, sizeof(p), "%s/%s", c->m.store, rel);
    if (kind == REMOVE) {
        assert_int_equal(unlink(p), 0);
        return;
    }
    if (kind == CUT) {
        assert_int_equal(truncate(p, off), 0);
        return;
    }
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static uint64_t le64_at(struct corrupt *c, const char *rel, int64_t off)
{
    char p[PATH_MAX + 128];
    snprintf(p, sizeof(p), "%s/%s", c->m.store, rel);
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    unsigned char b[8];
    assert_int_equal(pread(fd, b, 8, off), 8);
    close(fd);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* File offset of the frame n frames from the end of the active wal (1:
 * the last) and the offset of the middle frame. */
static void wal_frames(struct corrupt *c, int64_t *last, int64_t *middle)
{
    char p[PATH_MAX + 128];
    snprintf(p, sizeof(p), "%s/%s", c->m.store, c->wal);
    size_t len;
    char *d = file_read_all(p, &len);
    assert_non_null(d);
    int64_t offs[4096];
    int n = 0;
    for (size_t o = 64; o + 44 <= len && n < 4096;) {
        const unsigned char *f = (const unsigned char *)d + o;
        size_t size = 52 + f[6] + (size_t)(f[8] | f[9] << 8) +
                      (size_t)(f[12] | f[13] << 8 | f[14] << 16 | (uint32_t)f[15] << 24);
        offs[n++] = (int64_t)o;
        o += size;
    }
    free(d);
    if (n < 3)
        fail_msg("the active segment holds only %d frames", n);
    *last = offs[n - 1];
    *middle = offs[n / 2];
}

/* ---- checks ---- */

static void fresh_copy(struct corrupt *c)
{
    tmpdir_remove(c->m.store);
    assert_int_equal(tree_copy(c->pristine, c->m.store), 0);
}

/* Reads rel through the mount from offset 0 in 7000-byte reads: what comes
 * back must be a prefix of want; returns 0 at a clean end, else the errno. */
static int read_prefix(struct corrupt *c, const char *rel, const char *want, size_t want_len,
                       uint64_t from, size_t *got_out, const char *what)
{
    char p[PATH_MAX + 128];
    snprintf(p, sizeof(p), "%s/%s", c->m.mnt, rel);
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return errno;
    char buf[7000];
    uint64_t off = from;
    int err = 0;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof(buf), (off_t)off);
        if (n < 0) {
            err = errno;
            break;
        }
        if (n == 0)
            break;
        if (off + (uint64_t)n > want_len || memcmp(buf, want + off, (size_t)n) != 0)
            fail_msg("%s: %s served %zd bytes at offset %llu that the intact store does not "
                     "hold there",
                     what, rel, n, (unsigned long long)off);
        off += (uint64_t)n;
    }
    close(fd);
    if (got_out)
        *got_out = (size_t)(off - from);
    return err;
}

struct verdict {
    int verify_rc;
    char verify_out[16384];
    bool mounted;
    char mount_err[2048];
    bool eio;            /* some read failed with EIO */
    size_t all_served;   /* bytes of all served from offset 0 */
    bool all_complete;   /* all of it */
    bool streams_intact; /* every stream served whole */
    int tail_err;        /* reading all from the second segment on */
    size_t tail_served;
};

static void run_case(struct corrupt *c, const char *what, struct verdict *v)
{
    memset(v, 0, sizeof(*v));
    c->cases++;
    v->verify_rc = mu_runl(v->verify_out, sizeof(v->verify_out), "esfs", "verify", c->m.store,
                           (const char *)NULL);
    unlink(c->m.log);
    int rc = mu_mount(&c->m, v->mount_err, sizeof(v->mount_err), "--segment-size=64K",
                      (const char *)NULL);
    if (rc) {
        c->refused++;
        return;
    }
    v->mounted = true;
    int err = read_prefix(c, "all", c->all, c->all_len, 0, &v->all_served, what);
    if (err && err != EIO)
        fail_msg("%s: reading all failed with %s, not EIO", what, strerror(err));
    v->eio |= err == EIO;
    v->all_complete = !err && v->all_served == c->all_len;
    v->tail_err = read_prefix(c, "all", c->all, c->all_len, c->seg2_all_off, &v->tail_served, what);
    v->streams_intact = true;
    for (int i = 0; i < 3; i++) {
        char rel[64];
        snprintf(rel, sizeof(rel), "streams/%s", streams[i]);
        size_t got;
        err = read_prefix(c, rel, c->stream[i], c->stream_len[i], 0, &got, what);
        if (err && err != EIO)
            fail_msg("%s: reading %s failed with %s, not EIO", what, rel, strerror(err));
        v->eio |= err == EIO;
        v->streams_intact &= !err && got == c->stream_len[i];
    }
    if (!mu_daemon_alive(&c->m))
        fail_msg("%s: the daemon died (status %#x)", what, c->m.daemon_status);
    int st = mu_umount(&c->m);
    if (st != 0)
        fail_msg("%s: unclean stop: %#x", what, st);
    c->eio_reads += v->eio;
}

static void expect_named(struct corrupt *c, const struct verdict *v, const char *what,
                         const char *file, bool with_offset)
{
    (void)c;
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    /* the offset, or for a file too short for anything its size */
    if (!strstr(v->verify_out, base) ||
        (with_offset && !strstr(v->verify_out, "offset") && !strstr(v->verify_out, " bytes")))
        fail_msg("%s: esfs verify does not name %s%s:\n%s", what, file,
                 with_offset ? " and an offset" : "", v->verify_out);
}

/* Sealed segment damage: verify fails naming the file and offset; a mount
 * refuses (naming the file) or serves intact bytes and EIO for the rest. */
static void sealed_case(struct corrupt *c, const char *what, enum dmg kind, int64_t off)
{
    fresh_copy(c);
    damage(c, c->seg, kind, off);
    struct verdict v;
    run_case(c, what, &v);
    if (v.verify_rc != 1)
        fail_msg("%s: esfs verify exit %d, expected 1:\n%s", what, v.verify_rc, v.verify_out);
    expect_named(c, &v, what, c->seg, true);
    if (!v.mounted) {
        if (!strstr(v.mount_err, strrchr(c->seg, '/') + 1))
            fail_msg("%s: the mount was refused without naming %s: %s", what, c->seg, v.mount_err);
        return;
    }
    if (v.all_complete && v.streams_intact)
        fail_msg("%s: the damaged segment was served as if intact", what);
    if (!v.eio)
        fail_msg("%s: no read failed with EIO", what);
    /* the damage is contained: the later segments still read */
    if (v.tail_err || v.tail_served != c->all_len - c->seg2_all_off)
        fail_msg("%s: reading all from the next segment on: %s, %zu of %zu bytes", what,
                 v.tail_err ? strerror(v.tail_err) : "no error", v.tail_served,
                 (size_t)(c->all_len - c->seg2_all_off));
}

static void test_corruption_sealed_segment(void **state)
{
    struct corrupt *c = *state;
    const char *why = mu_skip_reason();
    if (why) {
        print_message("[ corruption ] skipped: %s\n", why);
        skip();
    }
    build(c);
    int64_t size = fsize(c, c->seg);
    uint64_t index_off = le64_at(c, c->seg, size - 128 + 48);
    sealed_case(c, "sealed: header bit flip", FLIP, 20);
    sealed_case(c, "sealed: block bit flip", FLIP, 64 + 300);
    sealed_case(c, "sealed: bit flip in the last block", FLIP, (int64_t)index_off - 5);
    sealed_case(c, "sealed: block index bit flip", FLIP, (int64_t)index_off + 10);
    sealed_case(c, "sealed: footer bit flip", FLIP, size - 128 + 30);
    sealed_case(c, "sealed: footer check bit flip", FLIP, size - 3);
    sealed_case(c, "sealed: cut by 100 bytes", CUT, size - 100);
    sealed_case(c, "sealed: cut inside the blocks", CUT, 64 + 1000);
    sealed_case(c, "sealed: cut to nothing", CUT, 0);
    /* a block flip on a mounted store: the mount works, reads give EIO */
    fresh_copy(c);
    damage(c, c->seg, FLIP, 64 + 300);
    struct verdict v;
    run_case(c, "sealed: block flip, reads", &v);
    if (!v.mounted || !v.eio)
        fail_msg("a flipped block: mounted %d, EIO %d (%s)", v.mounted, v.eio, v.mount_err);
    print_message("[ corruption ] sealed segment: %u cases, %u mounts refused naming the file, "
                  "%u served intact bytes and EIO\n",
                  c->cases, c->refused, c->eio_reads);
}

/* Active segment damage. */
static void test_corruption_active_segment(void **state)
{
    struct corrupt *c = *state;
    const char *why = mu_skip_reason();
    if (why) {
        print_message("[ corruption ] skipped: %s\n", why);
        skip();
    }
    build(c);
    int64_t last, middle;
    wal_frames(c, &last, &middle);
    int64_t size = fsize(c, c->wal);
    struct verdict v;
    size_t last_line = c->all_len - 1;
    while (last_line > 0 && c->all[last_line - 1] != '\n')
        last_line--;

    /* a flip with valid frames after it: corruption, reported; the mount
     * cuts there (keeping the bytes in lost+found/, logged as an error) */
    fresh_copy(c);
    damage(c, c->wal, FLIP, middle + 50);
    run_case(c, "active: middle frame flip", &v);
    if (v.verify_rc != 1)
        fail_msg("middle frame flip: verify exit %d:\n%s", v.verify_rc, v.verify_out);
    expect_named(c, &v, "active: middle frame flip", c->wal, true);
    if (!v.mounted)
        fail_msg("middle frame flip: mount refused: %s", v.mount_err);
    if (v.all_complete)
        fail_msg("middle frame flip: the damaged frame was served");
    if (!mu_log_has(&c->m, "recovery", "cut", "lost+found", (const char *)NULL))
        fail_msg("middle frame flip: the cut is not logged");
    char out[8192];
    if (mu_runl(out, sizeof(out), "esfs", "verify", c->m.store, (const char *)NULL) != 0)
        fail_msg("middle frame flip: verify after the recovery:\n%s", out);

    /* Damage to the last frame looks exactly like a torn write, and is cut
     * as one. But that frame was acknowledged and the index checkpoint
     * covers it: verify reports the index ahead of the log (exit 1), and the
     * mount serves everything before it. */
    const struct {
        const char *what;
        enum dmg kind;
        int64_t off;
    } lastf[] = {
        {"active: last frame flip", FLIP, last + 30},
        {"active: cut inside the last frame", CUT, last + 20},
        {"active: cut inside the last frame's header", CUT, last + 5},
    };
    for (size_t i = 0; i < sizeof(lastf) / sizeof(lastf[0]); i++) {
        fresh_copy(c);
        damage(c, c->wal, lastf[i].kind, lastf[i].off);
        run_case(c, lastf[i].what, &v);
        if (v.verify_rc != 1 || !strstr(v.verify_out, "torn tail") ||
            !strstr(v.verify_out, "checkpoint is ahead of the log"))
            fail_msg("%s: verify exit %d, expected 1 with the torn tail and the index ahead:\n%s",
                     lastf[i].what, v.verify_rc, v.verify_out);
        expect_named(c, &v, lastf[i].what, c->wal, true);
        if (!v.mounted)
            fail_msg("%s: mount refused: %s", lastf[i].what, v.mount_err);
        if (v.all_served != last_line)
            fail_msg("%s: %zu bytes of all served after the cut, expected %zu", lastf[i].what,
                     v.all_served, last_line);
        if (mu_runl(out, sizeof(out), "esfs", "verify", c->m.store, (const char *)NULL) != 0)
            fail_msg("%s: verify after the recovery:\n%s", lastf[i].what, out);
    }

    /* A torn write: bytes after the last acknowledged frame (a frame's
     * beginning, or zeros from a file size that got ahead of its data).
     * Verify reports it and exits 0; the mount cuts it and serves all. */
    const struct {
        const char *what;
        const char *bytes;
        size_t n;
    } torn[] = {
        {"active: a frame header torn after the last frame", "ESFR\x01\x00\x07\x00", 8},
        {"active: zeros after the last frame", NULL, 3000},
    };
    for (size_t i = 0; i < sizeof(torn) / sizeof(torn[0]); i++) {
        fresh_copy(c);
        char p[PATH_MAX + 128];
        snprintf(p, sizeof(p), "%s/%s", c->m.store, c->wal);
        if (torn[i].bytes) {
            FILE *f = fopen(p, "ab");
            assert_non_null(f);
            fwrite(torn[i].bytes, 1, torn[i].n, f);
            fclose(f);
        } else {
            damage(c, c->wal, CUT, size + (int64_t)torn[i].n);
        }
        run_case(c, torn[i].what, &v);
        if (v.verify_rc != 0 || !strstr(v.verify_out, "torn tail"))
            fail_msg("%s: verify exit %d, expected 0 reporting a torn tail:\n%s", torn[i].what,
                     v.verify_rc, v.verify_out);
        expect_named(c, &v, torn[i].what, c->wal, true);
        if (!v.mounted || !v.all_complete || !v.streams_intact)
            fail_msg("%s: mounted %d, all served %zu of %zu bytes", torn[i].what, v.mounted,
                     v.all_served, c->all_len);
        if (!mu_log_has(&c->m, "recovery", "cut", (const char *)NULL))
            fail_msg("%s: the cut is not logged", torn[i].what);
    }

    /* the active segment's header: refused, or set aside (never served
     * as something else) */
    fresh_copy(c);
    damage(c, c->wal, FLIP, 16);
    run_case(c, "active: header flip", &v);
    if (v.verify_rc == 0)
        fail_msg("active header flip: verify exit 0:\n%s", v.verify_out);
    expect_named(c, &v, "active: header flip", c->wal, true);
    if (!v.mounted && !strstr(v.mount_err, strrchr(c->wal, '/') + 1))
        fail_msg("active header flip: refused without naming the file: %s", v.mount_err);
    print_message("[ corruption ] active segment: %u cases\n", c->cases);
}

/* Index damage: always rebuilt at the mount, serving the intact bytes. */
static void test_corruption_index(void **state)
{
    struct corrupt *c = *state;
    const char *why = mu_skip_reason();
    if (why) {
        print_message("[ corruption ] skipped: %s\n", why);
        skip();
    }
    build(c);
    const struct {
        const char *what, *file;
        enum dmg kind;
        int64_t off; /* negative: from the end */
    } cases[] = {
        {"global.idx: magic flip", "index/global.idx", FLIP, 2},
        {"global.idx: entry flip", "index/global.idx", FLIP, 64 + 16 * 7 + 3},
        {"global.idx: last entry flip", "index/global.idx", FLIP, 64 + 16 * 719 + 9},
        {"global.idx: cut to 100 bytes", "index/global.idx", CUT, 100},
        {"global.idx: cut to nothing", "index/global.idx", CUT, 0},
        {"global.idx: removed", "index/global.idx", REMOVE, 0},
        {"streams.idx: header flip", "index/streams.idx", FLIP, 9},
        {"streams.idx: entry flip", "index/streams.idx", FLIP, 64 + 5},
        {"streams.idx: cut to 64 bytes", "index/streams.idx", CUT, 64},
        {"streams.idx: removed", "index/streams.idx", REMOVE, 0},
        {"checkpoint: header flip", "index/checkpoint", FLIP, 20},
        {"checkpoint: stream table flip", "index/checkpoint", FLIP, 100},
        {"checkpoint: check flip", "index/checkpoint", FLIP, -2},
        {"checkpoint: cut by 9 bytes", "index/checkpoint", CUT, -9},
        {"checkpoint: removed", "index/checkpoint", REMOVE, 0},
    };
    unsigned reported = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fresh_copy(c);
        int64_t off = cases[i].off;
        if (off < 0)
            off += fsize(c, cases[i].file);
        damage(c, cases[i].file, cases[i].kind, off);
        struct verdict v;
        run_case(c, cases[i].what, &v);
        /* verify names the index and why; a missing file is "none yet" */
        if (v.verify_rc == 1)
            reported++;
        else if (cases[i].kind != REMOVE)
            fail_msg("%s: esfs verify exit %d:\n%s", cases[i].what, v.verify_rc, v.verify_out);
        if (!strstr(v.verify_out, "index"))
            fail_msg("%s: verify says nothing about the index:\n%s", cases[i].what, v.verify_out);
        if (!v.mounted)
            fail_msg("%s: mount refused over a damaged index: %s", cases[i].what, v.mount_err);
        if (!v.all_complete || !v.streams_intact)
            fail_msg("%s: the rebuilt index does not serve the intact store (%zu of %zu bytes "
                     "of all)",
                     cases[i].what, v.all_served, c->all_len);
        if (!mu_log_has(&c->m, "index", "rebuilding", (const char *)NULL))
            fail_msg("%s: no rebuild was logged", cases[i].what);
        c->rebuilt++;
        char out[8192];
        if (mu_runl(out, sizeof(out), "esfs", "verify", c->m.store, (const char *)NULL) != 0)
            fail_msg("%s: verify after the rebuild:\n%s", cases[i].what, out);
    }
    print_message("[ corruption ] index: %u cases, %u reported by verify, all rebuilt at the "
                  "mount and served intact\n",
                  c->cases, reported);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_corruption_sealed_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption_active_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corruption_index, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
