/*
 * buf.c - growable byte buffer. Growth is geometric so appends are O(1)
 * amortised; memory is returned only by es_buf_release().
 */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int es_buf_reserve(struct es_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len)
        return -ENOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    unsigned char *p = realloc(b->data, cap);
    if (!p)
        return -ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int es_buf_append(struct es_buf *b, const void *data, size_t n)
{
    if (n == 0)
        return 0;
    int rc = es_buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

int es_buf_append_byte(struct es_buf *b, unsigned char c)
{
    return es_buf_append(b, &c, 1);
}

unsigned char *es_buf_grow(struct es_buf *b, size_t n)
{
    if (es_buf_reserve(b, n))
        return NULL;
    unsigned char *p = b->data + b->len;
    b->len += n;
    return p;
}

void es_buf_reset(struct es_buf *b)
{
    b->len = 0;
}

void es_buf_release(struct es_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
