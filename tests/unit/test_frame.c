/*
 * test_frame.c - the frame codec (src/format/frame.c) against the byte
 * table of frame.h and its "a frame is valid if and only if" rules 1-5:
 * round trips at the edge lengths, every rule broken in turn (ES_ECORRUPT
 * with a reason), every truncation (ES_FRAME_INCOMPLETE), es_frame_peek_size,
 * and the checked-in golden bytes of tests/golden/frames-v1.bin, decoded and
 * re-encoded byte for byte (format stability).
 *
 * Layout expectations are computed here from the byte table with plain
 * shifts and XXH3 directly, not with the codec's own helpers.
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

#include "format/frame.h"
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

/* Recomputes the header check (bytes 40..43) after a header edit. */
static void reseal_header(unsigned char *f)
{
    wr(f + 40, 4, (uint32_t)XXH3_64bits(f, 40));
}

/* Recomputes the frame check (last 8 bytes) of a frame of len bytes. */
static void reseal_frame(unsigned char *f, size_t len)
{
    wr(f + len - 8, 8, XXH3_64bits(f, len - 8));
}

static struct es_event mkev(const char *stream, size_t stream_len, const char *type,
                            size_t type_len, const void *payload, size_t payload_len, bool json)
{
    struct es_event ev = {.pos = 7,
                          .version = 3,
                          .ts_ns = 1700000000123456789,
                          .stream = stream,
                          .stream_len = stream_len,
                          .type = type,
                          .type_len = type_len,
                          .payload = payload,
                          .payload_len = payload_len,
                          .payload_is_json = json};
    return ev;
}

static unsigned char *encode(const struct es_event *ev, size_t *len)
{
    *len = es_frame_size(ev->stream_len, ev->type_len, ev->payload_len);
    unsigned char *buf = malloc(*len);
    assert_non_null(buf);
    assert_int_equal(es_frame_encode(ev, buf), *len);
    return buf;
}

/* The bytes of f match the byte table of frame.h for ev. */
static void assert_layout(const unsigned char *f, size_t len, const struct es_event *ev)
{
    assert_int_equal(len, 44 + ev->stream_len + ev->type_len + ev->payload_len + 8);
    assert_memory_equal(f, "ESFR", 4);
    assert_int_equal(f[4], 1);
    assert_int_equal(f[5], ev->payload_is_json ? 1 : 0);
    assert_int_equal(f[6], ev->stream_len);
    assert_int_equal(f[7], 0);
    assert_int_equal(rd(f + 8, 2), ev->type_len);
    assert_int_equal(rd(f + 10, 2), 0);
    assert_int_equal(rd(f + 12, 4), ev->payload_len);
    assert_int_equal(rd(f + 16, 8), ev->pos);
    assert_int_equal(rd(f + 24, 8), ev->version);
    assert_int_equal(rd(f + 32, 8), (uint64_t)ev->ts_ns);
    assert_int_equal(rd(f + 40, 4), (uint32_t)XXH3_64bits(f, 40));
    assert_memory_equal(f + 44, ev->stream, ev->stream_len);
    if (ev->type_len)
        assert_memory_equal(f + 44 + ev->stream_len, ev->type, ev->type_len);
    if (ev->payload_len)
        assert_memory_equal(f + 44 + ev->stream_len + ev->type_len, ev->payload, ev->payload_len);
    assert_true(rd(f + len - 8, 8) == XXH3_64bits(f, len - 8));
}

