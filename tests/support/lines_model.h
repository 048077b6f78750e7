/*
 * lines_model.h - a reference model of format/lines.h, written the simple
 * way (whole strings, no carried pointers), for tests and the fuzzer to
 * compare the real splitter with.
 */
#ifndef ES_TEST_LINES_MODEL_H
#define ES_TEST_LINES_MODEL_H

#include <stdbool.h>
#include <stddef.h>

struct lines_model {
    char *partial;
    size_t partial_len;
    bool discarding;
};

struct lines_model_result {
    bool too_long;
    size_t n_events;
    char **events; /* malloc'd copies */
    size_t *lens;
};

void lines_model_init(struct lines_model *m);
void lines_model_release(struct lines_model *m);
/* Applies one write (the events are as good as appended when accepted). */
void lines_model_write(struct lines_model *m, const char *data, size_t len, size_t max,
                       struct lines_model_result *r);
void lines_model_result_release(struct lines_model_result *r);

#endif
