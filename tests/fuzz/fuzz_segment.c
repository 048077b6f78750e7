/*
 * fuzz_segment.c - libFuzzer harness for opening and recovering segment
 * files (src/log, src/store/verify.c) from arbitrary bytes.
 *
 * Each input is put into a fresh temporary store directory four times:
 * as wal/00000000000000000001.wal and as segments/00000000000000000001.seg,
 * each once as it is and once with every checksum recomputed (header,
 * frames, raw blocks, block checks, block index, whole file, footer) so that
 * mutations get past the checks to the structure behind them. Each time
 * es_store_verify and es_store_scan run on it (both read-only). Nothing may
 * crash or leak; verify's summary and every scanned event must be sane. The
 * directory is removed before the run ends.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "esfs/esfs.h"
#include "format/envelope.h"
#include "format/frame.h"
#include "format/segment_format.h"
#include "support/tmpdir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void put_le(unsigned char *p, int n, uint64_t v)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Recomputes the checks of the run of frames in p[0..n), as far as they fit. */
static void fix_frames(unsigned char *p, size_t n)
{
    size_t off = 0;
    while (n - off >= ES_FRAME_HEADER_BYTES) {
        unsigned char *f = p + off;
        put_le(f + 40, 4, (uint32_t)XXH3_64bits(f, 40));
        size_t len = es_frame_size(f[6], (size_t)get_le(f + 8, 2), (size_t)get_le(f + 12, 4));
        if (len > n - off)
            return;
        put_le(f + len - 8, 8, XXH3_64bits(f, len - 8));
        off += len;
    }
}

static void fix_header(unsigned char *p, size_t n)
{
    if (n >= ES_SEG_HEADER_BYTES)
        put_le(p + 56, 8, XXH3_64bits(p, 56));
}

static void fix_wal(unsigned char *p, size_t n)
{
    fix_header(p, n);
    if (n > ES_SEG_HEADER_BYTES)
        fix_frames(p + ES_SEG_HEADER_BYTES, n - ES_SEG_HEADER_BYTES);
}

static void fix_sealed(unsigned char *p, size_t n)
{
    fix_header(p, n);
    if (n < ES_SEG_HEADER_BYTES + ES_SEG_FOOTER_BYTES)
        return;
    size_t foot = n - ES_SEG_FOOTER_BYTES;
    unsigned char *f = p + foot;
    uint64_t n_blocks = get_le(f + 12, 4);
    uint64_t index_off = get_le(f + 48, 8);
    if (index_off >= ES_SEG_HEADER_BYTES && index_off <= foot &&
        n_blocks * ES_SEG_BLOCK_ENTRY_BYTES == foot - index_off) {
        for (uint64_t b = 0; b < n_blocks; b++) {
            unsigned char *e = p + index_off + b * ES_SEG_BLOCK_ENTRY_BYTES;
            uint64_t at = get_le(e + 16, 8), stored = get_le(e + 24, 4);
            if (at < ES_SEG_HEADER_BYTES || at > index_off || stored > index_off - at)
                continue;
            if (e[36] == ES_CODEC_NONE)
                fix_frames(p + at, (size_t)stored);
            put_le(e + 40, 8, XXH3_64bits(p + at, (size_t)stored));
        }
        put_le(f + 72, 8, XXH3_64bits(p + index_off, foot - index_off));
    }
    put_le(f + 80, 8, XXH3_64bits(p, foot));
    put_le(f + 120, 8, XXH3_64bits(f, 120));
}

static void on_report(void *arg, bool is_problem, const char *line)
{
    (void)is_problem;
    if (!line)
        abort();
    ++*(uint64_t *)arg;
}

struct scan_state {
    uint64_t n, last_pos;
};

static int on_event(void *arg, const struct es_event *ev)
{
    struct scan_state *st = arg;
    if (ev->pos != (st->n ? st->last_pos + 1 : ev->pos) || ev->pos == 0 || ev->version == 0 ||
        ev->ts_ns < 0)
        abort();
    if (es_stream_name_check(ev->stream, ev->stream_len) != 0)
        abort();
    if (ev->payload_len && memchr(ev->payload, '\n', ev->payload_len))
        abort();
    size_t len = es_envelope_len(ev);
    char *line = malloc(len);
    if (!line || es_envelope_render(ev, line, len) != len || line[len - 1] != '\n')
        abort();
    free(line);
    st->last_pos = ev->pos;
    st->n++;
    return 0;
}

static void check_store(const char *dir)
{
    uint64_t lines = 0;
    struct es_verify_summary sum;
    int rc = es_store_verify(dir, on_report, &lines, &sum);
    if (rc == 0 && sum.problems != 0)
        abort();
    if (rc == ES_ECORRUPT && sum.problems == 0)
        abort();
    struct scan_state st = {0, 0};
    rc = es_store_scan(dir, 1, NULL, 0, on_event, &st);
    if (rc > 0)
        abort();
    /* a sound store scans to every event verify counted */
    if (rc == 0 && sum.problems == 0 && st.n != sum.events)
        abort();
}

static void run_as(const char *dir, const char *sub, const char *name, const unsigned char *p,
                   size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    if (file_write_all(path, p, n) != 0)
        abort();
    check_store(dir);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[4096], sub[4200];
    tmpdir_make(dir, sizeof(dir), "fuzzseg");
    snprintf(sub, sizeof(sub), "%s/segments", dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof(sub), "%s/wal", dir);
    mkdir(sub, 0755);
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy)
        abort();

    run_as(dir, "wal", "00000000000000000001.wal", data, size);
    if (size)
        memcpy(copy, data, size);
    fix_wal(copy, size);
    run_as(dir, "wal", "00000000000000000001.wal", copy, size);

    run_as(dir, "segments", "00000000000000000001.seg", data, size);
    if (size)
        memcpy(copy, data, size);
    fix_sealed(copy, size);
    run_as(dir, "segments", "00000000000000000001.seg", copy, size);

    free(copy);
    tmpdir_remove(dir);
    return 0;
}
