/*
 * fuzz_lines.c - libFuzzer harness for line framing (format/lines.h): the
 * input is cut into writes (each prefixed by one length byte; the first byte
 * picks the size limit) and fed to the splitter and to the reference model
 * (tests/support/lines_model.c); both must agree on every write, and every
 * event must be non-empty, newline-free and within the limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/lines.h"
#include "support/lines_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max = 1 + data[0] % 64;
    struct es_lines l;
    struct lines_model m;
    es_lines_init(&l);
    lines_model_init(&m);
    size_t i = 1;
    while (i < size) {
        size_t len = data[i++];
        if (len > size - i)
            len = size - i;
        const char *w = (const char *)data + i;
        i += len;
        struct es_lines_split sp;
        struct lines_model_result r;
        int rc = es_lines_split(&l, w, len, max, &sp);
        lines_model_write(&m, w, len, max, &r);
        if ((rc == ES_ETOOBIG) != r.too_long || (rc != 0 && rc != ES_ETOOBIG))
            abort();
        if (rc == 0) {
            if (sp.n_events != r.n_events)
                abort();
            for (size_t k = 0; k < sp.n_events; k++)
                if (sp.events[k].len != r.lens[k] || sp.events[k].len == 0 ||
                    sp.events[k].len > max ||
                    memcmp(sp.events[k].data, r.events[k], r.lens[k]) != 0 ||
                    memchr(sp.events[k].data, '\n', sp.events[k].len))
                    abort();
            if (es_lines_accept(&l, &sp) != 0)
                abort();
        }
        es_lines_split_release(&sp);
        lines_model_result_release(&r);
        if (l.partial.len != m.partial_len || l.discarding != m.discarding ||
            (m.partial_len && memcmp(l.partial.data, m.partial, m.partial_len) != 0))
            abort();
    }
    es_lines_release(&l);
    lines_model_release(&m);
    return 0;
}
