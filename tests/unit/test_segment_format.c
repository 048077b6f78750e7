/*
 * test_segment_format.c - the segment header, block index entry and footer
 * codecs (src/format/segment_format.c) against the byte tables of
 * docs/format.md: round trips, the layout checked byte by byte, every range
 * check failing in turn, the golden bytes in tests/golden/seg-*-v1.bin
 * decoded and re-encoded, and the segment file names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "esfs/esfs.h"
#include "format/segment_format.h"
#include "support/tmpdir.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rd(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void wr(unsigned char *p, int n, uint64_t v)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void reseal_header(unsigned char *h)
{
    wr(h + 56, 8, XXH3_64bits(h, 56));
}

static void reseal_footer(unsigned char *f)
{
    wr(f + 120, 8, XXH3_64bits(f, 120));
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static unsigned char *read_golden(const char *name, size_t expect_len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", ES_TEST_GOLDEN_DIR, name);
    size_t n = 0;
    unsigned char *p = (unsigned char *)file_read_all(path, &n);
    if (!p)
        fail_msg("cannot read %s", path);
    assert_int_equal(n, expect_len);
    return p;
}

#define assert_fails(rc_expr, code, why)                                                           \
    do {                                                                                           \
        why = NULL;                                                                                \
        assert_int_equal((rc_expr), (code));                                                       \
        assert_non_null(why);                                                                      \
        assert_true(strlen(why) > 0);                                                              \
    } while (0)

/* ---- header ------------------------------------------------------------- */

static const struct es_seg_header sample_header = {
    .version = 1, .kind = ES_SEG_SEALED, .first_pos = 4097, .created_ns = 1700000000123456789};

static void test_segment_format_header_layout(void **state)
{
    (void)state;
    unsigned char h[ES_SEG_HEADER_BYTES];
    memset(h, 0xCC, sizeof(h));
    es_seg_header_encode(&sample_header, h);
    assert_memory_equal(h, "ESFSSEG\0", 8);
    assert_int_equal(rd(h + 8, 4), 1);
    assert_int_equal(rd(h + 12, 4), 2);
    assert_int_equal(rd(h + 16, 8), 4097);
    assert_int_equal(rd(h + 24, 8), 1700000000123456789);
    assert_true(all_zero(h + 32, 24));
    assert_true(rd(h + 56, 8) == XXH3_64bits(h, 56));
}

static void test_segment_format_header_roundtrip(void **state)
{
    (void)state;
    static const uint64_t firsts[] = {1, 2, 4097, UINT64_MAX};
    static const int64_t created[] = {0, 1, 1700000000123456789, INT64_MAX};
    for (uint32_t kind = ES_SEG_ACTIVE; kind <= ES_SEG_SEALED; kind++)
        for (size_t i = 0; i < 4; i++) {
            struct es_seg_header in = {.version = ES_FORMAT_VERSION,
                                       .kind = kind,
                                       .first_pos = firsts[i],
                                       .created_ns = created[i]};
            unsigned char h[ES_SEG_HEADER_BYTES];
            es_seg_header_encode(&in, h);
            struct es_seg_header out;
            memset(&out, 0xAB, sizeof(out));
            const char *why = NULL;
            assert_int_equal(es_seg_header_decode(h, &out, &why), 0);
            assert_int_equal(out.version, ES_FORMAT_VERSION);
            assert_int_equal(out.kind, kind);
            assert_int_equal(out.first_pos, firsts[i]);
            assert_int_equal(out.created_ns, created[i]);
        }
}

static void test_segment_format_header_bad_magic(void **state)
{
    (void)state;
    unsigned char h[ES_SEG_HEADER_BYTES];
    struct es_seg_header out;
    const char *why;
    for (int i = 0; i < 8; i++) {
        es_seg_header_encode(&sample_header, h);
        h[i] ^= 0x01;
        reseal_header(h);
        assert_fails(es_seg_header_decode(h, &out, &why), ES_ECORRUPT, why);
        assert_non_null(strstr(why, "magic"));
    }
    /* the footer's magic is not a header's */
    es_seg_header_encode(&sample_header, h);
    memcpy(h, "ESFSEND\0", 8);
    reseal_header(h);
    assert_fails(es_seg_header_decode(h, &out, &why), ES_ECORRUPT, why);
}

