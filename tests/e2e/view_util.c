/*
 * view_util.c - payload generators, the envelope parser and the JSON
 * string oracle of the e2e tests (see view_util.h). Written from
 * PRODUCT.md and the public header, independently of src/format.
 */
#include "view_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mount_util.h"

/* ---- payloads ---- */

static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

static void put(struct e2e_payload *p, size_t *cap, const void *data, size_t n)
{
    if (p->len + n + 1 > *cap) {
        while (p->len + n + 1 > *cap)
            *cap *= 2;
        p->data = realloc(p->data, *cap);
        if (!p->data)
            abort();
    }
    memcpy(p->data + p->len, data, n);
    p->len += n;
    p->data[p->len] = '\0';
}

static void puts_(struct e2e_payload *p, size_t *cap, const char *s)
{
    put(p, cap, s, strlen(s));
}

/* Fixed corner cases: payload, is_json, type. */
static const struct {
    const char *data;
    size_t len; /* 0: strlen */
    bool is_json;
    const char *type;
} corners[] = {
    {"{\"type\":\"OrderPlaced\",\"total\":42}", 0, true, "OrderPlaced"},
    {"42", 0, true, ""},
    {"-1.5e3", 0, true, ""},
    {"\"just a string\"", 0, true, ""},
    {"null", 0, true, ""},
    {"true", 0, true, ""},
    {"[1,2,{\"type\":\"Nested\"}]", 0, true, ""},
    {"{\"a\":{\"type\":\"Inner\"}}", 0, true, ""},
    {"{\"type\":5}", 0, true, ""},
    {"{\"type\":\"First\",\"type\":\"Last\"}", 0, true, "Last"},
    {"{\"type\":\"Caf\\u00e9 \\\"q\\\" \\\\ \\/\"}", 0, true, "Caf\xc3\xa9 \"q\" \\ /"},
    {"{\"type\":\"\xe2\x82\xac\xf0\x9f\x98\x80\"}", 0, true, "\xe2\x82\xac\xf0\x9f\x98\x80"},
    {" {\"type\":\"Spaced\"}\t", 0, true, "Spaced"},
    {"{}", 0, true, ""},
    {"{\"type\":\"\"}", 0, true, ""},
    {"{\"type\":\"Bad\",\"x\":\"\xff\"}", 0, false, ""}, /* invalid UTF-8: not JSON */
    {"{\"type\":\"Open\"", 0, false, ""},
    {"{\"type\":\"Tab\tInside\"}", 0, false, ""}, /* raw control character */
    {"{'type':'single'}", 0, false, ""},
    {"hello world", 0, false, ""},
    {"tru", 0, false, ""},
    {"01", 0, false, ""},
    {"\"unterminated", 0, false, ""},
    {"back\\slash \"quotes\" \x01\x1f\x7f", 0, false, ""},
    {"nul\0byte\0", 9, false, ""},
    {"\xc3\x28 \xa0\xa1 \xe2\x28\xa1 \xf0\x28\x8c\xbc \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80", 0,
     false, ""},
    {"\xe2\x82", 0, false, ""}, /* truncated sequence at the end */
    {"\r\b\f", 0, false, ""},
};

