/*
 * cli.h - the esfs command: one entry point per subcommand, and the few
 * helpers they share. Only the CLI talks to the terminal.
 */
#ifndef ES_CLI_CLI_H
#define ES_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "esfs/esfs.h"

/* Exit statuses (also in `esfs --help`). */
enum {
    EXIT_OK = 0,
    EXIT_PROBLEM = 1, /* the operation failed, or verify found problems */
    EXIT_USAGE = 2,   /* bad command line */
    EXIT_CONFLICT = 3 /* append --expect: the stream is at another version */
};

int cmd_mount(int argc, char **argv);
int cmd_umount(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
int cmd_append(int argc, char **argv);
int cmd_seal(int argc, char **argv);

/* "esfs <cmd>: <message>" on stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses a decimal u64 (no sign, no junk); false when it is not one. */
bool cli_parse_u64(const char *s, uint64_t *out);
/* Parses a size with an optional K, M or G suffix (powers of 1024). */
bool cli_parse_size(const char *s, uint64_t *out);
/* The store's log lines on stderr, prefixed with the level. */
void cli_log(void *arg, enum es_log_level level, const char *msg);
/* Whether argv holds -h or --help; prints usage then. */
bool cli_wants_help(int argc, char **argv, const char *usage);

#endif
