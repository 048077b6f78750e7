/*
 * test_verify.c - the offline tools (src/store/verify.c): es_store_verify
 * on a sound store (0, nothing written), on damage of every kind (a bit
 * flip in a sealed block, a damaged header, block index or footer, a
 * missing segment, a damaged complete wal, version and timestamp errors, a
 * damaged or foreign index), each reported with its file and offset and
 * returning ES_ECORRUPT, and on a torn tail (reported, not a problem);
 * es_store_reindex; es_store_scan rendered with es_envelope_render against
 * es_store_read_view(ES_VIEW_ALL); and verify and scan while a store runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"
#include "esfs/esfs.h"
#include "format/frame.h"
#include "log/log.h"
#include "log/segment.h"
#include "support/fault_io.h"
#include "support/store_util.h"
#include "support/tmpdir.h"

#define SEG1 "00000000000000000001.seg"

/* ---- the report ---- */

struct report {
    char *text; /* "P line\n" for problems, "- line\n" for the rest */
    size_t len, cap;
    unsigned n_problems, n_lines;
};

static void report_fn(void *arg, bool is_problem, const char *line)
{
    struct report *r = arg;
    size_t n = strlen(line) + 3;
    if (r->len + n + 1 > r->cap) {
        r->cap = (r->cap + n + 1) * 2;
        r->text = realloc(r->text, r->cap);
    }
    r->len += (size_t)snprintf(r->text + r->len, r->cap - r->len, "%c %s\n", is_problem ? 'P' : '-',
                               line);
    r->n_problems += is_problem;
    r->n_lines++;
}

/* Verifies path; returns its result, the report in *r (reset first). */
static int verify(const char *path, struct report *r, struct es_verify_summary *sum)
{
    memset(r->text ? r->text : (r->text = malloc(r->cap = 4096)), 0, 1);
    r->len = 0;
    r->n_problems = r->n_lines = 0;
    int rc = es_store_verify(path, report_fn, r, sum);
    assert_int_equal(r->n_problems, sum->problems);
    return rc;
}

/* Whether a line of the kind (problem or not) contains all of the texts. */
static bool has_line(const struct report *r, bool problem, const char *a, const char *b)
{
    const char *p = r->text;
    while (p && *p) {
        const char *end = strchr(p, '\n');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char line[1200];
        snprintf(line, sizeof(line), "%.*s", (int)n, p);
        if ((line[0] == 'P') == problem && strstr(line, a) && (!b || strstr(line, b)))
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

static void expect_line(const struct report *r, bool problem, const char *a, const char *b,
                        int line)
{
    if (!has_line(r, problem, a, b))
        fail_msg("line %d: no %s line with \"%s\"%s%s in:\n%s", line,
                 problem ? "problem" : "report", a, b ? " and " : "", b ? b : "", r->text);
}
#define EXPECT_LINE(r, problem, a, b) expect_line((r), (problem), (a), (b), __LINE__)

static int verify_teardown(void **state)
{
    es_io_set(NULL);
    return su_teardown(state);
}

#define VERIFY_TEST(fn) cmocka_unit_test_setup_teardown(fn, su_setup, verify_teardown)

/* ---- a seam that notes opens for writing (over fault_io) ---- */

static const struct es_io_ops *ro_below;
static struct es_io_ops ro_ops;
static _Atomic unsigned ro_write_opens;

static int ro_open(const char *path, int flags, mode_t mode)
{
    if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC)))
        atomic_fetch_add(&ro_write_opens, 1);
    return ro_below->open(path, flags, mode);
}

static void ro_install(void)
{
    ro_below = es_io;
    ro_ops = *es_io;
    ro_ops.open = ro_open;
    atomic_store(&ro_write_opens, 0);
    es_io_set(&ro_ops);
}

/* ---- stores ---- */

/* 2 sealed segments (the first of several blocks) and a wal. */
static void make_store(struct su_fixture *f, const char *path, bool compress)
{
    struct es_options o;
    su_options(&o, &f->cap);
    o.compress = compress;
    struct es_store *s = su_open(path, &o);
    su_fill(s, 1, 2000, 6);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 2001, 100, 6);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 2101, 40, 6);
    su_close(s);
}

