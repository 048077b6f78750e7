/*
 * esfs.h - the esfs library: a durable event store with a segmented,
 * checksummed log, group commit and derived indexes.
 *
 * This header is the manual. The FUSE daemon and the command line tools use
 * nothing else. The on-disk format is specified in docs/format.md; the
 * threads and locks in docs/architecture.md.
 *
 * Concepts
 *   event     a payload (any bytes without '\n', at most max_event_bytes),
 *             appended to one stream. It gets a global position (1, 2, 3, ...
 *             over the whole store, no gaps), a version in its stream (1, 2,
 *             3, ...), a timestamp in ns since the epoch that never goes
 *             backwards in the global log, and a type: the string field "type"
 *             when the payload is a JSON object holding one, else empty.
 *   stream    a named sequence of events. A stream exists from its first
 *             event on. Names: 1..255 bytes of valid UTF-8, no control
 *             characters, no '/', not starting with '.'.
 *   views     two byte-addressed renderings of the log, with stable offsets:
 *             ES_VIEW_STREAM: a stream's payloads, each followed by '\n';
 *             ES_VIEW_ALL: every event as a one-line JSON envelope
 *             (see es_envelope_render) in global order.
 *
 * Errors
 *   Every function that can fail returns a negative value: -errno for an
 *   operating system failure, or one of the ES_E* codes below. es_strerror()
 *   names both; es_errno() maps both to the errno a file system reports.
 *   es_error_detail() gives the reason of the last failure on the calling
 *   thread (file, offset and what was wrong), for logs.
 *
 * Threads
 *   A store handle may be used from any number of threads at once. Appends
 *   are executed by one writer thread inside the store; completion callbacks
 *   run on that thread and must not call functions that wait for the writer
 *   (es_store_append, es_store_seal, es_store_close).
 */
#ifndef ESFS_ESFS_H
#define ESFS_ESFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors ------------------------------------------------------------ */

/* The store's own error codes; -errno values are used for OS failures. */
enum {
    ES_ENOTSTORE = -30900, /* the directory is not an esfs store */
    ES_EFORMAT = -30901,   /* on-disk format version not supported */
    ES_ECORRUPT = -30902,  /* a checksum or structural check failed */
    ES_ECONFLICT = -30903, /* expected version does not match the stream */
    ES_ENOTFOUND = -30904, /* no such stream, event or file */
    ES_EMISUSE = -30905,   /* invalid argument or call sequence */
    ES_EFAILED = -30906,   /* a durable write failed earlier: appends refused */
    ES_ECLOSED = -30907,   /* the store is closing */
    ES_ELOCKED = -30908,   /* another process has the store open for writing */
    ES_EREADONLY = -30909, /* the store was opened read-only */
    ES_ETOOBIG = -30910,   /* an event is larger than max_event_bytes */
    ES_EBADNAME = -30911,  /* stream name empty, has control characters, '/' or leading '.' */
    ES_ENAMELEN = -30912,  /* stream name longer than 255 bytes */
};

/* A static description of code (negative errno or ES_E*). Never NULL. */
const char *es_strerror(int code);

/* The positive errno a file system front end replies with for code:
 * ES_ECONFLICT -> ECANCELED, ES_ECORRUPT/ES_EFAILED -> EIO,
 * ES_ETOOBIG -> EMSGSIZE, ES_EBADNAME -> EINVAL, ES_ENAMELEN -> ENAMETOOLONG,
 * ES_ENOTFOUND -> ENOENT, ES_EREADONLY -> EROFS, ... and -errno -> errno. */
int es_errno(int code);

/* The reason for the last failure reported on the calling thread, e.g.
 * "segments/00000000000000000001.seg offset 4096: frame checksum mismatch".
 * Valid until the next failing call on this thread. Never NULL. */
const char *es_error_detail(void);

/* ---- limits ------------------------------------------------------------ */

#define ES_FORMAT_VERSION        1u
#define ES_STREAM_NAME_MAX       255u
#define ES_TYPE_MAX              65535u      /* longer types are stored as empty */
#define ES_MAX_EVENT_BYTES_LIMIT (64u << 20) /* upper bound for max_event_bytes */
#define ES_VERSION_ANY           (-1)        /* expected_version: no check */

/* Validates a stream name. 0, ES_EBADNAME or ES_ENAMELEN. */
int es_stream_name_check(const char *name, size_t len);

/* ---- opening a store --------------------------------------------------- */

