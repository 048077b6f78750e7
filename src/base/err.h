/*
 * err.h - the one error convention of esfs, internal side.
 *
 * Functions return 0 or a negative code: -errno, or an ES_E* code from
 * esfs.h. A failing function records why with es_fail(), which keeps a
 * thread-local reason (and its origin in the source) for es_error_detail().
 * Lower layers never print: the daemon logs the detail, the CLI shows it.
 */
#ifndef ES_BASE_ERR_H
#define ES_BASE_ERR_H

#include "esfs/esfs.h"

/* Records the reason for code on this thread and returns code. */
int es_fail_at(const char *file, int line, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define es_fail(code, ...) es_fail_at(__FILE__, __LINE__, (code), __VA_ARGS__)

/* For -errno failures of a syscall: "what: strerror". Returns -errno_value. */
#define es_fail_errno(errno_value, ...) es_fail_at(__FILE__, __LINE__, -(errno_value), __VA_ARGS__)

/* Clears the detail (used by tests). */
void es_error_clear(void);

#endif
