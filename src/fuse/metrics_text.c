/*
 * metrics_text.c - .esfs/metrics: the store's and the mount's counters and
 * histograms in the Prometheus text exposition format (version 0.0.4).
 * The text is rendered once when the file is opened, so one read sees one
 * consistent snapshot.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "fs.h"

static void put(struct es_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct es_buf *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0)
        es_buf_append(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void metric(struct es_buf *b, const char *name, const char *type, const char *help,
                   unsigned long long v)
{
    put(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, v);
}

static void histogram(struct es_buf *b, const char *name, const char *help,
                      const struct es_histogram *h, const double *bounds)
{
    put(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (int i = 0; i < ES_HIST_BUCKETS; i++) {
        if (isinf(bounds[i]))
            put(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->buckets[i]);
        else
            put(b, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i],
                (unsigned long long)h->buckets[i]);
    }
    put(b, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

int metrics_render(struct fs *fs, char **text, size_t *len)
{
    struct es_metrics m;
    es_store_metrics(fs->store, &m);
    struct es_buf b = ES_BUF_INIT;
    metric(&b, "esfs_appends_total", "counter", "Append requests acknowledged.", m.appends);
    metric(&b, "esfs_append_failures_total", "counter", "Append requests failed.",
           m.append_failures);
    metric(&b, "esfs_conflicts_total", "counter",
           "Appends refused by an expected-version check (ECANCELED).", m.conflicts);
    metric(&b, "esfs_events_total", "counter", "Events appended.", m.events);
    metric(&b, "esfs_payload_bytes_total", "counter", "Payload bytes appended.", m.payload_bytes);
    metric(&b, "esfs_log_bytes_total", "counter", "Frame bytes written to the log.", m.log_bytes);
    metric(&b, "esfs_fsyncs_total", "counter", "fdatasync calls on the active segment.", m.fsyncs);
    metric(&b, "esfs_group_commits_total", "counter",
           "Group commits (one write for all queued "
           "appends).",
           m.batches);
    metric(&b, "esfs_seals_total", "counter", "Segments sealed.", m.seals);
    metric(&b, "esfs_index_checkpoints_total", "counter", "Index checkpoints written.",
           m.checkpoints);
    metric(&b, "esfs_last_position", "gauge", "Global position of the last event.", m.last_pos);
    metric(&b, "esfs_streams", "gauge", "Streams with at least one event.", m.n_streams);
    metric(&b, "esfs_sealed_segments", "gauge", "Sealed segments in segments/.",
           m.n_sealed_segments);
    metric(&b, "esfs_sealed_bytes", "gauge", "Bytes of sealed segments.", m.sealed_bytes);
    metric(&b, "esfs_block_cache_hits_total", "counter", "Sealed-block reads served from memory.",
           m.cache_hits);
    metric(&b, "esfs_block_cache_misses_total", "counter", "Sealed-block reads from disk.",
           m.cache_misses);
    metric(&b, "esfs_failed", "gauge",
           "1 when a failed durable write stopped appends (restart to recover).", m.poisoned);
    histogram(&b, "esfs_append_latency_seconds", "From queueing an append to its acknowledgement.",
              &m.append_latency_s, es_latency_bounds_s);
    histogram(&b, "esfs_fsync_latency_seconds", "Duration of fdatasync on the active segment.",
              &m.fsync_latency_s, es_latency_bounds_s);
    histogram(&b, "esfs_group_commit_events", "Events per group commit.", &m.batch_events,
              es_batch_bounds);
    pthread_mutex_lock(&fs->watch_lock);
    uint64_t waiters = fs->n_waiters, polls = fs->n_polls;
    pthread_mutex_unlock(&fs->watch_lock);
    metric(&b, "esfs_watchers", "gauge", "Reads of watch files waiting for events.", waiters);
    metric(&b, "esfs_poll_waiters", "gauge", "Watch files with a poll/select/epoll registered.",
           polls);
    metric(&b, "esfs_open_files", "gauge", "Open files of the mount.",
           atomic_load(&fs->open_files));
    metric(&b, "esfs_reads_total", "counter", "read(2) requests served.", atomic_load(&fs->reads));
    metric(&b, "esfs_read_bytes_total", "counter", "Bytes served by reads.",
           atomic_load(&fs->read_bytes));
    metric(&b, "esfs_writes_total", "counter", "write(2) requests received.",
           atomic_load(&fs->writes));
    metric(&b, "esfs_write_errors_total", "counter", "write(2) requests failed.",
           atomic_load(&fs->write_errors));
    metric(&b, "esfs_interrupted_reads_total", "counter", "Waiting reads ended by a signal.",
           atomic_load(&fs->interrupts));
    put(&b, "# HELP esfs_errors_total Requests answered with an error, by errno.\n"
            "# TYPE esfs_errors_total counter\n");
    for (size_t e = 1; e < sizeof(fs->errors_by_errno) / sizeof(fs->errors_by_errno[0]); e++) {
        uint64_t v = atomic_load(&fs->errors_by_errno[e]);
        if (v)
            put(&b, "esfs_errors_total{errno=\"%s\"} %llu\n",
                strerrorname_np((int)e) ? strerrorname_np((int)e) : "?", (unsigned long long)v);
    }
    if (!b.data) {
        es_buf_release(&b);
        return -ENOMEM;
    }
    *text = (char *)b.data;
    *len = b.len;
    return 0;
}
