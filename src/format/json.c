/*
 * json.c - strict JSON validation with "type" extraction, and the escaper.
 *
 * Normative: docs/format.md, "Event type and JSON". The validator decides
 * the frame's JSON flag at append time; the flag, not a later re-validation,
 * decides how the envelope renders the payload, so view offsets never change
 * meaning even if this code does.
 *
 * The parser is a loop over an explicit container stack (one bit per level:
 * 1 = object) kept in a local array for the first 4096 levels and on the
 * heap beyond, so a hostile payload cannot exhaust the C stack.
 */
#include "json.h"
#include "utf8.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LOCAL_DEPTH_WORDS 64

struct json_stack {
    uint64_t local[LOCAL_DEPTH_WORDS];
    uint64_t *bits;
    size_t cap_words;
    size_t depth;
};

static int stack_push(struct json_stack *s, bool is_object)
{
    size_t w = s->depth / 64;
    if (w >= s->cap_words) {
        size_t cap = s->cap_words * 2;
        uint64_t *nb;
        if (s->bits == s->local) {
            nb = malloc(cap * sizeof(*nb));
            if (nb)
                memcpy(nb, s->local, sizeof(s->local));
        } else {
            nb = realloc(s->bits, cap * sizeof(*nb));
        }
        if (!nb)
            return -ENOMEM;
        s->bits = nb;
        s->cap_words = cap;
    }
    uint64_t m = (uint64_t)1 << (s->depth % 64);
    if (is_object)
        s->bits[w] |= m;
    else
        s->bits[w] &= ~m;
    s->depth++;
    return 0;
}

