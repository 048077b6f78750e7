/*
 * logger.h - how the library hands a message to its owner. The library
 * never prints: it formats a line and passes it to the es_log_fn the store
 * was opened with (the daemon writes it to syslog/stderr; tests collect it).
 */
#ifndef ES_BASE_LOGGER_H
#define ES_BASE_LOGGER_H

#include "esfs/esfs.h"

struct es_logger {
    es_log_fn fn;
    void *arg;
};

void es_logf(const struct es_logger *lg, enum es_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