static void test_verify_sound_store(void **state)
{
    struct su_fixture *f = *state;
    make_store(f, f->store, true);
    fault_io_install();
    ro_install();
    struct report r = {0};
    struct es_verify_summary sum;
    assert_int_equal(verify(f->store, &r, &sum), 0);
    assert_int_equal(sum.problems, 0);
    assert_int_equal(sum.segments, 3);
    assert_int_equal(sum.events, 2140);
    assert_int_equal(sum.streams, 6);
    assert_int_equal(sum.torn_tail_bytes, 0);
    EXPECT_LINE(&r, false, "index: checkpoint covers positions 1..2140", "0 disagreements");
    EXPECT_LINE(&r, false, "3 segments, 2140 events, 6 streams, 0 problems", NULL);
    /* verify writes nothing */
    assert_int_equal(atomic_load(&ro_write_opens), 0);
    assert_int_equal(fault_io_calls(FAULT_PWRITE), 0);
    assert_int_equal(fault_io_calls(FAULT_FTRUNCATE), 0);
    assert_int_equal(fault_io_calls(FAULT_RENAME), 0);
    assert_int_equal(fault_io_calls(FAULT_UNLINK), 0);
    assert_int_equal(fault_io_calls(FAULT_MKDIR), 0);
    assert_int_equal(fault_io_calls(FAULT_FALLOCATE), 0);
    assert_int_equal(fault_io_calls(FAULT_FSYNC) + fault_io_calls(FAULT_FDATASYNC), 0);
    es_io_set(NULL);

    /* no index yet, or an old one: sound too */
    char ix[4300], old[4300];
    su_path(ix, sizeof(ix), "%s/index", f->store);
    su_path(old, sizeof(old), "%s/old-index", f->dir);
    assert_int_equal(tree_copy(ix, old), 0);
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 2141, 30, 6);
    su_close(s);
    tmpdir_remove(ix);
    assert_int_equal(tree_copy(old, ix), 0);
    assert_int_equal(verify(f->store, &r, &sum), 0);
    EXPECT_LINE(&r, false, "checkpoint covers positions 1..2140", "catches up the rest");
    tmpdir_remove(ix);
    assert_int_equal(verify(f->store, &r, &sum), 0);
    EXPECT_LINE(&r, false, "index: none yet", NULL);
    assert_int_equal(sum.events, 2170);
    /* not a store */
    char p[4300];
    su_path(p, sizeof(p), "%s/nothing", f->dir);
    assert_int_equal(es_store_verify(p, report_fn, &r, &sum), ES_ENOTSTORE);
    free(r.text);
}

static void check_block_flip(struct su_fixture *f, bool compress)
{
    tmpdir_remove(f->store);
    make_store(f, f->store, compress);
    char seg[4300];
    su_path(seg, sizeof(seg), "%s/segments/" SEG1, f->store);
    struct es_segment *sg;
    assert_int_equal(es_segment_open_sealed(seg, SEG1, 1, &sg), 0);
    assert_true(sg->n_blocks >= 3);
    struct es_block_entry b1 = sg->blocks[1];
    es_segment_unref(sg);
    su_flip_bit(seg, b1.file_offset + b1.stored_len - 1, 7);
    struct report r = {0};
    struct es_verify_summary sum;
    assert_int_equal(verify(f->store, &r, &sum), ES_ECORRUPT);
    char off[64];
    su_path(off, sizeof(off), "offset %llu: block 1 check mismatch",
            (unsigned long long)b1.file_offset);
    EXPECT_LINE(&r, true, "segments/" SEG1, off);
    EXPECT_LINE(&r, true, "segments/" SEG1, "whole-file check mismatch");
    /* the index cannot be checked past the damage either; the events after
     * it are checked, their versions not mistaken for problems */
    EXPECT_LINE(&r, true, "index: check stopped: segments/" SEG1, off);
    if (sum.problems != 3)
        fail_msg("%llu problems:\n%s", (unsigned long long)sum.problems, r.text);
    assert_int_equal(sum.events, 2140 - b1.n_events); /* the other blocks are checked */
    free(r.text);
}

static void test_verify_sealed_block_bit_flip(void **state)
{
    struct su_fixture *f = *state;
    check_block_flip(f, true);
    check_block_flip(f, false);
}

