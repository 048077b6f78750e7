/*
 * test_log.c - the log module (src/log): recovery of the active segment
 * (a torn tail cut back at every byte offset of the last frame, garbage
 * and bit flips at the tail, kept in lost+found/ and logged), the recovery
 * states of sealing (leftover wal, tmp/ files, a torn wal creation, a
 * damaged or missing complete wal), sealing with and without compression,
 * rotation into many segments, sequential scans and random access, and
 * damage inside sealed segments (never served as data; a damaged footer or
 * block index stops the open, naming the file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"
#include "esfs/esfs.h"
#include "support/fault_io.h"
#include "format/frame.h"
#include "log/log.h"
#include "log/segment.h"
#include "support/store_util.h"
#include "support/tmpdir.h"

#define WAL1 "00000000000000000001.wal"
#define SEG1 "00000000000000000001.seg"

/* ---- helpers ---- */

struct frame_pos {
    uint64_t off;
    size_t len;
};

struct frame_list {
    struct frame_pos f[4096];
    size_t n;
};

static int collect_frame(void *arg, const struct es_event *ev, uint64_t off, size_t len)
{
    (void)ev;
    struct frame_list *l = arg;
    if (l->n < sizeof(l->f) / sizeof(l->f[0]))
        l->f[l->n++] = (struct frame_pos){off, len};
    return 0;
}

/* The frames of a wal file, as recovery reads them. */
static void wal_frames(const char *path, uint64_t first_pos, struct frame_list *l)
{
    memset(l, 0, sizeof(*l));
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    uint64_t size = (uint64_t)file_size(path), valid_end, last;
    const char *why;
    assert_int_equal(
        es_wal_read(fd, "wal", first_pos, size, collect_frame, l, &valid_end, &last, &why), 0);
    close(fd);
    assert_int_equal(valid_end, size);
    assert_int_equal(last, first_pos + l->n - 1);
}

/* Encodes one frame (no type, plain payload) into buf; returns its size. */
static size_t make_frame(unsigned char *buf, uint64_t pos, const char *stream, uint64_t version,
                         int64_t ts, const char *payload)
{
    struct es_event ev = {.pos = pos,
                          .version = version,
                          .ts_ns = ts,
                          .stream = stream,
                          .stream_len = strlen(stream),
                          .type = "",
                          .type_len = 0,
                          .payload = (const unsigned char *)payload,
                          .payload_len = strlen(payload),
                          .payload_is_json = false};
    return es_frame_encode(&ev, buf);
}

/* Writes positions first..last (stream "s<pos%2>") straight into the log. */
static void log_write_range(struct es_log *log, uint64_t first, uint64_t last, uint64_t *versions)
{
    unsigned char buf[1 << 14];
    size_t len = 0;
    for (uint64_t p = first; p <= last; p++) {
        char stream[8], payload[64];
        snprintf(stream, sizeof(stream), "s%u", (unsigned)(p % 2));
        snprintf(payload, sizeof(payload), "direct event %llu", (unsigned long long)p);
        len += make_frame(buf + len, p, stream, ++versions[p % 2], 1000 + (int64_t)p, payload);
        assert_true(len < sizeof(buf) - 256);
    }
    uint64_t raw;
    assert_int_equal(es_log_last_pos(log), first - 1);
    assert_int_equal(es_log_write(log, buf, len, last, 1000 + (int64_t)last, &raw), 0);
}

/* A log with wal/1.wal (positions 1..5, rotated) and wal/6.wal (6..8,
 * active), written directly, without a store. */
static void make_two_wals(const char *dir)
{
    assert_int_equal(mkdir(dir, 0755), 0);
    struct es_log_options lo = {.dir = dir, .cache_bytes = 1 << 20};
    struct es_log *log;
    struct es_log_recovery rec;
    assert_int_equal(es_log_open(&lo, &log, &rec), 0);
    uint64_t versions[2] = {0, 0};
    log_write_range(log, 1, 5, versions);
    assert_int_equal(es_log_sync(log), 0);
    assert_int_equal(es_log_rotate(log), 0);
    log_write_range(log, 6, 8, versions);
    assert_int_equal(es_log_sync(log), 0);
    assert_int_equal(es_log_last_pos(log), 8);
    es_log_close(log);
}

static struct es_store *open_store(struct su_fixture *f, const char *path)
{
    struct es_options o;
    su_options(&o, &f->cap);
    return su_open(path, &o);
}

static int open_rc(struct su_fixture *f, const char *path)
{
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = NULL;
    int rc = es_store_open(path, &o, &s);
    if (rc == 0)
        su_close(s);
    return rc;
}

/* ---- torn tails ---- */

/* The store of the torn-tail tests: n events in three streams, the last
 * one to "Order-1". *before gets the snapshot before the last event. */
static void make_tail_store(struct su_fixture *f, const char *path, uint64_t n,
                            struct su_snapshot *before)
{
    struct es_store *s = open_store(f, path);
    su_fill(s, 1, n - 1, 3);
    su_snapshot_take(s, before);
    assert_int_equal(su_append(s, "Order-0", "{\"type\":\"Last\",\"note\":\"the torn one\"}"), n);
    su_close(s);
}

/* Opens the damaged copy at path and checks what a cut of the last wal
 * from cut_off to its end (size bytes; damaged_wal holds them) must give. */
static void check_cut(struct su_fixture *f, const char *path, const struct su_snapshot *before,
                      const char *damaged_wal, uint64_t cut_off, uint64_t size)
{
    char wal[4300], lost[4300];
    su_path(wal, sizeof(wal), "%s/wal/" WAL1, path);
    su_path(lost, sizeof(lost), "%s/lost+found/" WAL1 ".%llu.cut", path,
            (unsigned long long)cut_off);
    logcap_clear(&f->cap);
    struct es_store *s = open_store(f, path);
    struct su_snapshot after;
    su_snapshot_take(s, &after);
    su_snapshot_assert_equal(before, &after);
    su_snapshot_release(&after);
    assert_int_equal(file_size(wal), cut_off);
    if (size > cut_off) {
        size_t n;
        char *cut = file_read_all(lost, &n);
        assert_non_null(cut);
        assert_int_equal(n, size - cut_off);
        assert_memory_equal(cut, damaged_wal + cut_off, n);
        free(cut);
        char msg[128];
        su_path(msg, sizeof(msg), "cut %llu bytes at offset %llu",
                (unsigned long long)(size - cut_off), (unsigned long long)cut_off);
        assert_true(logcap_has(&f->cap, msg));
    } else {
        assert_int_equal(file_size(lost), -1);
        assert_false(logcap_has(&f->cap, "cut "));
    }
    /* the next append gets the next position and the next version */
    struct es_stream_info si = {0};
    int rc = es_store_stream_info(s, "Order-0", 7, &si);
    assert_true(rc == 0 || rc == ES_ENOTFOUND);
    struct es_payload p = {"after", 5};
    struct es_append_result res;
    assert_int_equal(es_store_append(s, "Order-0", 7, &p, 1, (int64_t)si.version, &res), 0);
    assert_int_equal(res.first_pos, before->li.last_pos + 1);
    assert_int_equal(res.version, si.version + 1);
    su_check_sequence(s);
    su_close(s);
    assert_int_equal(es_store_verify(path, NULL, NULL, NULL), 0);
}