enum es_sync {
    ES_SYNC_ALWAYS = 0, /* ack after the fdatasync that covers the event */
    ES_SYNC_BATCH = 1,  /* ack after write(2); fdatasync every sync_batch_ms */
    ES_SYNC_NONE = 2,   /* ack after write(2); fsync only at seal and close */
};

enum es_log_level { ES_LOG_ERROR = 0, ES_LOG_WARN = 1, ES_LOG_INFO = 2, ES_LOG_DEBUG = 3 };

/* Receives the store's own reports (recovery, seals, failures). Called from
 * any of the store's threads; must not call back into the store. */
typedef void (*es_log_fn)(void *arg, enum es_log_level level, const char *msg);

/* What one group commit made visible. Passed to the commit hook. */
struct es_commit_stream {
    const char *name;
    size_t name_len;
    uint32_t stream_no;  /* 0-based, in order of first event; never reused */
    uint64_t version;    /* events in the stream after this commit */
    uint64_t view_bytes; /* size of its ES_VIEW_STREAM after this commit */
};
struct es_commit {
    uint64_t first_pos, last_pos; /* the positions this commit published */
    uint64_t all_view_bytes;      /* size of ES_VIEW_ALL after this commit */
    size_t n_streams;
    const struct es_commit_stream *streams; /* each stream once */
};
/* Called on the writer thread after every commit, after the completion
 * callbacks of its appends. The arrays live only for the call. */
typedef void (*es_commit_fn)(void *arg, const struct es_commit *commit);

struct es_options {
    enum es_sync sync;
    uint32_t sync_batch_ms;     /* ES_SYNC_BATCH interval, >= 1 */
    uint64_t segment_bytes;     /* seal the active segment at this size */
    uint32_t max_event_bytes;   /* largest payload accepted */
    bool read_only;             /* never write to the store directory */
    bool compress;              /* zstd blocks in sealed segments */
    int compress_level;         /* zstd level */
    size_t block_cache_bytes;   /* decompressed sealed blocks kept in RAM */
    uint64_t checkpoint_events; /* index checkpoint after this many events */
    es_log_fn log;
    void *log_arg;
    es_commit_fn on_commit;
    void *on_commit_arg;
};

/* Fills o with the defaults: ES_SYNC_ALWAYS, 64 MiB segments, 1 MiB events,
 * compression on (level 3), 32 MiB block cache, checkpoint every 262144
 * events, no log, no hook. */
void es_options_init(struct es_options *o);

struct es_store;

/* Opens (and, when path is missing or an empty directory, creates) the store
 * at path. Recovers the active segment (a torn tail is cut back to the last
 * valid frame; the cut bytes are kept in lost+found/ and logged), loads the
 * index checkpoint and catches it up from the log, or rebuilds the indexes
 * from the segments when they are missing or damaged. A directory holding
 * only segments/ opens as the store those segments describe.
 *
 * Read-write opens take an exclusive lock on path/LOCK (ES_ELOCKED if held).
 * Read-only opens write nothing to path: indexes are built in memory.
 *
 * Errors: ES_ENOTSTORE, ES_EFORMAT, ES_ECORRUPT (a sealed segment or a
 * non-final active segment is damaged), ES_ELOCKED, ES_EMISUSE, -errno. */
int es_store_open(const char *path, const struct es_options *o, struct es_store **out);

/* Finishes every queued append (they are acknowledged or failed, never
 * dropped), syncs, writes an index checkpoint, stops the threads and frees
 * the store. Returns the first durability error seen while closing, or 0. */
int es_store_close(struct es_store *s);

/* ---- appending --------------------------------------------------------- */

struct es_payload {
    const void *data;
    size_t len;
};

struct es_append_result {
    uint64_t first_pos, last_pos; /* positions given to the events */
    uint64_t first_version;       /* version of the first event */
    uint64_t version;             /* the stream's version after the append */
};

/* Called once per append on the writer thread: rc is 0 or a negative code;
 * res is valid only when rc == 0 and only during the call. */
typedef void (*es_append_done_fn)(void *arg, int rc, const struct es_append_result *res);

struct es_append {
    const char *stream;
    size_t stream_len;
    const struct es_payload *events;
    size_t n_events;          /* >= 1 */
    int64_t expected_version; /* ES_VERSION_ANY, or N: the stream must hold
                                 exactly N events (0: must not exist) */
    es_append_done_fn done;
    void *done_arg;
};

