/*
 * cmd_mount.c - `esfs mount`: options, then the daemon. Without -f the
 * process forks; the child opens the store and mounts, then tells the
 * parent over a pipe whether that worked, so `esfs mount` exits 0 only once
 * the mount is ready and prints the reason when it is not.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "cli.h"
#include "fuse/mount.h"

static const char mount_usage[] =
    "usage: esfs mount [options] STORE MOUNTPOINT\n"
    "\n"
    "Serves the event store in the directory STORE (created when missing or empty)\n"
    "as a file system on MOUNTPOINT, and detaches once the mount is ready:\n"
    "  streams/<id>      append with `echo ... >> streams/<id>` (one event per line);\n"
    "                    read: the payloads, one per line\n"
    "  all               every event in global order, one JSON envelope per line\n"
    "  watch/all, watch/streams/<id>\n"
    "                    the same bytes; a read at the end waits for new events\n"
    "  .esfs/metrics     Prometheus text        .esfs/seal   write to seal\n"
    "Stop with `esfs umount MOUNTPOINT`, `fusermount3 -u MOUNTPOINT`, SIGTERM or\n"
    "SIGINT: queued appends are acknowledged or failed, never dropped.\n"
    "\n"
    "options:\n"
    "  -f, --foreground         stay in the foreground, log to standard error\n"
    "  --sync=MODE              always (default): a write returns after the fdatasync\n"
    "                           that covers it (concurrent writers share it);\n"
    "                           batch:MS: a write returns once written; fdatasync at\n"
    "                           most every MS milliseconds (an OS crash or power loss\n"
    "                           loses up to MS ms of acknowledged events);\n"
    "                           none: no fdatasync but at seal and stop (a power loss\n"
    "                           loses what the OS had not written)\n"
    "  --segment-size=SIZE      seal the active segment at SIZE (default 64M)\n"
    "  --max-event-size=SIZE    longest event line accepted (default 1M; max 64M)\n"
    "  --compress=zstd|none     how sealed segments store their blocks (default zstd)\n"
    "  --read-only              serve STORE (or a copy of its segments/) without\n"
    "                           writing to it; indexes are built in memory\n"
    "  -o allow_other           let other users use the mount (needs user_allow_other\n"
    "                           in /etc/fuse.conf for non-root); default: private\n"
    "  --log-level=LEVEL        error, warning, info (default) or debug\n"
    "  --log-file=PATH          append the daemon's log to PATH (default: syslog,\n"
    "                           or standard error with -f)\n"
    "  --stream-nodes=MODE      per-open (default): each open of a stream gets its own\n"
    "                           kernel inode, so concurrent appends to one stream share\n"
    "                           fsyncs; shared: one inode per stream (the kernel then\n"
    "                           serialises its appends)\n"
    "  --threads=N              FUSE worker threads (default 10)\n"
    "  --armed-ttl=SECONDS      lifetime of an armed expected version (default 60)\n"
    "\n"
    "SIZE takes a K, M or G suffix (powers of 1024).\n";

enum {
    OPT_SYNC = 256,
    OPT_SEGMENT,
    OPT_MAX_EVENT,
    OPT_COMPRESS,
    OPT_READ_ONLY,
    OPT_LOG_LEVEL,
    OPT_LOG_FILE,
    OPT_NODES,
    OPT_THREADS,
    OPT_TTL
};

static bool parse_sync(const char *s, struct es_options *o)
{
    if (!strcmp(s, "always")) {
        o->sync = ES_SYNC_ALWAYS;
        return true;
    }
    if (!strcmp(s, "none")) {
        o->sync = ES_SYNC_NONE;
        return true;
    }
    uint64_t ms;
    if (!strncmp(s, "batch:", 6) && cli_parse_u64(s + 6, &ms) && ms >= 1 && ms <= 60000) {
        o->sync = ES_SYNC_BATCH;
        o->sync_batch_ms = (uint32_t)ms;
        return true;
    }
    return false;
}

/* Absolute path of a directory that may not exist yet (its parent must). */
static bool absolute_dir(const char *path, char *out)
{
    if (realpath(path, out))
        return true;
    if (errno != ENOENT)
        return false;
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", path);
    char *slash = strrchr(parent, '/');
    const char *base = path;
    if (slash) {
        *slash = '\0';
        base = slash + 1;
        if (!*parent)
            strcpy(parent, "/");
    } else {
        strcpy(parent, ".");
    }
    char rp[PATH_MAX];
    if (!realpath(parent, rp))
        return false;
    snprintf(out, PATH_MAX, "%s/%s", strcmp(rp, "/") ? rp : "", base);
    return true;
}