static void test_log_torn_tail_every_offset(void **state)
{
    struct su_fixture *f = *state;
    char pristine[4300], work[4300], wal[4300];
    su_path(pristine, sizeof(pristine), "%s/pristine", f->dir);
    su_path(work, sizeof(work), "%s/work", f->dir);
    struct su_snapshot before;
    make_tail_store(f, pristine, 12, &before);
    su_path(wal, sizeof(wal), "%s/wal/" WAL1, pristine);
    size_t size;
    char *bytes = file_read_all(wal, &size);
    assert_non_null(bytes);
    struct frame_list l;
    wal_frames(wal, 1, &l);
    assert_int_equal(l.n, 12);
    uint64_t start = l.f[11].off;
    assert_int_equal(start + l.f[11].len, size);
    /* every length from "the whole last frame gone" to "one byte short" */
    for (uint64_t len = start; len < size; len++) {
        tmpdir_remove(work);
        assert_int_equal(tree_copy(pristine, work), 0);
        su_path(wal, sizeof(wal), "%s/wal/" WAL1, work);
        su_truncate(wal, len);
        check_cut(f, work, &before, bytes, start, len);
    }
    free(bytes);
    su_snapshot_release(&before);
}

static void test_log_garbage_after_last_frame_cut(void **state)
{
    struct su_fixture *f = *state;
    char pristine[4300], work[4300], wal[4300];
    su_path(pristine, sizeof(pristine), "%s/pristine", f->dir);
    su_path(work, sizeof(work), "%s/work", f->dir);
    struct su_snapshot before, all;
    make_tail_store(f, pristine, 6, &before);
    {
        struct es_store *s = open_store(f, pristine);
        su_snapshot_take(s, &all);
        su_close(s);
    }
    su_path(wal, sizeof(wal), "%s/wal/" WAL1, pristine);
    uint64_t size = (uint64_t)file_size(wal);
    /* garbage: random bytes, zeros (a preallocated tail), a frame's magic
     * alone, and a copy of the last frame (wrong position) */
    unsigned char garbage[5000];
    srand(7);
    for (size_t i = 0; i < sizeof(garbage); i++)
        garbage[i] = (unsigned char)rand();
    unsigned char zeros[4096] = {0};
    size_t wlen;
    char *wbytes = file_read_all(wal, &wlen);
    struct frame_list l;
    wal_frames(wal, 1, &l);
    struct {
        const void *data;
        size_t len;
    } cases[] = {
        {garbage, 1},           {garbage, 43}, {garbage, sizeof(garbage)},       {zeros, 1},
        {zeros, sizeof(zeros)}, {"ESFR", 4},   {wbytes + l.f[5].off, l.f[5].len}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        tmpdir_remove(work);
        assert_int_equal(tree_copy(pristine, work), 0);
        su_path(wal, sizeof(wal), "%s/wal/" WAL1, work);
        su_append_bytes(wal, cases[c].data, cases[c].len);
        logcap_clear(&f->cap);
        struct es_store *s = open_store(f, work);
        struct su_snapshot after;
        su_snapshot_take(s, &after);
        su_snapshot_assert_equal(&all, &after);
        su_snapshot_release(&after);
        assert_int_equal(file_size(wal), size);
        char lost[4400], msg[128];
        su_path(lost, sizeof(lost), "%s/lost+found/" WAL1 ".%llu.cut", work,
                (unsigned long long)size);
        size_t n;
        char *cut = file_read_all(lost, &n);
        assert_non_null(cut);
        assert_int_equal(n, cases[c].len);
        assert_memory_equal(cut, cases[c].data, n);
        free(cut);
        su_path(msg, sizeof(msg), "cut %zu bytes at offset %llu", cases[c].len,
                (unsigned long long)size);
        assert_true(logcap_has(&f->cap, msg));
        assert_int_equal(su_append(s, "next", "x"), 7);
        su_close(s);
    }
    free(wbytes);
    su_snapshot_release(&before);
    su_snapshot_release(&all);
}

static void test_log_bit_flip_in_last_frame_cut(void **state)
{
    struct su_fixture *f = *state;
    char pristine[4300], work[4300], wal[4300];
    su_path(pristine, sizeof(pristine), "%s/pristine", f->dir);
    su_path(work, sizeof(work), "%s/work", f->dir);
    struct su_snapshot before;
    make_tail_store(f, pristine, 5, &before);
    su_path(wal, sizeof(wal), "%s/wal/" WAL1, pristine);
    size_t size;
    char *bytes = file_read_all(wal, &size);
    struct frame_list l;
    wal_frames(wal, 1, &l);
    uint64_t start = l.f[4].off;
    /* one flipped bit at every byte of the last frame: header, name,
     * payload and checks; the whole frame is cut each time */
    for (uint64_t off = start; off < size; off++) {
        tmpdir_remove(work);
        assert_int_equal(tree_copy(pristine, work), 0);
        su_path(wal, sizeof(wal), "%s/wal/" WAL1, work);
        su_flip_bit(wal, off, (unsigned)off % 8);
        bytes[off] ^= (char)(1u << (off % 8));
        check_cut(f, work, &before, bytes, start, size);
        bytes[off] ^= (char)(1u << (off % 8));
    }
    free(bytes);
    su_snapshot_release(&before);
}

