/*
 * envelope.h - the line of ES_VIEW_ALL for one event (PRODUCT.md, Reading):
 * {"pos":P,"stream":S,"ver":V,"type":T,"ts":"YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ","data":D}\n
 * The public entry point is es_envelope_render() in esfs.h.
 */
#ifndef ES_FORMAT_ENVELOPE_H
#define ES_FORMAT_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "esfs/esfs.h"

#define ES_TS_TEXT_BYTES 30u /* 2026-11-22T11:00:00.123456789Z */

/* Length of the envelope line of ev, '\n' included. */
size_t es_envelope_len(const struct es_event *ev);
/* Writes the whole line of ev to buf (es_envelope_len bytes); returns it. */
size_t es_envelope_write(const struct es_event *ev, char *buf);
/* Writes the ts text of ns (>= 0) to dst (30 bytes, no NUL). */
void es_ts_format(int64_t ns, char *dst);
/* Length of a stream view line of ev (payload and '\n'). */
static inline size_t es_stream_line_len(const struct es_event *ev)
{
    return ev->payload_len + 1;
}

#endif