static void test_segment_format_header_check_mismatch(void **state)
{
    (void)state;
    unsigned char h[ES_SEG_HEADER_BYTES];
    struct es_seg_header out;
    const char *why;
    es_seg_header_encode(&sample_header, h);
    /* every bit after the magic: caught by the check (or the magic test) */
    for (size_t i = 8; i < ES_SEG_HEADER_BYTES; i++)
        for (int bit = 0; bit < 8; bit++) {
            h[i] ^= (unsigned char)(1u << bit);
            assert_fails(es_seg_header_decode(h, &out, &why), ES_ECORRUPT, why);
            assert_non_null(strstr(why, "check"));
            h[i] ^= (unsigned char)(1u << bit);
        }
    assert_int_equal(es_seg_header_decode(h, &out, &why), 0);
}

static void test_segment_format_header_unknown_version_is_eformat(void **state)
{
    (void)state;
    static const uint32_t bad[] = {0, 2, 0x100, UINT32_MAX};
    for (size_t i = 0; i < 4; i++) {
        struct es_seg_header in = sample_header;
        in.version = bad[i];
        unsigned char h[ES_SEG_HEADER_BYTES];
        es_seg_header_encode(&in, h); /* a valid check over an unknown version */
        struct es_seg_header out;
        const char *why;
        assert_fails(es_seg_header_decode(h, &out, &why), ES_EFORMAT, why);
    }
}

static void test_segment_format_header_out_of_range(void **state)
{
    (void)state;
    unsigned char h[ES_SEG_HEADER_BYTES];
    struct es_seg_header out;
    const char *why;
    static const uint32_t bad_kinds[] = {0, 3, 0x101, UINT32_MAX};
    for (size_t i = 0; i < 4; i++) {
        struct es_seg_header in = sample_header;
        in.kind = bad_kinds[i];
        es_seg_header_encode(&in, h);
        assert_fails(es_seg_header_decode(h, &out, &why), ES_ECORRUPT, why);
    }
    struct es_seg_header in = sample_header;
    in.first_pos = 0;
    es_seg_header_encode(&in, h);
    assert_fails(es_seg_header_decode(h, &out, &why), ES_ECORRUPT, why);
    /* each reserved byte (32..55) */
    for (int i = 32; i < 56; i++) {
        es_seg_header_encode(&sample_header, h);
        h[i] = 0x80;
        reseal_header(h);
        assert_fails(es_seg_header_decode(h, &out, &why), ES_ECORRUPT, why);
    }
}

static void test_segment_format_header_golden(void **state)
{
    (void)state;
    unsigned char *g = read_golden("seg-header-v1.bin", ES_SEG_HEADER_BYTES);
    struct es_seg_header out;
    const char *why = NULL;
    assert_int_equal(es_seg_header_decode(g, &out, &why), 0);
    assert_int_equal(out.version, 1);
    assert_int_equal(out.kind, ES_SEG_SEALED);
    assert_int_equal(out.first_pos, 4097);
    assert_int_equal(out.created_ns, 1700000000123456789);
    unsigned char h[ES_SEG_HEADER_BYTES];
    es_seg_header_encode(&sample_header, h);
    assert_memory_equal(h, g, ES_SEG_HEADER_BYTES);
    free(g);
}

/* ---- block index entry -------------------------------------------------- */

/* The largest frame: 44 + 255 + 65535 + 64 MiB + 8 bytes. */
#define MAX_BLOCK_RAW (44u + 255u + 65535u + (64u << 20) + 8u)

static const struct es_block_entry sample_entry = {.first_pos = 4097,
                                                   .raw_offset = 65500,
                                                   .file_offset = 1298,
                                                   .stored_len = 2345,
                                                   .raw_len = 65530,
                                                   .n_events = 321,
                                                   .codec = ES_CODEC_ZSTD,
                                                   .check = 0x0123456789abcdefull};

static void assert_entry_equal(const struct es_block_entry *a, const struct es_block_entry *b)
{
    assert_int_equal(a->first_pos, b->first_pos);
    assert_int_equal(a->raw_offset, b->raw_offset);
    assert_int_equal(a->file_offset, b->file_offset);
    assert_int_equal(a->stored_len, b->stored_len);
    assert_int_equal(a->raw_len, b->raw_len);
    assert_int_equal(a->n_events, b->n_events);
    assert_int_equal(a->codec, b->codec);
    assert_true(a->check == b->check);
}

