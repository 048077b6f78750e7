/*
 * hash.h - the one checksum of the format: XXH3 64-bit, seed 0
 * (xxHash >= 0.8.0), as specified in docs/format.md.
 */
#ifndef ES_BASE_HASH_H
#define ES_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <xxhash.h>

static inline uint64_t es_hash64(const void *p, size_t n)
{
    return (uint64_t)XXH3_64bits(p, n);
}

#endif
