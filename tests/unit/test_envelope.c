/*
 * test_envelope.c - the line of ES_VIEW_ALL (src/format/envelope.c, the
 * public es_envelope_render): exact bytes for sample events (field order
 * pos, stream, ver, type, ts, data; no spaces), the UTC timestamp with nine
 * fractional digits (checked against fixed dates and against gmtime_r), data
 * verbatim for JSON payloads and a JSON string otherwise, escaping of names
 * and types, es_envelope_len == rendered length, and rendering into a short
 * buffer (full length returned, only the prefix written).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "format/envelope.h"
#include "format/json.h"

static struct es_event ev_of(uint64_t pos, const char *stream, uint64_t ver, const char *type,
                             int64_t ts, const char *payload, size_t payload_len, bool json)
{
    struct es_event ev = {.pos = pos,
                          .version = ver,
                          .ts_ns = ts,
                          .stream = stream,
                          .stream_len = strlen(stream),
                          .type = type,
                          .type_len = strlen(type),
                          .payload = (const unsigned char *)payload,
                          .payload_len = payload_len,
                          .payload_is_json = json};
    return ev;
}

/* Renders ev and compares with expect (which ends in '\n'); also checks
 * es_envelope_len, cap 0, every short cap and a generous cap. */
static void assert_renders(const struct es_event *ev, const char *expect)
{
    size_t want = strlen(expect);
    assert_int_equal(es_envelope_len(ev), want);
    assert_int_equal(es_envelope_render(ev, NULL, 0), want);
    char *buf = malloc(want + 16);
    assert_non_null(buf);
    for (size_t cap = 0; cap <= want + 8; cap++) {
        memset(buf, '#', want + 16);
        assert_int_equal(es_envelope_render(ev, buf, cap), want);
        size_t wrote = cap < want ? cap : want;
        if (wrote)
            assert_memory_equal(buf, expect, wrote);
        for (size_t i = wrote; i < want + 16; i++)
            if (buf[i] != '#')
                fail_msg("cap %zu: byte %zu written past %zu", cap, i, wrote);
    }
    /* es_envelope_write writes the same line */
    memset(buf, '#', want + 16);
    assert_int_equal(es_envelope_write(ev, buf), want);
    assert_memory_equal(buf, expect, want);
    assert_int_equal(buf[want], '#');
    free(buf);
}

static void test_envelope_sample_event(void **state)
{
    (void)state;
    const char *p = "{\"type\":\"OrderPlaced\",\"total\":42}";
    struct es_event ev =
        ev_of(17, "Order-123", 3, "OrderPlaced", 1795345200123456789, p, strlen(p), true);
    assert_renders(&ev, "{\"pos\":17,\"stream\":\"Order-123\",\"ver\":3,\"type\":\"OrderPlaced\","
                        "\"ts\":\"2026-11-22T11:00:00.123456789Z\","
                        "\"data\":{\"type\":\"OrderPlaced\",\"total\":42}}\n");
}

static void test_envelope_data_verbatim_when_json(void **state)
{
    (void)state;
    /* whatever JSON the payload is, byte for byte, spaces included */
    const char *p = " { \"a\" : [1, 2.50e1] , \"\\u00e9\":\"\\/\" } ";
    struct es_event ev = ev_of(1, "s", 1, "", 0, p, strlen(p), true);
    assert_renders(&ev, "{\"pos\":1,\"stream\":\"s\",\"ver\":1,\"type\":\"\","
                        "\"ts\":\"1970-01-01T00:00:00.000000000Z\","
                        "\"data\": { \"a\" : [1, 2.50e1] , \"\\u00e9\":\"\\/\" } }\n");
    struct es_event num = ev_of(2, "s", 2, "", 0, "42", 2, true);
    assert_renders(&num, "{\"pos\":2,\"stream\":\"s\",\"ver\":2,\"type\":\"\","
                         "\"ts\":\"1970-01-01T00:00:00.000000000Z\",\"data\":42}\n");
    struct es_event str = ev_of(3, "s", 3, "", 0, "\"hi\"", 4, true);
    assert_renders(&str, "{\"pos\":3,\"stream\":\"s\",\"ver\":3,\"type\":\"\","
                         "\"ts\":\"1970-01-01T00:00:00.000000000Z\",\"data\":\"hi\"}\n");
}

