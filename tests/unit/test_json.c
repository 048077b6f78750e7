/*
 * test_json.c - the strict RFC 8259 validator with "type" extraction and
 * the JSON string escaper (src/format/json.c): valid and invalid texts
 * (numbers, strings and every escape, surrogates, raw control characters,
 * invalid UTF-8, literals, whitespace, trailing garbage, nesting past the
 * 4096 levels kept on the C stack), which "type" counts, and the escaper's
 * exact output, its measured length and, for thousands of seeded random byte
 * strings, that its output is valid JSON that decodes back to the input
 * (each invalid UTF-8 byte as U+FFFD).
 *
 * The UTF-8 rules and the string decoder used as expectations are written
 * here independently of src/format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "format/json.h"

/* ---- independent helpers ------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (RFC 3629), or 0. Decodes the
 * code point and checks it, rather than checking byte ranges. */
static size_t ref_utf8_len(const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    unsigned c = p[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static bool ref_utf8_valid(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = ref_utf8_len(p + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* The input with every byte that does not start a valid sequence replaced
 * by U+FFFD: what the escaper's output must decode to. */
static size_t ref_replace_invalid(const unsigned char *p, size_t n, unsigned char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = ref_utf8_len(p + i, n - i);
        if (!k) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, p + i, k);
            o += k;
            i += k;
        }
    }
    return o;
}

static size_t put_utf8(unsigned char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hex4(const char *s, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

/* Decodes the JSON string literal s[0..n) (quotes included) into out.
 * Returns the decoded length, or -1 if it is not exactly one string. */
static long ref_unescape(const char *s, size_t n, unsigned char *out)
{
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        return -1;
    size_t o = 0;
    for (size_t i = 1; i < n - 1;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c < 0x20)
            return -1;
        if (c != '\\') {
            out[o++] = c;
            i++;
            continue;
        }
        if (i + 1 >= n - 1)
            return -1;
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (i + 4 > n - 1 || hex4(s + i, &cp))
                return -1;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n - 1 && s[i] == '\\' && s[i + 1] == 'u' &&
                !hex4(s + i + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD;
            }
            o += put_utf8(out + o, cp);
            break;
        }
        default: return -1;
        }
    }
    return (long)o;
}

/* xorshift64*: a fixed seed makes every run test the same cases. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static const unsigned char interesting[] = {0x00, 0x01, 0x08, 0x09, 0x0A, 0x0C, 0x0D, 0x1F, 0x20,
                                            '"',  '\\', '/',  'a',  'u',  0x7F, 0x80, 0x8F, 0x90,
                                            0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED,
                                            0xEE, 0xEF, 0xF0, 0xF4, 0xF5, 0xF8, 0xFE, 0xFF};

/* n random bytes: uniform, interesting bytes, and valid UTF-8 sequences. */
static void random_bytes(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint64_t r = rng();
        switch (r % 4) {
        case 0: p[i++] = (unsigned char)(r >> 8); break;
        case 1: p[i++] = interesting[(r >> 8) % sizeof(interesting)]; break;
        default: {
            unsigned char u[4];
            uint32_t cp = (uint32_t)((r >> 8) % 0x110000);
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xFFFD;
            size_t k = put_utf8(u, cp);
            for (size_t j = 0; j < k && i < n; j++)
                p[i++] = u[j]; /* may be cut at the end: a truncated sequence */
        }
        }
    }
}

/* ---- inspect helpers ---------------------------------------------------- */

static struct es_json_info inspect(const char *s, size_t n)
{
    struct es_json_info info;
    memset(&info, 0xFF, sizeof(info));
    assert_int_equal(es_json_inspect((const unsigned char *)s, n, &info, NULL), 0);
    return info;
}

static void assert_valid_n(const char *s, size_t n)
{
    struct es_json_info info = inspect(s, n);
    if (!info.is_json)
        fail_msg("valid JSON rejected: \"%.*s\"", (int)n, s);
}

