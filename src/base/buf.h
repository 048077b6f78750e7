/*
 * buf.h - a growable byte buffer (git's strbuf habit, smaller).
 * Invariant: data is NULL only while cap == 0; len <= cap.
 */
#ifndef ES_BASE_BUF_H
#define ES_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct es_buf {
    unsigned char *data;
    size_t len, cap;
};

#define ES_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Makes room for extra more bytes. -ENOMEM. */
int es_buf_reserve(struct es_buf *b, size_t extra);
int es_buf_append(struct es_buf *b, const void *data, size_t n);
int es_buf_append_byte(struct es_buf *b, unsigned char c);
/* Appends n uninitialised bytes and returns a pointer to them (NULL: -ENOMEM). */
unsigned char *es_buf_grow(struct es_buf *b, size_t n);
void es_buf_reset(struct es_buf *b);
void es_buf_release(struct es_buf *b);

#endif