static void test_envelope_data_string_when_not_json(void **state)
{
    (void)state;
    const char *p = "say \"hi\" C:\\dir\t\x01\x1f\x7f/é";
    struct es_event ev = ev_of(5, "s", 1, "", 0, p, strlen(p), false);
    assert_renders(&ev, "{\"pos\":5,\"stream\":\"s\",\"ver\":1,\"type\":\"\","
                        "\"ts\":\"1970-01-01T00:00:00.000000000Z\","
                        "\"data\":\"say \\\"hi\\\" C:\\\\dir\\t\\u0001\\u001f\x7f/é\"}\n");
    /* the flag decides, not the content: JSON text without the flag is a string */
    struct es_event j = ev_of(6, "s", 2, "", 0, "{\"a\":1}", 7, false);
    assert_renders(&j, "{\"pos\":6,\"stream\":\"s\",\"ver\":2,\"type\":\"\","
                       "\"ts\":\"1970-01-01T00:00:00.000000000Z\",\"data\":\"{\\\"a\\\":1}\"}\n");
    /* empty payload */
    struct es_event e = ev_of(7, "s", 3, "", 0, "", 0, false);
    assert_renders(&e, "{\"pos\":7,\"stream\":\"s\",\"ver\":3,\"type\":\"\","
                       "\"ts\":\"1970-01-01T00:00:00.000000000Z\",\"data\":\"\"}\n");
}

static void test_envelope_invalid_utf8_becomes_replacement(void **state)
{
    (void)state;
    struct es_event ev = ev_of(8, "s", 1, "", 0,
                               "a\xff"
                               "b\xC3\0c\xE2\x82",
                               8, false);
    assert_renders(&ev, "{\"pos\":8,\"stream\":\"s\",\"ver\":1,\"type\":\"\","
                        "\"ts\":\"1970-01-01T00:00:00.000000000Z\","
                        "\"data\":\"a\\ufffdb\\ufffd\\u0000c\\ufffd\\ufffd\"}\n");
}

static void test_envelope_names_and_types_escaped(void **state)
{
    (void)state;
    struct es_event ev = ev_of(9, "a\"b\\c Ünï 流", 4, "T\n\"q\"\\\x01", 1000000000, "1", 1, true);
    assert_renders(&ev, "{\"pos\":9,\"stream\":\"a\\\"b\\\\c Ünï 流\",\"ver\":4,"
                        "\"type\":\"T\\n\\\"q\\\"\\\\\\u0001\","
                        "\"ts\":\"1970-01-01T00:00:01.000000000Z\",\"data\":1}\n");
}

static void test_envelope_number_widths(void **state)
{
    (void)state;
    struct es_event ev = ev_of(UINT64_MAX, "s", UINT64_MAX, "T", 0, "null", 4, true);
    assert_renders(&ev, "{\"pos\":18446744073709551615,\"stream\":\"s\","
                        "\"ver\":18446744073709551615,\"type\":\"T\","
                        "\"ts\":\"1970-01-01T00:00:00.000000000Z\",\"data\":null}\n");
    static const uint64_t v[] = {1, 9, 10, 99, 100, 999999999, 1000000000, 10000000000000000000ull};
    static const char *t[] = {"1",   "9",         "10",         "99",
                              "100", "999999999", "1000000000", "10000000000000000000"};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        struct es_event e =
            ev_of(v[i], "s", v[sizeof(v) / sizeof(v[0]) - 1 - i], "", 0, "0", 1, true);
        char expect[256];
        snprintf(expect, sizeof(expect),
                 "{\"pos\":%s,\"stream\":\"s\",\"ver\":%s,\"type\":\"\","
                 "\"ts\":\"1970-01-01T00:00:00.000000000Z\",\"data\":0}\n",
                 t[i], t[sizeof(v) / sizeof(v[0]) - 1 - i]);
        assert_renders(&e, expect);
    }
}