static void assert_invalid_n(const char *s, size_t n)
{
    struct es_json_info info = inspect(s, n);
    if (info.is_json)
        fail_msg("invalid JSON accepted: \"%.*s\"", (int)n, s);
    assert_false(info.has_type);
}

#define assert_valid(s)   assert_valid_n((s), strlen(s))
#define assert_invalid(s) assert_invalid_n((s), strlen(s))

/* The text as a top-level value, inside an array and as an object value. */
static void assert_value_valid(const char *v)
{
    char buf[256];
    assert_valid(v);
    snprintf(buf, sizeof(buf), "[%s]", v);
    assert_valid(buf);
    snprintf(buf, sizeof(buf), "{\"k\":%s}", v);
    assert_valid(buf);
    snprintf(buf, sizeof(buf), "[%s,%s]", v, v);
    assert_valid(buf);
}

static void assert_value_invalid(const char *v)
{
    char buf[256];
    assert_invalid(v);
    snprintf(buf, sizeof(buf), "[%s]", v);
    assert_invalid(buf);
    snprintf(buf, sizeof(buf), "{\"k\":%s}", v);
    assert_invalid(buf);
}

/* Inspects s with a type buffer; checks is_json, has_type and the type. */
static void assert_type_n(const char *s, size_t n, bool is_json, bool has_type, const char *type,
                          size_t type_len)
{
    struct es_buf t = ES_BUF_INIT;
    assert_int_equal(es_buf_append(&t, "stale", 5), 0); /* must be reset */
    struct es_json_info info;
    assert_int_equal(es_json_inspect((const unsigned char *)s, n, &info, &t), 0);
    if (info.is_json != is_json || info.has_type != has_type)
        fail_msg("%.*s: is_json %d has_type %d, expected %d %d", (int)n, s, info.is_json,
                 info.has_type, is_json, has_type);
    if (has_type) {
        assert_int_equal(t.len, type_len);
        if (type_len)
            assert_memory_equal(t.data, type, type_len);
    } else {
        assert_int_equal(t.len, 0);
    }
    /* the same verdict without a type buffer */
    struct es_json_info bare;
    assert_int_equal(es_json_inspect((const unsigned char *)s, n, &bare, NULL), 0);
    assert_int_equal(bare.is_json, is_json);
    assert_int_equal(bare.has_type, has_type);
    es_buf_release(&t);
}

#define assert_type(s, t)  assert_type_n((s), strlen(s), true, true, (t), strlen(t))
#define assert_no_type(s)  assert_type_n((s), strlen(s), true, false, NULL, 0)
#define assert_bad_type(s) assert_type_n((s), strlen(s), false, false, NULL, 0)

/* ---- numbers and literals ---------------------------------------------- */

