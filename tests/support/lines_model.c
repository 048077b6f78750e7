/*
 * lines_model.c - the reference model of line framing (lines_model.h):
 * joins the carried line and the write into one string and cuts it at every
 * newline, then applies the size rules of docs/filesystem.md in order.
 */
#include "lines_model.h"

#include <stdlib.h>
#include <string.h>

void lines_model_init(struct lines_model *m)
{
    memset(m, 0, sizeof(*m));
}

void lines_model_release(struct lines_model *m)
{
    free(m->partial);
    memset(m, 0, sizeof(*m));
}

void lines_model_result_release(struct lines_model_result *r)
{
    for (size_t i = 0; i < r->n_events; i++)
        free(r->events[i]);
    free(r->events);
    free(r->lens);
    memset(r, 0, sizeof(*r));
}

void lines_model_write(struct lines_model *m, const char *data, size_t len, size_t max,
                       struct lines_model_result *r)
{
    memset(r, 0, sizeof(*r));
    bool has_nl = memchr(data, '\n', len) != NULL;
    if (m->discarding) {
        /* the write continues a line already over the limit */
        if (has_nl)
            m->discarding = false;
        r->too_long = true;
        return;
    }
    size_t total = m->partial_len + len;
    char *all = malloc(total + 1);
    if (m->partial_len)
        memcpy(all, m->partial, m->partial_len);
    if (len)
        memcpy(all + m->partial_len, data, len);
    /* cut the joined text at every newline */
    size_t n_pieces = 1;
    for (size_t i = 0; i < total; i++)
        n_pieces += all[i] == '\n';
    size_t *start = calloc(n_pieces, sizeof(*start)), *plen = calloc(n_pieces, sizeof(*plen));
    size_t k = 0, from = 0;
    for (size_t i = 0; i <= total; i++)
        if (i == total || all[i] == '\n') {
            start[k] = from;
            plen[k] = i - from;
            k++;
            from = i + 1;
        }
    /* rule 1: the first line (carried part + this write's first piece) */
    if (plen[0] > max) {
        free(m->partial);
        m->partial = NULL;
        m->partial_len = 0;
        m->discarding = !has_nl;
        r->too_long = true;
        goto out;
    }
    /* rule 2: any other complete line, or the new unfinished one */
    for (size_t i = 1; i < n_pieces; i++)
        if (plen[i] > max) {
            r->too_long = true;
            goto out;
        }
    r->events = calloc(n_pieces, sizeof(*r->events));
    r->lens = calloc(n_pieces, sizeof(*r->lens));
    for (size_t i = 0; i + 1 < n_pieces; i++) {
        if (plen[i] == 0)
            continue; /* an empty line is not an event */
        r->events[r->n_events] = malloc(plen[i]);
        memcpy(r->events[r->n_events], all + start[i], plen[i]);
        r->lens[r->n_events++] = plen[i];
    }
    free(m->partial);
    m->partial_len = plen[n_pieces - 1];
    m->partial = malloc(m->partial_len ? m->partial_len : 1);
    if (m->partial_len)
        memcpy(m->partial, all + start[n_pieces - 1], m->partial_len);
out:
    free(start);
    free(plen);
    free(all);
}