void e2e_payload_make(uint64_t *rng, uint64_t i, size_t max_len, struct e2e_payload *p)
{
    size_t cap = 256;
    memset(p, 0, sizeof(*p));
    p->data = malloc(cap);
    if (!p->data)
        abort();
    p->data[0] = '\0';
    const size_t n_corners = sizeof(corners) / sizeof(corners[0]);
    if (i < n_corners) {
        put(p, &cap, corners[i].data, corners[i].len ? corners[i].len : strlen(corners[i].data));
        p->is_json = corners[i].is_json;
        snprintf(p->type, sizeof(p->type), "%s", corners[i].type);
        return;
    }
    uint64_t r = e2e_rand(rng);
    size_t len = 1 + (size_t)(e2e_rand(rng) % 300);
    if (r % 97 == 0)
        len = 1 + (size_t)(e2e_rand(rng) % max_len); /* now and then a large one */
    char num[64];
    switch (r % 4) {
    case 0: { /* a typed JSON object */
        snprintf(p->type, sizeof(p->type), "Type%u", (unsigned)(e2e_rand(rng) % 7));
        snprintf(num, sizeof(num), "{\"type\":\"%s\",\"i\":%llu,\"s\":\"", p->type,
                 (unsigned long long)i);
        puts_(p, &cap, num);
        while (p->len + 3 < len)
            put(p, &cap, &alnum[e2e_rand(rng) % (sizeof(alnum) - 1)], 1);
        puts_(p, &cap, "\",\"u\":\"\xc3\xa9\xe2\x82\xac\"}");
        p->is_json = true;
        break;
    }
    case 1: /* other JSON: an array of numbers */
        puts_(p, &cap, "[");
        for (size_t k = 0; k == 0 || p->len < len; k++) {
            snprintf(num, sizeof(num), "%s%lld", k ? "," : "",
                     (long long)(e2e_rand(rng) % 2000001) - 1000000);
            puts_(p, &cap, num);
        }
        puts_(p, &cap, "]");
        p->is_json = true;
        break;
    case 2: /* printable text with quotes and backslashes, not JSON */
        puts_(p, &cap, "Q");
        while (p->len < len) {
            char c = (char)(0x20 + e2e_rand(rng) % 95);
            put(p, &cap, &c, 1);
        }
        break;
    default: /* any bytes but '\n': NUL, control bytes, invalid UTF-8 */
        puts_(p, &cap, "Z");
        while (p->len < len) {
            unsigned char c = (unsigned char)(e2e_rand(rng) & 0xff);
            if (c == '\n')
                c = 0;
            put(p, &cap, &c, 1);
        }
        break;
    }
}

void e2e_payload_free(struct e2e_payload *p)
{
    free(p->data);
    p->data = NULL;
}

/* ---- the JSON string oracle ---- */

/* Length of the valid UTF-8 sequence at p (RFC 3629), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t need;
    unsigned min, cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        need = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        need = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        need = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t k = 1; k < need; k++) {
        if ((p[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need;
}

size_t e2e_json_string(const unsigned char *p, size_t n, char *out)
{
    char *o = out;
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc) {
            size_t k = strlen(esc);
            memcpy(o, esc, k);
            o += k;
            i++;
        } else if (c < 0x20) {
            o += sprintf(o, "\\u%04x", c);
            i++;
        } else {
            size_t k = utf8_len(p + i, n - i);
            if (k == 0) {
                memcpy(o, "\\ufffd", 6);
                o += 6;
                i++;
            } else {
                memcpy(o, p + i, k);
                o += k;
                i += k;
            }
        }
    }
    *o++ = '"';
    return (size_t)(o - out);
}

char *e2e_expected_data(const struct e2e_payload *p, size_t *len)
{
    char *out = malloc(p->len * 6 + 3);
    if (!out)
        abort();
    if (p->is_json) {
        memcpy(out, p->data, p->len);
        *len = p->len;
    } else {
        *len = e2e_json_string((const unsigned char *)p->data, p->len, out);
    }
    return out;
}

/* ---- envelopes ---- */

static bool take_lit(const char **s, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *s) < n || memcmp(*s, lit, n) != 0)
        return false;
    *s += n;
    return true;
}

static bool take_u64(const char **s, const char *end, uint64_t *v)
{
    const char *p = *s;
    if (p >= end || *p < '1' || *p > '9') /* no leading zeros, never 0 */
        return false;
    uint64_t x = 0;
    while (p < end && *p >= '0' && *p <= '9')
        x = x * 10 + (uint64_t)(*p++ - '0');
    *v = x;
    *s = p;
    return true;
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t put_cp(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A JSON string literal into out (decoded, at most cap - 1 bytes). */
static bool take_string(const char **s, const char *end, char *out, size_t cap, size_t *out_len)
{
    const char *p = *s;
    size_t n = 0;
    if (p >= end || *p++ != '"')
        return false;
    while (p < end && *p != '"') {
        if (n + 5 >= cap)
            return false;
        unsigned char c = (unsigned char)*p;
        if (c < 0x20)
            return false;
        if (c != '\\') {
            out[n++] = (char)c;
            p++;
            continue;
        }
        if (++p >= end)
            return false;
        char e = *p++;
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            if (end - p < 4)
                return false;
            unsigned cp = 0;
            for (int k = 0; k < 4; k++) {
                int h = hexv(p[k]);
                if (h < 0)
                    return false;
                cp = cp << 4 | (unsigned)h;
            }
            p += 4;
            n += put_cp(out + n, cp);
            break;
        }
        default: return false;
        }
    }
    if (p >= end)
        return false;
    out[n] = '\0';
    *out_len = n;
    *s = p + 1;
    return true;
}