static void test_verify_sealed_structure_damage(void **state)
{
    struct su_fixture *f = *state;
    char pristine[4300], seg[4300];
    su_path(pristine, sizeof(pristine), "%s/pristine", f->dir);
    make_store(f, pristine, true);
    su_path(seg, sizeof(seg), "%s/segments/" SEG1, pristine);
    struct es_segment *sg;
    assert_int_equal(es_segment_open_sealed(seg, SEG1, 1, &sg), 0);
    uint64_t size = sg->file_bytes, index_off = sg->footer.index_offset;
    es_segment_unref(sg);
    struct {
        uint64_t flip;
        const char *a, *b;
    } cases[] = {
        {20, "segments/" SEG1 " offset 0:", "check mismatch"},
        {index_off + 60, "segments/" SEG1, "block index check mismatch"},
        {size - 100, "segments/" SEG1, "footer check mismatch"},
        {UINT64_MAX, "wal/00000000000000002101.wal: starts at position 2101 where 2001 comes next",
         NULL},
    };
    char want[128];
    su_path(want, sizeof(want), "offset %llu: block index", (unsigned long long)index_off);
    cases[1].a = want;
    char want2[128];
    su_path(want2, sizeof(want2),
            "segments/" SEG1 " offset %llu:", (unsigned long long)(size - 128));
    cases[2].a = want2;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        tmpdir_remove(f->store);
        assert_int_equal(tree_copy(pristine, f->store), 0);
        su_path(seg, sizeof(seg), "%s/segments/" SEG1, f->store);
        if (cases[c].flip == UINT64_MAX) {
            su_path(seg, sizeof(seg), "%s/segments/00000000000000002001.seg", f->store);
            assert_int_equal(unlink(seg), 0);
        } else {
            su_flip_bit(seg, cases[c].flip, 2);
        }
        struct report r = {0};
        struct es_verify_summary sum;
        assert_int_equal(verify(f->store, &r, &sum), ES_ECORRUPT);
        EXPECT_LINE(&r, true, cases[c].a, cases[c].b);
        if (cases[c].flip == UINT64_MAX) /* the versions after the gap are not problems */
            assert_false(has_line(&r, true, "is version", NULL));
        free(r.text);
    }
}

/* The wal of a store and the offsets of its frames. */
struct frames {
    uint64_t off[256];
    size_t len[256], n;
};

static int note_frame(void *arg, const struct es_event *ev, uint64_t off, size_t len)
{
    (void)ev;
    struct frames *fr = arg;
    if (fr->n < 256) {
        fr->off[fr->n] = off;
        fr->len[fr->n++] = len;
    }
    return 0;
}

static void read_frames(const char *wal, uint64_t first, struct frames *fr)
{
    memset(fr, 0, sizeof(*fr));
    int fd = open(wal, O_RDONLY);
    assert_true(fd >= 0);
    uint64_t end, last;
    const char *why;
    assert_int_equal(
        es_wal_read(fd, "wal", first, (uint64_t)file_size(wal), note_frame, fr, &end, &last, &why),
        0);
    close(fd);
}

static void test_verify_torn_tail_is_not_a_problem(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 1, 30, 3);
    su_close(s);
    /* the index as it was before the last appends (a crash does not let a
     * checkpoint cover what was not synced) */
    char ix[4300], saved[4300], wal[4300];
    su_path(ix, sizeof(ix), "%s/index", f->store);
    su_path(saved, sizeof(saved), "%s/saved-index", f->dir);
    assert_int_equal(tree_copy(ix, saved), 0);
    s = su_open(f->store, &o);
    su_fill(s, 31, 5, 3);
    su_close(s);
    tmpdir_remove(ix);
    assert_int_equal(tree_copy(saved, ix), 0);
    su_path(wal, sizeof(wal), "%s/wal/00000000000000000001.wal", f->store);
    struct frames fr;
    read_frames(wal, 1, &fr);
    assert_int_equal(fr.n, 35);
    uint64_t size = (uint64_t)file_size(wal);
    su_truncate(wal, size - 7);
    struct report r = {0};
    struct es_verify_summary sum;
    assert_int_equal(verify(f->store, &r, &sum), 0);
    assert_int_equal(sum.torn_tail_bytes, fr.len[34] - 7);
    assert_int_equal(sum.events, 34);
    char want[96];
    su_path(want, sizeof(want), "offset %llu: torn tail of %llu bytes",
            (unsigned long long)fr.off[34], (unsigned long long)(fr.len[34] - 7));
    EXPECT_LINE(&r, false, "wal/00000000000000000001.wal", want);
    /* verify changed nothing: the open cuts it */
    assert_int_equal(file_size(wal), (int64_t)(size - 7));
    s = su_open(f->store, &o);
    su_close(s);
    assert_int_equal(file_size(wal), (int64_t)fr.off[34]);
    assert_int_equal(verify(f->store, &r, &sum), 0);
    assert_int_equal(sum.torn_tail_bytes, 0);

    /* damage with whole frames after it is a problem, also in the last wal */
    su_flip_bit(wal, fr.off[20] + 20, 1);
    assert_int_equal(verify(f->store, &r, &sum), ES_ECORRUPT);
    su_path(want, sizeof(want), "offset %llu: frame header check mismatch, and 13 valid frames",
            (unsigned long long)fr.off[20]);
    EXPECT_LINE(&r, true, "wal/00000000000000000001.wal", want);
    /* the index covers frames cut off by the damage; said without a stale
     * detail of some earlier failure */
    EXPECT_LINE(&r, true,
                "index: checkpoint is ahead of the log; the next open rebuilds it, or run "
                "`esfs reindex`",
                NULL);
    free(r.text);
}