static void test_segment_format_block_entry_layout(void **state)
{
    (void)state;
    unsigned char e[ES_SEG_BLOCK_ENTRY_BYTES];
    memset(e, 0xCC, sizeof(e));
    es_block_entry_encode(&sample_entry, e);
    assert_int_equal(rd(e, 8), 4097);
    assert_int_equal(rd(e + 8, 8), 65500);
    assert_int_equal(rd(e + 16, 8), 1298);
    assert_int_equal(rd(e + 24, 4), 2345);
    assert_int_equal(rd(e + 28, 4), 65530);
    assert_int_equal(rd(e + 32, 4), 321);
    assert_int_equal(e[36], 1);
    assert_true(all_zero(e + 37, 3));
    assert_true(rd(e + 40, 8) == 0x0123456789abcdefull);
}

static void test_segment_format_block_entry_roundtrip(void **state)
{
    (void)state;
    struct es_block_entry cases[] = {
        sample_entry,
        {1, 0, 64, 1, 1, 1, ES_CODEC_NONE, 0},
        {UINT64_MAX, UINT64_MAX, UINT64_MAX, MAX_BLOCK_RAW, MAX_BLOCK_RAW, UINT32_MAX,
         ES_CODEC_NONE, UINT64_MAX},
        {3, 0, 64, 100, MAX_BLOCK_RAW, 1, ES_CODEC_ZSTD, 7},
        {2, 100, 164, 10, 65536, 5, ES_CODEC_ZSTD, 42},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char e[ES_SEG_BLOCK_ENTRY_BYTES];
        es_block_entry_encode(&cases[i], e);
        struct es_block_entry out;
        memset(&out, 0xAB, sizeof(out));
        const char *why = NULL;
        assert_int_equal(es_block_entry_decode(e, &out, &why), 0);
        assert_entry_equal(&out, &cases[i]);
    }
}

static void test_segment_format_block_entry_out_of_range(void **state)
{
    (void)state;
    unsigned char e[ES_SEG_BLOCK_ENTRY_BYTES];
    struct es_block_entry out, in;
    const char *why;
#define BAD_ENTRY(field, value)                                                                    \
    do {                                                                                           \
        in = sample_entry;                                                                         \
        in.field = (value);                                                                        \
        es_block_entry_encode(&in, e);                                                             \
        assert_fails(es_block_entry_decode(e, &out, &why), ES_ECORRUPT, why);                      \
    } while (0)
    BAD_ENTRY(first_pos, 0);
    BAD_ENTRY(n_events, 0);
    BAD_ENTRY(raw_len, 0);
    BAD_ENTRY(stored_len, 0);
    BAD_ENTRY(codec, 2);
    BAD_ENTRY(codec, 0x80);
    BAD_ENTRY(codec, 0xFF);
    /* a raw block is stored as it is: stored_len must be raw_len */
    in = sample_entry;
    in.codec = ES_CODEC_NONE;
    in.stored_len = in.raw_len + 1;
    es_block_entry_encode(&in, e);
    assert_fails(es_block_entry_decode(e, &out, &why), ES_ECORRUPT, why);
    in.stored_len = in.raw_len - 1;
    es_block_entry_encode(&in, e);
    assert_fails(es_block_entry_decode(e, &out, &why), ES_ECORRUPT, why);
    in.stored_len = in.raw_len;
    es_block_entry_encode(&in, e);
    assert_int_equal(es_block_entry_decode(e, &out, &why), 0);
    /* no block is larger than the largest frame: blocks are cut before they
     * pass 64 KiB, so a bigger one holds a single frame. A reader allocates
     * raw_len bytes for a block, so this bound is what keeps a crafted index
     * (with valid checks) from asking for 4 GiB. */
    BAD_ENTRY(raw_len, MAX_BLOCK_RAW + 1);
    BAD_ENTRY(raw_len, UINT32_MAX);
    in = sample_entry;
    in.codec = ES_CODEC_NONE;
    in.raw_len = in.stored_len = MAX_BLOCK_RAW + 1;
    es_block_entry_encode(&in, e);
    assert_fails(es_block_entry_decode(e, &out, &why), ES_ECORRUPT, why);
    /* reserved bytes 37..39 */
    for (int i = 37; i < 40; i++) {
        es_block_entry_encode(&sample_entry, e);
        e[i] = 1;
        assert_fails(es_block_entry_decode(e, &out, &why), ES_ECORRUPT, why);
    }
#undef BAD_ENTRY
}

