/*
 * tmpdir.h - temporary directories for tests, removed recursively.
 */
#ifndef ES_TEST_TMPDIR_H
#define ES_TEST_TMPDIR_H

#include <stddef.h>
#include <stdint.h>

/* Creates a fresh directory under $TMPDIR (or /tmp) named esfs-<tag>-XXXXXX;
 * the path is written to buf. Aborts the test program on failure. */
void tmpdir_make(char *buf, size_t cap, const char *tag);
/* rm -rf path (no symlink following). */
void tmpdir_remove(const char *path);
/* Reads a whole file (malloc'd, NUL-terminated); NULL if it cannot. */
char *file_read_all(const char *path, size_t *len);
/* Writes data to path (create/truncate); 0 or -errno. */
int file_write_all(const char *path, const void *data, size_t len);
/* Size of a file, or -1. */
int64_t file_size(const char *path);
/* Copies the directory tree src to dst (files and directories only). */
int tree_copy(const char *src, const char *dst);

#endif