/* Decoding f gives back ev, pointing into f. */
static void assert_decodes_to(const unsigned char *f, size_t avail, size_t len,
                              const struct es_event *ev)
{
    struct es_event d;
    memset(&d, 0xAB, sizeof(d));
    size_t flen = 0;
    const char *why = NULL;
    assert_int_equal(es_frame_decode(f, avail, &d, &flen, &why), 0);
    assert_int_equal(flen, len);
    assert_int_equal(d.pos, ev->pos);
    assert_int_equal(d.version, ev->version);
    assert_int_equal(d.ts_ns, ev->ts_ns);
    assert_int_equal(d.stream_len, ev->stream_len);
    assert_ptr_equal(d.stream, (const char *)f + 44);
    assert_memory_equal(d.stream, ev->stream, ev->stream_len);
    assert_int_equal(d.type_len, ev->type_len);
    assert_ptr_equal(d.type, (const char *)f + 44 + ev->stream_len);
    if (ev->type_len)
        assert_memory_equal(d.type, ev->type, ev->type_len);
    assert_int_equal(d.payload_len, ev->payload_len);
    assert_ptr_equal(d.payload, f + 44 + ev->stream_len + ev->type_len);
    if (ev->payload_len)
        assert_memory_equal(d.payload, ev->payload, ev->payload_len);
    assert_int_equal(d.payload_is_json, ev->payload_is_json);
}

/* Decoding f (avail bytes, copied to an exact-size buffer so that any read
 * past avail is caught by the sanitizers) fails with ES_ECORRUPT and a
 * reason that contains word. */
static void assert_corrupt(const unsigned char *f, size_t avail, const char *word)
{
    unsigned char *copy = malloc(avail);
    assert_non_null(copy);
    memcpy(copy, f, avail);
    struct es_event d;
    size_t flen = 12345;
    const char *why = NULL;
    int rc = es_frame_decode(copy, avail, &d, &flen, &why);
    if (rc != ES_ECORRUPT)
        fail_msg("expected ES_ECORRUPT (%s), got %d", word, rc);
    assert_non_null(why);
    if (!strstr(why, word))
        fail_msg("reason \"%s\" does not mention \"%s\"", why, word);
    /* a NULL why is allowed */
    assert_int_equal(es_frame_decode(copy, avail, &d, &flen, NULL), ES_ECORRUPT);
    free(copy);
}

/* A valid frame for the corruption tests: stream "s-1", type "T",
 * payload "{}" flagged JSON. */
static unsigned char *small_frame(size_t *len)
{
    struct es_event ev = mkev("s-1", 3, "T", 1, "{}", 2, true);
    return encode(&ev, len);
}

/* ---- round trips -------------------------------------------------------- */

static void test_frame_roundtrip_edge_lengths(void **state)
{
    (void)state;
    static const size_t stream_lens[] = {1, 2, 254, 255};
    static const size_t type_lens[] = {0, 1, 65534, 65535};
    static const size_t payload_lens[] = {0, 1, 2, 4096, 1u << 20};
    char stream[255];
    for (size_t i = 0; i < sizeof(stream); i++)
        stream[i] = (char)('a' + i % 26);
    char *type = malloc(65535);
    unsigned char *payload = malloc(1u << 20);
    assert_non_null(type);
    assert_non_null(payload);
    for (size_t i = 0; i < 65535; i++)
        type[i] = (char)(i * 7 + 1); /* any bytes, even '\n' and NUL */
    for (size_t i = 0; i < (1u << 20); i++) {
        payload[i] = (unsigned char)(i * 31 + 3);
        if (payload[i] == '\n')
            payload[i] = 0; /* NUL is fine in a payload, '\n' is not */
    }
    for (size_t a = 0; a < sizeof(stream_lens) / sizeof(stream_lens[0]); a++)
        for (size_t b = 0; b < sizeof(type_lens) / sizeof(type_lens[0]); b++)
            for (size_t c = 0; c < sizeof(payload_lens) / sizeof(payload_lens[0]); c++)
                for (int json = 0; json < 2; json++) {
                    struct es_event ev = mkev(stream, stream_lens[a], type, type_lens[b], payload,
                                              payload_lens[c], json);
                    ev.pos = 1 + a + 10 * b;
                    ev.version = 1 + c;
                    size_t len;
                    unsigned char *f = encode(&ev, &len);
                    assert_layout(f, len, &ev);
                    assert_decodes_to(f, len, len, &ev);
                    free(f);
                }
    free(type);
    free(payload);
}

