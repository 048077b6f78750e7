/*
 * lines.c - splitting writes into events (see lines.h for the rules).
 *
 * Invariants: l->partial never holds a '\n' and is never longer than the
 * limit it was split against; while l->discarding, l->partial is empty.
 */
#include "lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void es_lines_init(struct es_lines *l)
{
    memset(l, 0, sizeof(*l));
}

void es_lines_release(struct es_lines *l)
{
    es_buf_release(&l->partial);
    l->discarding = false;
}

void es_lines_split_release(struct es_lines_split *out)
{
    if (out->events != out->local)
        free(out->events);
    free(out->joined);
    out->events = NULL;
    out->joined = NULL;
    out->n_events = 0;
}

static int add_event(struct es_lines_split *out, const char *p, size_t len)
{
    if (out->n_events == out->cap) {
        size_t cap = out->cap * 2;
        struct es_payload *more = malloc(cap * sizeof(*more));
        if (!more)
            return -ENOMEM;
        memcpy(more, out->events, out->n_events * sizeof(*more));
        if (out->events != out->local)
            free(out->events);
        out->events = more;
        out->cap = cap;
    }
    out->events[out->n_events++] = (struct es_payload){p, len};
    return 0;
}

int es_lines_split(struct es_lines *l, const char *data, size_t len, size_t max,
                   struct es_lines_split *out)
{
    memset(out, 0, sizeof(*out));
    out->events = out->local;
    out->cap = ES_LINES_LOCAL;
    const char *end = data + len;
    const char *nl = len ? memchr(data, '\n', len) : NULL;
    if (l->discarding) {
        /* this write holds part of a line already over the limit */
        if (nl)
            l->discarding = false;
        out->too_long = max + 1;
        return ES_ETOOBIG;
    }
    /* the first line: the unfinished one plus what this write adds to it */
    size_t first_len = l->partial.len + (size_t)((nl ? nl : end) - data);
    if (first_len > max) {
        es_buf_reset(&l->partial);
        l->discarding = nl == NULL;
        out->too_long = first_len;
        return ES_ETOOBIG;
    }
    if (!nl) {
        out->data = data;
        out->data_len = len;
        return 0;
    }
    out->ended = true;
    const char *line = data;
    for (const char *e = nl; e; e = memchr(line, '\n', (size_t)(end - line))) {
        bool first = line == data;
        size_t n = (size_t)(e - line) + (first ? l->partial.len : 0);
        if (n > max) {
            out->too_long = n;
            es_lines_split_release(out);
            return ES_ETOOBIG;
        }
        int rc = 0;
        if (n > 0 && first && l->partial.len) {
            out->joined = malloc(n);
            if (!out->joined)
                rc = -ENOMEM;
            else {
                memcpy(out->joined, l->partial.data, l->partial.len);
                memcpy(out->joined + l->partial.len, line, (size_t)(e - line));
                rc = add_event(out, out->joined, n);
            }
        } else if (n > 0) {
            rc = add_event(out, line, n);
        }
        if (rc) {
            es_lines_split_release(out);
            return rc;
        }
        line = e + 1;
        if (line >= end)
            break;
    }
    out->rest = line;
    out->rest_len = (size_t)(end - line);
    if (out->rest_len > max) {
        out->too_long = out->rest_len;
        es_lines_split_release(out);
        return ES_ETOOBIG;
    }
    return 0;
}

int es_lines_accept(struct es_lines *l, const struct es_lines_split *out)
{
    if (!out->ended)
        return es_buf_append(&l->partial, out->data, out->data_len);
    es_buf_reset(&l->partial);
    return es_buf_append(&l->partial, out->rest, out->rest_len);
}