static bool stack_top_is_object(const struct json_stack *s)
{
    size_t d = s->depth - 1;
    return (s->bits[d / 64] >> (d % 64)) & 1;
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool read_hex4(const unsigned char *p, size_t n, size_t i, unsigned *out)
{
    if (n - i < 4)
        return false;
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(p[i + (size_t)k]);
        if (h < 0)
            return false;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return true;
}

/* Output of an unescaped string: into a buffer, or into a small fixed array
 * (for comparing keys), or nowhere. */
struct str_sink {
    struct es_buf *buf;
    unsigned char small[8];
    size_t small_len; /* may exceed sizeof(small): then it is not "type" */
    int err;
};

static void sink_put(struct str_sink *k, const unsigned char *p, size_t n)
{
    if (!k)
        return;
    if (k->buf) {
        if (!k->err && es_buf_append(k->buf, p, n))
            k->err = -ENOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++, k->small_len++)
        if (k->small_len < sizeof(k->small))
            k->small[k->small_len] = p[i];
}

static void sink_codepoint(struct str_sink *k, unsigned cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    sink_put(k, u, n);
}

/* Parses the string whose opening quote is at p[*i]; leaves *i after the
 * closing quote. Returns false when it is not a valid JSON string. */
static bool parse_string(const unsigned char *p, size_t n, size_t *i, struct str_sink *k)
{
    size_t j = *i + 1;
    for (;;) {
        size_t run = j;
        while (j < n && p[j] >= 0x20 && p[j] < 0x80 && p[j] != '"' && p[j] != '\\')
            j++;
        sink_put(k, p + run, j - run);
        if (j >= n)
            return false;
        unsigned char c = p[j];
        if (c == '"') {
            *i = j + 1;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c >= 0x80) {
            size_t len = es_utf8_seq_len(p + j, n - j);
            if (len == 0)
                return false;
            sink_put(k, p + j, len);
            j += len;
            continue;
        }
        /* backslash */
        if (++j >= n)
            return false;
        unsigned char e = p[j++];
        unsigned char lit;
        switch (e) {
        case '"': lit = '"'; break;
        case '\\': lit = '\\'; break;
        case '/': lit = '/'; break;
        case 'b': lit = '\b'; break;
        case 'f': lit = '\f'; break;
        case 'n': lit = '\n'; break;
        case 'r': lit = '\r'; break;
        case 't': lit = '\t'; break;
        case 'u': {
            unsigned cp;
            if (!read_hex4(p, n, j, &cp))
                return false;
            j += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (n - j >= 6 && p[j] == '\\' && p[j + 1] == 'u' && read_hex4(p, n, j + 2, &lo) &&
                    lo >= 0xDC00 && lo <= 0xDFFF) {
                    j += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else {
                    cp = 0xFFFD;
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                cp = 0xFFFD;
            }
            sink_codepoint(k, cp);
            continue;
        }
        default: return false;
        }
        sink_put(k, &lit, 1);
    }
}

static bool parse_number(const unsigned char *p, size_t n, size_t *i)
{
    size_t j = *i;
    if (p[j] == '-')
        j++;
    if (j >= n)
        return false;
    if (p[j] == '0') {
        j++;
    } else if (p[j] >= '1' && p[j] <= '9') {
        while (j < n && p[j] >= '0' && p[j] <= '9')
            j++;
    } else {
        return false;
    }
    if (j < n && p[j] == '.') {
        j++;
        size_t d = j;
        while (j < n && p[j] >= '0' && p[j] <= '9')
            j++;
        if (j == d)
            return false;
    }
    if (j < n && (p[j] == 'e' || p[j] == 'E')) {
        j++;
        if (j < n && (p[j] == '+' || p[j] == '-'))
            j++;
        size_t d = j;
        while (j < n && p[j] >= '0' && p[j] <= '9')
            j++;
        if (j == d)
            return false;
    }
    *i = j;
    return true;
}

static bool parse_literal(const unsigned char *p, size_t n, size_t *i, const char *lit)
{
    size_t len = strlen(lit);
    if (n - *i < len || memcmp(p + *i, lit, len) != 0)
        return false;
    *i += len;
    return true;
}

int es_json_inspect(const unsigned char *p, size_t n, struct es_json_info *info,
                    struct es_buf *type)
{
    struct json_stack st = {.bits = NULL, .cap_words = LOCAL_DEPTH_WORDS, .depth = 0};
    st.bits = st.local;
    info->is_json = false;
    info->has_type = false;
    if (type)
        es_buf_reset(type);
    int rc = 0;
    bool ok = false;
    bool value_is_type = false; /* the value being parsed belongs to top-level "type" */
    size_t i = 0;
    enum { VALUE, KEY, AFTER } state = VALUE;

    for (;;) {
        while (i < n && is_ws(p[i]))
            i++;
        if (state == AFTER) {
            if (st.depth == 0) {
                ok = (i == n);
                break;
            }
            if (i >= n)
                break;
            bool in_obj = stack_top_is_object(&st);
            if (p[i] == ',') {
                i++;
                state = in_obj ? KEY : VALUE;
            } else if (p[i] == (in_obj ? '}' : ']')) {
                i++;
                st.depth--;
            } else {
                break;
            }
            continue;
        }
        if (i >= n)
            break;
        if (state == KEY) {
            if (p[i] != '"')
                break;
            struct str_sink key = {0};
            if (!parse_string(p, n, &i, st.depth == 1 ? &key : NULL))
                break;
            value_is_type =
                st.depth == 1 && key.small_len == 4 && memcmp(key.small, "type", 4) == 0;
            while (i < n && is_ws(p[i]))
                i++;
            if (i >= n || p[i] != ':')
                break;
            i++;
            state = VALUE;
            continue;
        }
        /* VALUE */
        bool this_is_type = value_is_type;
        value_is_type = false;
        unsigned char c = p[i];
        if (c == '{' || c == '[') {
            if (this_is_type)
                info->has_type = false;
            if ((rc = stack_push(&st, c == '{')) != 0)
                break;
            i++;
            while (i < n && is_ws(p[i]))
                i++;
            if (i < n && p[i] == (c == '{' ? '}' : ']')) {
                i++;
                st.depth--;
                state = AFTER;
            } else {
                state = c == '{' ? KEY : VALUE;
            }
            continue;
        }
        bool good;
        if (c == '"') {
            struct str_sink val = {.buf = type};
            if (this_is_type && type)
                es_buf_reset(type);
            good = parse_string(p, n, &i, this_is_type && type ? &val : NULL);
            if (val.err) {
                rc = val.err;
                break;
            }
            if (good && this_is_type)
                info->has_type = true;
        } else {
            if (this_is_type)
                info->has_type = false;
            if (c == '-' || (c >= '0' && c <= '9'))
                good = parse_number(p, n, &i);
            else if (c == 't')
                good = parse_literal(p, n, &i, "true");
            else if (c == 'f')
                good = parse_literal(p, n, &i, "false");
            else if (c == 'n')
                good = parse_literal(p, n, &i, "null");
            else
                good = false;
        }
        if (!good)
            break;
        state = AFTER;
    }
    if (st.bits != st.local)
        free(st.bits);
    if (rc)
        return rc;
    info->is_json = ok;
    if (!ok || !info->has_type) {
        info->has_type = false;
        if (type)
            es_buf_reset(type);
    }
    return 0;
}

static const char hexdigits[] = "0123456789abcdef";

size_t es_json_escaped_len(const unsigned char *p, size_t n)
{
    size_t len = 2;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80) {
            len += (c == '"' || c == '\\') ? 2 : 1;
            i++;
        } else if (c < 0x20) {
            len += (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') ? 2 : 6;
            i++;
        } else {
            size_t k = es_utf8_seq_len(p + i, n - i);
            if (k == 0) {
                len += 6;
                i++;
            } else {
                len += k;
                i += k;
            }
        }
    }
    return len;
}

size_t es_json_escape(const unsigned char *p, size_t n, char *dst)
{
    char *o = dst;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80) {
            if (c == '"' || c == '\\')
                *o++ = '\\';
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c < 0x20) {
            *o++ = '\\';
            switch (c) {
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hexdigits[c >> 4];
                *o++ = hexdigits[c & 15];
            }
            i++;
            continue;
        }
        size_t k = es_utf8_seq_len(p + i, n - i);
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
    *o++ = '"';
    return (size_t)(o - dst);
}