static void test_frame_roundtrip_extreme_values(void **state)
{
    (void)state;
    static const uint64_t vals[] = {1, 2, 255, 256, 0x0102030405060708ull, UINT64_MAX};
    static const int64_t tss[] = {0, 1, 999999999, 1700000000123456789, INT64_MAX};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
        for (size_t j = 0; j < sizeof(tss) / sizeof(tss[0]); j++) {
            struct es_event ev = mkev("Ünïcødé-流", strlen("Ünïcødé-流"), "", 0, "x", 1, false);
            ev.pos = vals[i];
            ev.version = vals[sizeof(vals) / sizeof(vals[0]) - 1 - i];
            ev.ts_ns = tss[j];
            size_t len;
            unsigned char *f = encode(&ev, &len);
            assert_layout(f, len, &ev);
            assert_decodes_to(f, len, len, &ev);
            free(f);
        }
}

static void test_frame_max_payload_is_valid(void **state)
{
    (void)state;
    size_t n = ES_MAX_EVENT_BYTES_LIMIT;
    unsigned char *payload = malloc(n);
    assert_non_null(payload);
    memset(payload, 'x', n);
    struct es_event ev = mkev("big", 3, "Big", 3, payload, n, false);
    size_t len;
    unsigned char *f = encode(&ev, &len);
    assert_int_equal(len, 44 + 3 + 3 + n + 8);
    assert_decodes_to(f, len, len, &ev);
    assert_int_equal(es_frame_peek_size(f, 44), len);
    free(f);
    free(payload);
}

static void test_frame_json_flag(void **state)
{
    (void)state;
    for (int json = 0; json < 2; json++) {
        /* the flag is what the encoder was told, whatever the payload is */
        struct es_event ev = mkev("s", 1, "", 0, "not json", 8, json);
        size_t len;
        unsigned char *f = encode(&ev, &len);
        assert_int_equal(f[5], json);
        assert_decodes_to(f, len, len, &ev);
        free(f);
    }
}

static void test_frame_decode_with_more_bytes_after(void **state)
{
    (void)state;
    struct es_event a = mkev("a", 1, "A", 1, "one", 3, false);
    struct es_event b = mkev("b", 1, "", 0, "[2]", 3, true);
    b.pos = a.pos + 1;
    size_t la = es_frame_size(1, 1, 3), lb = es_frame_size(1, 0, 3);
    unsigned char buf[256];
    memset(buf, 0xEE, sizeof(buf));
    assert_int_equal(es_frame_encode(&a, buf), la);
    assert_int_equal(es_frame_encode(&b, buf + la), lb);
    /* each decodes by itself, with the next frame's (or junk) bytes after it */
    assert_decodes_to(buf, sizeof(buf), la, &a);
    assert_decodes_to(buf + la, sizeof(buf) - la, lb, &b);
    assert_int_equal(buf[la + lb], 0xEE); /* the encoder wrote exactly lb bytes */
}

/* ---- rule 1: magic, version, flags, reserved bytes, header check --------- */

static void test_frame_bad_magic_is_corrupt(void **state)
{
    (void)state;
    size_t len;
    unsigned char *f = small_frame(&len);
    for (int i = 0; i < 4; i++) {
        unsigned char save = f[i];
        f[i] ^= 0x20; /* "esfr" etc. */
        reseal_header(f);
        assert_corrupt(f, len, "magic");
        f[i] = save;
        reseal_header(f);
    }
    struct es_event d;
    size_t flen;
    assert_int_equal(es_frame_decode(f, len, &d, &flen, NULL), 0);
    free(f);
}

