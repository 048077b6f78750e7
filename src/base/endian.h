/*
 * endian.h - little-endian loads and stores for on-disk integers.
 * Every multi-byte integer in the esfs format is little-endian.
 */
#ifndef ES_BASE_ENDIAN_H
#define ES_BASE_ENDIAN_H

#include <stdint.h>
#include <string.h>

static inline uint16_t es_le16(const void *p)
{
    const unsigned char *b = p;
    return (uint16_t)(b[0] | (uint16_t)b[1] << 8);
}
static inline uint32_t es_le32(const void *p)
{
    const unsigned char *b = p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static inline uint64_t es_le64(const void *p)
{
    return (uint64_t)es_le32(p) | (uint64_t)es_le32((const unsigned char *)p + 4) << 32;
}
static inline void es_put16(void *p, uint16_t v)
{
    unsigned char *b = p;
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
}
static inline void es_put32(void *p, uint32_t v)
{
    unsigned char *b = p;
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}
static inline void es_put64(void *p, uint64_t v)
{
    es_put32(p, (uint32_t)v);
    es_put32((unsigned char *)p + 4, (uint32_t)(v >> 32));
}

#endif