static void test_segment_format_block_entry_golden(void **state)
{
    (void)state;
    unsigned char *g = read_golden("seg-block-entry-v1.bin", ES_SEG_BLOCK_ENTRY_BYTES);
    struct es_block_entry out;
    const char *why = NULL;
    assert_int_equal(es_block_entry_decode(g, &out, &why), 0);
    struct es_block_entry expect = {4097, 65500, 1298, 2345, 65530, 321, 1, 0x0123456789abcdefull};
    assert_entry_equal(&out, &expect);
    unsigned char e[ES_SEG_BLOCK_ENTRY_BYTES];
    es_block_entry_encode(&expect, e);
    assert_memory_equal(e, g, ES_SEG_BLOCK_ENTRY_BYTES);
    free(g);
}

/* ---- footer ------------------------------------------------------------- */

static const struct es_seg_footer sample_footer = {.version = 1,
                                                   .n_blocks = 3,
                                                   .first_pos = 4097,
                                                   .last_pos = 5096,
                                                   .n_events = 1000,
                                                   .raw_bytes = 196000,
                                                   .index_offset = 5000,
                                                   .first_ts_ns = 1700000000000000000,
                                                   .last_ts_ns = 1700000009999999999,
                                                   .index_check = 0xfedcba9876543210ull,
                                                   .file_check = 0x0f1e2d3c4b5a6978ull};

static void assert_footer_equal(const struct es_seg_footer *a, const struct es_seg_footer *b)
{
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->n_blocks, b->n_blocks);
    assert_int_equal(a->first_pos, b->first_pos);
    assert_int_equal(a->last_pos, b->last_pos);
    assert_int_equal(a->n_events, b->n_events);
    assert_int_equal(a->raw_bytes, b->raw_bytes);
    assert_int_equal(a->index_offset, b->index_offset);
    assert_int_equal(a->first_ts_ns, b->first_ts_ns);
    assert_int_equal(a->last_ts_ns, b->last_ts_ns);
    assert_true(a->index_check == b->index_check);
    assert_true(a->file_check == b->file_check);
}

static void test_segment_format_footer_layout(void **state)
{
    (void)state;
    unsigned char f[ES_SEG_FOOTER_BYTES];
    memset(f, 0xCC, sizeof(f));
    es_seg_footer_encode(&sample_footer, f);
    assert_memory_equal(f, "ESFSEND\0", 8);
    assert_int_equal(rd(f + 8, 4), 1);
    assert_int_equal(rd(f + 12, 4), 3);
    assert_int_equal(rd(f + 16, 8), 4097);
    assert_int_equal(rd(f + 24, 8), 5096);
    assert_int_equal(rd(f + 32, 8), 1000);
    assert_int_equal(rd(f + 40, 8), 196000);
    assert_int_equal(rd(f + 48, 8), 5000);
    assert_int_equal(rd(f + 56, 8), 1700000000000000000);
    assert_int_equal(rd(f + 64, 8), 1700000009999999999);
    assert_true(rd(f + 72, 8) == 0xfedcba9876543210ull);
    assert_true(rd(f + 80, 8) == 0x0f1e2d3c4b5a6978ull);
    assert_true(all_zero(f + 88, 32));
    assert_true(rd(f + 120, 8) == XXH3_64bits(f, 120));
}