static void test_frame_bad_version_is_corrupt(void **state)
{
    (void)state;
    static const unsigned char bad[] = {0, 2, 3, 0x81, 255};
    size_t len;
    unsigned char *f = small_frame(&len);
    for (size_t i = 0; i < sizeof(bad); i++) {
        f[4] = bad[i];
        reseal_header(f);
        reseal_frame(f, len);
        assert_corrupt(f, len, "version");
    }
    free(f);
}

static void test_frame_unknown_flag_bit_is_corrupt(void **state)
{
    (void)state;
    size_t len;
    unsigned char *f = small_frame(&len);
    for (int bit = 1; bit < 8; bit++) {
        for (int json = 0; json < 2; json++) {
            f[5] = (unsigned char)(1u << bit | (unsigned)json);
            reseal_header(f);
            reseal_frame(f, len);
            assert_corrupt(f, len, "reserved");
        }
    }
    free(f);
}

static void test_frame_reserved_bytes_nonzero_are_corrupt(void **state)
{
    (void)state;
    static const int offs[] = {7, 10, 11};
    size_t len;
    unsigned char *f = small_frame(&len);
    for (size_t i = 0; i < 3; i++) {
        for (int v = 1; v < 256; v <<= 1) {
            f[offs[i]] = (unsigned char)v;
            reseal_header(f);
            reseal_frame(f, len);
            assert_corrupt(f, len, "reserved");
            f[offs[i]] = 0;
        }
    }
    free(f);
}

static void test_frame_header_check_mismatch_is_corrupt(void **state)
{
    (void)state;
    size_t len;
    unsigned char *f = small_frame(&len);
    /* the check itself damaged */
    for (int i = 40; i < 44; i++) {
        f[i] ^= 0x01;
        assert_corrupt(f, len, "header check");
        f[i] ^= 0x01;
    }
    /* any header field changed without updating the check */
    f[6] = 2; /* stream name length */
    assert_corrupt(f, len, "header check");
    f[6] = 3;
    f[16] ^= 0x04; /* position */
    assert_corrupt(f, len, "header check");
    f[16] ^= 0x04;
    f[5] = 0; /* the JSON flag */
    assert_corrupt(f, len, "header check");
    free(f);
}

static void test_frame_every_bit_flip_is_corrupt(void **state)
{
    (void)state;
    size_t len;
    unsigned char *f = small_frame(&len);
    for (size_t i = 0; i < len; i++)
        for (int bit = 0; bit < 8; bit++) {
            f[i] ^= (unsigned char)(1u << bit);
            struct es_event d;
            size_t flen;
            const char *why = NULL;
            int rc = es_frame_decode(f, len, &d, &flen, &why);
            if (rc != ES_ECORRUPT)
                fail_msg("flipping bit %d of byte %zu gave %d", bit, i, rc);
            assert_non_null(why);
            f[i] ^= (unsigned char)(1u << bit);
        }
    free(f);
}

/* ---- rule 2: header fields in range ------------------------------------ */

static void test_frame_stream_name_length_zero_is_corrupt(void **state)
{
    (void)state;
    size_t len;
    unsigned char *f = small_frame(&len);
    f[6] = 0;
    reseal_header(f);
    assert_corrupt(f, len, "out of range");
    assert_corrupt(f, 44, "out of range"); /* decided from the header alone */
    free(f);
}

static void test_frame_payload_over_limit_is_corrupt(void **state)
{
    (void)state;
    static const uint32_t bad[] = {ES_MAX_EVENT_BYTES_LIMIT + 1, ES_MAX_EVENT_BYTES_LIMIT * 2,
                                   UINT32_MAX};
    size_t len;
    unsigned char *f = small_frame(&len);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        wr(f + 12, 4, bad[i]);
        reseal_header(f);
        /* not ES_FRAME_INCOMPLETE: a reader must not wait for 64 MiB more */
        assert_corrupt(f, len, "out of range");
        assert_corrupt(f, 44, "out of range");
    }
    free(f);
}