/* ---- timestamps --------------------------------------------------------- */

static void assert_ts(int64_t ns, const char *expect)
{
    char buf[ES_TS_TEXT_BYTES + 1];
    memset(buf, '#', sizeof(buf));
    es_ts_format(ns, buf);
    assert_int_equal(buf[ES_TS_TEXT_BYTES], '#');
    assert_memory_equal(buf, expect, ES_TS_TEXT_BYTES);
    assert_int_equal(strlen(expect), ES_TS_TEXT_BYTES);
    /* and inside an envelope */
    struct es_event ev = ev_of(1, "s", 1, "", ns, "0", 1, true);
    char line[256];
    snprintf(line, sizeof(line),
             "{\"pos\":1,\"stream\":\"s\",\"ver\":1,\"type\":\"\",\"ts\":\"%s\",\"data\":0}\n",
             expect);
    assert_renders(&ev, line);
}

static void test_envelope_ts_fixed_dates(void **state)
{
    (void)state;
    assert_ts(0, "1970-01-01T00:00:00.000000000Z");
    assert_ts(1, "1970-01-01T00:00:00.000000001Z");
    assert_ts(999999999, "1970-01-01T00:00:00.999999999Z");
    assert_ts(86399999999999, "1970-01-01T23:59:59.999999999Z");
    assert_ts(86400000000000, "1970-01-02T00:00:00.000000000Z");
    assert_ts(78796799000000000, "1972-06-30T23:59:59.000000000Z");
    assert_ts(946684799999999999, "1999-12-31T23:59:59.999999999Z");
    assert_ts(946684800000000000, "2000-01-01T00:00:00.000000000Z");
    assert_ts(951786123456789000, "2000-02-29T01:02:03.456789000Z"); /* leap: 400 */
    assert_ts(1709210096000000001, "2024-02-29T12:34:56.000000001Z");
    assert_ts(1735689599999999999, "2024-12-31T23:59:59.999999999Z");
    assert_ts(1795345200123456789, "2026-11-22T11:00:00.123456789Z");
    assert_ts(4107542399500000000, "2100-02-28T23:59:59.500000000Z"); /* no leap: 100 */
    assert_ts(4107542400000000000, "2100-03-01T00:00:00.000000000Z");
    assert_ts(INT64_MAX, "2262-04-11T23:47:16.854775807Z");
}

static void test_envelope_ts_matches_gmtime(void **state)
{
    (void)state;
    uint64_t x = 0x243F6A8885A308D3ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t ns = (int64_t)(x >> 1);
        if (i % 4 == 0)
            ns %= 4102444800000000000; /* mostly before 2100 */
        time_t secs = (time_t)(ns / 1000000000);
        struct tm tm;
        assert_non_null(gmtime_r(&secs, &tm));
        char expect[64];
        snprintf(expect, sizeof(expect), "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (long long)(ns % 1000000000));
        char got[ES_TS_TEXT_BYTES];
        es_ts_format(ns, got);
        if (memcmp(got, expect, ES_TS_TEXT_BYTES) != 0)
            fail_msg("%lld: got %.30s, expected %s", (long long)ns, got, expect);
    }
}

/* Timestamps sort as strings in the same order as numbers. */
static void test_envelope_ts_sorts_as_text(void **state)
{
    (void)state;
    static const int64_t v[] = {0,
                                1,
                                999999999,
                                1000000000,
                                86399999999999,
                                946684799999999999,
                                946684800000000000,
                                1709210096000000001,
                                4107542400000000000,
                                INT64_MAX};
    for (size_t i = 1; i < sizeof(v) / sizeof(v[0]); i++) {
        char a[ES_TS_TEXT_BYTES], b[ES_TS_TEXT_BYTES];
        es_ts_format(v[i - 1], a);
        es_ts_format(v[i], b);
        assert_true(memcmp(a, b, ES_TS_TEXT_BYTES) < 0);
    }
}

