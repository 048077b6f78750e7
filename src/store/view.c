/*
 * view.c - the byte views (ES_VIEW_ALL, ES_VIEW_STREAM) and cursors.
 *
 * A view read finds the event holding its first byte in the index, then
 * renders events from the log until the buffer is full or the published
 * end is reached. Each rendered line must be exactly as long as the index
 * says; otherwise the index and the log disagree and the read fails with
 * ES_ECORRUPT rather than serving bytes at the wrong offsets.
 */
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "format/envelope.h"

#define SPAN_BATCH 64

/* A stream span must lead to an event of that stream at that version: an
 * index that disagrees with the log never serves another stream's event. */
static int check_stream_event(const struct es_span *sp, const struct es_event *ev, const char *name,
                              size_t len)
{
    if (ev->stream_len == len && memcmp(ev->stream, name, len) == 0 && ev->version == sp->version)
        return 0;
    return es_fail(ES_ECORRUPT,
                   "position %llu: the index has it as version %llu of %.*s, the log as "
                   "version %llu of %.*s",
                   (unsigned long long)sp->pos, (unsigned long long)sp->version, (int)len, name,
                   (unsigned long long)ev->version, (int)ev->stream_len, ev->stream);
}

static ssize_t get_spans(struct es_store *s, enum es_view view, const char *name, size_t len,
                         bool by_seq, uint64_t from, struct es_span *out)
{
    if (view == ES_VIEW_ALL)
        return es_index_all_spans(s->ix, by_seq, from, out, SPAN_BATCH);
    return es_index_stream_spans(s->ix, name, len, by_seq, from, out, SPAN_BATCH);
}

ssize_t es_store_read_view(struct es_store *s, enum es_view view, const char *name, size_t name_len,
                           uint64_t off, void *buf, size_t n)
{
    if (view != ES_VIEW_ALL && view != ES_VIEW_STREAM)
        return es_fail(ES_EMISUSE, "unknown view %d", (int)view);
    struct es_span spans[SPAN_BATCH];
    struct es_log_reader r;
    es_log_reader_init(&r, s->log);
    char *out = buf;
    size_t copied = 0;
    bool by_seq = false;
    uint64_t from = off;
    ssize_t rc = 0;
    char *scratch = NULL;
    size_t scratch_cap = 0;
    while (copied < n) {
        ssize_t k = get_spans(s, view, name, name_len, by_seq, from, spans);
        if (k <= 0) {
            rc = k;
            break;
        }
        for (ssize_t i = 0; i < k && copied < n; i++) {
            const struct es_span *sp = &spans[i];
            struct es_event ev;
            size_t flen;
            if ((rc = es_log_reader_frame(&r, sp->pos, sp->raw_off, &ev, &flen)) != 0)
                goto out;
            if (view == ES_VIEW_STREAM && (rc = check_stream_event(sp, &ev, name, name_len)) != 0)
                goto out;
            uint64_t line_len = sp->end - sp->start;
            size_t real = view == ES_VIEW_ALL ? es_envelope_len(&ev) : es_stream_line_len(&ev);
            if (real != line_len) {
                rc = es_fail(ES_ECORRUPT,
                             "position %llu: the index gives its line %llu bytes, the log %zu",
                             (unsigned long long)sp->pos, (unsigned long long)line_len, real);
                goto out;
            }
            uint64_t at = off + copied;
            size_t skip = at > sp->start ? (size_t)(at - sp->start) : 0;
            size_t take = (size_t)line_len - skip;
            if (take > n - copied)
                take = n - copied;
            if (view == ES_VIEW_STREAM) {
                size_t from_payload = skip < ev.payload_len ? ev.payload_len - skip : 0;
                if (from_payload > take)
                    from_payload = take;
                memcpy(out + copied, ev.payload + skip, from_payload);
                if (from_payload < take)
                    out[copied + from_payload] = '\n';
            } else if (skip == 0 && take == line_len) {
                es_envelope_write(&ev, out + copied);
            } else {
                if (line_len > scratch_cap) {
                    char *p = realloc(scratch, line_len);
                    if (!p) {
                        rc = es_fail(-ENOMEM, "rendering position %llu",
                                     (unsigned long long)sp->pos);
                        goto out;
                    }
                    scratch = p;
                    scratch_cap = line_len;
                }
                es_envelope_write(&ev, scratch);
                memcpy(out + copied, scratch + skip, take);
            }
            copied += take;
        }
        by_seq = true;
        from = view == ES_VIEW_ALL ? spans[k - 1].pos + 1 : spans[k - 1].version + 1;
    }
out:
    free(scratch);
    es_log_reader_release(&r);
    if (copied > 0)
        return (ssize_t)copied;
    return rc;
}

struct es_cursor {
    struct es_store *s;
    enum es_view view;
    char name[ES_STREAM_NAME_MAX];
    size_t name_len;
    uint64_t next; /* position or version */
    struct es_span spans[SPAN_BATCH];
    size_t n, i;
    struct es_log_reader r;
};

int es_cursor_open(struct es_store *s, const char *name, size_t name_len, uint64_t from,
                   struct es_cursor **out)
{
    if (name) {
        int rc = es_stream_name_check(name, name_len);
        if (rc)
            return rc;
    }
    struct es_cursor *c = calloc(1, sizeof(*c));
    if (!c)
        return es_fail(-ENOMEM, "cursor");
    c->s = s;
    c->view = name ? ES_VIEW_STREAM : ES_VIEW_ALL;
    if (name) {
        memcpy(c->name, name, name_len);
        c->name_len = name_len;
    }
    c->next = from ? from : 1;
    es_log_reader_init(&c->r, s->log);
    *out = c;
    return 0;
}

int es_cursor_next(struct es_cursor *c, struct es_event *ev)
{
    if (c->i == c->n) {
        ssize_t k = get_spans(c->s, c->view, c->name, c->name_len, true, c->next, c->spans);
        if (k == ES_ENOTFOUND)
            return 0;
        if (k <= 0)
            return (int)k;
        c->n = (size_t)k;
        c->i = 0;
    }
    const struct es_span *sp = &c->spans[c->i];
    size_t flen;
    int rc = es_log_reader_frame(&c->r, sp->pos, sp->raw_off, ev, &flen);
    if (rc == 0 && c->view == ES_VIEW_STREAM)
        rc = check_stream_event(sp, ev, c->name, c->name_len);
    if (rc)
        return rc;
    c->i++;
    c->next = (c->view == ES_VIEW_ALL ? sp->pos : sp->version) + 1;
    return 1;
}

void es_cursor_close(struct es_cursor *c)
{
    if (!c)
        return;
    es_log_reader_release(&c->r);
    free(c);
}
