/*
 * test_index.c - the index module (src/index): a deleted or damaged index
 * is rebuilt identical to the one kept incrementally (every byte a reader
 * sees, and the index files themselves); an old checkpoint is caught up; a
 * checkpoint that disagrees with the log is not trusted; stream chunk lists
 * across every chunk boundary; growth of the index files, and ENOSPC while
 * growing them failing an append cleanly; the in-memory index of a
 * read-only open, which writes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esfs/esfs.h"
#include "index/index.h"
#include "log/log.h"
#include "support/fault_io.h"
#include "support/store_util.h"
#include "support/tmpdir.h"

static const char *const ix_files[] = {"global.idx", "streams.idx", "checkpoint"};

/* A store with sealed segments, a wal, 40 streams and checkpoints taken
 * along the way; *ref gets what it serves, ref_dir a copy of its index. */
static void make_store(struct su_fixture *f, struct es_options *o, struct su_snapshot *ref,
                       const char *ref_dir)
{
    su_options(o, &f->cap);
    o->checkpoint_events = 97;
    struct es_store *s = su_open(f->store, o);
    su_fill(s, 1, 700, 40);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 701, 600, 40);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 1301, 333, 40);
    su_close(s);
    s = su_open(f->store, o);
    su_snapshot_take(s, ref);
    su_close(s);
    char ix[4300];
    su_path(ix, sizeof(ix), "%s/index", f->store);
    tmpdir_remove(ref_dir);
    assert_int_equal(tree_copy(ix, ref_dir), 0);
}

/* Opens the store, checks it serves exactly ref, closes it, and checks
 * its index files equal those in ref_dir. */
static void check_same(struct su_fixture *f, const struct es_options *o,
                       const struct su_snapshot *ref, const char *ref_dir)
{
    struct es_store *s = su_open(f->store, o);
    struct su_snapshot now;
    su_snapshot_take(s, &now);
    su_snapshot_assert_equal(ref, &now);
    su_snapshot_release(&now);
    su_check_sequence(s);
    su_close(s);
    for (size_t i = 0; i < 3; i++) {
        char a[4400], b[4400];
        su_path(a, sizeof(a), "%s/index/%s", f->store, ix_files[i]);
        su_path(b, sizeof(b), "%s/%s", ref_dir, ix_files[i]);
        if (!su_files_equal_zero_tail(a, b))
            fail_msg("index/%s differs from the incremental one", ix_files[i]);
    }
    size_t a_len, b_len;
    char a[4400], b[4400];
    su_path(a, sizeof(a), "%s/index/checkpoint", f->store);
    su_path(b, sizeof(b), "%s/checkpoint", ref_dir);
    char *x = file_read_all(a, &a_len), *y = file_read_all(b, &b_len);
    assert_int_equal(a_len, b_len);
    assert_memory_equal(x, y, a_len);
    free(x);
    free(y);
}

static void test_index_deleted_index_rebuilt_identical(void **state)
{
    struct su_fixture *f = *state;
    char ref_dir[4300], p[4400];
    su_path(ref_dir, sizeof(ref_dir), "%s/ref-index", f->dir);
    struct es_options o;
    struct su_snapshot ref;
    make_store(f, &o, &ref, ref_dir);
    /* the whole directory, or one file of it, gone */
    for (int c = 0; c < 5; c++) {
        if (c == 0) {
            su_path(p, sizeof(p), "%s/index", f->store);
            tmpdir_remove(p);
        } else if (c <= 3) {
            su_path(p, sizeof(p), "%s/index/%s", f->store, ix_files[c - 1]);
            assert_int_equal(unlink(p), 0);
        } else {
            su_path(p, sizeof(p), "%s/index/global.idx", f->store);
            su_truncate(p, 0);
        }
        logcap_clear(&f->cap);
        check_same(f, &o, &ref, ref_dir);
        assert_true(logcap_has(&f->cap, "index: rebuilding from the segments"));
        assert_true(logcap_has(&f->cap, "index rebuilt"));
    }
    /* and an undamaged one is loaded, not rebuilt */
    logcap_clear(&f->cap);
    check_same(f, &o, &ref, ref_dir);
    assert_true(logcap_has(&f->cap, "index loaded (checkpoint at 1633, 0 events caught up)"));
    su_snapshot_release(&ref);
}

