/*
 * frame.c - encoder and decoder of one frame, field by field as in
 * docs/format.md. No I/O: a fuzzer drives es_frame_decode with raw bytes.
 *
 * A frame is valid if and only if:
 *  1. at least 44 bytes are there, the magic is "ESFR", the version is 1,
 *     no flag other than bit 0 is set, the reserved bytes are 0, and the
 *     header check matches;
 *  2. the stream name length is 1..255, the payload length <= 64 MiB, the
 *     position and the version are >= 1 and the timestamp is >= 0;
 *  3. all the bytes the lengths announce are there;
 *  4. the frame check matches;
 *  5. the stream name obeys the name rules and the payload holds no '\n'.
 * A reader checks in addition that positions follow each other (rule 6, in
 * log/segment.c).
 */
#include "frame.h"

#include <string.h>

#include "base/endian.h"
#include "base/err.h"
#include "base/hash.h"

size_t es_frame_encode(const struct es_event *ev, unsigned char *dst)
{
    unsigned char *h = dst;
    memcpy(h, ES_FRAME_MAGIC, 4);
    h[4] = (unsigned char)ES_FORMAT_VERSION;
    h[5] = ev->payload_is_json ? ES_FRAME_FLAG_JSON : 0;
    h[6] = (unsigned char)ev->stream_len;
    h[7] = 0;
    es_put16(h + 8, (uint16_t)ev->type_len);
    es_put16(h + 10, 0);
    es_put32(h + 12, (uint32_t)ev->payload_len);
    es_put64(h + 16, ev->pos);
    es_put64(h + 24, ev->version);
    es_put64(h + 32, (uint64_t)ev->ts_ns);
    es_put32(h + 40, (uint32_t)es_hash64(h, 40));
    unsigned char *p = h + ES_FRAME_HEADER_BYTES;
    memcpy(p, ev->stream, ev->stream_len);
    p += ev->stream_len;
    if (ev->type_len)
        memcpy(p, ev->type, ev->type_len);
    p += ev->type_len;
    if (ev->payload_len)
        memcpy(p, ev->payload, ev->payload_len);
    p += ev->payload_len;
    es_put64(p, es_hash64(dst, (size_t)(p - dst)));
    return (size_t)(p - dst) + ES_FRAME_TRAILER_BYTES;
}

size_t es_frame_peek_size(const unsigned char *p, size_t avail)
{
    struct es_event ev;
    size_t len = 0;
    const char *why;
    /* decode with just the header: INCOMPLETE means the header was valid */
    int rc = es_frame_decode(p, avail < ES_FRAME_HEADER_BYTES ? avail : ES_FRAME_HEADER_BYTES, &ev,
                             &len, &why);
    if (rc != ES_FRAME_INCOMPLETE || avail < ES_FRAME_HEADER_BYTES)
        return 0;
    return es_frame_size(p[6], es_le16(p + 8), es_le32(p + 12));
}

int es_frame_decode(const unsigned char *p, size_t avail, struct es_event *ev, size_t *frame_len,
                    const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (avail < ES_FRAME_HEADER_BYTES)
        return ES_FRAME_INCOMPLETE;
    if (memcmp(p, ES_FRAME_MAGIC, 4) != 0) {
        *why = "bad frame magic";
        return ES_ECORRUPT;
    }
    if (p[4] != ES_FORMAT_VERSION) {
        *why = "unknown frame format version";
        return ES_ECORRUPT;
    }
    if ((p[5] & ~ES_FRAME_FLAG_JSON) != 0 || p[7] != 0 || es_le16(p + 10) != 0) {
        *why = "reserved frame bits set";
        return ES_ECORRUPT;
    }
    if (es_le32(p + 40) != (uint32_t)es_hash64(p, 40)) {
        *why = "frame header check mismatch";
        return ES_ECORRUPT;
    }
    size_t stream_len = p[6];
    size_t type_len = es_le16(p + 8);
    size_t payload_len = es_le32(p + 12);
    uint64_t pos = es_le64(p + 16);
    uint64_t version = es_le64(p + 24);
    int64_t ts = (int64_t)es_le64(p + 32);
    if (stream_len == 0 || payload_len > ES_MAX_EVENT_BYTES_LIMIT || pos == 0 || version == 0 ||
        ts < 0) {
        *why = "frame header field out of range";
        return ES_ECORRUPT;
    }
    size_t len = es_frame_size(stream_len, type_len, payload_len);
    if (avail < len)
        return ES_FRAME_INCOMPLETE;
    size_t body = len - ES_FRAME_TRAILER_BYTES;
    if (es_le64(p + body) != es_hash64(p, body)) {
        *why = "frame check mismatch";
        return ES_ECORRUPT;
    }
    const char *stream = (const char *)p + ES_FRAME_HEADER_BYTES;
    const unsigned char *payload = p + ES_FRAME_HEADER_BYTES + stream_len + type_len;
    if (es_stream_name_check(stream, stream_len) != 0) {
        *why = "invalid stream name in frame";
        return ES_ECORRUPT;
    }
    if (payload_len && memchr(payload, '\n', payload_len)) {
        *why = "newline inside a payload";
        return ES_ECORRUPT;
    }
    ev->pos = pos;
    ev->version = version;
    ev->ts_ns = ts;
    ev->stream = stream;
    ev->stream_len = stream_len;
    ev->type = stream + stream_len;
    ev->type_len = type_len;
    ev->payload = payload;
    ev->payload_len = payload_len;
    ev->payload_is_json = (p[5] & ES_FRAME_FLAG_JSON) != 0;
    *frame_len = len;
    return 0;
}
