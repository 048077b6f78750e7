/*
 * frame.h - one event on disk. Normative: docs/format.md, "Frame".
 *
 *   offset size field
 *   0      4    magic "ESFR"
 *   4      1    format version (1)
 *   5      1    flags: bit 0 = payload is valid JSON; other bits 0
 *   6      1    stream name length (1..255)
 *   7      1    reserved, 0
 *   8      2    type length (0..65535)
 *   10     2    reserved, 0
 *   12     4    payload length (<= 64 MiB)
 *   16     8    global position (>= 1)
 *   24     8    version in stream (>= 1)
 *   32     8    timestamp, ns since the Unix epoch (>= 0)
 *   40     4    header check: low 32 bits of XXH3-64 of bytes 0..39
 *   44     -    stream name, type, payload
 *   end-8  8    frame check: XXH3-64 of every byte before it
 */
#ifndef ES_FORMAT_FRAME_H
#define ES_FORMAT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "esfs/esfs.h"

#define ES_FRAME_MAGIC         "ESFR"
#define ES_FRAME_HEADER_BYTES  44u
#define ES_FRAME_TRAILER_BYTES 8u
#define ES_FRAME_FLAG_JSON     0x01u

/* Total bytes of a frame with these lengths. */
static inline size_t es_frame_size(size_t stream_len, size_t type_len, size_t payload_len)
{
    return ES_FRAME_HEADER_BYTES + stream_len + type_len + payload_len + ES_FRAME_TRAILER_BYTES;
}

/* Encodes ev into dst, which holds es_frame_size(...) bytes. The caller has
 * checked the lengths. Returns the frame size. */
size_t es_frame_encode(const struct es_event *ev, unsigned char *dst);

/* Result of es_frame_decode besides negative codes. */
#define ES_FRAME_INCOMPLETE 1 /* the bytes end before the frame does */

/* Decodes the frame at p (avail bytes there). Returns 0 with *ev pointing
 * into p and *frame_len set; ES_FRAME_INCOMPLETE when avail is shorter than
 * the header or than the length the (valid) header announces; ES_ECORRUPT
 * with *why set when any rule of "a frame is valid if and only if" fails. */
int es_frame_decode(const unsigned char *p, size_t avail, struct es_event *ev, size_t *frame_len,
                    const char **why);

/* The size of the frame whose header is at p, if at least a header's bytes
 * are there and the header is valid (rules 1 and 2); else 0. */
size_t es_frame_peek_size(const unsigned char *p, size_t avail);

#endif