static void test_index_damaged_index_rebuilt_identical(void **state)
{
    struct su_fixture *f = *state;
    char ref_dir[4300], saved[4300], ix[4300], p[4400];
    su_path(ref_dir, sizeof(ref_dir), "%s/ref-index", f->dir);
    su_path(saved, sizeof(saved), "%s/saved-index", f->dir);
    su_path(ix, sizeof(ix), "%s/index", f->store);
    struct es_options o;
    struct su_snapshot ref;
    make_store(f, &o, &ref, ref_dir);
    int64_t ckpt_len = 0;
    su_path(p, sizeof(p), "%s/checkpoint", ref_dir);
    ckpt_len = file_size(p);
    assert_true(ckpt_len > 200);
    struct {
        const char *file;
        int64_t off; /* negative: from the end */
        const char *why;
    } cases[] = {
        {"checkpoint", 0, "checkpoint has no valid header"},
        {"checkpoint", 17, "checkpoint check mismatch"},
        {"checkpoint", 100, "checkpoint check mismatch"},
        {"checkpoint", -1, "checkpoint check mismatch"},
        {"global.idx", 3, "index files missing or of another format"},
        {"global.idx", 64 + 16 * 500 + 2, "global index"},
        {"global.idx", 64 + 16 * 1632 + 9, "global index"},
        {"streams.idx", 8, "index files missing or of another format"},
        {"streams.idx", 64 + 5, "stream index"},
        {"streams.idx", 64 + 16 * 40 + 1, "stream index"},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        su_path(p, sizeof(p), "%s/%s", ix, cases[c].file);
        int64_t off = cases[c].off >= 0 ? cases[c].off : file_size(p) + cases[c].off;
        su_flip_bit(p, (uint64_t)off, (unsigned)c);
        logcap_clear(&f->cap);
        check_same(f, &o, &ref, ref_dir);
        char want[256];
        su_path(want, sizeof(want), "index: rebuilding from the segments (%s", cases[c].why);
        if (!logcap_has(&f->cap, want))
            fail_msg("case %zu (%s at %lld): no \"%s\" in:\n%s", c, cases[c].file, (long long)off,
                     want, f->cap.text);
    }
    /* a checkpoint cut short */
    su_path(p, sizeof(p), "%s/checkpoint", ix);
    su_truncate(p, (uint64_t)ckpt_len / 2);
    logcap_clear(&f->cap);
    check_same(f, &o, &ref, ref_dir);
    assert_true(logcap_has(&f->cap, "index: rebuilding from the segments"));
    (void)saved;
    su_snapshot_release(&ref);
}

static void test_index_old_checkpoint_caught_up(void **state)
{
    struct su_fixture *f = *state;
    char old[4300], ix[4300], ref_dir[4300];
    su_path(old, sizeof(old), "%s/old-index", f->dir);
    su_path(ref_dir, sizeof(ref_dir), "%s/ref-index", f->dir);
    su_path(ix, sizeof(ix), "%s/index", f->store);
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 1, 500, 9);
    su_close(s);
    assert_int_equal(tree_copy(ix, old), 0);
    /* the log moves on: the wal the old checkpoint points into is sealed,
     * more segments and a wal follow */
    s = su_open(f->store, &o);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 501, 400, 13);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 901, 300, 13);
    su_close(s);
    s = su_open(f->store, &o);
    struct su_snapshot ref;
    su_snapshot_take(s, &ref);
    su_close(s);
    assert_int_equal(tree_copy(ix, ref_dir), 0);

    /* directly: loaded, not rebuilt, 700 events caught up */
    tmpdir_remove(ix);
    assert_int_equal(tree_copy(old, ix), 0);
    {
        struct es_log_options lo = {.dir = f->store, .cache_bytes = 1 << 20};
        struct es_log *log;
        assert_int_equal(es_log_open(&lo, &log, NULL), 0);
        struct es_index *x;
        struct es_index_open_info info;
        assert_int_equal(es_index_open(ix, log, NULL, &x, &info), 0);
        assert_false(info.rebuilt);
        assert_int_equal(info.checkpoint_pos, 500);
        assert_int_equal(info.caught_up, 700);
        assert_int_equal(es_index_published_pos(x), 1200);
        assert_int_equal(es_index_check_against_log(x, NULL, NULL), 0);
        es_index_close(x);
        es_log_close(log);
    }
    /* through the store, from the old copy again */
    tmpdir_remove(ix);
    assert_int_equal(tree_copy(old, ix), 0);
    logcap_clear(&f->cap);
    check_same(f, &o, &ref, ref_dir);
    assert_true(logcap_has(&f->cap, "index loaded (checkpoint at 500, 700 events caught up)"));

    /* an old checkpoint over newer index files (a crash after the files
     * were synced, before the checkpoint replaced the old one) */
    char p[4400], q[4400];
    su_path(p, sizeof(p), "%s/checkpoint", old);
    su_path(q, sizeof(q), "%s/checkpoint", ix);
    assert_int_equal(tree_copy(p, q), 0);
    logcap_clear(&f->cap);
    check_same(f, &o, &ref, ref_dir);
    assert_true(logcap_has(&f->cap, "index loaded (checkpoint at 500, 700 events caught up)"));
    su_snapshot_release(&ref);
}