static void test_segment_format_footer_roundtrip(void **state)
{
    (void)state;
    struct es_seg_footer cases[] = {
        sample_footer,
        /* the smallest: one block, one event, index right after the header */
        {1, 1, 1, 1, 1, 1, ES_SEG_HEADER_BYTES, 0, 0, 0, 0},
        {1, UINT32_MAX, 1, UINT64_MAX - 1, UINT64_MAX - 1, UINT64_MAX, UINT64_MAX, INT64_MAX,
         INT64_MAX, UINT64_MAX, UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char f[ES_SEG_FOOTER_BYTES];
        es_seg_footer_encode(&cases[i], f);
        struct es_seg_footer out;
        memset(&out, 0xAB, sizeof(out));
        const char *why = NULL;
        assert_int_equal(es_seg_footer_decode(f, &out, &why), 0);
        assert_footer_equal(&out, &cases[i]);
    }
}

static void test_segment_format_footer_bad_magic_and_check(void **state)
{
    (void)state;
    unsigned char f[ES_SEG_FOOTER_BYTES];
    struct es_seg_footer out;
    const char *why;
    for (int i = 0; i < 8; i++) {
        es_seg_footer_encode(&sample_footer, f);
        f[i] ^= 0x02;
        reseal_footer(f);
        assert_fails(es_seg_footer_decode(f, &out, &why), ES_ECORRUPT, why);
        assert_non_null(strstr(why, "magic"));
    }
    es_seg_footer_encode(&sample_footer, f);
    memcpy(f, "ESFSSEG\0", 8); /* a header's magic */
    reseal_footer(f);
    assert_fails(es_seg_footer_decode(f, &out, &why), ES_ECORRUPT, why);
    es_seg_footer_encode(&sample_footer, f);
    for (size_t i = 8; i < ES_SEG_FOOTER_BYTES; i++)
        for (int bit = 0; bit < 8; bit += 3) {
            f[i] ^= (unsigned char)(1u << bit);
            assert_fails(es_seg_footer_decode(f, &out, &why), ES_ECORRUPT, why);
            assert_non_null(strstr(why, "check"));
            f[i] ^= (unsigned char)(1u << bit);
        }
    assert_int_equal(es_seg_footer_decode(f, &out, &why), 0);
}

static void test_segment_format_footer_unknown_version_is_eformat(void **state)
{
    (void)state;
    static const uint32_t bad[] = {0, 2, UINT32_MAX};
    for (size_t i = 0; i < 3; i++) {
        struct es_seg_footer in = sample_footer;
        in.version = bad[i];
        unsigned char f[ES_SEG_FOOTER_BYTES];
        es_seg_footer_encode(&in, f);
        struct es_seg_footer out;
        const char *why;
        assert_fails(es_seg_footer_decode(f, &out, &why), ES_EFORMAT, why);
    }
}

static void test_segment_format_footer_out_of_range(void **state)
{
    (void)state;
    unsigned char f[ES_SEG_FOOTER_BYTES];
    struct es_seg_footer out, in;
    const char *why;
#define BAD_FOOTER(stmt)                                                                           \
    do {                                                                                           \
        in = sample_footer;                                                                        \
        stmt;                                                                                      \
        es_seg_footer_encode(&in, f);                                                              \
        assert_fails(es_seg_footer_decode(f, &out, &why), ES_ECORRUPT, why);                       \
    } while (0)
    BAD_FOOTER(in.n_blocks = 0);
    BAD_FOOTER(in.first_pos = 0);
    BAD_FOOTER((in.last_pos = in.first_pos - 1, in.n_events = 0));
    BAD_FOOTER(in.n_events = 999);
    BAD_FOOTER(in.n_events = 1001);
    BAD_FOOTER(in.n_events = 0);
    /* the widest range, with a count that does not match it */
    BAD_FOOTER((in.first_pos = 1, in.last_pos = UINT64_MAX, in.n_events = 0));
    BAD_FOOTER(in.raw_bytes = 0);
    BAD_FOOTER(in.index_offset = 0);
    BAD_FOOTER(in.index_offset = ES_SEG_HEADER_BYTES - 1);
#undef BAD_FOOTER
    for (int i = 88; i < 120; i++) {
        es_seg_footer_encode(&sample_footer, f);
        f[i] = 0x10;
        reseal_footer(f);
        assert_fails(es_seg_footer_decode(f, &out, &why), ES_ECORRUPT, why);
    }
    /* the boundaries themselves are fine */
    in = sample_footer;
    in.index_offset = ES_SEG_HEADER_BYTES;
    in.last_pos = in.first_pos;
    in.n_events = 1;
    es_seg_footer_encode(&in, f);
    assert_int_equal(es_seg_footer_decode(f, &out, &why), 0);
}

static void test_segment_format_footer_golden(void **state)
{
    (void)state;
    unsigned char *g = read_golden("seg-footer-v1.bin", ES_SEG_FOOTER_BYTES);
    struct es_seg_footer out;
    const char *why = NULL;
    assert_int_equal(es_seg_footer_decode(g, &out, &why), 0);
    struct es_seg_footer expect = {1,
                                   3,
                                   4097,
                                   5096,
                                   1000,
                                   196000,
                                   5000,
                                   1700000000000000000,
                                   1700000009999999999,
                                   0xfedcba9876543210ull,
                                   0x0f1e2d3c4b5a6978ull};
    assert_footer_equal(&out, &expect);
    unsigned char f[ES_SEG_FOOTER_BYTES];
    es_seg_footer_encode(&expect, f);
    assert_memory_equal(f, g, ES_SEG_FOOTER_BYTES);
    free(g);
}

/* ---- file names --------------------------------------------------------- */

static void test_segment_format_file_name(void **state)
{
    (void)state;
    char buf[32];
    es_seg_file_name(1, ".seg", buf, sizeof(buf));
    assert_string_equal(buf, "00000000000000000001.seg");
    es_seg_file_name(4097, ".wal", buf, sizeof(buf));
    assert_string_equal(buf, "00000000000000004097.wal");
    es_seg_file_name(UINT64_MAX, ".seg", buf, sizeof(buf));
    assert_string_equal(buf, "18446744073709551615.seg");
    es_seg_file_name(12345678901234567890ull, "", buf, sizeof(buf));
    assert_string_equal(buf, "12345678901234567890");
    /* names sort as numbers */
    char a[32], b[32];
    es_seg_file_name(9, ".seg", a, sizeof(a));
    es_seg_file_name(10, ".seg", b, sizeof(b));
    assert_true(strcmp(a, b) < 0);
}

static void test_segment_format_file_name_parse(void **state)
{
    (void)state;
    static const uint64_t vals[] = {
        1, 9, 10, 4097, 1ull << 32, 12345678901234567890ull, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        char buf[32];
        es_seg_file_name(vals[i], ".wal", buf, sizeof(buf));
        uint64_t v = 0;
        assert_true(es_seg_file_name_parse(buf, ".wal", &v));
        assert_true(v == vals[i]);
        assert_false(es_seg_file_name_parse(buf, ".seg", &v));
    }
    uint64_t v = 0;
    assert_true(es_seg_file_name_parse("00000000000000000042.seg", ".seg", &v));
    assert_int_equal(v, 42);
    assert_true(es_seg_file_name_parse("18446744073709551615.seg", ".seg", &v));
    assert_true(v == UINT64_MAX);
}

static void test_segment_format_file_name_parse_rejects(void **state)
{
    (void)state;
    static const char *bad[] = {
        "00000000000000000000.seg",  /* position 0 */
        "18446744073709551616.seg",  /* UINT64_MAX + 1 */
        "20000000000000000000.seg",  /* overflow */
        "99999999999999999999.seg",  /* overflow */
        "0000000000000000001.seg",   /* 19 digits */
        "000000000000000000001.seg", /* 21 digits */
        "00000000000000000001",      /* no suffix */
        "00000000000000000001.wal",  /* other suffix */
        "00000000000000000001.seg~", /* more after it */
        "00000000000000000001.seg.tmp",
        "00000000000000000001.se",
        "0000000000000000000a.seg", /* junk */
        "a0000000000000000001.seg",
        "+0000000000000000001.seg",
        "-0000000000000000001.seg",
        " 0000000000000000001.seg",
        "0000000000 000000001.seg",
        "0x000000000000000001.seg",
        ".seg",
        "",
        ".",
        "..",
        "00000000000000000001.SEG",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 777;
        if (es_seg_file_name_parse(bad[i], ".seg", &v))
            fail_msg("\"%s\" was accepted as %llu", bad[i], (unsigned long long)v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_segment_format_header_layout),
        cmocka_unit_test(test_segment_format_header_roundtrip),
        cmocka_unit_test(test_segment_format_header_bad_magic),
        cmocka_unit_test(test_segment_format_header_check_mismatch),
        cmocka_unit_test(test_segment_format_header_unknown_version_is_eformat),
        cmocka_unit_test(test_segment_format_header_out_of_range),
        cmocka_unit_test(test_segment_format_header_golden),
        cmocka_unit_test(test_segment_format_block_entry_layout),
        cmocka_unit_test(test_segment_format_block_entry_roundtrip),
        cmocka_unit_test(test_segment_format_block_entry_out_of_range),
        cmocka_unit_test(test_segment_format_block_entry_golden),
        cmocka_unit_test(test_segment_format_footer_layout),
        cmocka_unit_test(test_segment_format_footer_roundtrip),
        cmocka_unit_test(test_segment_format_footer_bad_magic_and_check),
        cmocka_unit_test(test_segment_format_footer_unknown_version_is_eformat),
        cmocka_unit_test(test_segment_format_footer_out_of_range),
        cmocka_unit_test(test_segment_format_footer_golden),
        cmocka_unit_test(test_segment_format_file_name),
        cmocka_unit_test(test_segment_format_file_name_parse),
        cmocka_unit_test(test_segment_format_file_name_parse_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
