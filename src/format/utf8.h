/*
 * utf8.h - strict UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
 */
#ifndef ES_FORMAT_UTF8_H
#define ES_FORMAT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if the bytes at p do
 * not start a valid sequence within n bytes. */
size_t es_utf8_seq_len(const unsigned char *p, size_t n);
bool es_utf8_valid(const unsigned char *p, size_t n);

#endif