static void test_index_checkpoint_of_other_log_not_trusted(void **state)
{
    struct su_fixture *f = *state;
    char other[4300], p[4400], q[4400];
    su_path(other, sizeof(other), "%s/other", f->dir);
    struct es_options o;
    su_options(&o, &f->cap);
    /* two logs of the same shape: same streams, same event count, the
     * first payload one byte longer in the other */
    for (int c = 0; c < 2; c++) {
        struct es_store *s = su_open(c == 0 ? f->store : other, &o);
        su_append(s, "a", c == 0 ? "first" : "first!");
        su_fill(s, 2, 99, 3);
        su_close(s);
    }
    struct es_store *s = su_open(f->store, &o);
    struct su_snapshot ref;
    su_snapshot_take(s, &ref);
    su_close(s);
    for (size_t i = 0; i < 3; i++) {
        su_path(p, sizeof(p), "%s/index/%s", other, ix_files[i]);
        su_path(q, sizeof(q), "%s/index/%s", f->store, ix_files[i]);
        assert_int_equal(tree_copy(p, q), 0);
    }
    logcap_clear(&f->cap);
    s = su_open(f->store, &o);
    assert_true(logcap_has(&f->cap, "checkpoint disagrees with the log"));
    struct su_snapshot now;
    su_snapshot_take(s, &now);
    su_snapshot_assert_equal(&ref, &now);
    su_snapshot_release(&now);
    su_close(s);
    su_snapshot_release(&ref);
}

/* Entries where a stream's chunk list moves to its next chunk. */
static bool is_chunk_edge(uint64_t v)
{
    for (uint64_t k = 0, first = 1; k < 16; k++) {
        uint64_t cap = k < 14 ? (uint64_t)4 << k : 65536;
        if (v + 1 >= first && v <= first + 1)
            return true;
        first += cap;
    }
    return false;
}

static void append_batch(struct es_store *s, const char *stream, uint64_t first_version, size_t n,
                         int expect_rc)
{
    struct es_payload *p = calloc(n, sizeof(*p));
    char *text = malloc(n * 24);
    for (size_t i = 0; i < n; i++) {
        char *t = text + i * 24;
        snprintf(t, 24, "e%llu", (unsigned long long)(first_version + i));
        p[i] = (struct es_payload){t, strlen(t)};
    }
    struct es_append_result res;
    int rc = es_store_append(s, stream, strlen(stream), p, n, (int64_t)first_version - 1, &res);
    if (rc != expect_rc)
        fail_msg("append of %zu to %s: %s (%s), expected %s", n, stream, es_strerror(rc),
                 es_error_detail(), es_strerror(expect_rc));
    if (rc == 0)
        assert_int_equal(res.first_version, first_version);
    free(p);
    free(text);
}

/* The stream view of "big" holding versions 1..n. */
static char *big_view(uint64_t n, size_t *len, uint64_t **starts)
{
    char *v = malloc(n * 24 + 1);
    *starts = malloc((n + 2) * sizeof(**starts));
    size_t used = 0;
    for (uint64_t i = 1; i <= n; i++) {
        (*starts)[i] = used;
        used += (size_t)sprintf(v + used, "e%llu\n", (unsigned long long)i);
    }
    (*starts)[n + 1] = used;
    *len = used;
    return v;
}

