/*
 * name.c - stream name rules (PRODUCT.md, "Bad input"): 1..255 bytes,
 * valid UTF-8, no control characters, no '/', not starting with '.'.
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
    }
    if (!es_utf8_valid(p, len))
        return es_fail(ES_EBADNAME, "stream name is not valid UTF-8");
    return 0;
}
