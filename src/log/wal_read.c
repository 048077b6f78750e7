/*
 * wal_read.c - reading a wal file frame by frame from its start: used by
 * recovery (to find where the valid frames end) and by verify.
 *
 * Rule 6 of docs/format.md: in a segment, each frame's position is the
 * previous one's plus one, starting at the segment's first position.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/io.h"
#include "format/frame.h"
#include "format/segment_format.h"
#include "log.h"

#define CHUNK (1u << 20)

int es_wal_read(int fd, const char *name, uint64_t first_pos, uint64_t size, es_wal_frame_fn fn,
                void *arg, uint64_t *valid_end, uint64_t *last_pos, const char **why)
{
    size_t cap = CHUNK;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return es_fail(-ENOMEM, "reading %s", name);
    uint64_t off = ES_SEG_HEADER_BYTES, buf_off = off;
    size_t buf_len = 0;
    uint64_t pos = first_pos;
    int rc = 0;
    *why = NULL;
    for (;;) {
        size_t at = (size_t)(off - buf_off);
        struct es_event ev;
        size_t len = 0;
        int d = at < buf_len ? es_frame_decode(buf + at, buf_len - at, &ev, &len, why)
                             : ES_FRAME_INCOMPLETE;
        if (d == ES_FRAME_INCOMPLETE) {
            if (buf_off + buf_len >= size) {
                if (off < size)
                    *why = "frame cut short by the end of the file";
                break;
            }
            size_t want = CHUNK;
            size_t need = at < buf_len ? es_frame_peek_size(buf + at, buf_len - at) : 0;
            if (need > want)
                want = need;
            if (want > cap) {
                unsigned char *nb = realloc(buf, want);
                if (!nb) {
                    rc = es_fail(-ENOMEM, "reading %s", name);
                    break;
                }
                buf = nb;
                cap = want;
            }
            ssize_t r = es_io_pread_upto(fd, buf, want, off, name);
            if (r < 0) {
                rc = (int)r;
                break;
            }
            buf_off = off;
            buf_len = (size_t)r;
            if (buf_len == 0)
                break;
            continue;
        }
        if (d < 0)
            break;
        if (ev.pos != pos) {
            *why = "frame out of position order";
            break;
        }
        if (fn && (rc = fn(arg, &ev, off, len)) != 0)
            break;
        pos++;
        off += len;
    }
    free(buf);
    *valid_end = off;
    *last_pos = pos - 1;
    return rc;
}

uint32_t es_log_count_valid_frames(const unsigned char *p, size_t n)
{
    uint32_t count = 0;
    for (size_t i = 0; i + ES_FRAME_HEADER_BYTES <= n; i++) {
        if (memcmp(p + i, ES_FRAME_MAGIC, 4) != 0)
            continue;
        struct es_event ev;
        size_t len;
        if (es_frame_decode(p + i, n - i, &ev, &len, NULL) == 0) {
            count++;
            i += len - 1;
        }
    }
    return count;
}
