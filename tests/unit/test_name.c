/*
 * test_name.c - the stream name rules (es_stream_name_check, in
 * src/format/name.c; PRODUCT.md "Bad input"): 1..255 bytes (ES_ENAMELEN
 * beyond), valid UTF-8, no control characters (0x00..0x1F, 0x7F), no '/',
 * not starting with '.'; every refusal leaves a reason for es_error_detail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "esfs/esfs.h"

static void assert_name_n(const char *name, size_t len, int expect)
{
    es_error_clear();
    int rc = es_stream_name_check(name, len);
    if (rc != expect)
        fail_msg("name \"%.*s\" (%zu bytes): got %d, expected %d", (int)len, name, len, rc, expect);
    if (expect != 0) {
        /* a refusal says why */
        assert_string_not_equal(es_error_detail(), "no error recorded");
    }
}

#define assert_name(s, expect) assert_name_n((s), strlen(s), (expect))

static void test_name_empty(void **state)
{
    (void)state;
    assert_name_n("", 0, ES_EBADNAME);
    assert_name_n("abc", 0, ES_EBADNAME); /* the length decides, not the NUL */
    assert_name_n(NULL, 0, ES_EBADNAME);
}

static void test_name_length_limit(void **state)
{
    (void)state;
    char buf[1024];
    memset(buf, 'a', sizeof(buf));
    assert_name_n(buf, 1, 0);
    assert_name_n(buf, 254, 0);
    assert_name_n(buf, 255, 0);
    assert_name_n(buf, 256, ES_ENAMELEN);
    assert_name_n(buf, 1024, ES_ENAMELEN);
    /* the limit is in bytes, not characters: 85 three-byte characters fit */
    for (size_t i = 0; i < 86; i++)
        memcpy(buf + 3 * i, "流", 3);
    assert_name_n(buf, 255, 0);
    assert_name_n(buf, 258, ES_ENAMELEN);
    /* too long wins over other faults */
    buf[0] = '.';
    assert_name_n(buf, 300, ES_ENAMELEN);
}

static void test_name_leading_dot(void **state)
{
    (void)state;
    assert_name(".", ES_EBADNAME);
    assert_name("..", ES_EBADNAME);
    assert_name(".hidden", ES_EBADNAME);
    assert_name(".esfs", ES_EBADNAME);
    /* dots elsewhere are fine */
    assert_name("a.b", 0);
    assert_name("a.", 0);
    assert_name("a..b", 0);
    assert_name("v1.2.3", 0);
}

static void test_name_control_chars(void **state)
{
    (void)state;
    for (int c = 0; c < 0x20; c++) {
        char s[4] = {(char)c, 'a', 'b'};
        assert_name_n(s, 3, ES_EBADNAME);
        s[0] = 'a', s[1] = (char)c;
        assert_name_n(s, 3, ES_EBADNAME);
        s[1] = 'b', s[2] = (char)c;
        assert_name_n(s, 3, ES_EBADNAME);
        s[0] = (char)c;
        assert_name_n(s, 1, ES_EBADNAME);
    }
    assert_name("\x7f", ES_EBADNAME);
    assert_name("a\x7f", ES_EBADNAME);
    assert_name("\x7f"
                "a",
                ES_EBADNAME);
    assert_name("Order\n123", ES_EBADNAME);
    assert_name_n("a\0b", 3, ES_EBADNAME);
}

static void test_name_slash(void **state)
{
    (void)state;
    assert_name("/", ES_EBADNAME);
    assert_name("/a", ES_EBADNAME);
    assert_name("a/", ES_EBADNAME);
    assert_name("a/b", ES_EBADNAME);
    assert_name("../etc", ES_EBADNAME);
    /* a backslash is just a character */
    assert_name("a\\b", 0);
}

static void test_name_invalid_utf8(void **state)
{
    (void)state;
    static const char *bad[] = {"\xff",
                                "\xfe",
                                "\x80",
                                "a\xbf",
                                "\xc0\xaf",
                                "\xc1\x81",
                                "\xe0\x80\xaf",
                                "\xf0\x80\x80\xaf",
                                "\xed\xa0\x80",
                                "\xed\xbf\xbf",
                                "\xf4\x90\x80\x80",
                                "\xf5\x80\x80\x80",
                                "\xc3",
                                "a\xe2\x82",
                                "\xf0\x9f\x98",
                                "\xc3(",
                                "\xe2\x28\xa1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_name(bad[i], ES_EBADNAME);
    /* a multi-byte character cut by the length */
    assert_name_n("ab\xc3\xa9", 3, ES_EBADNAME);
    char buf[256];
    memset(buf, 'a', 254);
    memcpy(buf + 254, "\xc3\xa9", 2);
    assert_name_n(buf, 255, ES_EBADNAME);
}

static void test_name_valid(void **state)
{
    (void)state;
    static const char *good[] = {"a",
                                 "Order-123",
                                 "Ünïcødé",
                                 "流",
                                 "😀",
                                 "\xc2\xa0",         /* U+00A0, the first after C1 */
                                 "\xed\x9f\xbf",     /* U+D7FF */
                                 "\xee\x80\x80",     /* U+E000 */
                                 "\xef\xbf\xbf",     /* U+FFFF */
                                 "\xf0\x90\x80\x80", /* U+10000 */
                                 "\xf4\x8f\xbf\xbf", /* U+10FFFF */
                                 "with space",
                                 " leading space",
                                 "-dash",
                                 "quote\"and'apos",
                                 "~tilde",
                                 "a:b@c#d$e%f&g*h?i",
                                 "{\"json\":1}"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_name(good[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_empty),       cmocka_unit_test(test_name_length_limit),
        cmocka_unit_test(test_name_leading_dot), cmocka_unit_test(test_name_control_chars),
        cmocka_unit_test(test_name_slash),       cmocka_unit_test(test_name_invalid_utf8),
        cmocka_unit_test(test_name_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