static void test_frame_position_zero_is_corrupt(void **state)
{
    (void)state;
    size_t len;
    unsigned char *f = small_frame(&len);
    wr(f + 16, 8, 0);
    reseal_header(f);
    reseal_frame(f, len);
    assert_corrupt(f, len, "out of range");
    free(f);
}

static void test_frame_version_zero_is_corrupt(void **state)
{
    (void)state;
    size_t len;
    unsigned char *f = small_frame(&len);
    wr(f + 24, 8, 0);
    reseal_header(f);
    reseal_frame(f, len);
    assert_corrupt(f, len, "out of range");
    free(f);
}

static void test_frame_negative_timestamp_is_corrupt(void **state)
{
    (void)state;
    static const int64_t bad[] = {-1, -1000000000, INT64_MIN};
    size_t len;
    unsigned char *f = small_frame(&len);
    for (size_t i = 0; i < 3; i++) {
        wr(f + 32, 8, (uint64_t)bad[i]);
        reseal_header(f);
        reseal_frame(f, len);
        assert_corrupt(f, len, "out of range");
    }
    /* 0 is the epoch: valid */
    wr(f + 32, 8, 0);
    reseal_header(f);
    reseal_frame(f, len);
    struct es_event d;
    size_t flen;
    assert_int_equal(es_frame_decode(f, len, &d, &flen, NULL), 0);
    assert_int_equal(d.ts_ns, 0);
    free(f);
}

/* ---- rule 4: frame check ------------------------------------------------ */

static void test_frame_check_mismatch_is_corrupt(void **state)
{
    (void)state;
    size_t len;
    unsigned char *f = small_frame(&len);
    /* each byte after the header, the check included */
    for (size_t i = 44; i < len; i++) {
        f[i] ^= 0x40;
        assert_corrupt(f, len, "frame check");
        f[i] ^= 0x40;
    }
    free(f);
}

/* ---- rule 5: name rules, no newline ------------------------------------ */

static void test_frame_invalid_stream_name_is_corrupt(void **state)
{
    (void)state;
    static const char *bad[] = {".hidden", "a/b",      "tab\there", "del\x7f",
                                "bad\xff", "\xc0\x80", "nul\0x"};
    static const size_t bad_len[] = {7, 3, 8, 4, 4, 2, 5};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* the encoder does not check: the caller has */
        struct es_event ev = mkev(bad[i], bad_len[i], "", 0, "p", 1, false);
        size_t len;
        unsigned char *f = encode(&ev, &len);
        assert_corrupt(f, len, "stream name");
        free(f);
    }
}

static void test_frame_newline_in_payload_is_corrupt(void **state)
{
    (void)state;
    static const char *bad[] = {"\n", "a\n", "\nb", "a\nb", "{\"a\":\n1}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct es_event ev = mkev("s", 1, "", 0, bad[i], strlen(bad[i]), i == 4);
        size_t len;
        unsigned char *f = encode(&ev, &len);
        assert_corrupt(f, len, "newline");
        free(f);
    }
    /* a newline in the type is not the payload's business */
    struct es_event ev = mkev("s", 1, "T\nT", 3, "p", 1, false);
    size_t len;
    unsigned char *f = encode(&ev, &len);
    assert_decodes_to(f, len, len, &ev);
    free(f);
}

/* ---- rule 3: truncation ------------------------------------------------- */

static void check_every_truncation(const struct es_event *ev)
{
    size_t len;
    unsigned char *f = encode(ev, &len);
    for (size_t avail = 0; avail < len; avail++) {
        unsigned char *copy = malloc(avail ? avail : 1);
        assert_non_null(copy);
        memcpy(copy, f, avail);
        struct es_event d;
        size_t flen = 777;
        const char *why = NULL;
        int rc = es_frame_decode(copy, avail, &d, &flen, &why);
        if (rc != ES_FRAME_INCOMPLETE)
            fail_msg("avail %zu of %zu gave %d", avail, len, rc);
        /* peek knows the size as soon as the header is there */
        assert_int_equal(es_frame_peek_size(copy, avail), avail < 44 ? 0 : len);
        free(copy);
    }
    assert_decodes_to(f, len, len, ev);
    free(f);
}

