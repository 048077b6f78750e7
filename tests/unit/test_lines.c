/*
 * test_lines.c - line framing of writes into events (format/lines.h):
 * hand-written cases of every rule, and many random write sequences
 * compared with the reference model in tests/support/lines_model.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "format/lines.h"
#include "support/lines_model.h"

/* One write; returns its result code, the events joined with '|' in out. */
static int put(struct es_lines *l, const char *data, size_t max, char *out, size_t cap)
{
    struct es_lines_split sp;
    int rc = es_lines_split(l, data, strlen(data), max, &sp);
    out[0] = '\0';
    if (rc == 0) {
        size_t o = 0;
        for (size_t i = 0; i < sp.n_events; i++) {
            assert_true(o + sp.events[i].len + 2 < cap);
            if (i)
                out[o++] = '|';
            memcpy(out + o, sp.events[i].data, sp.events[i].len);
            o += sp.events[i].len;
            out[o] = '\0';
        }
        assert_int_equal(es_lines_accept(l, &sp), 0);
    }
    es_lines_split_release(&sp);
    return rc;
}

static void assert_partial(const struct es_lines *l, const char *want)
{
    assert_int_equal(l->partial.len, strlen(want));
    if (l->partial.len)
        assert_memory_equal(l->partial.data, want, l->partial.len);
}

static void test_lines_joins_and_carries(void **state)
{
    (void)state;
    struct es_lines l;
    es_lines_init(&l);
    char ev[256];
    assert_int_equal(put(&l, "ab", 100, ev, sizeof(ev)), 0);
    assert_string_equal(ev, "");
    assert_partial(&l, "ab");
    assert_int_equal(put(&l, "c\nde\n\nf", 100, ev, sizeof(ev)), 0);
    assert_string_equal(ev, "abc|de"); /* the empty line is not an event */
    assert_partial(&l, "f");
    assert_int_equal(put(&l, "\n", 100, ev, sizeof(ev)), 0);
    assert_string_equal(ev, "f");
    assert_partial(&l, "");
    assert_int_equal(put(&l, "\n\n\n", 100, ev, sizeof(ev)), 0);
    assert_string_equal(ev, "");
    es_lines_release(&l);
}

static void test_lines_limit_is_inclusive(void **state)
{
    (void)state;
    struct es_lines l;
    es_lines_init(&l);
    char ev[64];
    assert_int_equal(put(&l, "12345\n", 5, ev, sizeof(ev)), 0);
    assert_string_equal(ev, "12345");
    assert_int_equal(put(&l, "123456\n", 5, ev, sizeof(ev)), ES_ETOOBIG);
    assert_partial(&l, "");
    assert_false(l.discarding); /* the long line ended inside the write */
    es_lines_release(&l);
}

static void test_lines_long_partial_dropped_until_newline(void **state)
{
    (void)state;
    struct es_lines l;
    es_lines_init(&l);
    char ev[64];
    assert_int_equal(put(&l, "abc", 5, ev, sizeof(ev)), 0);
    /* the carried line grows past the limit: dropped, the rest of it too */
    assert_int_equal(put(&l, "def", 5, ev, sizeof(ev)), ES_ETOOBIG);
    assert_true(l.discarding);
    assert_partial(&l, "");
    assert_int_equal(put(&l, "ghi", 5, ev, sizeof(ev)), ES_ETOOBIG);
    assert_true(l.discarding);
    /* the write holding its newline fails too, and ends the discarding */
    assert_int_equal(put(&l, "j\nok\n", 5, ev, sizeof(ev)), ES_ETOOBIG);
    assert_false(l.discarding);
    assert_int_equal(put(&l, "ok\n", 5, ev, sizeof(ev)), 0);
    assert_string_equal(ev, "ok");
    es_lines_release(&l);
}

static void test_lines_long_line_inside_a_write_keeps_state(void **state)
{
    (void)state;
    struct es_lines l;
    es_lines_init(&l);
    char ev[64];
    assert_int_equal(put(&l, "ab", 5, ev, sizeof(ev)), 0);
    /* a later complete line is too long: nothing of the write is taken */
    assert_int_equal(put(&l, "c\ntoolong\nx\n", 5, ev, sizeof(ev)), ES_ETOOBIG);
    assert_partial(&l, "ab");
    assert_false(l.discarding);
    /* the new unfinished line would be too long: the same */
    assert_int_equal(put(&l, "c\n123456", 5, ev, sizeof(ev)), ES_ETOOBIG);
    assert_partial(&l, "ab");
    assert_int_equal(put(&l, "c\n", 5, ev, sizeof(ev)), 0);
    assert_string_equal(ev, "abc");
    es_lines_release(&l);
}

static void test_lines_many_events_spill_to_heap(void **state)
{
    (void)state;
    enum { N = 1000 };
    char *data = malloc(N * 4 + 1);
    for (int i = 0; i < N; i++)
        memcpy(data + i * 4, "abc\n", 4);
    data[N * 4] = '\0';
    struct es_lines l;
    es_lines_init(&l);
    struct es_lines_split sp;
    assert_int_equal(es_lines_split(&l, data, N * 4, 10, &sp), 0);
    assert_int_equal(sp.n_events, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(sp.events[i].len, 3);
        assert_memory_equal(sp.events[i].data, "abc", 3);
    }
    es_lines_split_release(&sp);
    es_lines_release(&l);
    free(data);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_lines_random_writes_match_the_model(void **state)
{
    (void)state;
    for (int round = 0; round < 3000; round++) {
        size_t max = 1 + rnd() % 12;
        struct es_lines l;
        struct lines_model m;
        es_lines_init(&l);
        lines_model_init(&m);
        int writes = 1 + (int)(rnd() % 12);
        for (int w = 0; w < writes; w++) {
            char data[40];
            size_t len = rnd() % sizeof(data);
            for (size_t i = 0; i < len; i++)
                data[i] = rnd() % 4 == 0 ? '\n' : (char)('a' + rnd() % 3);
            struct es_lines_split sp;
            struct lines_model_result r;
            int rc = es_lines_split(&l, data, len, max, &sp);
            lines_model_write(&m, data, len, max, &r);
            assert_int_equal(rc == ES_ETOOBIG, r.too_long);
            if (rc == 0) {
                assert_int_equal(sp.n_events, r.n_events);
                for (size_t i = 0; i < r.n_events; i++) {
                    assert_int_equal(sp.events[i].len, r.lens[i]);
                    assert_memory_equal(sp.events[i].data, r.events[i], r.lens[i]);
                    assert_null(memchr(sp.events[i].data, '\n', sp.events[i].len));
                    assert_true(sp.events[i].len > 0 && sp.events[i].len <= max);
                }
                assert_int_equal(es_lines_accept(&l, &sp), 0);
            }
            es_lines_split_release(&sp);
            lines_model_result_release(&r);
            assert_int_equal(l.partial.len, m.partial_len);
            if (m.partial_len)
                assert_memory_equal(l.partial.data, m.partial, m.partial_len);
            assert_int_equal(l.discarding, m.discarding);
        }
        es_lines_release(&l);
        lines_model_release(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_joins_and_carries),
        cmocka_unit_test(test_lines_limit_is_inclusive),
        cmocka_unit_test(test_lines_long_partial_dropped_until_newline),
        cmocka_unit_test(test_lines_long_line_inside_a_write_keeps_state),
        cmocka_unit_test(test_lines_many_events_spill_to_heap),
        cmocka_unit_test(test_lines_random_writes_match_the_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
