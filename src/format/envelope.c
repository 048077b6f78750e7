/*
 * envelope.c - renders and measures envelope lines.
 *
 * Invariant: es_envelope_len(ev) == es_envelope_render(ev, buf, big) for
 * every event; the view indexes store lengths computed by the former and
 * readers produce bytes with the latter.
 */
#include "envelope.h"
#include "json.h"

#include <stdlib.h>
#include <string.h>

static size_t u64_digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static char *put_u64(char *o, uint64_t v)
{
    size_t n = u64_digits(v);
    for (size_t i = n; i > 0; i--) {
        o[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    return o + n;
}

static char *put_lit(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

#define LIT(o, s) put_lit((o), (s), sizeof(s) - 1)

/* Days since 1970-01-01 to civil date (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static char *put_fixed(char *o, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        o[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return o + width;
}

void es_ts_format(int64_t ns, char *dst)
{
    int64_t secs = ns / 1000000000;
    uint64_t frac = (uint64_t)(ns % 1000000000);
    int64_t days = secs / 86400;
    int64_t rem = secs % 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    char *o = dst;
    o = put_fixed(o, (uint64_t)y, 4);
    *o++ = '-';
    o = put_fixed(o, m, 2);
    *o++ = '-';
    o = put_fixed(o, d, 2);
    *o++ = 'T';
    o = put_fixed(o, (uint64_t)(rem / 3600), 2);
    *o++ = ':';
    o = put_fixed(o, (uint64_t)(rem / 60 % 60), 2);
    *o++ = ':';
    o = put_fixed(o, (uint64_t)(rem % 60), 2);
    *o++ = '.';
    o = put_fixed(o, frac, 9);
    *o = 'Z';
}

static const char k_pos[] = "{\"pos\":";
static const char k_stream[] = ",\"stream\":";
static const char k_ver[] = ",\"ver\":";
static const char k_type[] = ",\"type\":";
static const char k_ts[] = ",\"ts\":\"";
static const char k_data[] = "\",\"data\":";
static const char k_end[] = "}\n";

size_t es_envelope_len(const struct es_event *ev)
{
    size_t n = sizeof(k_pos) - 1 + u64_digits(ev->pos);
    n += sizeof(k_stream) - 1 +
         es_json_escaped_len((const unsigned char *)ev->stream, ev->stream_len);
    n += sizeof(k_ver) - 1 + u64_digits(ev->version);
    n += sizeof(k_type) - 1 + es_json_escaped_len((const unsigned char *)ev->type, ev->type_len);
    n += sizeof(k_ts) - 1 + ES_TS_TEXT_BYTES + sizeof(k_data) - 1;
    n += ev->payload_is_json ? ev->payload_len : es_json_escaped_len(ev->payload, ev->payload_len);
    return n + sizeof(k_end) - 1;
}

size_t es_envelope_write(const struct es_event *ev, char *buf)
{
    char *o = buf;
    o = LIT(o, k_pos);
    o = put_u64(o, ev->pos);
    o = LIT(o, k_stream);
    o += es_json_escape((const unsigned char *)ev->stream, ev->stream_len, o);
    o = LIT(o, k_ver);
    o = put_u64(o, ev->version);
    o = LIT(o, k_type);
    o += es_json_escape((const unsigned char *)ev->type, ev->type_len, o);
    o = LIT(o, k_ts);
    es_ts_format(ev->ts_ns, o);
    o += ES_TS_TEXT_BYTES;
    o = LIT(o, k_data);
    if (ev->payload_is_json) {
        memcpy(o, ev->payload, ev->payload_len);
        o += ev->payload_len;
    } else {
        o += es_json_escape(ev->payload, ev->payload_len, o);
    }
    o = LIT(o, k_end);
    return (size_t)(o - buf);
}

size_t es_envelope_render(const struct es_event *ev, char *buf, size_t cap)
{
    size_t len = es_envelope_len(ev);
    if (cap >= len)
        return es_envelope_write(ev, buf);
    if (cap == 0)
        return len;
    char *tmp = malloc(len);
    if (!tmp)
        return 0;
    es_envelope_write(ev, tmp);
    memcpy(buf, tmp, cap);
    free(tmp);
    return len;
}
