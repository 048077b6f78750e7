/*
 * logger.c - formats a message and passes it to the owner's callback.
 */
#include "logger.h"

#include <stdarg.h>
#include <stdio.h>

void es_logf(const struct es_logger *lg, enum es_log_level level, const char *fmt, ...)
{
    if (!lg || !lg->fn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lg->fn(lg->arg, level, msg);
}