static void test_frame_every_truncation_is_incomplete(void **state)
{
    (void)state;
    struct es_event a = mkev("s", 1, "", 0, "", 0, false);
    check_every_truncation(&a);
    struct es_event b =
        mkev("Order-123", 9, "OrderPlaced", 11, "{\"type\":\"OrderPlaced\"}", 22, true);
    check_every_truncation(&b);
    char *type = malloc(300);
    assert_non_null(type);
    memset(type, 'T', 300);
    struct es_event c = mkev("longer-stream", 13, type, 300, "payload\0with\0nuls", 17, false);
    check_every_truncation(&c);
    free(type);
}

/* ---- es_frame_peek_size -------------------------------------------------- */

static void test_frame_peek_size(void **state)
{
    (void)state;
    struct es_event ev = mkev("stream", 6, "Type", 4, "payload", 7, false);
    size_t len;
    unsigned char *f = encode(&ev, &len);
    assert_int_equal(len, 44 + 6 + 4 + 7 + 8);
    assert_int_equal(es_frame_peek_size(f, len), len);
    assert_int_equal(es_frame_peek_size(f, len + 0), len);
    assert_int_equal(es_frame_peek_size(f, 44), len);
    assert_int_equal(es_frame_peek_size(f, 43), 0);
    assert_int_equal(es_frame_peek_size(f, 0), 0);
    /* the body is not looked at: a damaged payload still has a size */
    f[50] ^= 1;
    assert_int_equal(es_frame_peek_size(f, len), len);
    f[50] ^= 1;
    /* rule 1 broken: no size */
    f[0] = 'X';
    assert_int_equal(es_frame_peek_size(f, len), 0);
    f[0] = 'E';
    f[41] ^= 1;
    assert_int_equal(es_frame_peek_size(f, len), 0);
    f[41] ^= 1;
    /* rule 2 broken: no size either */
    wr(f + 12, 4, ES_MAX_EVENT_BYTES_LIMIT + 1);
    reseal_header(f);
    assert_int_equal(es_frame_peek_size(f, len), 0);
    /* the largest frame there is */
    wr(f + 12, 4, ES_MAX_EVENT_BYTES_LIMIT);
    f[6] = 255;
    wr(f + 8, 2, 65535);
    reseal_header(f);
    assert_int_equal(es_frame_peek_size(f, 44), 44 + 255 + 65535 + ES_MAX_EVENT_BYTES_LIMIT + 8);
    free(f);
}

/* ---- golden bytes ------------------------------------------------------- */

/* What tests/golden/frames-v1.bin holds (see tests/golden/README.md). */
struct golden_frame {
    uint64_t pos, version;
    int64_t ts_ns;
    const char *stream;
    size_t stream_len;
    const char *type;
    size_t type_len;
    const char *payload;
    size_t payload_len;
    bool is_json;
    size_t offset; /* where the frame starts in the file */
};

#define S(lit) lit, sizeof(lit) - 1

static const struct golden_frame golden[] = {
    {1, 1, 1700000000123456789, S("Order-123"), S("OrderPlaced"),
     S("{\"type\":\"OrderPlaced\",\"total\":42}"), true, 0},
    {2, 1, 1700000000123457789, S("Ünïcødé-流"), S(""), S("plain text, not JSON"), false, 105},
    {3, 2, 1700000001000000000, S("Order-123"), S(""), S("bin\0ary\0\xff\x01"), false, 192},
    {4, 1, 1700000002000000000, S("x"), S("Typé"), S("{\"type\":\"Typ\\u00e9\",\"n\":[1,2]}"), true,
     263},
    {5, 3, 1700000003000000000, S("Order-123"), S(""), S(""), false, 351},
    {0x0102030405060708ull, 0x1112131415161718ull, 0x2122232425262728ll, S("endian-check"), S("T"),
     S("1"), true, 412},
};
#define GOLDEN_FILE_BYTES 478u