static void test_verify_complete_wal_damage(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    o.segment_bytes = 64 << 10;
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 1, 50, 3);
    su_close(s);
    /* a rotated wal waiting to be sealed: made by moving the active one
     * aside under a new active wal */
    struct es_log_options lo = {.dir = f->store, .cache_bytes = 1 << 20};
    struct es_log *log;
    assert_int_equal(es_log_open(&lo, &log, NULL), 0);
    assert_int_equal(es_log_rotate(log), 0);
    es_log_close(log);
    char wal[4300];
    su_path(wal, sizeof(wal), "%s/wal/00000000000000000001.wal", f->store);
    struct frames fr;
    read_frames(wal, 1, &fr);
    su_truncate(wal, fr.off[49] + 3);
    struct report r = {0};
    struct es_verify_summary sum;
    assert_int_equal(verify(f->store, &r, &sum), ES_ECORRUPT);
    char want[96];
    su_path(want, sizeof(want), "offset %llu: frame cut short by the end of the file, in a segment",
            (unsigned long long)fr.off[49]);
    EXPECT_LINE(&r, true, "wal/00000000000000000001.wal", want);
    free(r.text);
}

/* Frames straight into a wal: versions and timestamps of our choosing. */
static void write_frames(const char *dir, const uint64_t *versions, const int64_t *ts, size_t n)
{
    assert_int_equal(mkdir(dir, 0755), 0);
    struct es_log_options lo = {.dir = dir, .cache_bytes = 1 << 20};
    struct es_log *log;
    assert_int_equal(es_log_open(&lo, &log, NULL), 0);
    unsigned char buf[4096];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        struct es_event ev = {.pos = i + 1,
                              .version = versions[i],
                              .ts_ns = ts[i],
                              .stream = "s",
                              .stream_len = 1,
                              .type = "",
                              .payload = (const unsigned char *)"p",
                              .payload_len = 1};
        len += es_frame_encode(&ev, buf + len);
    }
    uint64_t raw;
    assert_int_equal(es_log_write(log, buf, len, n, ts[n - 1], &raw), 0);
    assert_int_equal(es_log_sync(log), 0);
    es_log_close(log);
}

static void test_verify_versions_and_timestamps(void **state)
{
    struct su_fixture *f = *state;
    uint64_t versions[] = {1, 2, 4, 5};
    int64_t ts[] = {100, 200, 300, 400};
    write_frames(f->store, versions, ts, 4);
    struct report r = {0};
    struct es_verify_summary sum;
    assert_int_equal(verify(f->store, &r, &sum), ES_ECORRUPT);
    EXPECT_LINE(&r, true, "position 3 is version 4 of s, after 2", NULL);
    assert_int_equal(sum.problems, 1);
    /* the store refuses it too: an index cannot be built over it */
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = NULL;
    assert_int_equal(es_store_open(f->store, &o, &s), ES_ECORRUPT);

    char other[4300];
    su_path(other, sizeof(other), "%s/other", f->dir);
    uint64_t v2[] = {1, 2, 3};
    int64_t ts2[] = {100, 300, 200};
    write_frames(other, v2, ts2, 3);
    assert_int_equal(verify(other, &r, &sum), ES_ECORRUPT);
    EXPECT_LINE(&r, true, "position 3 has a timestamp before the previous event's", NULL);
    free(r.text);
}

