/*
 * fuzz_json.c - libFuzzer harness for the JSON handling of an event line
 * (src/format/json.c, envelope.c): the validator with "type" extraction,
 * the string escaper and the envelope built from both.
 *
 * Invariants, any failure aborts:
 *  - inspect succeeds; a type comes only with valid JSON, is valid UTF-8,
 *    and is the same with or without a type buffer;
 *  - the escaped input has es_json_escaped_len bytes, is valid JSON and
 *    valid UTF-8 without raw control characters, and decodes back to the
 *    input when that is valid UTF-8;
 *  - {"type":<escaped input>} has the input as its type (valid UTF-8 input);
 *  - an event with the input as payload (JSON flag from inspect) and the
 *    extracted type renders to es_envelope_len bytes: one JSON line whose
 *    top-level "type" is that type.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/envelope.h"
#include "format/json.h"
#include "format/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

/* Decodes the escaper's output (one string literal) into out; -1 if it is
 * not one. Only the escapes the escaper writes are needed. */
static long unescape(const char *s, size_t n, unsigned char *out)
{
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        return -1;
    size_t o = 0;
    for (size_t i = 1; i < n - 1;) {
        if (s[i] != '\\') {
            out[o++] = (unsigned char)s[i++];
            continue;
        }
        if (i + 1 >= n - 1)
            return -1;
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (i + 4 > n - 1 || hex4(s + i, &cp))
                return -1;
            i += 4;
            o += put_utf8(out + o, cp);
            break;
        }
        default: return -1;
        }
    }
    return (long)o;
}

static void check_escape(const unsigned char *p, size_t n, bool valid_utf8)
{
    size_t len = es_json_escaped_len(p, n);
    char *out = malloc(len);
    unsigned char *dec = malloc(len);
    if (!out || !dec)
        abort();
    if (es_json_escape(p, n, out) != len)
        abort();
    if (!es_utf8_valid((const unsigned char *)out, len))
        abort();
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)out[i] < 0x20)
            abort();
    struct es_json_info info;
    if (es_json_inspect((const unsigned char *)out, len, &info, NULL) != 0 || !info.is_json ||
        info.has_type)
        abort();
    long d = unescape(out, len, dec);
    if (d < 0)
        abort();
    if (valid_utf8 && ((size_t)d != n || (n && memcmp(dec, p, n) != 0)))
        abort();
    /* as the value of "type" */
    char *doc = malloc(len + 9);
    if (!doc)
        abort();
    memcpy(doc, "{\"type\":", 8);
    memcpy(doc + 8, out, len);
    doc[len + 8] = '}';
    struct es_buf type = ES_BUF_INIT;
    if (es_json_inspect((const unsigned char *)doc, len + 9, &info, &type) != 0 || !info.is_json ||
        !info.has_type)
        abort();
    if (valid_utf8 && (type.len != n || (n && memcmp(type.data, p, n) != 0)))
        abort();
    es_buf_release(&type);
    free(doc);
    free(out);
    free(dec);
}

static void check_envelope(const unsigned char *p, size_t n, bool is_json, const struct es_buf *t)
{
    struct es_event ev = {.pos = 1 + n,
                          .version = 1,
                          .ts_ns = (int64_t)n * 1000000007,
                          .stream = "fuzz",
                          .stream_len = 4,
                          .type = t->len ? (const char *)t->data : "",
                          .type_len = t->len,
                          .payload = p,
                          .payload_len = n,
                          .payload_is_json = is_json};
    size_t len = es_envelope_len(&ev);
    char *line = malloc(len);
    if (!line)
        abort();
    if (es_envelope_render(&ev, line, len) != len || line[len - 1] != '\n' ||
        memchr(line, '\n', len - 1))
        abort();
    struct es_json_info info;
    struct es_buf type = ES_BUF_INIT;
    if (es_json_inspect((const unsigned char *)line, len - 1, &info, &type) != 0 || !info.is_json ||
        !info.has_type || type.len != t->len || (t->len && memcmp(type.data, t->data, t->len) != 0))
        abort();
    /* a short buffer gets the prefix and the full length */
    size_t cap = len / 2;
    char *part = malloc(cap ? cap : 1);
    if (!part)
        abort();
    if (es_envelope_render(&ev, part, cap) != len || memcmp(part, line, cap) != 0)
        abort();
    free(part);
    es_buf_release(&type);
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct es_json_info info, bare;
    struct es_buf type = ES_BUF_INIT;
    if (es_json_inspect(data, size, &info, &type) != 0)
        abort();
    if (es_json_inspect(data, size, &bare, NULL) != 0)
        abort();
    if (info.is_json != bare.is_json || info.has_type != bare.has_type)
        abort();
    if (info.has_type && (!info.is_json || !es_utf8_valid(type.data, type.len)))
        abort();
    if (!info.has_type && type.len != 0)
        abort();
    check_escape(data, size, es_utf8_valid(data, size));
    /* payloads never hold '\n' (it ends an event) */
    if (!size || !memchr(data, '\n', size))
        check_envelope(data, size, info.is_json, &type);
    es_buf_release(&type);
    return 0;
}
