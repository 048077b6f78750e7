/*
 * main.c - the esfs command: dispatches to the subcommands and owns the
 * top-level help text (kept in step with README.md and docs/).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "esfs " ESFS_VERSION " - an event store whose interface is a filesystem\n"
    "\n"
    "usage: esfs COMMAND [options] ...\n"
    "\n"
    "commands:\n"
    "  mount [options] STORE MOUNTPOINT   serve the store at STORE on MOUNTPOINT\n"
    "  umount MOUNTPOINT                  stop a mount cleanly (waits for the daemon)\n"
    "  verify STORE                       check every frame, segment and index\n"
    "  dump STORE [--from POS] [--stream ID]\n"
    "                                     print events as JSON envelopes, unmounted\n"
    "  reindex STORE                      rebuild the derived indexes from the segments\n"
    "  append [--expect N] STREAMFILE [PAYLOAD]\n"
    "                                     append with an expected-version check\n"
    "  seal MOUNTPOINT                    seal the active segment into segments/\n"
    "\n"
    "`esfs COMMAND --help` describes each command and its options.\n"
    "\n"
    "The mount:\n"
    "  streams/<id>          append: one event per line; read: the payloads, one per line\n"
    "  all                   every event in global order, one JSON envelope per line\n"
    "  watch/all, watch/streams/<id>\n"
    "                        the same bytes; a read at the end waits for new events\n"
    "  .esfs/metrics         Prometheus text; .esfs/seal: write to seal\n"
    "\n"
    "exit status: 0 success, 1 failure (or problems found), 2 bad usage,\n"
    "3 expected-version conflict (append --expect)\n";

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "esfs %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool cli_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool cli_parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    size_t n = strlen(s);
    uint64_t mult = 1;
    char last = s[n - 1];
    if (last == 'K' || last == 'k')
        mult = 1024;
    else if (last == 'M' || last == 'm')
        mult = 1024 * 1024;
    else if (last == 'G' || last == 'g')
        mult = 1024ull * 1024 * 1024;
    char buf[32];
    if (n >= sizeof(buf))
        return false;
    memcpy(buf, s, n + 1);
    if (mult != 1)
        buf[n - 1] = '\0';
    uint64_t v;
    if (!cli_parse_u64(buf, &v) || v > UINT64_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

void cli_log(void *arg, enum es_log_level level, const char *msg)
{
    (void)arg;
    static const char *names[] = {"error", "warning", "info", "debug"};
    if (level > ES_LOG_INFO)
        return;
    fprintf(stderr, "esfs: %s: %s\n", names[level], msg);
}

bool cli_wants_help(int argc, char **argv, const char *text)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(text, stdout);
            return true;
        }
    }
    return false;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("esfs %s (format version %u)\n", ESFS_VERSION, ES_FORMAT_VERSION);
        return EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"mount", cmd_mount}, {"umount", cmd_umount},   {"verify", cmd_verify},
                {"dump", cmd_dump},   {"reindex", cmd_reindex}, {"append", cmd_append},
                {"seal", cmd_seal}};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(cmd, cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "esfs: unknown command '%s'\n\n%s", cmd, usage);
    return EXIT_USAGE;
}
