/*
 * cmd_offline.c - the commands that work on a store directory without a
 * mount: verify, dump and reindex.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char verify_usage[] =
    "usage: esfs verify [-q] STORE\n"
    "\n"
    "Checks the store at STORE without changing it: every frame's checksum, the\n"
    "position sequence 1, 2, 3, ..., every stream's versions and timestamps, each\n"
    "sealed segment's header, block index, block checksums, footer and whole-file\n"
    "hash, and the index checkpoint against the log. Every problem is reported\n"
    "with its file and byte offset. A torn tail of the active segment (left by a\n"
    "crash) is reported but is not a problem: the next open cuts it.\n"
    "It may run while a daemon serves the store.\n"
    "\n"
    "  -q, --quiet   print problems and the summary only\n"
    "\n"
    "exit status: 0 when the store is sound, 1 when problems were found, 2 on\n"
    "bad usage or when STORE is not a store.\n";

struct verify_out {
    bool quiet;
};

static void verify_line(void *arg, bool problem, const char *line)
{
    struct verify_out *o = arg;
    if (problem)
        printf("problem: %s\n", line);
    else if (!o->quiet || strstr(line, " problems") != NULL)
        printf("%s\n", line);
}

int cmd_verify(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, verify_usage))
        return EXIT_OK;
    static const struct option opts[] = {{"quiet", no_argument, NULL, 'q'}, {0, 0, 0, 0}};
    struct verify_out out = {false};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
        if (c == 'q')
            out.quiet = true;
        else {
            fputs(verify_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fputs(verify_usage, stderr);
        return EXIT_USAGE;
    }
    struct es_verify_summary sum;
    int rc = es_store_verify(argv[optind], verify_line, &out, &sum);
    fflush(stdout);
    if (rc == 0)
        return EXIT_OK;
    if (rc == ES_ECORRUPT)
        return EXIT_PROBLEM;
    cli_error("verify", "%s", es_error_detail());
    return rc == ES_ENOTSTORE ? EXIT_USAGE : EXIT_PROBLEM;
}

static const char dump_usage[] =
    "usage: esfs dump STORE [--from POS] [--stream ID]\n"
    "\n"
    "Prints the events of the store at STORE as JSON envelopes, one per line, in\n"
    "global order - the same bytes the mounted `all` serves:\n"
    "  {\"pos\":1,\"stream\":\"Order-1\",\"ver\":1,\"type\":\"OrderPlaced\",\n"
    "   \"ts\":\"2026-11-22T11:00:00.123456789Z\",\"data\":{...}}\n"
    "Reads the segments directly (no mount, no index); it may run while a daemon\n"
    "serves the store, and then shows what is on disk at that moment.\n"
    "\n"
    "  --from POS     start at global position POS (default 1)\n"
    "  --stream ID    only the events of stream ID\n";

struct dump_ctx {
    char *buf;
    size_t cap;
    int err;
};

static int dump_one(void *arg, const struct es_event *ev)
{
    struct dump_ctx *d = arg;
    size_t len = es_envelope_render(ev, NULL, 0);
    if (len > d->cap) {
        char *p = realloc(d->buf, len);
        if (!p) {
            d->err = 1;
            return 1;
        }
        d->buf = p;
        d->cap = len;
    }
    es_envelope_render(ev, d->buf, d->cap);
    if (fwrite(d->buf, 1, len, stdout) != len) {
        d->err = 2;
        return 1;
    }
    return 0;
}

int cmd_dump(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, dump_usage))
        return EXIT_OK;
    static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                         {"stream", required_argument, NULL, 's'},
                                         {0, 0, 0, 0}};
    uint64_t from = 1;
    const char *stream = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'f' && cli_parse_u64(optarg, &from) && from > 0)
            continue;
        if (c == 's') {
            stream = optarg;
            continue;
        }
        if (c == 'f')
            cli_error("dump", "--from needs a position >= 1, not '%s'", optarg);
        fputs(dump_usage, stderr);
        return EXIT_USAGE;
    }
    if (optind + 1 != argc) {
        fputs(dump_usage, stderr);
        return EXIT_USAGE;
    }
    if (stream && es_stream_name_check(stream, strlen(stream)) != 0) {
        cli_error("dump", "%s", es_error_detail());
        return EXIT_USAGE;
    }
    struct dump_ctx d = {NULL, 0, 0};
    int rc = es_store_scan(argv[optind], from, stream, stream ? strlen(stream) : 0, dump_one, &d);
    free(d.buf);
    if (fflush(stdout) != 0 || d.err == 2) {
        cli_error("dump", "writing to standard output failed");
        return EXIT_PROBLEM;
    }
    if (rc < 0 || d.err) {
        cli_error("dump", "%s", d.err ? "out of memory" : es_error_detail());
        return rc == ES_ENOTSTORE ? EXIT_USAGE : EXIT_PROBLEM;
    }
    return EXIT_OK;
}

static const char reindex_usage[] =
    "usage: esfs reindex STORE\n"
    "\n"
    "Deletes the derived indexes of the store at STORE (index/) and rebuilds them\n"
    "from the segments, then writes a checkpoint. Needs the store lock: stop the\n"
    "daemon serving STORE first. Nothing but derived data is touched; a daemon\n"
    "does the same by itself when it finds the indexes missing or damaged.\n";

int cmd_reindex(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, reindex_usage))
        return EXIT_OK;
    if (argc != 2 || argv[1][0] == '-') {
        fputs(reindex_usage, stderr);
        return EXIT_USAGE;
    }
    struct es_options o;
    es_options_init(&o);
    o.log = cli_log;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t events = 0;
    int rc = es_store_reindex(argv[1], &o, &events);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc) {
        cli_error("reindex", "%s", es_error_detail());
        return rc == ES_ENOTSTORE ? EXIT_USAGE : EXIT_PROBLEM;
    }
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("reindexed %llu events in %.3f s (%.0f events/s)\n", (unsigned long long)events, s,
           s > 0 ? (double)events / s : 0.0);
    return EXIT_OK;
}