bool e2e_ts_valid(const char *ts)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddddddddZ";
    for (size_t i = 0; i < 30; i++) {
        if (shape[i] == 'd' ? (ts[i] < '0' || ts[i] > '9') : ts[i] != shape[i])
            return false;
    }
    int mon = (ts[5] - '0') * 10 + (ts[6] - '0');
    int day = (ts[8] - '0') * 10 + (ts[9] - '0');
    int hour = (ts[11] - '0') * 10 + (ts[12] - '0');
    int min = (ts[14] - '0') * 10 + (ts[15] - '0');
    int sec = (ts[17] - '0') * 10 + (ts[18] - '0');
    return ts[30] == '\0' && mon >= 1 && mon <= 12 && day >= 1 && day <= 31 && hour < 24 &&
           min < 60 && sec < 61;
}

bool e2e_env_parse(const char *line, size_t len, struct e2e_env *e, char *why, size_t why_cap)
{
    const char *s = line, *end = line + len;
    const char *fail = NULL;
    memset(e, 0, sizeof(*e));
    if (len < 2 || line[len - 1] != '\n')
        fail = "does not end in a newline";
    else if (!take_lit(&s, end, "{\"pos\":") || !take_u64(&s, end, &e->pos))
        fail = "does not start with {\"pos\":<n>";
    else if (!take_lit(&s, end, ",\"stream\":") ||
             !take_string(&s, end, e->stream, sizeof(e->stream), &e->stream_len))
        fail = "no ,\"stream\":\"...\" after pos";
    else if (!take_lit(&s, end, ",\"ver\":") || !take_u64(&s, end, &e->ver))
        fail = "no ,\"ver\":<n> after stream";
    else if (!take_lit(&s, end, ",\"type\":") ||
             !take_string(&s, end, e->type, sizeof(e->type), &e->type_len))
        fail = "no ,\"type\":\"...\" after ver";
    else if (!take_lit(&s, end, ",\"ts\":\"") || end - s < 31)
        fail = "no ,\"ts\":\" after type";
    else {
        memcpy(e->ts, s, 30);
        e->ts[30] = '\0';
        s += 30;
        if (!e2e_ts_valid(e->ts))
            fail = "ts is not YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ";
        else if (!take_lit(&s, end, "\",\"data\":"))
            fail = "no ,\"data\": after ts";
        else if (end - s < 3 || end[-2] != '}')
            fail = "does not end in }";
        else {
            e->data = s;
            e->data_len = (size_t)(end - 2 - s);
        }
    }
    if (fail && why)
        snprintf(why, why_cap, "%s: %.*s", fail, (int)(len > 200 ? 200 : len), line);
    return fail == NULL;
}

bool e2e_next_line(const char *buf, size_t len, size_t *off, const char **line, size_t *line_len)
{
    if (*off >= len)
        return false;
    const char *start = buf + *off;
    const char *nl = memchr(start, '\n', len - *off);
    size_t n = nl ? (size_t)(nl - start) + 1 : len - *off;
    *line = start;
    *line_len = n;
    *off += n;
    return true;
}

size_t e2e_count_lines(const char *buf, size_t len)
{
    size_t n = 0;
    for (const char *p = buf; (p = memchr(p, '\n', len - (size_t)(p - buf))) != NULL; p++)
        n++;
    return n;
}

int e2e_scan_line(const char *line, size_t len, const char *fmt, ...)
{
    char buf[128];
    size_t n = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;
    memcpy(buf, line, n);
    buf[n] = '\0';
    va_list ap;
    va_start(ap, fmt);
    int rc = vsscanf(buf, fmt, ap);
    va_end(ap);
    return rc;
}