static void test_log_damage_before_last_frame_cut_and_flagged(void **state)
{
    struct su_fixture *f = *state;
    char wal[4300];
    struct su_snapshot before;
    make_tail_store(f, f->store, 8, &before);
    su_snapshot_release(&before);
    su_path(wal, sizeof(wal), "%s/wal/" WAL1, f->store);
    struct frame_list l;
    wal_frames(wal, 1, &l);
    uint64_t size = (uint64_t)file_size(wal);
    /* damage in frame 5 of 8: 5..8 are cut, and recovery says that valid
     * frames followed the damage (corruption, not a torn write) */
    su_flip_bit(wal, l.f[4].off + 50, 3);
    struct es_log_options lo = {.dir = f->store, .read_only = true, .cache_bytes = 1 << 20};
    struct es_log *log;
    struct es_log_recovery rec;
    assert_int_equal(es_log_open(&lo, &log, &rec), 0);
    assert_int_equal(es_log_last_pos(log), 4);
    assert_int_equal(rec.cut_offset, l.f[4].off);
    assert_int_equal(rec.cut_bytes, size - l.f[4].off);
    es_log_close(log);
    assert_int_equal(file_size(wal), size); /* read-only: nothing cut */

    logcap_clear(&f->cap);
    struct es_store *s = open_store(f, f->store);
    struct es_log_info li;
    es_store_log_info(s, &li);
    assert_int_equal(li.last_pos, 4);
    assert_true(logcap_has(&f->cap, "ERROR recovery:"));
    assert_true(logcap_has(&f->cap, "valid frames were found after the damage"));
    assert_int_equal(su_append(s, "next", "x"), 5);
    su_check_sequence(s);
    su_close(s);
    assert_int_equal(file_size(wal), (int64_t)l.f[4].off + (int64_t)es_frame_size(4, 0, 1));
}

/* ---- recovery states of sealing ---- */

static void test_log_leftover_wal_of_sealed_segment_removed(void **state)
{
    struct su_fixture *f = *state;
    struct es_store *s = open_store(f, f->store);
    su_fill(s, 1, 20, 3);
    su_close(s);
    char wal[4300], saved[4300], seg[4300];
    su_path(wal, sizeof(wal), "%s/wal/" WAL1, f->store);
    su_path(saved, sizeof(saved), "%s/saved.wal", f->dir);
    su_path(seg, sizeof(seg), "%s/segments/" SEG1, f->store);
    assert_int_equal(tree_copy(wal, saved), 0);
    s = open_store(f, f->store);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 21, 5, 3);
    struct su_snapshot snap;
    su_snapshot_take(s, &snap);
    su_close(s);
    assert_true(file_size(seg) > 0);
    assert_int_equal(file_size(wal), -1);
    /* a crash between the rename into segments/ and the unlink of the wal */
    assert_int_equal(tree_copy(saved, wal), 0);
    logcap_clear(&f->cap);
    s = open_store(f, f->store);
    assert_int_equal(file_size(wal), -1);
    assert_true(logcap_has(&f->cap, "removed wal/" WAL1 ", already sealed"));
    struct su_snapshot after;
    su_snapshot_take(s, &after);
    su_snapshot_assert_equal(&snap, &after);
    assert_int_equal(su_append(s, "next", "x"), 26);
    su_check_sequence(s);
    su_close(s);
    su_snapshot_release(&snap);
    su_snapshot_release(&after);

    /* a leftover wal whose first position no sealed segment starts at is
     * not what a seal leaves behind */
    char odd[4300];
    su_path(odd, sizeof(odd), "%s/wal/00000000000000000003.wal", f->store);
    assert_int_equal(tree_copy(saved, odd), 0);
    assert_int_equal(open_rc(f, f->store), ES_ECORRUPT);
    assert_non_null(strstr(es_error_detail(), "00000000000000000003.wal"));
}

static void test_log_tmp_leftovers_removed(void **state)
{
    struct su_fixture *f = *state;
    struct es_store *s = open_store(f, f->store);
    su_fill(s, 1, 10, 2);
    struct su_snapshot snap;
    su_snapshot_take(s, &snap);
    su_close(s);
    char p[4300], tmp[4300];
    su_path(tmp, sizeof(tmp), "%s/tmp", f->store);
    su_path(p, sizeof(p), "%s/" SEG1, tmp);
    assert_int_equal(file_write_all(p, "ESFSSEG\0half a segment", 22), 0);
    su_path(p, sizeof(p), "%s/checkpoint.tmp", tmp);
    assert_int_equal(file_write_all(p, "x", 1), 0);
    assert_int_equal(su_count_files(tmp, ""), 2);
    s = open_store(f, f->store);
    assert_int_equal(su_count_files(tmp, ""), 0);
    struct su_snapshot after;
    su_snapshot_take(s, &after);
    su_snapshot_assert_equal(&snap, &after);
    /* a seal after that works normally */
    assert_int_equal(es_store_seal(s), 0);
    su_close(s);
    su_snapshot_release(&snap);
    su_snapshot_release(&after);
    su_path(p, sizeof(p), "%s/segments/" SEG1, f->store);
    assert_true(file_size(p) > 0);
}

static void test_log_last_wal_bad_header_set_aside(void **state)
{
    struct su_fixture *f = *state;
    char pristine[4300], work[4300], wal[4300], broken[4300];
    su_path(pristine, sizeof(pristine), "%s/pristine", f->dir);
    su_path(work, sizeof(work), "%s/work", f->dir);
    struct es_store *s = open_store(f, pristine);
    su_fill(s, 1, 9, 2);
    assert_int_equal(es_store_seal(s), 0);
    struct su_snapshot snap;
    su_snapshot_take(s, &snap);
    su_close(s);
    /* the active wal after the seal holds just its header: damage it as a
     * crash during its creation would (cut short, zeroed, or one bad bit) */
    for (int c = 0; c < 4; c++) {
        tmpdir_remove(work);
        assert_int_equal(tree_copy(pristine, work), 0);
        su_path(wal, sizeof(wal), "%s/wal/00000000000000000010.wal", work);
        su_path(broken, sizeof(broken), "%s/lost+found/00000000000000000010.wal.broken", work);
        assert_int_equal(file_size(wal), 64);
        if (c == 0)
            su_truncate(wal, 0);
        else if (c == 1)
            su_truncate(wal, 30);
        else if (c == 2)
            assert_int_equal(file_write_all(wal, (char[64]){0}, 64), 0);
        else
            su_flip_bit(wal, 17, 1);
        int64_t damaged_size = file_size(wal);
        logcap_clear(&f->cap);
        s = open_store(f, work);
        assert_true(logcap_has(&f->cap, "has no valid header"));
        assert_int_equal(file_size(broken), damaged_size);
        assert_int_equal(file_size(wal), 64);
        struct su_snapshot after;
        su_snapshot_take(s, &after);
        su_snapshot_assert_equal(&snap, &after);
        su_snapshot_release(&after);
        assert_int_equal(su_append(s, "next", "x"), 10);
        su_close(s);
        assert_int_equal(es_store_verify(work, NULL, NULL, NULL), 0);
    }
    su_snapshot_release(&snap);

    /* the very first wal torn at creation: an empty store */
    struct es_store *e = open_store(f, f->store);
    su_close(e);
    su_path(wal, sizeof(wal), "%s/wal/" WAL1, f->store);
    su_truncate(wal, 0);
    e = open_store(f, f->store);
    struct es_log_info li;
    es_store_log_info(e, &li);
    assert_int_equal(li.last_pos, 0);
    assert_int_equal(su_append(e, "first", "x"), 1);
    su_close(e);
}