static void check_big(struct es_store *s, uint64_t n)
{
    size_t len;
    uint64_t *starts;
    char *want = big_view(n, &len, &starts);
    struct es_stream_info si;
    assert_int_equal(es_store_stream_info(s, "big", 3, &si), 0);
    assert_int_equal(si.version, n);
    assert_int_equal(si.view_bytes, len);
    char buf[64];
    for (uint64_t v = 1; v <= n; v++) {
        if (!is_chunk_edge(v) && v % 4999 != 0 && v != n)
            continue;
        /* a read from the middle of the line of version v */
        uint64_t off = starts[v] + 1;
        ssize_t r = es_store_read_view(s, ES_VIEW_STREAM, "big", 3, off, buf, sizeof(buf));
        size_t expect = len - off < sizeof(buf) ? len - off : sizeof(buf);
        assert_int_equal(r, (ssize_t)expect);
        assert_memory_equal(buf, want + off, expect);
        /* a cursor from version v */
        struct es_cursor *c;
        struct es_event ev;
        assert_int_equal(es_cursor_open(s, "big", 3, v, &c), 0);
        assert_int_equal(es_cursor_next(c, &ev), 1);
        assert_int_equal(ev.version, v);
        assert_int_equal(ev.payload_len, starts[v + 1] - starts[v] - 1);
        assert_memory_equal(ev.payload, want + starts[v], ev.payload_len);
        es_cursor_close(c);
    }
    free(want);
    free(starts);
}

static void test_index_chunk_boundaries_and_growth(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    /* one stream past the last small chunk (65532 entries) and into the
     * big ones, with other streams between its batches; global.idx grows
     * past its first mapping on the way */
    const uint64_t n = 65532 + 65536 + 40;
    uint64_t v = 1;
    unsigned k = 0;
    while (v <= n) {
        size_t batch = n - v + 1 < 3001 ? (size_t)(n - v + 1) : 3001;
        append_batch(s, "big", v, batch, 0);
        v += batch;
        char other[16];
        snprintf(other, sizeof(other), "small-%u", k++ % 5);
        su_append(s, other, "x");
    }
    check_big(s, n);
    struct su_snapshot ref;
    su_snapshot_take(s, &ref);
    su_close(s);
    /* the same from the checkpoint, and from a rebuild */
    for (int c = 0; c < 2; c++) {
        if (c == 1) {
            uint64_t events = 0;
            assert_int_equal(es_store_reindex(f->store, &o, &events), 0);
            assert_int_equal(events, ref.li.last_pos);
        }
        s = su_open(f->store, &o);
        check_big(s, n);
        struct su_snapshot now;
        su_snapshot_take(s, &now);
        su_snapshot_assert_equal(&ref, &now);
        su_snapshot_release(&now);
        su_close(s);
    }
    su_snapshot_release(&ref);
    assert_int_equal(es_store_verify(f->store, NULL, NULL, NULL), 0);
}

