/*
 * err.c - error names, the errno mapping table and thread-local details.
 *
 * Invariant: es_errno() maps every code this library returns to a positive
 * errno, so a FUSE reply can always be made from a library result.
 */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char detail[512];

struct es_code_entry {
    int code;
    int errno_value;
    const char *text;
};

/* The one table that maps the store's codes to text and to errno. */
static const struct es_code_entry es_codes[] = {
    {ES_ENOTSTORE, ENOTDIR, "not an esfs store"},
    {ES_EFORMAT, EPROTO, "unsupported on-disk format version"},
    {ES_ECORRUPT, EIO, "data is corrupt"},
    {ES_ECONFLICT, ECANCELED, "expected version does not match the stream"},
    {ES_ENOTFOUND, ENOENT, "no such stream or event"},
    {ES_EMISUSE, EINVAL, "invalid argument"},
    {ES_EFAILED, EIO, "store refuses appends after a failed durable write"},
    {ES_ECLOSED, ESHUTDOWN, "store is closing"},
    {ES_ELOCKED, EBUSY, "store is in use by another process"},
    {ES_EREADONLY, EROFS, "store is read-only"},
    {ES_ETOOBIG, EMSGSIZE, "event larger than the maximum event size"},
    {ES_EBADNAME, EINVAL, "invalid stream name"},
    {ES_ENAMELEN, ENAMETOOLONG, "stream name longer than 255 bytes"},
};

static const struct es_code_entry *es_code_find(int code)
{
    for (size_t i = 0; i < sizeof(es_codes) / sizeof(es_codes[0]); i++)
        if (es_codes[i].code == code)
            return &es_codes[i];
    return NULL;
}

const char *es_strerror(int code)
{
    if (code == 0)
        return "success";
    const struct es_code_entry *e = es_code_find(code);
    if (e)
        return e->text;
    if (code < 0 && code > -4096)
        return strerror(-code);
    return "unknown error";
}

int es_errno(int code)
{
    if (code >= 0)
        return 0;
    const struct es_code_entry *e = es_code_find(code);
    if (e)
        return e->errno_value;
    if (code > -4096)
        return -code;
    return EIO;
}

int es_fail_at(const char *file, int line, int code, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    snprintf(detail, sizeof(detail), "%s: %s (%s:%d)", what, es_strerror(code), base, line);
    return code;
}

const char *es_error_detail(void)
{
    return detail[0] ? detail : "no error recorded";
}

void es_error_clear(void)
{
    detail[0] = '\0';
}