static void test_log_last_wal_bad_header_with_frames_is_corrupt(void **state)
{
    struct su_fixture *f = *state;
    struct es_store *s = open_store(f, f->store);
    su_fill(s, 1, 9, 2);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 10, 5, 2);
    su_close(s);
    /* a header is fsynced before any frame is written: a bad header in
     * front of frames is damage, not a torn creation, and setting the wal
     * aside would hand out positions 10..14 a second time */
    char wal[4300];
    su_path(wal, sizeof(wal), "%s/wal/00000000000000000010.wal", f->store);
    int64_t size = file_size(wal);
    assert_true(size > 64);
    su_flip_bit(wal, 20, 0);
    assert_int_equal(open_rc(f, f->store), ES_ECORRUPT);
    assert_non_null(strstr(es_error_detail(), "wal/00000000000000000010.wal offset 0"));
    assert_int_equal(file_size(wal), size);
    char lost[4300];
    su_path(lost, sizeof(lost), "%s/lost+found", f->store);
    assert_int_equal(su_count_files(lost, ""), 0);
    /* verify agrees that this is a problem */
    assert_int_equal(es_store_verify(f->store, NULL, NULL, NULL), ES_ECORRUPT);
}

static void test_log_non_last_wal_damage_is_corrupt(void **state)
{
    struct su_fixture *f = *state;
    char pristine[4300], work[4300], wal[4300];
    su_path(pristine, sizeof(pristine), "%s/pristine", f->dir);
    su_path(work, sizeof(work), "%s/work", f->dir);
    make_two_wals(pristine);
    su_path(wal, sizeof(wal), "%s/wal/" WAL1, pristine);
    struct frame_list l;
    wal_frames(wal, 1, &l);
    assert_int_equal(l.n, 5);
    for (int c = 0; c < 4; c++) {
        tmpdir_remove(work);
        assert_int_equal(tree_copy(pristine, work), 0);
        su_path(wal, sizeof(wal), "%s/wal/" WAL1, work);
        char want[128];
        if (c == 0) { /* a bit flip in frame 3 of 5 */
            su_flip_bit(wal, l.f[2].off + 30, 2);
            su_path(want, sizeof(want), "wal/" WAL1 " offset %llu", (unsigned long long)l.f[2].off);
        } else if (c == 1) { /* cut short */
            su_truncate(wal, (uint64_t)file_size(wal) - 1);
            su_path(want, sizeof(want), "wal/" WAL1 " offset %llu", (unsigned long long)l.f[4].off);
        } else if (c == 2) { /* garbage after its end */
            su_append_bytes(wal, "junk", 4);
            su_path(want, sizeof(want), "wal/" WAL1 " offset %llu",
                    (unsigned long long)(l.f[4].off + l.f[4].len));
        } else { /* a damaged header */
            su_flip_bit(wal, 3, 0);
            su_path(want, sizeof(want), "wal/" WAL1 " offset 0");
        }
        int64_t size = file_size(wal);
        assert_int_equal(open_rc(f, work), ES_ECORRUPT);
        if (!strstr(es_error_detail(), want))
            fail_msg("case %d: detail \"%s\" lacks \"%s\"", c, es_error_detail(), want);
        assert_int_equal(file_size(wal), size); /* nothing cut */
        assert_int_equal(es_store_verify(work, NULL, NULL, NULL), ES_ECORRUPT);
    }
    /* undamaged, the rotated wal is sealed after the open */
    struct es_store *s = open_store(f, pristine);
    struct es_log_info li;
    es_store_log_info(s, &li);
    assert_int_equal(li.last_pos, 8);
    assert_int_equal(es_store_seal(s), 0);
    es_store_log_info(s, &li);
    assert_int_equal(li.n_sealed_segments, 2);
    assert_int_equal(su_check_sequence(s), 8);
    size_t n;
    char *v = su_read_view(s, ES_VIEW_STREAM, "s1", &n);
    assert_string_equal(v, "direct event 1\ndirect event 3\ndirect event 5\ndirect event 7\n");
    free(v);
    su_close(s);
    su_path(wal, sizeof(wal), "%s/wal", pristine);
    assert_int_equal(su_count_files(wal, ".wal"), 1);
}

static void test_log_missing_wal_is_corrupt(void **state)
{
    struct su_fixture *f = *state;
    make_two_wals(f->store);
    char wal[4300];
    su_path(wal, sizeof(wal), "%s/wal/" WAL1, f->store);
    assert_int_equal(unlink(wal), 0);
    assert_int_equal(open_rc(f, f->store), ES_ECORRUPT);
    assert_non_null(strstr(es_error_detail(), "00000000000000000006.wal starts at position 6"));
}

/* ---- sealing and rotation ---- */

static int64_t fixed_clock(void)
{
    return 1795000000123456789;
}

struct seg_stats {
    unsigned n_segs, n_blocks, n_zstd, n_raw;
    uint64_t file_bytes, raw_bytes;
};

