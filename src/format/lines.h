/*
 * lines.h - what is written to a stream file, turned into events
 * (PRODUCT.md, "Appending"; docs/filesystem.md): each newline-terminated
 * line is one event; empty lines are not events; the unfinished last line is
 * carried to the next write of the same open file; a line longer than the
 * limit fails every write that holds a part of it, and nothing of such a
 * write is accepted. The inverse of the stream view. No I/O: a fuzzer
 * drives it with arbitrary writes.
 */
#ifndef ES_FORMAT_LINES_H
#define ES_FORMAT_LINES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "esfs/esfs.h"

#define ES_LINES_LOCAL 64

/* The state of one open file. */
struct es_lines {
    struct es_buf partial; /* the unfinished last line */
    bool discarding;       /* inside a line already found over the limit */
};

/* What one write completes. */
struct es_lines_split {
    struct es_payload *events; /* complete non-empty lines, in order */
    size_t n_events;
    bool ended;       /* data held a newline */
    const char *rest; /* ended: the new unfinished line (in data) */
    size_t rest_len;
    const char *data; /* not ended: data extends the unfinished line */
    size_t data_len;
    size_t too_long; /* ES_ETOOBIG: the offending line's length so far */
    /* private */
    struct es_payload local[ES_LINES_LOCAL];
    char *joined;
    size_t cap;
};

void es_lines_init(struct es_lines *l);
void es_lines_release(struct es_lines *l);

/* Splits one write of data against l. l does not change on success:
 * out->events (the first joined with l's unfinished line) are to be
 * appended as one append, and es_lines_accept() makes the write's effect
 * on l once they are taken (or at once when there are none).
 * ES_ETOOBIG: a line holding part of data is longer than max bytes; nothing
 * of data is accepted. l is updated as the rules say: an unfinished line
 * grown over the limit is dropped, and the rest of that line (up to its
 * newline, in later writes) fails those writes too. -ENOMEM.
 * out must be released with es_lines_split_release() in every case. */
int es_lines_split(struct es_lines *l, const char *data, size_t len, size_t max,
                   struct es_lines_split *out);
/* Applies an accepted split to l: the unfinished line becomes the split's. */
int es_lines_accept(struct es_lines *l, const struct es_lines_split *out);
void es_lines_split_release(struct es_lines_split *out);

#endif
