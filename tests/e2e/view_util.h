/*
 * view_util.h - the e2e tests' independent model of what a mount serves:
 * payload generators whose JSON-ness and type are known by construction,
 * a strict parser of the envelope lines of `all`, and an oracle for the
 * JSON string a non-JSON payload becomes (PRODUCT.md "Reading"; escapes as
 * documented in include/esfs/esfs.h: \" \\ \b \f \n \r \t, other bytes
 * below 0x20 as \u00xx, each byte that does not begin a valid UTF-8
 * sequence as \ufffd, everything else verbatim).
 */
#ifndef ES_E2E_VIEW_UTIL_H
#define ES_E2E_VIEW_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A generated event payload (never holds '\n'). */
struct e2e_payload {
    char *data;
    size_t len;
    bool is_json;  /* the whole payload is one valid JSON text */
    char type[64]; /* the event type it must get ("" when none) */
};

/* The i-th payload of a varied sequence: JSON objects with and without a
 * string "type", other JSON values, text, binary with NUL bytes and
 * invalid UTF-8, and now and then large ones (up to max_len bytes). */
void e2e_payload_make(uint64_t *rng, uint64_t i, size_t max_len, struct e2e_payload *p);
void e2e_payload_free(struct e2e_payload *p);

/* One parsed line of `all`. Strings are decoded (stream, type); data points
 * into the line: the bytes between "data": and the closing "}\n". */
struct e2e_env {
    uint64_t pos, ver;
    char stream[1024];
    size_t stream_len;
    char type[1024];
    size_t type_len;
    char ts[31];
    const char *data;
    size_t data_len;
};

/* Parses line[0..len) (ending in '\n') with the exact field order and no
 * spaces. false, with a reason in why, when it does not conform. */
bool e2e_env_parse(const char *line, size_t len, struct e2e_env *e, char *why, size_t why_cap);
/* Whether ts is "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" with plausible values. */
bool e2e_ts_valid(const char *ts);

/* The JSON string literal (quotes included) for p[0..n); returns its
 * length; out must hold 6 * n + 2 bytes. */
size_t e2e_json_string(const unsigned char *p, size_t n, char *out);
/* What the envelope's data must be for a payload: the payload itself when
 * it is JSON, else its JSON string. malloc'd; *len set. */
char *e2e_expected_data(const struct e2e_payload *p, size_t *len);

/* Iterates over the lines of buf: *off is the cursor; returns false at the
 * end; a line includes its '\n' (the last one may lack it). */
bool e2e_next_line(const char *buf, size_t len, size_t *off, const char **line, size_t *line_len);
/* sscanf of the line's first bytes (at most 127): sscanf itself would
 * measure the rest of a large buffer on every call. */
int e2e_scan_line(const char *line, size_t len, const char *fmt, ...)
    __attribute__((format(scanf, 3, 4)));
/* Number of '\n' in buf. */
size_t e2e_count_lines(const char *buf, size_t len);

#endif