static void sealed_stats(const char *store, struct seg_stats *st, uint64_t max_raw)
{
    memset(st, 0, sizeof(*st));
    char dir[4300];
    su_path(dir, sizeof(dir), "%s/segments", store);
    uint64_t expect = 1;
    for (;;) {
        char name[64], path[4400];
        su_path(name, sizeof(name), "%020llu.seg", (unsigned long long)expect);
        su_path(path, sizeof(path), "%s/%s", dir, name);
        if (file_size(path) < 0)
            break;
        struct es_segment *seg;
        assert_int_equal(es_segment_open_sealed(path, name, 1, &seg), 0);
        assert_int_equal(es_segment_check_file(seg), 0);
        st->n_segs++;
        st->n_blocks += seg->n_blocks;
        st->file_bytes += seg->file_bytes;
        st->raw_bytes += seg->footer.raw_bytes;
        if (max_raw)
            assert_true(seg->footer.raw_bytes <= max_raw);
        for (uint32_t b = 0; b < seg->n_blocks; b++) {
            if (seg->blocks[b].codec == ES_CODEC_ZSTD)
                st->n_zstd++;
            else
                st->n_raw++;
            assert_true(seg->blocks[b].raw_len <= 64u << 10);
        }
        expect = seg->footer.last_pos + 1;
        es_segment_unref(seg);
    }
    assert_int_equal(su_count_files(dir, ".seg"), st->n_segs);
}

static void test_log_seal_compressed_and_raw(void **state)
{
    struct su_fixture *f = *state;
    fault_io_install();
    fault_io_set_clock(fixed_clock);
    char zdir[4300], rdir[4300];
    su_path(zdir, sizeof(zdir), "%s/zstd", f->dir);
    su_path(rdir, sizeof(rdir), "%s/raw", f->dir);
    struct su_snapshot snaps[2];
    struct seg_stats st[2];
    for (int c = 0; c < 2; c++) {
        struct es_options o;
        su_options(&o, &f->cap);
        o.compress = c == 0;
        const char *dir = c == 0 ? zdir : rdir;
        struct es_store *s = su_open(dir, &o);
        su_fill(s, 1, 1500, 5);
        struct su_snapshot unsealed;
        su_snapshot_take(s, &unsealed);
        assert_int_equal(es_store_seal(s), 0);
        su_snapshot_take(s, &snaps[c]);
        assert_int_equal(snaps[c].li.n_sealed_segments, 1);
        unsealed.li.n_sealed_segments = 1;
        su_snapshot_assert_equal(&unsealed, &snaps[c]);
        su_snapshot_release(&unsealed);
        /* read back from the sealed blocks after a reopen, too */
        su_close(s);
        s = su_open(dir, &o);
        struct su_snapshot again;
        su_snapshot_take(s, &again);
        su_snapshot_assert_equal(&snaps[c], &again);
        su_snapshot_release(&again);
        su_close(s);
        sealed_stats(dir, &st[c], 0);
        assert_int_equal(st[c].n_segs, 1);
        assert_true(st[c].n_blocks >= 3);
        assert_int_equal(es_store_verify(dir, NULL, NULL, NULL), 0);
    }
    assert_int_equal(st[0].n_zstd, st[0].n_blocks);
    assert_int_equal(st[1].n_zstd, 0);
    assert_int_equal(st[0].raw_bytes, st[1].raw_bytes);
    assert_true(st[0].file_bytes * 2 < st[1].file_bytes);
    /* the same events, the same bytes, whatever the codec */
    su_snapshot_assert_equal(&snaps[0], &snaps[1]);
    su_snapshot_release(&snaps[0]);
    su_snapshot_release(&snaps[1]);
}

static void test_log_rotation_many_segments(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    o.segment_bytes = 64 << 10;
    o.sync = ES_SYNC_NONE;
    struct es_store *s = su_open(f->store, &o);
    char name[64], payload[512];
    for (uint64_t i = 1; i <= 3000; i++) {
        su_gen_stream(i, 7, name, sizeof(name));
        su_gen_payload(i, payload, sizeof(payload));
        assert_int_equal(su_append(s, name, payload), i);
    }
    assert_int_equal(es_store_seal(s), 0);
    struct es_log_info li;
    es_store_log_info(s, &li);
    struct su_snapshot snap;
    su_snapshot_take(s, &snap);
    size_t rendered_len;
    char *rendered = su_render_all(s, &rendered_len);
    assert_int_equal(rendered_len, snap.all_len);
    assert_memory_equal(rendered, snap.all, rendered_len);
    free(rendered);
    su_check_sequence(s);
    /* a seal with nothing new to seal changes nothing */
    assert_int_equal(es_store_seal(s), 0);
    struct es_log_info li2;
    es_store_log_info(s, &li2);
    assert_int_equal(li2.n_sealed_segments, li.n_sealed_segments);
    su_close(s);

    struct seg_stats st;
    sealed_stats(f->store, &st, o.segment_bytes);
    assert_true(st.n_segs >= 4);
    assert_int_equal(st.n_segs, li.n_sealed_segments);
    char wal[4300];
    su_path(wal, sizeof(wal), "%s/wal", f->store);
    assert_int_equal(su_count_files(wal, ".wal"), 1);
    s = su_open(f->store, &o);
    struct su_snapshot after;
    su_snapshot_take(s, &after);
    su_snapshot_assert_equal(&snap, &after);
    su_close(s);
    assert_int_equal(es_store_verify(f->store, NULL, NULL, NULL), 0);
    su_snapshot_release(&snap);
    su_snapshot_release(&after);
}