/* Queues an append of n_events events to one stream; all or nothing, and no
 * other append's events between them. The store copies what it needs before
 * returning. done(arg, rc, res) is called exactly once, from the writer
 * thread, when the append is durable under the sync mode (ES_SYNC_ALWAYS:
 * after the fdatasync that covers it) or failed: ES_ECONFLICT (expected
 * version), ES_EFAILED (the store is poisoned), -ENOSPC, -EIO.
 *
 * Returns 0 when queued (done will be called), or an error without calling
 * done: ES_EBADNAME, ES_ENAMELEN, ES_ETOOBIG, ES_EMISUSE (no events, an
 * empty payload - an empty line is not an event - or a payload holding
 * '\n'), ES_EREADONLY, ES_EFAILED, ES_ECLOSED. */
int es_store_append_async(struct es_store *s, const struct es_append *a);

/* es_store_append_async, then waits for it. Not for completion callbacks. */
int es_store_append(struct es_store *s, const char *stream, size_t stream_len,
                    const struct es_payload *events, size_t n_events, int64_t expected_version,
                    struct es_append_result *res);

/* Makes every event appended before the call durable (fdatasync), whatever
 * the sync mode; done(arg, rc, NULL) is called from the writer thread. For
 * fsync(2) under ES_SYNC_BATCH and ES_SYNC_NONE. */
int es_store_sync_async(struct es_store *s, es_append_done_fn done, void *arg);

/* Seals the active segment: fsync, footer, zstd blocks, atomic rename into
 * segments/, fsync of the directory. done(arg, rc, NULL) is called (from a
 * store thread) once every event appended before the call is in a sealed
 * segment that is durable in segments/ (rc 0), or the seal failed. */
int es_store_seal_async(struct es_store *s, es_append_done_fn done, void *arg);
int es_store_seal(struct es_store *s);

/* ---- reading ----------------------------------------------------------- */

/* Everything is served up to the published position: an event is published
 * once it is durable under the sync mode, and it is never unpublished. */

struct es_event {
    uint64_t pos;
    uint64_t version;
    int64_t ts_ns;
    const char *stream;
    size_t stream_len;
    const char *type;
    size_t type_len;
    const unsigned char *payload;
    size_t payload_len;
    bool payload_is_json;
};

struct es_log_info {
    uint64_t last_pos;       /* 0 when the store is empty */
    uint64_t all_view_bytes; /* size of ES_VIEW_ALL */
    uint32_t n_streams;
    uint32_t n_sealed_segments;
    int64_t last_ts_ns; /* timestamp of the last event, 0 when empty */
};
void es_store_log_info(struct es_store *s, struct es_log_info *out);

struct es_stream_info {
    uint32_t stream_no;
    uint64_t version;    /* number of events */
    uint64_t view_bytes; /* size of ES_VIEW_STREAM */
    int64_t first_ts_ns; /* timestamp of version 1 */
    int64_t last_ts_ns;  /* timestamp of the last event */
};
/* ES_ENOTFOUND when the stream has no events. */
int es_store_stream_info(struct es_store *s, const char *name, size_t len,
                         struct es_stream_info *out);

/* Name of stream number no (0-based, in order of first event) into buf
 * (not NUL-terminated); returns its length, or ES_ENOTFOUND past the end. */
ssize_t es_store_stream_name(struct es_store *s, uint32_t no, char *buf, size_t cap);

enum es_view { ES_VIEW_ALL = 0, ES_VIEW_STREAM = 1 };

/* Copies up to n bytes of a view from byte offset off into buf. Returns the
 * number of bytes copied: 0 at the end of what is published, fewer than n
 * only at that end. name is ignored for ES_VIEW_ALL. Errors: ES_ENOTFOUND
 * (stream without events), ES_ECORRUPT (damaged data is never served), -EIO. */
ssize_t es_store_read_view(struct es_store *s, enum es_view view, const char *name, size_t name_len,
                           uint64_t off, void *buf, size_t n);

/* A cursor over published events, in global order, optionally one stream. */
struct es_cursor;
/* from_pos (all) or from_version (one stream: name != NULL), 1-based. */
int es_cursor_open(struct es_store *s, const char *name, size_t name_len, uint64_t from,
                   struct es_cursor **out);
/* 1 and *ev filled (valid until the next call), 0 at the end of what is
 * published now (calling again later may give more), or an error. */