static void test_verify_index_problems(void **state)
{
    struct su_fixture *f = *state;
    make_store(f, f->store, true);
    char p[4400];
    struct report r = {0};
    struct es_verify_summary sum;
    /* a damaged checkpoint, a damaged entry */
    su_path(p, sizeof(p), "%s/index/checkpoint", f->store);
    su_flip_bit(p, 40, 0);
    assert_int_equal(verify(f->store, &r, &sum), ES_ECORRUPT);
    EXPECT_LINE(&r, true, "index: checkpoint check mismatch", NULL);
    struct es_options o;
    su_options(&o, &f->cap);
    su_close(su_open(f->store, &o)); /* rebuilt */
    assert_int_equal(verify(f->store, &r, &sum), 0);
    su_path(p, sizeof(p), "%s/index/global.idx", f->store);
    su_flip_bit(p, 64 + 16 * 77 + 3, 0);
    assert_int_equal(verify(f->store, &r, &sum), ES_ECORRUPT);
    EXPECT_LINE(&r, true, "index: global index", NULL);
    su_close(su_open(f->store, &o));
    assert_int_equal(verify(f->store, &r, &sum), 0);
    free(r.text);
}

/* Two logs of the same shape whose first two events swap streams: an
 * index of one is self-consistent and agrees with the other at its tail. */
static void make_swapped(struct su_fixture *f, const char *path, bool swap)
{
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(path, &o);
    su_append(s, swap ? "b" : "a", "one");
    su_append(s, swap ? "a" : "b", "two");
    for (int i = 3; i <= 10; i++)
        su_append(s, i % 2 ? "a" : "b", i % 2 ? "odd" : "eve");
    su_close(s);
}

static void test_verify_foreign_index(void **state)
{
    struct su_fixture *f = *state;
    char other[4300], p[4400], q[4400];
    su_path(other, sizeof(other), "%s/other", f->dir);
    make_swapped(f, f->store, false);
    make_swapped(f, other, true);
    static const char *const files[] = {"global.idx", "streams.idx", "checkpoint"};
    for (int i = 0; i < 3; i++) {
        su_path(p, sizeof(p), "%s/index/%s", other, files[i]);
        su_path(q, sizeof(q), "%s/index/%s", f->store, files[i]);
        assert_int_equal(tree_copy(p, q), 0);
    }
    struct report r = {0};
    struct es_verify_summary sum;
    assert_int_equal(verify(f->store, &r, &sum), ES_ECORRUPT);
    EXPECT_LINE(&r, true, "index: position 1 (stream a, version 1)", "disagrees with the log");
    /* an open that trusts it never serves one stream's events as another's */
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    char buf[64];
    ssize_t n = es_store_read_view(s, ES_VIEW_STREAM, "a", 1, 0, buf, sizeof(buf));
    if (n > 0)
        assert_true((size_t)n >= 4 && memcmp(buf, "one\n", 4) == 0);
    else
        assert_int_equal(n, ES_ECORRUPT);
    struct es_cursor *c;
    struct es_event ev;
    assert_int_equal(es_cursor_open(s, "b", 1, 1, &c), 0);
    int rc = es_cursor_next(c, &ev);
    if (rc == 1)
        assert_true(ev.stream_len == 1 && ev.stream[0] == 'b' && ev.version == 1);
    else
        assert_int_equal(rc, ES_ECORRUPT);
    es_cursor_close(c);
    su_close(s);
    /* reindex repairs it */
    uint64_t events = 0;
    assert_int_equal(es_store_reindex(f->store, &o, &events), 0);
    assert_int_equal(events, 10);
    assert_int_equal(verify(f->store, &r, &sum), 0);
    s = su_open(f->store, &o);
    size_t len;
    char *v = su_read_view(s, ES_VIEW_STREAM, "a", &len);
    assert_string_equal(v, "one\nodd\nodd\nodd\nodd\n");
    free(v);
    su_close(s);
    free(r.text);
}