static void test_json_numbers(void **state)
{
    (void)state;
    static const char *good[] = {
        "0",    "-0",     "1",        "-1",
        "10",   "1e5",    "1E5",      "1e+5",
        "1e-5", "1.5",    "1.5E-3",   "-0.0",
        "0e0",  "0.0e00", "-1.0e+10", "123456789012345678901234567890.123456789e-999999"};
    static const char *bad[] = {"01",    "-01", "00",       "1.",  ".5",        "+1",
                                "-",     "--1", "1e",       "1e+", "1E-",       "1.e5",
                                "0x10",  "1_0", "Infinity", "NaN", "-Infinity", "1.5.5",
                                "1e5e5", "- 1", "0.",       "-.5"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_value_valid(good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_value_invalid(bad[i]);
}

static void test_json_literals(void **state)
{
    (void)state;
    assert_value_valid("true");
    assert_value_valid("false");
    assert_value_valid("null");
    static const char *bad[] = {"tru",   "fals", "nul", "True", "FALSE", "NULL",      "truee",
                                "nulll", "t",    "n",   "f",    "nan",   "undefined", "true1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_value_invalid(bad[i]);
}

/* ---- strings ------------------------------------------------------------ */

static void test_json_strings_every_escape(void **state)
{
    (void)state;
    assert_value_valid("\"\"");
    assert_value_valid("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
    assert_value_valid("\"\\u0000\\u001f\\u0041\\u00e9\\u20AC\\uFFFF\"");
    assert_value_valid("\"\\ud83d\\ude00\"");
    assert_value_valid("\"a/b\"");
    /* a raw DEL is not a control character for JSON */
    assert_value_valid("\"\x7f\"");
    static const char *bad[] = {"\"\\x41\"",   "\"\\'\"",   "\"\\a\"",     "\"\\0\"",
                                "\"\\U0041\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\u\"",
                                "\"\\ \"",     "\"\\",      "\"\\\"",      "\"abc",
                                "\"",          "'single'",  "\"\\u00e\"",  "\"\\ud800\\u12\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_value_invalid(bad[i]);
}

static void test_json_lone_surrogates_are_valid(void **state)
{
    (void)state;
    /* RFC 8259 grammar allows them; the type value gets U+FFFD */
    assert_value_valid("\"\\ud800\"");
    assert_value_valid("\"\\udc00\"");
    assert_value_valid("\"\\udbff\\udbff\"");
    assert_value_valid("\"\\ude00\\ud83d\"");
    assert_type("{\"type\":\"\\ud800\"}", "\xEF\xBF\xBD");
    assert_type("{\"type\":\"a\\udc00b\"}", "a\xEF\xBF\xBD"
                                            "b");
    assert_type("{\"type\":\"\\ude00\\ud83d\"}", "\xEF\xBF\xBD\xEF\xBF\xBD");
    /* a high surrogate, then something that is not a low one */
    assert_type("{\"type\":\"\\ud800\\u0041\"}", "\xEF\xBF\xBD"
                                                 "A");
    assert_type("{\"type\":\"\\ud800\\ud800\\udc00\"}", "\xEF\xBF\xBD\xF0\x90\x80\x80");
    assert_type("{\"type\":\"\\ud800\\\\u0041\"}", "\xEF\xBF\xBD\\u0041");
    assert_type("{\"type\":\"\\ud800x\"}", "\xEF\xBF\xBDx");
    /* pairs */
    assert_type("{\"type\":\"\\ud83d\\ude00\"}", "\xF0\x9F\x98\x80");
    assert_type("{\"type\":\"\\uD83D\\uDE00\"}", "\xF0\x9F\x98\x80");
    assert_type("{\"type\":\"\\udbff\\udfff\"}", "\xF4\x8F\xBF\xBF");
}

static void test_json_raw_control_chars_invalid(void **state)
{
    (void)state;
    for (int c = 0; c < 0x20; c++) {
        char s[8] = {'"', 'a', (char)c, 'b', '"'};
        assert_invalid_n(s, 5);
        char k[16] = {'{', '"', (char)c, '"', ':', '1', '}'};
        assert_invalid_n(k, 7);
    }
}

static void test_json_invalid_utf8_invalid(void **state)
{
    (void)state;
    static const char *bad[] = {
        "\xC0\x80",         /* overlong NUL */
        "\xC1\xBF",         /* overlong */
        "\xE0\x80\x80",     /* overlong */
        "\xE0\x9F\xBF",     /* overlong U+07FF */
        "\xF0\x80\x80\x80", /* overlong */
        "\xF0\x8F\xBF\xBF", /* overlong U+FFFF */
        "\xED\xA0\x80",     /* U+D800 */
        "\xED\xBF\xBF",     /* U+DFFF */
        "\xF4\x90\x80\x80", /* U+110000 */
        "\xF5\x80\x80\x80",
        "\xF8\x88\x80\x80\x80",
        "\xFF",
        "\xFE",
        "\x80",
        "\xBF",
        "\xC2",         /* truncated */
        "\xE2\x82",     /* truncated */
        "\xF0\x9F\x98", /* truncated */
        "\xC2\x41",     /* bad continuation */
        "\xE2\x28\xA1",
        "\xF0\x9F\x98\x41",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char s[32];
        int n = snprintf(s, sizeof(s), "\"a%sb\"", bad[i]);
        assert_value_invalid(s);
        /* truncated right before the closing quote too */
        n = snprintf(s, sizeof(s), "\"%s\"", bad[i]);
        assert_invalid_n(s, (size_t)n);
        /* in a key */
        snprintf(s, sizeof(s), "{\"%s\":1}", bad[i]);
        assert_invalid(s);
        /* and outside any string */
        assert_invalid(bad[i]);
    }
}

static void test_json_valid_utf8_boundaries(void **state)
{
    (void)state;
    static const char *good[] = {"\xC2\x80",         "\xDF\xBF",         "\xE0\xA0\x80",
                                 "\xED\x9F\xBF",     "\xEE\x80\x80",     "\xEF\xBF\xBF",
                                 "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", "Ünïcødé 流 😀"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char s[64];
        snprintf(s, sizeof(s), "\"%s\"", good[i]);
        assert_value_valid(s);
        snprintf(s, sizeof(s), "{\"type\":\"%s\"}", good[i]);
        assert_type(s, good[i]);
    }
}

/* ---- structure, whitespace, garbage ------------------------------------- */

static void test_json_structures(void **state)
{
    (void)state;
    static const char *good[] = {"{}",
                                 "[]",
                                 "{\"a\":1}",
                                 "[1,2,3]",
                                 "{\"a\":{\"b\":[1,{\"c\":null}]},\"d\":[]}",
                                 "[[],[[]],{},{\"\":\"\"}]",
                                 "{\"a\":1,\"a\":2}",
                                 "\"just a string\""};
    static const char *bad[] = {
        "{,}",        "[1,]",   "[,1]",     "{\"a\":1,}", "{\"a\"}",
        "{\"a\":}",   "{1:2}",  "{'a':1}",  "[1 2]",      "{\"a\":1 \"b\":2}",
        "]",          "}",      "[}",       "{]",         "[",
        "{",          "{\"a\"", "{\"a\":1", "[1,2",       "{\"a\" 1}",
        "{\"a\"::1}", "[1,,2]", "{a:1}",    "{\"a\":1]",  "[1}",
        "{\"a\":[}]"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_valid(good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_invalid(bad[i]);
}

static void test_json_whitespace(void **state)
{
    (void)state;
    assert_valid(" \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" :\n\"c\" } \n");
    assert_valid("\n1\n");
    assert_valid(" [ ] ");
    assert_valid(" { } ");
    /* only the four RFC whitespace characters */
    assert_invalid("\f1");
    assert_invalid("1\v");
    assert_invalid("[1,\f2]");
    assert_invalid("\xC2\xA0"
                   "1"); /* no-break space */
    assert_invalid(" ");
    assert_invalid("\n\t\r ");
}

static void test_json_trailing_garbage(void **state)
{
    (void)state;
    static const char *bad[] = {"{}x",   "1 2",        "{}{}",  "\"a\"\"b\"", "[] ]",
                                "null,", "true false", "{} //", "1\x01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_invalid(bad[i]);
    assert_invalid_n("{}\0", 3); /* a NUL after the value */
    assert_invalid_n("1\0", 2);
    /* a NUL before n ends the text, not the inspection */
    assert_invalid_n("\0{}", 3);
}

static void test_json_empty_input(void **state)
{
    (void)state;
    assert_invalid_n("", 0);
    assert_invalid_n(NULL, 0);
    assert_type_n("", 0, false, false, NULL, 0);
}

/* ---- nesting ------------------------------------------------------------ */

static char *nested_arrays(size_t depth, size_t closers)
{
    char *s = malloc(depth + closers + 2);
    assert_non_null(s);
    memset(s, '[', depth);
    memset(s + depth, ']', closers);
    s[depth + closers] = '\0';
    return s;
}

static void test_json_deep_nesting_valid(void **state)
{
    (void)state;
    static const size_t depths[] = {1, 63, 64, 65, 4095, 4096, 4097, 8192, 8193, 100000};
    for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
        char *s = nested_arrays(depths[i], depths[i]);
        assert_valid(s);
        free(s);
    }
    /* objects, deeper than the local stack */
    size_t d = 5000;
    char *s = malloc(d * 5 + d + 2);
    assert_non_null(s);
    size_t n = 0;
    for (size_t i = 0; i < d; i++)
        n += (size_t)sprintf(s + n, "{\"a\":");
    s[n++] = '1';
    memset(s + n, '}', d);
    n += d;
    assert_valid_n(s, n);
    free(s);
}

static void test_json_deep_nesting_unbalanced(void **state)
{
    (void)state;
    static const size_t depths[] = {4096, 4097, 5000, 100000};
    for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
        char *s = nested_arrays(depths[i], depths[i] - 1);
        assert_invalid(s);
        free(s);
        s = nested_arrays(depths[i], depths[i] + 1);
        assert_invalid(s);
        free(s);
        s = nested_arrays(depths[i], 0);
        assert_invalid(s);
        free(s);
    }
}

/* Mixed objects and arrays across the 4096-level switch to the heap: the
 * closers must match the openers at every level. */
static void test_json_deep_mixed_nesting(void **state)
{
    (void)state;
    const size_t d = 9000;
    char *open_kind = malloc(d);
    char *s = malloc(d * 8 + 64);
    assert_non_null(open_kind);
    assert_non_null(s);
    for (int round = 0; round < 4; round++) {
        size_t n = (size_t)sprintf(s, "{\"type\":\"Deep\",\"x\":");
        for (size_t i = 0; i < d; i++) {
            open_kind[i] = (char)((i * 2654435761u >> 7 ^ (unsigned)round) & 1);
            n += (size_t)sprintf(s + n, "%s", open_kind[i] ? "{\"k\":" : "[");
        }
        s[n++] = '0';
        size_t close_at = n;
        for (size_t i = d; i > 0; i--)
            s[n++] = open_kind[i - 1] ? '}' : ']';
        s[n++] = '}';
        assert_type_n(s, n, true, true, "Deep", 4);
        /* swap one closer deep inside, one near the 4096 boundary, one at the top */
        static const size_t at[] = {0, 4095, 4096, 4097, 8999};
        for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
            size_t pos = close_at + (d - 1 - at[k]); /* the closer of level at[k] */
            char save = s[pos];
            s[pos] = save == '}' ? ']' : '}';
            assert_type_n(s, n, false, false, NULL, 0);
            s[pos] = save;
        }
    }
    free(open_kind);
    free(s);
}

/* ---- type extraction ---------------------------------------------------- */

static void test_json_type_top_level_only(void **state)
{
    (void)state;
    assert_type("{\"type\":\"OrderPlaced\"}", "OrderPlaced");
    assert_type("{\"a\":1,\"type\":\"B\",\"c\":[{\"type\":\"X\"}]}", "B");
    assert_type("{\"o\":{\"type\":\"N\"},\"type\":\"A\"}", "A");
    assert_type("{\"type\":\"A\",\"o\":{\"type\":\"N\"}}", "A");
    assert_type("{\"type\":\"A\",\"x\":{\"type\":1}}", "A");
    assert_type("{\"type\":\"\"}", "");
    assert_type(" { \"type\" : \"spaced\" } ", "spaced");
    assert_no_type("{\"x\":{\"type\":\"N\"}}");
    assert_no_type("[{\"type\":\"A\"}]");
    assert_no_type("[\"type\",\"A\"]");
    assert_no_type("\"type\"");
    assert_no_type("{}");
    assert_no_type("{\"a\":\"type\"}");
    assert_no_type("{\"x\":[{\"y\":{\"type\":\"deep\"}}]}");
}

static void test_json_type_last_duplicate_wins(void **state)
{
    (void)state;
    assert_type("{\"type\":\"A\",\"type\":\"B\"}", "B");
    assert_type("{\"type\":1,\"type\":\"B\"}", "B");
    assert_type("{\"type\":[\"x\"],\"type\":\"B\"}", "B");
    assert_type("{\"type\":{\"type\":\"x\"},\"type\":\"B\"}", "B");
    assert_type("{\"type\":\"A\",\"b\":2,\"type\":\"C\",\"d\":3}", "C");
    assert_no_type("{\"type\":\"A\",\"type\":1}");
    assert_no_type("{\"type\":\"A\",\"type\":null}");
    assert_no_type("{\"type\":\"A\",\"type\":{}}");
    assert_no_type("{\"type\":\"A\",\"type\":[\"B\"]}");
    assert_no_type("{\"type\":\"A\",\"type\":{\"type\":\"B\"}}");
}

static void test_json_type_non_string(void **state)
{
    (void)state;
    static const char *v[] = {"1",  "-0.5", "true",    "false",           "null",
                              "{}", "[]",   "[\"A\"]", "{\"type\":\"A\"}"};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char s[64];
        snprintf(s, sizeof(s), "{\"type\":%s}", v[i]);
        assert_no_type(s);
    }
}

static void test_json_type_key_matching(void **state)
{
    (void)state;
    assert_type("{\"ty\\u0070e\":\"E\"}", "E");
    assert_type("{\"\\u0074\\u0079\\u0070\\u0065\":\"E\"}", "E");
    assert_type("{\"\\u0074ype\":\"E\",\"x\":1}", "E");
    static const char *keys[] = {"Type",        "TYPE", "type ",    " type",
                                 "types",       "typ",  "typetype", "type\\u0000",
                                 "\\u0000type", "",     "tyype",    "type\\ud800"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char s[64];
        snprintf(s, sizeof(s), "{\"%s\":\"A\"}", keys[i]);
        assert_no_type(s);
    }
}

static void test_json_type_value_unescaped(void **state)
{
    (void)state;
    assert_type("{\"type\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\"}",
                "\"\\/\b\f\n\r\tA\xC3\xA9\xE2\x82\xAC");
    assert_type_n("{\"type\":\"a\\u0000b\"}", 19, true, true, "a\0b", 3);
    assert_type("{\"type\":\"Ünïcødé\"}", "Ünïcødé");
    /* a long one, past any small buffer */
    char s[5000], t[4100];
    memset(t, 'x', 4096);
    t[4096] = '\0';
    snprintf(s, sizeof(s), "{\"type\":\"%s\"}", t);
    assert_type(s, t);
}

static void test_json_type_invalid_json_has_no_type(void **state)
{
    (void)state;
    assert_bad_type("{\"type\":\"A\"");
    assert_bad_type("{\"type\":\"A\",}");
    assert_bad_type("{\"type\":\"A\"}x");
    assert_bad_type("{\"type\":\"A\",\"b\":01}");
    assert_bad_type("{\"type\":\"A\",\"b\":\"\x01\"}");
    assert_bad_type("{\"type\":\"A\xff\"}");
    assert_bad_type("{\"type\":\"A}");
    assert_bad_type("{\"type\":\"A\"}}");
}

/* ---- the escaper -------------------------------------------------------- */

static void assert_escapes_to_n(const char *in, size_t n, const char *expect)
{
    size_t len = es_json_escaped_len((const unsigned char *)in, n);
    assert_int_equal(len, strlen(expect));
    char *buf = malloc(len + 1);
    assert_non_null(buf);
    buf[len] = '#';
    assert_int_equal(es_json_escape((const unsigned char *)in, n, buf), len);
    assert_int_equal(buf[len], '#');
    assert_memory_equal(buf, expect, len);
    free(buf);
}

#define assert_escapes_to(in, expect) assert_escapes_to_n((in), strlen(in), (expect))

static void test_json_escape_exact(void **state)
{
    (void)state;
    assert_escapes_to("", "\"\"");
    assert_escapes_to("abc", "\"abc\"");
    assert_escapes_to("\"", "\"\\\"\"");
    assert_escapes_to("\\", "\"\\\\\"");
    assert_escapes_to("/", "\"/\"");
    assert_escapes_to("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    assert_escapes_to_n("\0", 1, "\"\\u0000\"");
    assert_escapes_to("\x01\x07\x0b\x0e\x1a\x1f", "\"\\u0001\\u0007\\u000b\\u000e\\u001a\\u001f\"");
    assert_escapes_to("\x7f", "\"\x7f\"");
    assert_escapes_to(" ~", "\" ~\"");
    assert_escapes_to("Ünïcødé 流 😀", "\"Ünïcødé 流 😀\"");
    assert_escapes_to("\xF4\x8F\xBF\xBF", "\"\xF4\x8F\xBF\xBF\"");
    /* each byte that does not begin a valid sequence becomes \ufffd */
    assert_escapes_to("\xff", "\"\\ufffd\"");
    assert_escapes_to("a\xC3", "\"a\\ufffd\"");
    assert_escapes_to("\xE2\x82", "\"\\ufffd\\ufffd\"");
    assert_escapes_to("\xE2\x82\x41", "\"\\ufffd\\ufffdA\"");
    assert_escapes_to("\xC0\x80", "\"\\ufffd\\ufffd\"");
    assert_escapes_to("\xED\xA0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
    assert_escapes_to("\xF4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    assert_escapes_to("\xF0\x9F\x98", "\"\\ufffd\\ufffd\\ufffd\"");
    assert_escapes_to("\x80\xC3\xA9", "\"\\ufffd\xC3\xA9\"");
    assert_escapes_to("\xC3\xC3\xA9", "\"\\ufffd\xC3\xA9\"");
}

static void check_escape_invariants(const unsigned char *in, size_t n)
{
    size_t len = es_json_escaped_len(in, n);
    char *out = malloc(len + 1);
    unsigned char *dec = malloc(len + 1);
    unsigned char *want = malloc(3 * n + 1);
    assert_non_null(out);
    assert_non_null(dec);
    assert_non_null(want);
    out[len] = '#';
    assert_int_equal(es_json_escape(in, n, out), len);
    assert_int_equal(out[len], '#');
    /* valid JSON, valid UTF-8, no raw control characters */
    struct es_json_info info;
    assert_int_equal(es_json_inspect((const unsigned char *)out, len, &info, NULL), 0);
    assert_true(info.is_json);
    assert_true(ref_utf8_valid((const unsigned char *)out, len));
    for (size_t i = 0; i < len; i++)
        assert_true((unsigned char)out[i] >= 0x20);
    /* it decodes to the input, invalid bytes as U+FFFD */
    long d = ref_unescape(out, len, dec);
    assert_true(d >= 0);
    size_t w = ref_replace_invalid(in, n, want);
    assert_int_equal((size_t)d, w);
    if (w)
        assert_memory_equal(dec, want, w);
    if (ref_utf8_valid(in, n)) {
        assert_int_equal((size_t)d, n);
        if (n)
            assert_memory_equal(dec, in, n);
    }
    free(out);
    free(dec);
    free(want);
}

static void test_json_escape_random_bytes(void **state)
{
    (void)state;
    rng_state = 0x9E3779B97F4A7C15ull;
    unsigned char in[300];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(rng() % (iter < 10000 ? 16 : sizeof(in)));
        random_bytes(in, n);
        check_escape_invariants(in, n);
    }
    /* every single byte and every pair of bytes */
    for (unsigned a = 0; a < 256; a++) {
        unsigned char one = (unsigned char)a;
        check_escape_invariants(&one, 1);
        for (unsigned b = 0; b < 256; b++) {
            unsigned char two[2] = {(unsigned char)a, (unsigned char)b};
            check_escape_invariants(two, 2);
        }
    }
}

/* A random valid UTF-8 string, escaped, as the value of "type": the
 * extracted type is the string itself. */
static void test_json_escape_then_type_roundtrip(void **state)
{
    (void)state;
    rng_state = 0x0123456789ABCDEFull;
    unsigned char in[400];
    struct es_buf t = ES_BUF_INIT;
    for (int iter = 0; iter < 5000; iter++) {
        size_t n = 0;
        size_t cps = (size_t)(rng() % 80);
        for (size_t i = 0; i < cps; i++) {
            uint64_t r = rng();
            uint32_t cp;
            switch (r % 5) {
            case 0: cp = (uint32_t)(r >> 8) % 0x20; break;
            case 1: cp = (uint32_t)(r >> 8) % 0x80; break;
            case 2: cp = (uint32_t)(r >> 8) % 0x800; break;
            case 3: cp = (uint32_t)(r >> 8) % 0x10000; break;
            default: cp = 0x10000 + (uint32_t)(r >> 8) % 0x100000; break;
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xE000;
            n += put_utf8(in + n, cp);
        }
        size_t len = es_json_escaped_len(in, n);
        char *doc = malloc(len + 32);
        assert_non_null(doc);
        size_t d = (size_t)sprintf(doc, "{\"type\":");
        d += es_json_escape(in, n, doc + d);
        doc[d++] = '}';
        struct es_json_info info;
        assert_int_equal(es_json_inspect((const unsigned char *)doc, d, &info, &t), 0);
        assert_true(info.is_json);
        assert_true(info.has_type);
        assert_int_equal(t.len, n);
        if (n)
            assert_memory_equal(t.data, in, n);
        free(doc);
    }
    es_buf_release(&t);
}

/* Random bytes never crash the validator and a type only comes with JSON;
 * an extracted type is always valid UTF-8. */
static void test_json_inspect_random_bytes(void **state)
{
    (void)state;
    rng_state = 0xDEADBEEFCAFEF00Dull;
    static const char *frags[] = {"{",    "}", "[", "]", ",", ":",    "\"type\"", "\"",    "\\u",
                                  "d83d", "1", "-", "e", ".", "true", " ",        "\"x\"", "\\"};
    struct es_buf t = ES_BUF_INIT;
    char s[256];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0;
        while (n < 200 && rng() % 16) {
            uint64_t r = rng();
            if (r % 3 == 0) {
                s[n++] = (char)(r >> 8);
            } else {
                const char *f = frags[(r >> 8) % (sizeof(frags) / sizeof(frags[0]))];
                size_t fl = strlen(f);
                memcpy(s + n, f, fl);
                n += fl;
            }
        }
        struct es_json_info info;
        assert_int_equal(es_json_inspect((const unsigned char *)s, n, &info, &t), 0);
        if (info.has_type) {
            assert_true(info.is_json);
            assert_true(ref_utf8_valid(t.data, t.len));
        } else {
            assert_int_equal(t.len, 0);
        }
    }
    es_buf_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_numbers),
        cmocka_unit_test(test_json_literals),
        cmocka_unit_test(test_json_strings_every_escape),
        cmocka_unit_test(test_json_lone_surrogates_are_valid),
        cmocka_unit_test(test_json_raw_control_chars_invalid),
        cmocka_unit_test(test_json_invalid_utf8_invalid),
        cmocka_unit_test(test_json_valid_utf8_boundaries),
        cmocka_unit_test(test_json_structures),
        cmocka_unit_test(test_json_whitespace),
        cmocka_unit_test(test_json_trailing_garbage),
        cmocka_unit_test(test_json_empty_input),
        cmocka_unit_test(test_json_deep_nesting_valid),
        cmocka_unit_test(test_json_deep_nesting_unbalanced),
        cmocka_unit_test(test_json_deep_mixed_nesting),
        cmocka_unit_test(test_json_type_top_level_only),
        cmocka_unit_test(test_json_type_last_duplicate_wins),
        cmocka_unit_test(test_json_type_non_string),
        cmocka_unit_test(test_json_type_key_matching),
        cmocka_unit_test(test_json_type_value_unescaped),
        cmocka_unit_test(test_json_type_invalid_json_has_no_type),
        cmocka_unit_test(test_json_escape_exact),
        cmocka_unit_test(test_json_escape_random_bytes),
        cmocka_unit_test(test_json_escape_then_type_roundtrip),
        cmocka_unit_test(test_json_inspect_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