static char *golden_path(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", ES_TEST_GOLDEN_DIR, name);
    return buf;
}

static struct es_event golden_event(const struct golden_frame *g)
{
    struct es_event ev = {.pos = g->pos,
                          .version = g->version,
                          .ts_ns = g->ts_ns,
                          .stream = g->stream,
                          .stream_len = g->stream_len,
                          .type = g->type,
                          .type_len = g->type_len,
                          .payload = (const unsigned char *)g->payload,
                          .payload_len = g->payload_len,
                          .payload_is_json = g->is_json};
    return ev;
}

static void test_frame_golden_decode(void **state)
{
    (void)state;
    char path[4096];
    size_t n;
    unsigned char *bin =
        (unsigned char *)file_read_all(golden_path("frames-v1.bin", path, sizeof(path)), &n);
    assert_non_null(bin);
    assert_int_equal(n, GOLDEN_FILE_BYTES);
    size_t off = 0;
    for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
        const struct golden_frame *g = &golden[i];
        assert_int_equal(off, g->offset);
        size_t len = es_frame_size(g->stream_len, g->type_len, g->payload_len);
        struct es_event ev = golden_event(g);
        assert_decodes_to(bin + off, n - off, len, &ev);
        assert_int_equal(es_frame_peek_size(bin + off, n - off), len);
        off += len;
    }
    assert_int_equal(off, n);
    free(bin);
}

static void test_frame_golden_reencode_is_byte_identical(void **state)
{
    (void)state;
    char path[4096];
    size_t n;
    unsigned char *bin =
        (unsigned char *)file_read_all(golden_path("frames-v1.bin", path, sizeof(path)), &n);
    assert_non_null(bin);
    assert_int_equal(n, GOLDEN_FILE_BYTES);
    for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
        struct es_event ev = golden_event(&golden[i]);
        size_t len;
        unsigned char *f = encode(&ev, &len);
        assert_true(golden[i].offset + len <= n);
        assert_memory_equal(f, bin + golden[i].offset, len);
        free(f);
    }
    free(bin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_roundtrip_edge_lengths),
        cmocka_unit_test(test_frame_roundtrip_extreme_values),
        cmocka_unit_test(test_frame_max_payload_is_valid),
        cmocka_unit_test(test_frame_json_flag),
        cmocka_unit_test(test_frame_decode_with_more_bytes_after),
        cmocka_unit_test(test_frame_bad_magic_is_corrupt),
        cmocka_unit_test(test_frame_bad_version_is_corrupt),
        cmocka_unit_test(test_frame_unknown_flag_bit_is_corrupt),
        cmocka_unit_test(test_frame_reserved_bytes_nonzero_are_corrupt),
        cmocka_unit_test(test_frame_header_check_mismatch_is_corrupt),
        cmocka_unit_test(test_frame_every_bit_flip_is_corrupt),
        cmocka_unit_test(test_frame_stream_name_length_zero_is_corrupt),
        cmocka_unit_test(test_frame_payload_over_limit_is_corrupt),
        cmocka_unit_test(test_frame_position_zero_is_corrupt),
        cmocka_unit_test(test_frame_version_zero_is_corrupt),
        cmocka_unit_test(test_frame_negative_timestamp_is_corrupt),
        cmocka_unit_test(test_frame_check_mismatch_is_corrupt),
        cmocka_unit_test(test_frame_invalid_stream_name_is_corrupt),
        cmocka_unit_test(test_frame_newline_in_payload_is_corrupt),
        cmocka_unit_test(test_frame_every_truncation_is_incomplete),
        cmocka_unit_test(test_frame_peek_size),
        cmocka_unit_test(test_frame_golden_decode),
        cmocka_unit_test(test_frame_golden_reencode_is_byte_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