static void test_verify_reindex(void **state)
{
    struct su_fixture *f = *state;
    make_store(f, f->store, true);
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    struct su_snapshot ref;
    su_snapshot_take(s, &ref);
    /* the store is in use: reindex waits for nobody */
    uint64_t events = 0;
    assert_int_equal(es_store_reindex(f->store, &o, &events), ES_ELOCKED);
    su_close(s);
    char ref_ix[4300], ix[4300];
    su_path(ref_ix, sizeof(ref_ix), "%s/ref-index", f->dir);
    su_path(ix, sizeof(ix), "%s/index", f->store);
    assert_int_equal(tree_copy(ix, ref_ix), 0);
    /* from a damaged index, from none, and from a sound one: the same */
    char p[4400];
    su_path(p, sizeof(p), "%s/index/streams.idx", f->store);
    su_flip_bit(p, 64 + 3, 3);
    for (int c = 0; c < 3; c++) {
        if (c == 1)
            tmpdir_remove(ix);
        logcap_clear(&f->cap);
        assert_int_equal(es_store_reindex(f->store, &o, &events), 0);
        assert_int_equal(events, 2140);
        assert_true(logcap_has(&f->cap, "index rebuilt"));
        static const char *const files[] = {"global.idx", "streams.idx", "checkpoint"};
        for (int i = 0; i < 3; i++) {
            char a[4400], b[4400];
            su_path(a, sizeof(a), "%s/%s", ix, files[i]);
            su_path(b, sizeof(b), "%s/%s", ref_ix, files[i]);
            assert_true(su_files_equal_zero_tail(a, b));
        }
        s = su_open(f->store, &o);
        struct su_snapshot now;
        su_snapshot_take(s, &now);
        su_snapshot_assert_equal(&ref, &now);
        su_snapshot_release(&now);
        su_close(s);
    }
    su_snapshot_release(&ref);
    /* a copy of segments/ alone becomes a store */
    char copy[4300], src[4300], dst[4300];
    su_path(copy, sizeof(copy), "%s/copy", f->dir);
    su_path(src, sizeof(src), "%s/segments", f->store);
    su_path(dst, sizeof(dst), "%s/copy/segments", f->dir);
    assert_int_equal(mkdir(copy, 0755), 0);
    assert_int_equal(tree_copy(src, dst), 0);
    assert_int_equal(es_store_reindex(copy, &o, &events), 0);
    assert_int_equal(events, 2100);
}

/* ---- scan ---- */

struct render {
    char *buf;
    size_t len, cap;
    uint64_t n, stop_at;
    const char *only;
};

static int render_event(void *arg, const struct es_event *ev)
{
    struct render *r = arg;
    if (r->only &&
        (ev->stream_len != strlen(r->only) || memcmp(ev->stream, r->only, ev->stream_len)))
        return -1; /* the filter let another stream through */
    size_t need = es_envelope_render(ev, NULL, 0);
    if (r->len + need > r->cap) {
        r->cap = (r->len + need) * 2;
        r->buf = realloc(r->buf, r->cap);
    }
    assert_int_equal(es_envelope_render(ev, r->buf + r->len, need), need);
    r->len += need;
    r->n++;
    return r->stop_at && r->n == r->stop_at ? 42 : 0;
}

static void test_verify_scan_matches_view(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    o.segment_bytes = 64 << 10;
    struct es_store *s = su_open(f->store, &o);
    for (int round = 0; round < 4; round++)
        su_fill(s, 1 + (uint64_t)round * 500, 500, 5);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 2001, 77, 5);
    size_t len;
    char *all = su_read_view(s, ES_VIEW_ALL, NULL, &len);
    struct su_snapshot snap;
    su_snapshot_take(s, &snap);
    su_close(s);
    /* every event, from position 1 */
    struct render r = {0};
    assert_int_equal(es_store_scan(f->store, 1, NULL, 0, render_event, &r), 0);
    assert_int_equal(r.n, 2077);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.buf, all, len);
    /* from other positions: the tail of the view from that line on */
    uint64_t froms[] = {0, 2, 499, 500, 501, 1999, 2000, 2001, 2077, 2078, 5000};
    for (size_t k = 0; k < sizeof(froms) / sizeof(froms[0]); k++) {
        r.len = r.n = 0;
        assert_int_equal(es_store_scan(f->store, froms[k], NULL, 0, render_event, &r), 0);
        uint64_t from = froms[k] ? froms[k] : 1;
        size_t at = 0;
        for (uint64_t line = 1; line < from && at < len; line++)
            at = (size_t)(strchr(all + at, '\n') - all) + 1;
        assert_int_equal(r.len, len - at);
        assert_memory_equal(r.buf, all + at, r.len);
    }
    /* one stream: exactly its events, the same as its cursor gives */
    for (uint32_t i = 0; i < snap.n_streams; i++) {
        r.len = r.n = 0;
        r.only = snap.streams[i].name;
        assert_int_equal(es_store_scan(f->store, 1, snap.streams[i].name, snap.streams[i].name_len,
                                       render_event, &r),
                         0);
        assert_int_equal(r.n, snap.streams[i].info.version);
    }
    r.only = NULL;
    /* a nonzero return stops the scan and is returned */
    r.len = r.n = 0;
    r.stop_at = 10;
    assert_int_equal(es_store_scan(f->store, 1, NULL, 0, render_event, &r), 42);
    assert_int_equal(r.n, 10);
    free(r.buf);
    free(all);
    su_snapshot_release(&snap);
}

