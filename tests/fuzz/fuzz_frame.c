/*
 * fuzz_frame.c - libFuzzer harness for the frame decoder (src/format/frame.c).
 *
 * The input is read as a run of frames, twice: as it is, and with every
 * header check and frame check recomputed (so that mutations reach rules 2,
 * 3 and 5 instead of dying at the checksums). Invariants, any failure aborts:
 *  - decode returns 0, ES_FRAME_INCOMPLETE or ES_ECORRUPT with a reason;
 *  - a decoded frame obeys rules 2 and 5, fits the input, has the size
 *    es_frame_size and es_frame_peek_size announce, and re-encodes to the
 *    identical bytes;
 *  - ES_FRAME_INCOMPLETE with a whole header means peek announces more bytes
 *    than there are;
 *  - the envelope of a decoded event has es_envelope_len bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "format/envelope.h"
#include "format/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_event(const struct es_event *ev, const unsigned char *at, size_t len)
{
    if (es_stream_name_check(ev->stream, ev->stream_len) != 0)
        abort();
    if (ev->payload_len && memchr(ev->payload, '\n', ev->payload_len))
        abort();
    if (ev->pos == 0 || ev->version == 0 || ev->ts_ns < 0 ||
        ev->payload_len > ES_MAX_EVENT_BYTES_LIMIT)
        abort();
    if (len != es_frame_size(ev->stream_len, ev->type_len, ev->payload_len))
        abort();
    unsigned char *again = malloc(len);
    if (!again)
        abort();
    if (es_frame_encode(ev, again) != len || memcmp(again, at, len) != 0)
        abort();
    free(again);
    size_t elen = es_envelope_len(ev);
    char *line = malloc(elen);
    if (!line)
        abort();
    if (es_envelope_render(ev, line, elen) != elen || line[elen - 1] != '\n')
        abort();
    free(line);
}

static void check_frames(const unsigned char *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t avail = n - off;
        struct es_event ev;
        size_t len = 0;
        const char *why = NULL;
        int rc = es_frame_decode(p + off, avail, &ev, &len, &why);
        size_t peek = es_frame_peek_size(p + off, avail);
        if (rc == ES_FRAME_INCOMPLETE) {
            if (avail >= ES_FRAME_HEADER_BYTES ? peek <= avail : peek != 0)
                abort();
            return;
        }
        if (rc != 0) {
            if (rc != ES_ECORRUPT || !why || !*why)
                abort();
            return;
        }
        if (len > avail || peek != len)
            abort();
        check_event(&ev, p + off, len);
        off += len;
    }
}

static void put_le(unsigned char *p, int n, uint64_t v)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Recomputes the checks of the run of frames in p, as far as they fit. */
static void fix_checks(unsigned char *p, size_t n)
{
    size_t off = 0;
    while (n - off >= ES_FRAME_HEADER_BYTES) {
        unsigned char *f = p + off;
        put_le(f + 40, 4, (uint32_t)XXH3_64bits(f, 40));
        size_t len = es_frame_size(f[6], (size_t)(f[8] | f[9] << 8),
                                   (size_t)f[12] | (size_t)f[13] << 8 | (size_t)f[14] << 16 |
                                       (size_t)f[15] << 24);
        if (len > n - off)
            return;
        put_le(f + len - 8, 8, XXH3_64bits(f, len - 8));
        off += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_frames(data, size);
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    fix_checks(copy, size);
    check_frames(copy, size);
    free(copy);
    return 0;
}