/* ---- properties over random events -------------------------------------- */

static uint64_t rng_state = 0x853C49E6748FEA9Bull;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

/* For random events: es_envelope_len equals the rendered length; the line
 * ends in its only '\n'; without it, it is one valid JSON object whose
 * top-level "type" is the event's type. */
static void test_envelope_random_events_are_json_lines(void **state)
{
    (void)state;
    static const char *types[] = {"",          "T",       "OrderPlaced", "with \"quotes\"",
                                  "tab\there", "Ünïcødé", "\x01\x1f"};
    static const char *json_payloads[] = {"{}", "[1,2]", "{\"type\":\"Other\"}", "\"s\"", "-0.5e3"};
    struct es_buf type = ES_BUF_INIT;
    char stream[64];
    unsigned char payload[200];
    for (int i = 0; i < 5000; i++) {
        size_t sl = 1 + (size_t)(rng() % 20);
        for (size_t k = 0; k < sl; k++)
            stream[k] = (char)(0x20 + rng() % 0x5F);
        stream[0] = 'a';
        const char *t = types[rng() % (sizeof(types) / sizeof(types[0]))];
        bool json = rng() % 3 == 0;
        size_t pl;
        if (json) {
            const char *j =
                json_payloads[rng() % (sizeof(json_payloads) / sizeof(json_payloads[0]))];
            pl = strlen(j);
            memcpy(payload, j, pl);
        } else {
            pl = (size_t)(rng() % sizeof(payload));
            for (size_t k = 0; k < pl; k++) {
                payload[k] = (unsigned char)rng();
                if (payload[k] == '\n')
                    payload[k] = ' ';
            }
        }
        struct es_event ev = {.pos = rng() >> (rng() % 64),
                              .version = 1 + (rng() >> (rng() % 63 + 1)),
                              .ts_ns = (int64_t)(rng() >> 1),
                              .stream = stream,
                              .stream_len = sl,
                              .type = t,
                              .type_len = strlen(t),
                              .payload = payload,
                              .payload_len = pl,
                              .payload_is_json = json};
        size_t len = es_envelope_len(&ev);
        char *line = malloc(len + 1);
        assert_non_null(line);
        line[len] = '#';
        assert_int_equal(es_envelope_render(&ev, line, len), len);
        assert_int_equal(line[len], '#');
        assert_int_equal(line[len - 1], '\n');
        assert_null(memchr(line, '\n', len - 1));
        struct es_json_info info;
        assert_int_equal(es_json_inspect((const unsigned char *)line, len - 1, &info, &type), 0);
        if (!info.is_json)
            fail_msg("not JSON: %.*s", (int)len, line);
        assert_true(info.has_type);
        assert_int_equal(type.len, ev.type_len);
        if (ev.type_len)
            assert_memory_equal(type.data, ev.type, ev.type_len);
        free(line);
    }
    es_buf_release(&type);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_sample_event),
        cmocka_unit_test(test_envelope_data_verbatim_when_json),
        cmocka_unit_test(test_envelope_data_string_when_not_json),
        cmocka_unit_test(test_envelope_invalid_utf8_becomes_replacement),
        cmocka_unit_test(test_envelope_names_and_types_escaped),
        cmocka_unit_test(test_envelope_number_widths),
        cmocka_unit_test(test_envelope_ts_fixed_dates),
        cmocka_unit_test(test_envelope_ts_matches_gmtime),
        cmocka_unit_test(test_envelope_ts_sorts_as_text),
        cmocka_unit_test(test_envelope_random_events_are_json_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
