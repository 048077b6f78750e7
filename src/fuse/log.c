/*
 * log.c - the daemon's log: one line per event worth telling an operator,
 * to the --log-file (or stderr in the foreground) or to syslog, filtered by
 * --log-level. Every error reply is counted for .esfs/metrics here too.
 */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"

static const char *const level_names[] = {"error", "warning", "info", "debug"};

static void emit(struct fs *fs, enum es_log_level level, const char *msg)
{
    if (level > fs->opt.log_level)
        return;
    if (!fs->opt.log_file) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        syslog(prio[level], "%s: %s", level_names[level], msg);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    flockfile(fs->opt.log_file);
    fprintf(fs->opt.log_file, "%s.%06ldZ esfs[%d] %s: %s\n", when, ts.tv_nsec / 1000, (int)fs->pid,
            level_names[level], msg);
    fflush(fs->opt.log_file);
    funlockfile(fs->opt.log_file);
}

void fs_log(struct fs *fs, enum es_log_level level, const char *fmt, ...)
{
    if (level > fs->opt.log_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    emit(fs, level, msg);
}

void fs_store_log(void *arg, enum es_log_level level, const char *msg)
{
    emit(arg, level, msg);
}

void fs_reply_err(struct fs *fs, fuse_req_t req, int err)
{
    if (err > 0 && err < (int)(sizeof(fs->errors_by_errno) / sizeof(fs->errors_by_errno[0])))
        atomic_fetch_add_explicit(&fs->errors_by_errno[err], 1, memory_order_relaxed);
    fuse_reply_err(req, err);
}
