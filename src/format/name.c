/*
 * name.c - stream name rules (PRODUCT.md, "Bad input"): 1..255 bytes,
 * valid UTF-8, no control characters, no '/', not starting with '.'.
 * "Control characters" are Unicode's (category Cc): C0 (0x00-0x1F), DEL
 * (0x7F) and C1 (U+0080-U+009F, the UTF-8 sequences C2 80 .. C2 9F).
 * Names become file names in the mount and JSON strings in the envelope,
 * so these rules keep both exact.
 */
#include "base/err.h"
#include "format/utf8.h"

int es_stream_name_check(const char *name, size_t len)
{
    const unsigned char *p = (const unsigned char *)name;
    if (len == 0)
        return es_fail(ES_EBADNAME, "empty stream name");
    if (len > ES_STREAM_NAME_MAX)
        return es_fail(ES_ENAMELEN, "stream name of %zu bytes", len);
    if (p[0] == '.')
        return es_fail(ES_EBADNAME, "stream name starts with '.'");
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7F)
            return es_fail(ES_EBADNAME, "stream name has control character 0x%02x at byte %zu",
                           p[i], i);
        if (p[i] == '/')
            return es_fail(ES_EBADNAME, "stream name has '/' at byte %zu", i);
        if (p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)
            return es_fail(ES_EBADNAME, "stream name has control character U+%04X at byte %zu",
                           p[i + 1], i);
    }
    if (!es_utf8_valid(p, len))
        return es_fail(ES_EBADNAME, "stream name is not valid UTF-8");
    return 0;
}