static void test_index_growth_enospc_fails_append_cleanly(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    /* 65500 entries: both index files just fit their first 1 MiB */
    for (uint64_t v = 1; v <= 65500; v += 5000)
        append_batch(s, "big", v, v + 5000 > 65501 ? 65501 - v : 5000, 0);
    su_close(s);
    char wal[4300], gidx[4300], pidx[4300];
    su_path(wal, sizeof(wal), "%s/wal/00000000000000000001.wal", f->store);
    su_path(gidx, sizeof(gidx), "%s/index/global.idx", f->store);
    su_path(pidx, sizeof(pidx), "%s/index/streams.idx", f->store);
    assert_int_equal(file_size(gidx), 1 << 20);
    assert_int_equal(file_size(pidx), 1 << 20);

    fault_io_install();
    s = su_open(f->store, &o);
    struct su_snapshot before;
    su_snapshot_take(s, &before);
    int64_t wal_size = file_size(wal);
    /* a new stream needs a chunk past the end of streams.idx; 40 more
     * positions need room past the end of global.idx */
    struct {
        const char *file;
        const char *stream;
        size_t n;
    } cases[] = {{"index/streams.idx", "new", 1}, {"index/global.idx", "big", 40}};
    for (int c = 0; c < 2; c++) {
        fault_io_reset();
        fault_io_add(&(struct fault_rule){
            .op = FAULT_FALLOCATE, .path_contains = cases[c].file, .errno_value = ENOSPC});
        uint64_t first_version = strcmp(cases[c].stream, "big") == 0 ? 65501 : 1;
        append_batch(s, cases[c].stream, first_version, cases[c].n, -ENOSPC);
        assert_true(fault_io_failed(FAULT_FALLOCATE) >= 1);
        assert_int_equal(fault_io_calls(FAULT_PWRITE), 0); /* nothing written */
        assert_int_equal(file_size(wal), wal_size);
        struct su_snapshot now;
        su_snapshot_take(s, &now);
        su_snapshot_assert_equal(&before, &now);
        su_snapshot_release(&now);
        struct es_metrics m;
        es_store_metrics(s, &m);
        assert_false(m.poisoned);
    }
    /* space returns: the same appends go through, without a gap */
    fault_io_reset();
    append_batch(s, "new", 1, 1, 0);
    append_batch(s, "big", 65501, 40, 0);
    struct es_log_info li;
    es_store_log_info(s, &li);
    assert_int_equal(li.last_pos, 65541);
    assert_int_equal(su_check_sequence(s), 65541);
    check_big(s, 65540);
    struct su_snapshot ref;
    su_snapshot_take(s, &ref);
    su_close(s);
    assert_true(file_size(gidx) > 1 << 20);
    assert_true(file_size(pidx) > 1 << 20);
    s = su_open(f->store, &o);
    struct su_snapshot now;
    su_snapshot_take(s, &now);
    su_snapshot_assert_equal(&ref, &now);
    su_snapshot_release(&now);
    su_close(s);
    su_snapshot_release(&ref);
    su_snapshot_release(&before);
    assert_int_equal(es_store_verify(f->store, NULL, NULL, NULL), 0);
}

static void test_index_read_only_in_memory_writes_nothing(void **state)
{
    struct su_fixture *f = *state;
    struct es_options o;
    su_options(&o, &f->cap);
    struct es_store *s = su_open(f->store, &o);
    su_fill(s, 1, 300, 6);
    assert_int_equal(es_store_seal(s), 0);
    su_fill(s, 301, 50, 6);
    struct su_snapshot ref;
    su_snapshot_take(s, &ref);
    su_close(s);
    /* even with the index gone, a read-only open builds it in memory and
     * writes nothing to the store directory */
    char ix[4300];
    su_path(ix, sizeof(ix), "%s/index", f->store);
    tmpdir_remove(ix);
    fault_io_install();
    o.read_only = true;
    s = su_open(f->store, &o);
    struct su_snapshot now;
    su_snapshot_take(s, &now);
    su_snapshot_assert_equal(&ref, &now);
    su_snapshot_release(&now);
    struct es_payload p = {"x", 1};
    assert_int_equal(es_store_append(s, "a", 1, &p, 1, ES_VERSION_ANY, NULL), ES_EREADONLY);
    assert_int_equal(es_store_seal(s), ES_EREADONLY);
    su_close(s);
    assert_int_equal(fault_io_calls(FAULT_PWRITE), 0);
    assert_int_equal(fault_io_calls(FAULT_FTRUNCATE), 0);
    assert_int_equal(fault_io_calls(FAULT_RENAME), 0);
    assert_int_equal(fault_io_calls(FAULT_UNLINK), 0);
    assert_int_equal(fault_io_calls(FAULT_MKDIR), 0);
    assert_int_equal(fault_io_calls(FAULT_FSYNC), 0);
    assert_int_equal(fault_io_calls(FAULT_FDATASYNC), 0);
    assert_int_equal(su_count_files(ix, ""), 0);
    su_snapshot_release(&ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_index_deleted_index_rebuilt_identical, su_setup,
                                        su_teardown),
        cmocka_unit_test_setup_teardown(test_index_damaged_index_rebuilt_identical, su_setup,
                                        su_teardown),
        cmocka_unit_test_setup_teardown(test_index_old_checkpoint_caught_up, su_setup, su_teardown),
        cmocka_unit_test_setup_teardown(test_index_checkpoint_of_other_log_not_trusted, su_setup,
                                        su_teardown),
        cmocka_unit_test_setup_teardown(test_index_chunk_boundaries_and_growth, su_setup,
                                        su_teardown),
        cmocka_unit_test_setup_teardown(test_index_growth_enospc_fails_append_cleanly, su_setup,
                                        su_teardown),
        cmocka_unit_test_setup_teardown(test_index_read_only_in_memory_writes_nothing, su_setup,
                                        su_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