/* ---- verify and scan while a store runs ---- */

struct runner {
    struct es_store *s;
    _Atomic bool stop;
    uint64_t appended;
};

static void *run_appends(void *arg)
{
    struct runner *rn = arg;
    char payload[128];
    while (!atomic_load(&rn->stop)) {
        snprintf(payload, sizeof(payload), "{\"type\":\"Live\",\"n\":%llu,\"pad\":\"%060d\"}",
                 (unsigned long long)rn->appended, 0);
        struct es_payload p = {payload, strlen(payload)};
        if (es_store_append(rn->s, "live", 4, &p, 1, ES_VERSION_ANY, NULL) != 0)
            break;
        rn->appended++;
    }
    return NULL;
}

static int count_only(void *arg, const struct es_event *ev)
{
    uint64_t *n = arg;
    if (ev->pos != *n + 1)
        return -1;
    (*n)++;
    return 0;
}

static void test_verify_and_scan_while_running(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    o.segment_bytes = 64 << 10; /* a seal every few hundred events */
    o.checkpoint_events = 300;
    o.sync = ES_SYNC_NONE;
    struct runner rn = {.s = su_open(f->store, &o)};
    su_fill(rn.s, 1, 100, 3);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_appends, &rn), 0);
    struct report r = {0};
    struct es_verify_summary sum;
    int bad_verify = 0, bad_scan = 0;
    char first_bad[2048] = "";
    int rounds = 0;
    for (;; rounds++) {
        struct es_log_info now;
        es_store_log_info(rn.s, &now);
        if (rounds >= 30 && now.n_sealed_segments >= 4)
            break;
        if (rounds == 100000)
            fail_msg("the store sealed %u segments in %d rounds", now.n_sealed_segments, rounds);
        int rc = verify(f->store, &r, &sum);
        if (rc != 0 && bad_verify++ == 0)
            snprintf(first_bad, sizeof(first_bad), "verify: %s\n%s", es_strerror(rc), r.text);
        uint64_t n = 0;
        rc = es_store_scan(f->store, 1, NULL, 0, count_only, &n);
        if (rc != 0 && bad_scan++ == 0 && !first_bad[0])
            snprintf(first_bad, sizeof(first_bad), "scan after %llu events: %s: %s",
                     (unsigned long long)n, es_strerror(rc), es_error_detail());
    }
    atomic_store(&rn.stop, true);
    pthread_join(th, NULL);
    struct es_log_info li;
    es_store_log_info(rn.s, &li);
    su_close(rn.s);
    if (bad_verify || bad_scan)
        fail_msg("%d of %d verifies and %d scans failed while the store ran; the first:\n%s",
                 bad_verify, rounds, bad_scan, first_bad);
    assert_int_equal(verify(f->store, &r, &sum), 0);
    assert_int_equal(sum.events, li.last_pos);
    free(r.text);
}

/* ---- the same races, made to happen: a seal or a checkpoint of the
 * running store at the moment the reader opens a file ---- */

enum race_action { RACE_SEAL, RACE_APPEND, RACE_GROW };

static struct {
    const struct es_io_ops *below;
    struct es_io_ops ops;
    pthread_t reader;
    const char *suffix;
    enum race_action action;
    bool armed;
    struct es_store *s;
    int rc;
} race;

