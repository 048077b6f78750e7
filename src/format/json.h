/*
 * json.h - the JSON the format needs, and no more: a strict RFC 8259
 * validator that also extracts the top-level "type" string, and the JSON
 * string escaper used by the envelope. No allocation on the common path,
 * no recursion (depth is bounded only by the input).
 */
#ifndef ES_FORMAT_JSON_H
#define ES_FORMAT_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

struct es_json_info {
    bool is_json;  /* the whole input is one valid JSON text */
    bool has_type; /* it is an object whose (last) top-level "type" is a string */
};

/* Inspects p[0..n). When type is not NULL and the input is an object whose
 * last top-level key "type" has a string value, that value is unescaped into
 * type (reset first; lone surrogate escapes become U+FFFD). Returns 0, or
 * -ENOMEM. */
int es_json_inspect(const unsigned char *p, size_t n, struct es_json_info *info,
                    struct es_buf *type);

/* Length of p[0..n) as a JSON string literal, quotes included. Escapes:
 * '"' and '\\' with a backslash; \b \f \n \r \t; other bytes below 0x20 as
 * \u00XX; each byte that does not begin a valid UTF-8 sequence as \ufffd;
 * everything else verbatim. */
size_t es_json_escaped_len(const unsigned char *p, size_t n);
/* Writes that literal to dst (es_json_escaped_len bytes); returns its length. */
size_t es_json_escape(const unsigned char *p, size_t n, char *dst);

#endif