static void test_log_seal_failures_keep_the_wal(void **state)
{
    struct su_fixture *f = *state;
    struct {
        enum fault_op op;
        const char *path;
        int err;
    } cases[] = {{FAULT_PWRITE, "/store/tmp/", ENOSPC},
                 {FAULT_FSYNC, "/store/tmp/", EIO},
                 {FAULT_RENAME, "/store/segments/", EIO},
                 {FAULT_PREAD, "/store/segments/", EIO}}; /* the sealed file does not read back */
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        tmpdir_remove(f->store);
        es_io_set(NULL);
        fault_io_install();
        struct es_store *s = open_store(f, f->store);
        su_fill(s, 1, 300, 3);
        struct su_snapshot before;
        su_snapshot_take(s, &before);
        fault_io_add(&(struct fault_rule){.op = cases[c].op,
                                          .path_contains = cases[c].path,
                                          .times = 1,
                                          .errno_value = cases[c].err});
        logcap_clear(&f->cap);
        assert_int_equal(es_store_seal(s), -cases[c].err);
        if (!logcap_has(&f->cap, "sealing wal/" WAL1 " failed"))
            fail_msg("case %zu:\n%s", c, f->cap.text);
        /* the wal is still the truth; nothing half-made is left behind */
        char p[4300];
        su_path(p, sizeof(p), "%s/wal/" WAL1, f->store);
        assert_true(file_size(p) > 64);
        su_path(p, sizeof(p), "%s/segments", f->store);
        assert_int_equal(su_count_files(p, ""), 0);
        su_path(p, sizeof(p), "%s/tmp", f->store);
        assert_int_equal(su_count_files(p, ""), 0);
        struct su_snapshot now;
        su_snapshot_take(s, &now);
        su_snapshot_assert_equal(&before, &now);
        su_snapshot_release(&now);
        assert_int_equal(su_append(s, "more", "x"), 301);
        /* the next seal request succeeds */
        assert_int_equal(es_store_seal(s), 0);
        struct es_log_info li;
        es_store_log_info(s, &li);
        assert_int_equal(li.n_sealed_segments, 2);
        su_close(s);
        su_path(p, sizeof(p), "%s/wal", f->store);
        assert_int_equal(su_count_files(p, ".wal"), 1);
        assert_int_equal(es_store_verify(f->store, NULL, NULL, NULL), 0);
        s = open_store(f, f->store);
        assert_int_equal(su_check_sequence(s), 301);
        su_close(s);
        su_snapshot_release(&before);
    }
}

static void test_log_big_events(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    o.max_event_bytes = 4 << 20;
    struct es_store *s = su_open(f->store, &o);
    /* events larger than every read-ahead, scan chunk and block, between
     * small ones; one compressible, one not */
    size_t big = (3 << 19) + 12345; /* more than every 1 MiB chunk */
    char *a = malloc(big + 1), *b = malloc(big + 1);
    for (size_t i = 0; i < big; i++) {
        a[i] = (char)('a' + i % 26);
        b[i] = (char)(' ' + (i * 2654435761u >> 13) % 90);
    }
    a[big] = b[big] = '\0';
    su_append(s, "s", "small 1");
    su_append(s, "s", a);
    su_append(s, "t", "small 2");
    su_append(s, "s", b);
    su_append(s, "t", "small 3");
    struct su_snapshot ref;
    su_snapshot_take(s, &ref);
    assert_int_equal(ref.streams[0].view_len, 8 + big + 1 + big + 1);
    assert_memory_equal(ref.streams[0].view + 8, a, big);
    assert_memory_equal(ref.streams[0].view + 8 + big + 1, b, big);
    su_close(s);
    /* recovery reads the wal; then sealed; then a torn tail inside one */
    for (int c = 0; c < 3; c++) {
        s = su_open(f->store, &o);
        if (c == 1)
            assert_int_equal(es_store_seal(s), 0);
        if (c == 2) {
            su_append(s, "s", a);
            su_close(s);
            char wal[4300];
            su_path(wal, sizeof(wal), "%s/wal/00000000000000000006.wal", f->store);
            su_truncate(wal, (uint64_t)file_size(wal) - (1 << 20));
            s = su_open(f->store, &o);
        }
        struct su_snapshot now;
        su_snapshot_take(s, &now);
        now.li.n_sealed_segments = ref.li.n_sealed_segments;
        su_snapshot_assert_equal(&ref, &now);
        su_snapshot_release(&now);
        su_close(s);
    }
    assert_int_equal(es_store_verify(f->store, NULL, NULL, NULL), 0);
    su_snapshot_release(&ref);
    free(a);
    free(b);
}

/* ---- scans and random access ---- */

static void test_log_scan_and_random_access(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    o.segment_bytes = 64 << 10;
    struct es_store *s = su_open(f->store, &o);
    for (int round = 0; round < 3; round++) {
        su_fill(s, 1 + (uint64_t)round * 400, 400, 4);
        assert_int_equal(es_store_seal(s), 0);
    }
    su_fill(s, 1201, 30, 4);
    su_close(s);

    struct es_log_options lo = {.dir = f->store, .read_only = true, .cache_bytes = 256 << 10};
    struct es_log *log;
    assert_int_equal(es_log_open(&lo, &log, NULL), 0);
    assert_int_equal(es_log_last_pos(log), 1230);
    uint64_t n = 1230;
    uint64_t *raw = calloc(n + 1, sizeof(*raw));
    struct es_log_scan sc;
    assert_int_equal(es_log_scan_init(&sc, log, 1, UINT64_MAX), 0);
    struct es_event ev;
    size_t len;
    uint64_t r, expect = 1;
    while (es_log_scan_next(&sc, &ev, &r, &len) == 1) {
        assert_int_equal(ev.pos, expect);
        char payload[512];
        size_t pl = su_gen_payload(ev.pos, payload, sizeof(payload));
        assert_int_equal(ev.payload_len, pl);
        assert_memory_equal(ev.payload, payload, pl);
        raw[expect++] = r;
    }
    es_log_scan_release(&sc);
    assert_int_equal(expect, n + 1);
    /* a scan from every position starts exactly there */
    for (uint64_t p = 1; p <= n; p += (p < 20 || p > 1190) ? 1 : 13) {
        assert_int_equal(es_log_scan_init(&sc, log, p, UINT64_MAX), 0);
        assert_int_equal(es_log_scan_next(&sc, &ev, &r, &len), 1);
        assert_int_equal(ev.pos, p);
        assert_int_equal(r, raw[p]);
        es_log_scan_release(&sc);
    }
    /* random access by (position, offset), in a scattered order, through
     * a cache too small for every block */
    struct es_log_reader rd;
    es_log_reader_init(&rd, log);
    for (uint64_t k = 0; k < n; k++) {
        uint64_t p = (k * 769) % n + 1;
        assert_int_equal(es_log_reader_frame(&rd, p, raw[p], &ev, &len), 0);
        assert_int_equal(ev.pos, p);
    }
    /* a wrong offset is never taken for the frame asked for */
    assert_int_equal(es_log_reader_frame(&rd, 5, raw[6], &ev, &len), ES_ECORRUPT);
    assert_int_equal(es_log_reader_frame(&rd, 1205, raw[1205] + 1, &ev, &len), ES_ECORRUPT);
    es_log_reader_release(&rd);
    free(raw);
    es_log_close(log);
}

/* ---- damage in sealed segments ---- */

