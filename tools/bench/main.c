/*
 * main.c - esfs-bench: the command line. Each mode measures one thing and
 * prints one line of key=value pairs on standard output (what
 * tools/bench/run.sh collects); problems go to standard error and make the
 * exit status 1 (2 for bad usage). docs/performance.md explains the modes
 * and the figures.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static const char usage[] =
    "usage: esfs-bench MODE [options]\n"
    "\n"
    "Durable appends (C writer threads, E events over S streams, ~200-byte JSON;\n"
    "prints appends/s and p50/p99/p999 append latency):\n"
    "  append   through a mounted esfs: --dir MOUNT (write(2) to streams/<id>;\n"
    "           --expect arms user.esfs.expected_version with fsetxattr first;\n"
    "           --expect-xattr checks and appends in one fsetxattr of\n"
    "           user.esfs.append.N)\n"
    "  lib      the library alone, es_store_append: --dir STORE [--sync=always|none]\n"
    "  file     the same frames to a plain file: --path FILE --fsync=group|each\n"
    "  pg       PostgreSQL write_message() through libpq: --conninfo STR\n"
    "Other modes:\n"
    "  fill     builds a store fast (library, async, no fsync): --dir STORE\n"
    "  read     sequential reads like cat: --path FILE, or --dir DIR with\n"
    "           --prefix and --streams (reads DIR/PREFIX0 .. DIR/PREFIX<S-1>)\n"
    "  watch    fan-out: --watchers N readers block on MOUNT/watch/all, then\n"
    "           --rounds R single appends; wake-up latencies\n"
    "  free-port  prints a free TCP port on 127.0.0.1\n"
    "  features   prints which targets this build has\n"
    "\n"
    "options:\n"
    "  --dir DIR          mount point or store directory\n"
    "  --path FILE        plain file\n"
    "  -s, --streams S    streams (default 1000)\n"
    "  -e, --events E     events in all (default 100000)\n"
    "  -c, --writers C    concurrent writer threads (default 1)\n"
    "  --payload BYTES    payload size (default 200)\n"
    "  --expect           every append checks the expected version\n"
    "  --one-stream       all writers append to one stream (PREFIX0)\n"
    "  --prefix P         stream names P0, P1, ... (default bench-)\n"
    "  --max-seconds T    writers stop after T seconds (default: never)\n"
    "  --fsync MODE       file: group (a committer thread) or each\n"
    "  --prealloc         file (group): zero-fill the file, then overwrite it\n"
    "  --sync MODE        lib, fill: always or none\n"
    "  --conninfo STR     pg: libpq connection string\n"
    "  --watchers N       watch: blocked readers (default 1000)\n"
    "  --rounds R         watch: appends (default 20)\n"
    "  --read-size BYTES  read, watch: read(2) size (default: read like GNU cat,\n"
    "                     max(128 KiB, st_blksize); watch: 131072)\n"
    "  --crash            fill: once every append is written, exit without\n"
    "                     closing the store (as if killed: no final checkpoint)\n";

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("esfs-bench: free-port");
        return 1;
    }
    printf("%u\n", ntohs(a.sin_port));
    close(fd);
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    struct bench_opts o = {.mode = argv[1],
                           .prefix = "bench-",
                           .events = 100000,
                           .streams = 1000,
                           .writers = 1,
                           .payload_bytes = 200,
                           .watchers = 1000,
                           .rounds = 20,
                           .read_bytes = 0};
    enum {
        O_DIR = 256,
        O_PATH,
        O_PAYLOAD,
        O_EXPECT,
        O_EXPECT_XATTR,
        O_ONE,
        O_PREFIX,
        O_MAXS,
        O_FSYNC,
        O_SYNC,
        O_CONN,
        O_WATCHERS,
        O_ROUNDS,
        O_READSZ,
        O_CRASH,
        O_PREALLOC
    };
    static const struct option longopts[] = {{"dir", required_argument, NULL, O_DIR},
                                             {"path", required_argument, NULL, O_PATH},
                                             {"streams", required_argument, NULL, 's'},
                                             {"events", required_argument, NULL, 'e'},
                                             {"writers", required_argument, NULL, 'c'},
                                             {"payload", required_argument, NULL, O_PAYLOAD},
                                             {"expect", no_argument, NULL, O_EXPECT},
                                             {"expect-xattr", no_argument, NULL, O_EXPECT_XATTR},
                                             {"one-stream", no_argument, NULL, O_ONE},
                                             {"prefix", required_argument, NULL, O_PREFIX},
                                             {"max-seconds", required_argument, NULL, O_MAXS},
                                             {"fsync", required_argument, NULL, O_FSYNC},
                                             {"sync", required_argument, NULL, O_SYNC},
                                             {"conninfo", required_argument, NULL, O_CONN},
                                             {"watchers", required_argument, NULL, O_WATCHERS},
                                             {"rounds", required_argument, NULL, O_ROUNDS},
                                             {"read-size", required_argument, NULL, O_READSZ},
                                             {"crash", no_argument, NULL, O_CRASH},
                                             {"prealloc", no_argument, NULL, O_PREALLOC},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "s:e:c:h", longopts, NULL)) != -1) {
        uint64_t v = 0;
        bool numeric = c == 's' || c == 'e' || c == 'c' || c == O_PAYLOAD || c == O_WATCHERS ||
                       c == O_ROUNDS || c == O_READSZ;
        if (numeric && (parse_u64(optarg, &v) != 0 || v == 0 || v > (1ULL << 32))) {
            fprintf(stderr, "esfs-bench: bad number '%s'\n", optarg);
            return 2;
        }
        switch (c) {
        case O_DIR: o.dir = optarg; break;
        case O_PATH: o.path = optarg; break;
        case 's': o.streams = (unsigned)v; break;
        case 'e': o.events = v; break;
        case 'c': o.writers = (unsigned)v; break;
        case O_PAYLOAD: o.payload_bytes = v; break;
        case O_EXPECT: o.expect = true; break;
        case O_EXPECT_XATTR: o.expect = o.expect_xattr = true; break;
        case O_ONE: o.one_stream = true; break;
        case O_PREFIX: o.prefix = optarg; break;
        case O_MAXS: o.max_seconds = strtod(optarg, NULL); break;
        case O_FSYNC: o.fsync = optarg; break;
        case O_SYNC: o.sync = optarg; break;
        case O_CONN: o.conninfo = optarg; break;
        case O_WATCHERS: o.watchers = (unsigned)v; break;
        case O_ROUNDS: o.rounds = (unsigned)v; break;
        case O_READSZ: o.read_bytes = v; break;
        case O_CRASH: o.crash = true; break;
        case O_PREALLOC: o.prealloc = true; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    /* a writer keeps a descriptor per stream, a watcher one each */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    const char *m = o.mode;
    bool needs_dir =
        !strcmp(m, "append") || !strcmp(m, "lib") || !strcmp(m, "fill") || !strcmp(m, "watch");
    if ((needs_dir && !o.dir) || (!strcmp(m, "file") && !o.path) ||
        (!strcmp(m, "read") && !o.path && !o.dir)) {
        fprintf(stderr, "esfs-bench %s: --dir or --path is missing\n", m);
        return 2;
    }
    if (!strcmp(m, "append"))
        return bench_run_appends(&o, &bench_target_mount);
    if (!strcmp(m, "lib"))
        return bench_run_appends(&o, &bench_target_lib);
    if (!strcmp(m, "file"))
        return bench_run_appends(&o, &bench_target_file);
    if (!strcmp(m, "pg")) {
#ifdef ESFS_BENCH_HAVE_PQ
        return bench_run_appends(&o, &bench_target_pg);
#else
        fprintf(stderr, "esfs-bench: built without libpq (install libpq-dev, reconfigure)\n");
        return 2;
#endif
    }
    if (!strcmp(m, "fill"))
        return bench_fill(&o);
    if (!strcmp(m, "read"))
        return bench_read(&o);
    if (!strcmp(m, "watch"))
        return bench_watch(&o);
    if (!strcmp(m, "free-port"))
        return free_port();
    if (!strcmp(m, "features")) {
#ifdef ESFS_BENCH_HAVE_PQ
        puts("lib file append read watch fill pg");
#else
        puts("lib file append read watch fill");
#endif
        return 0;
    }
    fprintf(stderr, "esfs-bench: unknown mode '%s'\n", m);
    fputs(usage, stderr);
    return 2;
}