int es_cursor_next(struct es_cursor *c, struct es_event *ev);
void es_cursor_close(struct es_cursor *c);

/* Waits until last_pos >= pos, timeout_ms elapsed (-1: forever; returns
 * -ETIMEDOUT) or the store closes (ES_ECLOSED). For programs; the daemon
 * uses the commit hook instead of a waiting thread. */
int es_store_wait(struct es_store *s, uint64_t pos, int timeout_ms);

/* ---- the envelope of ES_VIEW_ALL --------------------------------------- */

/* The exact bytes of ev's line in ES_VIEW_ALL, with the trailing '\n':
 * {"pos":17,"stream":"Order-123","ver":3,"type":"OrderPlaced",
 *  "ts":"2026-11-22T11:00:00.123456789Z","data":<payload>}
 * data is the payload itself when it is valid JSON, else a JSON string of
 * it (invalid UTF-8 bytes become U+FFFD). Writes at most cap bytes; returns
 * the full length (call with cap 0 to size a buffer), or 0 when cap is
 * short and memory for a temporary copy runs out. */
size_t es_envelope_render(const struct es_event *ev, char *buf, size_t cap);

/* ---- metrics ----------------------------------------------------------- */

#define ES_HIST_BUCKETS 16
struct es_histogram {
    uint64_t count;
    double sum;                        /* in the unit of the bounds */
    uint64_t buckets[ES_HIST_BUCKETS]; /* cumulative counts at es_hist_bounds */
};
/* The upper bounds of the latency buckets, in seconds (last is +Inf). */
extern const double es_latency_bounds_s[ES_HIST_BUCKETS];
/* The upper bounds of the batch-size buckets, in events (last is +Inf). */
extern const double es_batch_bounds[ES_HIST_BUCKETS];

struct es_metrics {
    uint64_t appends;         /* append requests acknowledged */
    uint64_t append_failures; /* append requests failed */
    uint64_t conflicts;       /* of which expected-version conflicts */
    uint64_t events;          /* events appended */
    uint64_t payload_bytes;   /* payload bytes appended */
    uint64_t log_bytes;       /* frame bytes written to the log */
    uint64_t fsyncs;          /* fdatasync/fsync calls on the log */
    uint64_t batches;         /* group commits */
    uint64_t seals;           /* segments sealed */
    uint64_t checkpoints;     /* index checkpoints written */
    uint64_t last_pos;
    uint32_t n_streams;
    uint32_t n_sealed_segments;
    uint64_t sealed_bytes;             /* bytes in segments/ */
    uint64_t cache_hits, cache_misses; /* block cache */
    bool poisoned;
    struct es_histogram append_latency_s; /* queue to acknowledgement */
    struct es_histogram fsync_latency_s;
    struct es_histogram batch_events; /* events per group commit */
};
void es_store_metrics(struct es_store *s, struct es_metrics *out);

/* ---- offline tools ------------------------------------------------------- */

/* Receives one line of a verify or reindex report. */
typedef void (*es_report_fn)(void *arg, bool is_problem, const char *line);

struct es_verify_summary {
    uint64_t segments, events, streams, problems;
    uint64_t torn_tail_bytes; /* bytes after the last valid frame of the active segment */
};

/* Checks every frame (checksums, position sequence, stream versions,
 * timestamps), every sealed segment (header, block index, block checksums,
 * footer, whole-file hash) and the index checkpoint against the log. Reports
 * each problem with its file and offset. Opens nothing for writing. Returns 0
 * when the store is sound, ES_ECORRUPT when problems were found, or an error
 * that stopped the check. A torn tail of the active segment is reported but
 * is not a problem: the next open cuts it. */
int es_store_verify(const char *path, es_report_fn report, void *arg,
                    struct es_verify_summary *summary);

/* Deletes the derived indexes of the store at path and rebuilds them from
 * the segments (takes the store lock). *events gets the events indexed. */
int es_store_reindex(const char *path, const struct es_options *o, uint64_t *events);

/* Calls fn for every valid event of the log at path with pos >= from_pos
 * (and, when name != NULL, of that stream only), in global order, without
 * indexes and without writing. Stops at fn's nonzero return value, which it
 * returns. The event is valid only during the call. */
typedef int (*es_scan_fn)(void *arg, const struct es_event *ev);
int es_store_scan(const char *path, uint64_t from_pos, const char *name, size_t name_len,
                  es_scan_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