/* Offsets of the lines of a view (starts; starts[n] = length). */
static uint64_t *line_starts(const char *v, size_t len, uint64_t *n)
{
    uint64_t cap = 1024, k = 0;
    uint64_t *s = malloc((cap + 1) * sizeof(*s));
    s[k++] = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] != '\n')
            continue;
        if (k == cap) {
            cap *= 2;
            s = realloc(s, (cap + 1) * sizeof(*s));
        }
        s[k++] = i + 1;
    }
    *n = k - 1;
    return s;
}

static int count_event(void *arg, const struct es_event *ev)
{
    *(uint64_t *)arg = ev->pos;
    return 0;
}

static void check_sealed_block_damage(struct su_fixture *f, bool compress)
{
    struct es_options o;
    su_options(&o, &f->cap);
    o.compress = compress;
    tmpdir_remove(f->store);
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 1, 2500, 3);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 2501, 20, 3);
    struct su_snapshot snap;
    su_snapshot_take(s, &snap);
    su_close(s);
    uint64_t n_lines;
    uint64_t *starts = line_starts(snap.all, snap.all_len, &n_lines);
    assert_int_equal(n_lines, 2520);

    char seg_path[4300];
    su_path(seg_path, sizeof(seg_path), "%s/segments/" SEG1, f->store);
    struct es_segment *seg;
    assert_int_equal(es_segment_open_sealed(seg_path, SEG1, 1, &seg), 0);
    assert_true(seg->n_blocks >= 3);
    struct es_block_entry b0 = seg->blocks[0], b1 = seg->blocks[1], b2 = seg->blocks[2];
    es_segment_unref(seg);
    su_flip_bit(seg_path, b1.file_offset + b1.stored_len / 2, 5);

    s = su_open(f->store, &o);
    char *buf = malloc(snap.all_len + 16);
    uint64_t first1 = b1.first_pos, last1 = b1.first_pos + b1.n_events - 1;
    /* a read that starts inside the damaged block fails and copies nothing */
    uint64_t offs[] = {starts[first1 - 1], starts[first1 - 1] + 3, starts[last1 - 1],
                       starts[last1] - 1};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        memset(buf, 0x5a, snap.all_len + 16);
        assert_int_equal(es_store_read_view(s, ES_VIEW_ALL, NULL, 0, offs[i], buf, 4096),
                         ES_ECORRUPT);
        assert_non_null(strstr(es_error_detail(), "segments/" SEG1));
        for (size_t k = 0; k < 4096; k++)
            assert_int_equal((unsigned char)buf[k], 0x5a);
    }
    /* a read from the block before stops where the damage begins */
    uint64_t from = starts[first1 - 3];
    ssize_t got = es_store_read_view(s, ES_VIEW_ALL, NULL, 0, from, buf, snap.all_len);
    assert_int_equal(got, (ssize_t)(starts[first1 - 1] - from));
    assert_memory_equal(buf, snap.all + from, (size_t)got);
    /* the blocks before and after, and the wal, still read */
    got = es_store_read_view(s, ES_VIEW_ALL, NULL, 0, 0, buf, starts[b0.n_events]);
    assert_int_equal(got, (ssize_t)starts[b0.n_events]);
    assert_memory_equal(buf, snap.all, (size_t)got);
    from = starts[b2.first_pos - 1];
    got = es_store_read_view(s, ES_VIEW_ALL, NULL, 0, from, buf, snap.all_len);
    assert_int_equal(got, (ssize_t)(snap.all_len - from));
    assert_memory_equal(buf, snap.all + from, (size_t)got);
    /* cursors: up to the damage, then ES_ECORRUPT; from after it, fine */
    struct es_cursor *c;
    struct es_event ev;
    assert_int_equal(es_cursor_open(s, NULL, 0, 1, &c), 0);
    uint64_t seen = 0;
    int rc;
    while ((rc = es_cursor_next(c, &ev)) == 1)
        seen = ev.pos;
    assert_int_equal(rc, ES_ECORRUPT);
    assert_int_equal(seen, first1 - 1);
    assert_int_equal(es_cursor_next(c, &ev), ES_ECORRUPT); /* stays failed */
    es_cursor_close(c);
    assert_int_equal(es_cursor_open(s, NULL, 0, last1 + 1, &c), 0);
    seen = 0;
    while ((rc = es_cursor_next(c, &ev)) == 1)
        seen++;
    assert_int_equal(rc, 0);
    assert_int_equal(seen, 2520 - last1);
    es_cursor_close(c);
    /* stream views and stream cursors hit the same wall */
    for (uint32_t k = 0; k < snap.n_streams; k++) {
        const struct su_stream_snap *ss = &snap.streams[k];
        uint64_t off = 0;
        ssize_t r;
        while ((r = es_store_read_view(s, ES_VIEW_STREAM, ss->name, ss->name_len, off, buf, 1000)) >
               0) {
            assert_memory_equal(buf, ss->view + off, (size_t)r);
            off += (uint64_t)r;
        }
        assert_int_equal(r, ES_ECORRUPT);
        assert_true(off < ss->view_len);
        assert_int_equal(es_cursor_open(s, ss->name, ss->name_len, 1, &c), 0);
        while ((rc = es_cursor_next(c, &ev)) == 1)
            assert_true(ev.pos < first1);
        assert_int_equal(rc, ES_ECORRUPT);
        es_cursor_close(c);
    }
    su_close(s);
    seen = 0;
    assert_int_equal(es_store_scan(f->store, 1, NULL, 0, count_event, &seen), ES_ECORRUPT);
    assert_int_equal(seen, first1 - 1);
    free(buf);
    free(starts);
    su_snapshot_release(&snap);
}

static void test_log_sealed_block_damage_never_served(void **state)
{
    struct su_fixture *f = *state;
    check_sealed_block_damage(f, true);
    check_sealed_block_damage(f, false);
}