/* Child side of the readiness pipe: "0" or "1<message>". */
static void report(int fd, int ok, const char *msg)
{
    if (fd < 0)
        return;
    char buf[1200];
    int n = snprintf(buf, sizeof(buf), "%d%s", ok ? 0 : 1, msg ? msg : "");
    if (write(fd, buf, (size_t)n) < 0) {
        /* the parent is gone; nothing to tell */
    }
    close(fd);
}

static int serve(struct es_mount_options *mo, int ready_fd)
{
    struct fs *fs;
    int rc = es_mount_start(mo, &fs);
    if (rc) {
        char msg[1100];
        snprintf(msg, sizeof(msg), "%s", es_error_detail());
        if (ready_fd >= 0)
            report(ready_fd, 0, msg);
        else
            cli_error("mount", "%s", msg);
        return EXIT_PROBLEM;
    }
    if (ready_fd >= 0) {
        report(ready_fd, 1, NULL);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            if (!mo->log_file || mo->log_file != stderr)
                dup2(null, STDERR_FILENO);
            if (null > STDERR_FILENO)
                close(null);
        }
    }
    rc = es_mount_run(fs);
    int src = es_mount_stop(fs);
    return rc || src ? EXIT_PROBLEM : EXIT_OK;
}

int cmd_mount(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, mount_usage))
        return EXIT_OK;
    static const struct option opts[] = {{"foreground", no_argument, NULL, 'f'},
                                         {"sync", required_argument, NULL, OPT_SYNC},
                                         {"segment-size", required_argument, NULL, OPT_SEGMENT},
                                         {"max-event-size", required_argument, NULL, OPT_MAX_EVENT},
                                         {"compress", required_argument, NULL, OPT_COMPRESS},
                                         {"read-only", no_argument, NULL, OPT_READ_ONLY},
                                         {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
                                         {"log-file", required_argument, NULL, OPT_LOG_FILE},
                                         {"stream-nodes", required_argument, NULL, OPT_NODES},
                                         {"threads", required_argument, NULL, OPT_THREADS},
                                         {"armed-ttl", required_argument, NULL, OPT_TTL},
                                         {0, 0, 0, 0}};
    struct es_mount_options mo;
    memset(&mo, 0, sizeof(mo));
    es_options_init(&mo.store_opt);
    mo.log_level = ES_LOG_INFO;
    mo.stream_nodes = ES_NODES_PER_OPEN;
    mo.max_threads = 10;
    mo.armed_ttl_s = 60;
    bool foreground = false;
    const char *log_file = NULL;
    uint64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "fo:", opts, NULL)) != -1) {
        switch (c) {
        case 'f': foreground = true; break;
        case 'o':
            if (!strcmp(optarg, "allow_other"))
                mo.allow_other = true;
            else {
                cli_error("mount", "unsupported -o option '%s' (only allow_other)", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_SYNC:
            if (!parse_sync(optarg, &mo.store_opt)) {
                cli_error("mount", "--sync takes always, batch:MS (1..60000) or none, not '%s'",
                          optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_SEGMENT:
            if (!cli_parse_size(optarg, &v) || v < (1u << 16)) {
                cli_error("mount", "--segment-size needs a size of at least 64K, not '%s'", optarg);
                return EXIT_USAGE;
            }
            mo.store_opt.segment_bytes = v;
            break;
        case OPT_MAX_EVENT:
            if (!cli_parse_size(optarg, &v) || v == 0 || v > ES_MAX_EVENT_BYTES_LIMIT) {
                cli_error("mount", "--max-event-size needs a size from 1 to 64M, not '%s'", optarg);
                return EXIT_USAGE;
            }
            mo.store_opt.max_event_bytes = (uint32_t)v;
            break;
        case OPT_COMPRESS:
            if (strcmp(optarg, "zstd") && strcmp(optarg, "none")) {
                cli_error("mount", "--compress takes zstd or none, not '%s'", optarg);
                return EXIT_USAGE;
            }
            mo.store_opt.compress = !strcmp(optarg, "zstd");
            break;
        case OPT_READ_ONLY: mo.store_opt.read_only = true; break;
        case OPT_LOG_LEVEL:
            if (!strcmp(optarg, "error"))
                mo.log_level = ES_LOG_ERROR;
            else if (!strcmp(optarg, "warning") || !strcmp(optarg, "warn"))
                mo.log_level = ES_LOG_WARN;
            else if (!strcmp(optarg, "info"))
                mo.log_level = ES_LOG_INFO;
            else if (!strcmp(optarg, "debug"))
                mo.log_level = ES_LOG_DEBUG;
            else {
                cli_error("mount", "--log-level takes error, warning, info or debug");
                return EXIT_USAGE;
            }
            break;
        case OPT_LOG_FILE: log_file = optarg; break;
        case OPT_NODES:
            if (!strcmp(optarg, "per-open"))
                mo.stream_nodes = ES_NODES_PER_OPEN;
            else if (!strcmp(optarg, "shared"))
                mo.stream_nodes = ES_NODES_SHARED;
            else {
                cli_error("mount", "--stream-nodes takes per-open or shared");
                return EXIT_USAGE;
            }
            break;
        case OPT_THREADS:
            if (!cli_parse_u64(optarg, &v) || v < 1 || v > 256) {
                cli_error("mount", "--threads takes 1..256");
                return EXIT_USAGE;
            }
            mo.max_threads = (unsigned)v;
            break;
        case OPT_TTL:
            if (!cli_parse_u64(optarg, &v) || v < 1 || v > 86400) {
                cli_error("mount", "--armed-ttl takes 1..86400 seconds");
                return EXIT_USAGE;
            }
            mo.armed_ttl_s = (unsigned)v;
            break;
        default: fputs(mount_usage, stderr); return EXIT_USAGE;
        }
    }
    if (optind + 2 != argc) {
        fputs(mount_usage, stderr);
        return EXIT_USAGE;
    }
    char store[PATH_MAX], mnt[PATH_MAX];
    if (!absolute_dir(argv[optind], store)) {
        cli_error("mount", "%s: %s", argv[optind], strerror(errno));
        return EXIT_PROBLEM;
    }
    if (!realpath(argv[optind + 1], mnt)) {
        cli_error("mount", "mount point %s: %s", argv[optind + 1], strerror(errno));
        return EXIT_PROBLEM;
    }
    struct stat st;
    if (stat(mnt, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cli_error("mount", "mount point %s is not a directory", mnt);
        return EXIT_PROBLEM;
    }
    mo.store = store;
    mo.mountpoint = mnt;
    if (log_file) {
        mo.log_file = fopen(log_file, "ae");
        if (!mo.log_file) {
            cli_error("mount", "log file %s: %s", log_file, strerror(errno));
            return EXIT_PROBLEM;
        }
    } else if (foreground) {
        mo.log_file = stderr;
    } else {
        openlog("esfs", LOG_PID, LOG_DAEMON);
    }
    if (foreground)
        return serve(&mo, -1);

    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        cli_error("mount", "pipe: %s", strerror(errno));
        return EXIT_PROBLEM;
    }
    pid_t pid = fork();
    if (pid < 0) {
        cli_error("mount", "fork: %s", strerror(errno));
        return EXIT_PROBLEM;
    }
    if (pid == 0) {
        close(pipefd[0]);
        setsid();
        _exit(serve(&mo, pipefd[1]));
    }
    close(pipefd[1]);
    char buf[1200];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(buf) - 1 && (r = read(pipefd[0], buf + n, sizeof(buf) - 1 - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        n += (size_t)r;
    }
    close(pipefd[0]);
    buf[n] = '\0';
    if (n > 0 && buf[0] == '0')
        return EXIT_OK;
    cli_error("mount", "%s", n > 1 ? buf + 1 : "the daemon exited before the mount was ready");
    return EXIT_PROBLEM;
}