static int race_open(const char *path, int flags, mode_t mode)
{
    size_t n = strlen(path), k = race.suffix ? strlen(race.suffix) : 0;
    if (race.armed && pthread_equal(pthread_self(), race.reader) &&
        (flags & O_ACCMODE) == O_RDONLY && n >= k && strcmp(path + n - k, race.suffix) == 0) {
        race.armed = false;
        if (race.action == RACE_SEAL) {
            race.rc = es_store_seal(race.s);
        } else if (race.action == RACE_GROW) { /* past the 1 MiB global.idx mapped */
            size_t count = 70000;
            struct es_payload *p = calloc(count, sizeof(*p));
            for (size_t i = 0; i < count; i++)
                p[i] = (struct es_payload){"g", 1};
            race.rc = es_store_append(race.s, "grow", 4, p, count, ES_VERSION_ANY, NULL);
            if (race.rc == 0) /* the writer checkpoints after the first */
                race.rc = es_store_append(race.s, "grow", 4, p, 1, ES_VERSION_ANY, NULL);
            free(p);
        } else {
            struct es_payload p = {"racer", 5};
            race.rc = es_store_append(race.s, "race", 4, &p, 1, ES_VERSION_ANY, NULL);
            if (race.rc == 0) /* the writer checkpoints after the first */
                race.rc = es_store_append(race.s, "race", 4, &p, 1, ES_VERSION_ANY, NULL);
        }
    }
    return race.below->open(path, flags, mode);
}

static void race_arm(struct es_store *s, const char *suffix, enum race_action action)
{
    race.reader = pthread_self();
    race.suffix = suffix;
    race.action = action;
    race.s = s;
    race.rc = 1;
    race.armed = true;
}

static void test_verify_and_scan_race_a_seal(void **state)
{
    struct su_fixture *f = *state;
    race.below = &es_io_posix;
    race.ops = es_io_posix;
    race.ops.open = race_open;
    race.armed = false;
    es_io_set(&race.ops);
    struct es_options o;
    su_options(&o, &f->cap);
    o.checkpoint_events = 1;
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 1, 300, 4);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 301, 50, 4);
    /* scan: the active wal is sealed away just as the scan opens it */
    uint64_t n = 0;
    race_arm(s, "/wal/00000000000000000301.wal", RACE_SEAL);
    int rc = es_store_scan(f->store, 1, NULL, 0, count_only, &n);
    assert_int_equal(race.rc, 0);
    if (rc != 0)
        fail_msg("scan after %llu events: %s: %s", (unsigned long long)n, es_strerror(rc),
                 es_error_detail());
    assert_int_equal(n, 350);
    /* verify: the same with the next wal */
    su_fill(s, 351, 50, 4);
    struct report r = {0};
    struct es_verify_summary sum;
    race_arm(s, "/wal/00000000000000000351.wal", RACE_SEAL);
    rc = verify(f->store, &r, &sum);
    assert_int_equal(race.rc, 0);
    if (rc != 0)
        fail_msg("verify: %s\n%s", es_strerror(rc), r.text);
    assert_int_equal(sum.events, 400);
    /* verify: a newer checkpoint than the log it opened */
    race_arm(s, "/index/checkpoint", RACE_APPEND);
    rc = verify(f->store, &r, &sum);
    assert_int_equal(race.rc, 0);
    if (rc != 0)
        fail_msg("verify: %s\n%s", es_strerror(rc), r.text);
    /* verify: index files grown after it mapped them */
    race_arm(s, "/index/checkpoint", RACE_GROW);
    rc = verify(f->store, &r, &sum);
    assert_int_equal(race.rc, 0);
    if (rc != 0)
        fail_msg("verify: %s\n%s", es_strerror(rc), r.text);
    su_close(s);
    assert_int_equal(verify(f->store, &r, &sum), 0);
    assert_int_equal(sum.events, 70403);
    free(r.text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        VERIFY_TEST(test_verify_sound_store),
        VERIFY_TEST(test_verify_sealed_block_bit_flip),
        VERIFY_TEST(test_verify_sealed_structure_damage),
        VERIFY_TEST(test_verify_torn_tail_is_not_a_problem),
        VERIFY_TEST(test_verify_complete_wal_damage),
        VERIFY_TEST(test_verify_versions_and_timestamps),
        VERIFY_TEST(test_verify_index_problems),
        VERIFY_TEST(test_verify_foreign_index),
        VERIFY_TEST(test_verify_reindex),
        VERIFY_TEST(test_verify_scan_matches_view),
        VERIFY_TEST(test_verify_and_scan_while_running),
        VERIFY_TEST(test_verify_and_scan_race_a_seal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