static void test_log_sealed_structure_damage_fails_open(void **state)
{
    struct su_fixture *f = *state;
    char pristine[4300], work[4300], seg[4300];
    su_path(pristine, sizeof(pristine), "%s/pristine", f->dir);
    su_path(work, sizeof(work), "%s/work", f->dir);
    struct es_store *s = open_store(f, pristine);
    su_fill(s, 1, 1500, 3);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 1501, 10, 3);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 1511, 10, 3);
    assert_int_equal(es_store_seal(s), 0);
    su_close(s);
    su_path(seg, sizeof(seg), "%s/segments/" SEG1, pristine);
    struct es_segment *sg;
    assert_int_equal(es_segment_open_sealed(seg, SEG1, 1, &sg), 0);
    uint64_t size = sg->file_bytes, index_off = sg->footer.index_offset;
    es_segment_unref(sg);
    struct {
        const char *what;
        uint64_t off; /* flip here; UINT64_MAX: other damage */
    } cases[] = {{"header", 20},
                 {"block index", index_off + 9},
                 {"block index", index_off + 48 + 30},
                 {"footer", size - 128 + 25},
                 {"footer check", size - 1},
                 {"cut short", UINT64_MAX},
                 {"grown", UINT64_MAX - 1},
                 {"missing middle segment", UINT64_MAX - 2}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        tmpdir_remove(work);
        assert_int_equal(tree_copy(pristine, work), 0);
        su_path(seg, sizeof(seg), "%s/segments/" SEG1, work);
        const char *name = "segments/" SEG1;
        if (cases[c].off == UINT64_MAX) {
            su_truncate(seg, size - 1);
        } else if (cases[c].off == UINT64_MAX - 1) {
            su_append_bytes(seg, "", 1);
        } else if (cases[c].off == UINT64_MAX - 2) {
            su_path(seg, sizeof(seg), "%s/segments/00000000000000001501.seg", work);
            assert_int_equal(unlink(seg), 0);
            name = "segments/00000000000000001511.seg starts at position 1511";
        } else {
            su_flip_bit(seg, cases[c].off, 4);
        }
        assert_int_equal(open_rc(f, work), ES_ECORRUPT);
        if (!strstr(es_error_detail(), name))
            fail_msg("%s: detail \"%s\" lacks \"%s\"", cases[c].what, es_error_detail(), name);
        /* a read-only open refuses it just the same */
        struct es_options o;
        su_options(&o, NULL);
        o.read_only = true;
        struct es_store *ro = NULL;
        assert_int_equal(es_store_open(work, &o, &ro), ES_ECORRUPT);
    }
}

/* Regression: the active segment's read-ahead (64 KiB) ended less than a
 * frame header (44 bytes) into the next frame; the reader took the frame as
 * present and reported it cut short, so a view read came back short in the
 * middle (cat all stopped early). The frame size is chosen so that exactly
 * that happens at the first 64 KiB boundary, then every boundary after. */
static void test_log_wal_read_ahead_header_boundary(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    const size_t read_ahead = 64u << 10;
    size_t payload_len = 0;
    for (size_t p = 100; p < 1000 && !payload_len; p++) {
        size_t frame = es_frame_size(1, 0, p);
        if (read_ahead % frame >= 1 && read_ahead % frame < ES_FRAME_HEADER_BYTES)
            payload_len = p;
    }
    assert_true(payload_len > 0);
    char *payload = malloc(payload_len + 1);
    memset(payload, 'x', payload_len);
    payload[payload_len] = '\0';
    enum { N = 600 }; /* several read-ahead boundaries, all in the wal */
    for (int i = 0; i < N; i++)
        su_append(s, "S", payload);
    struct es_stream_info si;
    assert_int_equal(es_store_stream_info(s, "S", 1, &si), 0);
    assert_int_equal(si.view_bytes, (uint64_t)N * (payload_len + 1));
    char *buf = malloc(si.view_bytes + 1);
    /* one read asking for everything gets everything */
    assert_int_equal(es_store_read_view(s, ES_VIEW_STREAM, "S", 1, 0, buf, si.view_bytes + 1),
                     (ssize_t)si.view_bytes);
    for (uint64_t i = 0; i < si.view_bytes; i++)
        if (buf[i] != ((i + 1) % (payload_len + 1) == 0 ? '\n' : 'x'))
            fail_msg("stream view byte %llu is wrong", (unsigned long long)i);
    struct es_log_info li;
    es_store_log_info(s, &li);
    char *all = malloc(li.all_view_bytes);
    assert_int_equal(es_store_read_view(s, ES_VIEW_ALL, NULL, 0, 0, all, li.all_view_bytes),
                     (ssize_t)li.all_view_bytes);
    size_t rlen;
    char *rendered = su_render_all(s, &rlen);
    assert_int_equal(rlen, li.all_view_bytes);
    assert_memory_equal(all, rendered, rlen);
    free(rendered);
    free(all);
    free(buf);
    free(payload);
    su_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_log_torn_tail_every_offset, su_setup, su_teardown),
        cmocka_unit_test_setup_teardown(test_log_garbage_after_last_frame_cut, su_setup,
                                        su_teardown),
        cmocka_unit_test_setup_teardown(test_log_bit_flip_in_last_frame_cut, su_setup, su_teardown),
        cmocka_unit_test_setup_teardown(test_log_damage_before_last_frame_cut_and_flagged, su_setup,
                                        su_teardown),
        cmocka_unit_test_setup_teardown(test_log_leftover_wal_of_sealed_segment_removed, su_setup,
                                        su_teardown),
        cmocka_unit_test_setup_teardown(test_log_tmp_leftovers_removed, su_setup, su_teardown),
        cmocka_unit_test_setup_teardown(test_log_last_wal_bad_header_set_aside, su_setup,
                                        su_teardown),
        cmocka_unit_test_setup_teardown(test_log_last_wal_bad_header_with_frames_is_corrupt,
                                        su_setup, su_teardown),
        cmocka_unit_test_setup_teardown(test_log_non_last_wal_damage_is_corrupt, su_setup,
                                        su_teardown),
        cmocka_unit_test_setup_teardown(test_log_missing_wal_is_corrupt, su_setup, su_teardown),
        cmocka_unit_test_setup_teardown(test_log_seal_compressed_and_raw, su_setup, su_teardown),
        cmocka_unit_test_setup_teardown(test_log_rotation_many_segments, su_setup, su_teardown),
        cmocka_unit_test_setup_teardown(test_log_seal_failures_keep_the_wal, su_setup, su_teardown),
        cmocka_unit_test_setup_teardown(test_log_big_events, su_setup, su_teardown),
        cmocka_unit_test_setup_teardown(test_log_scan_and_random_access, su_setup, su_teardown),
        cmocka_unit_test_setup_teardown(test_log_sealed_block_damage_never_served, su_setup,
                                        su_teardown),
        cmocka_unit_test_setup_teardown(test_log_sealed_structure_damage_fails_open, su_setup,
                                        su_teardown),
        cmocka_unit_test_setup_teardown(test_log_wal_read_ahead_header_boundary, su_setup,
                                        su_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
