/*
 * fault_io.h - an I/O seam for tests: counts every call by operation and
 * fails chosen ones (an errno, or a short write), optionally only for paths
 * containing a given text. Install it before opening a store; uninstall
 * after closing it.
 */
#ifndef ES_TEST_FAULT_IO_H
#define ES_TEST_FAULT_IO_H

#include <stdbool.h>
#include <stdint.h>

enum fault_op {
    FAULT_OPEN,
    FAULT_PREAD,
    FAULT_PWRITE,
    FAULT_FSYNC,
    FAULT_FDATASYNC,
    FAULT_FTRUNCATE,
    FAULT_RENAME,
    FAULT_UNLINK,
    FAULT_MKDIR,
    FAULT_FALLOCATE,
    FAULT_N_OPS
};

struct fault_rule {
    enum fault_op op;
    const char *path_contains; /* NULL: any file */
    uint64_t skip;             /* let this many matching calls through first */
    uint64_t times;            /* then fail this many (0: every later one) */
    int errno_value;           /* errno of the failure */
    bool short_write;          /* FAULT_PWRITE: write half, then fail the rest */
};

void fault_io_install(void);
void fault_io_uninstall(void);
/* Forgets the rules and zeroes the counters. */
void fault_io_reset(void);
/* Adds a rule (at most 16). */
void fault_io_add(const struct fault_rule *r);
/* Calls made of op since the last reset, and how many were failed. */
uint64_t fault_io_calls(enum fault_op op);
uint64_t fault_io_failed(enum fault_op op);
/* Replaces the wall clock the store reads (NULL: the real one). */
void fault_io_set_clock(int64_t (*now_ns)(void));

#endif
