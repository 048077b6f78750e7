/*
 * tmpdir.c - temporary directories and small file helpers for tests.
 */
#include "tmpdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void tmpdir_make(char *buf, size_t cap, const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(buf, cap, "%s/esfs-%s-XXXXXX", base, tag);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        abort();
    }
}

void tmpdir_remove(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                    continue;
                char sub[4096];
                snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
                tmpdir_remove(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

char *file_read_all(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t done = 0;
    while (buf && done < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + done, (size_t)st.st_size - done);
        if (r <= 0)
            break;
        done += (size_t)r;
    }
    close(fd);
    if (!buf)
        return NULL;
    buf[done] = '\0';
    if (len)
        *len = done;
    return buf;
}

int file_write_all(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -errno;
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            int e = errno;
            close(fd);
            return -e;
        }
        p += w;
        len -= (size_t)w;
    }
    close(fd);
    return 0;
}

int64_t file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (int64_t)st.st_size;
}

int tree_copy(const char *src, const char *dst)
{
    struct stat st;
    if (lstat(src, &st) != 0)
        return -errno;
    if (S_ISDIR(st.st_mode)) {
        if (mkdir(dst, 0755) != 0 && errno != EEXIST)
            return -errno;
        DIR *d = opendir(src);
        if (!d)
            return -errno;
        struct dirent *de;
        int rc = 0;
        while (rc == 0 && (de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char s[4096], t[4096];
            snprintf(s, sizeof(s), "%s/%s", src, de->d_name);
            snprintf(t, sizeof(t), "%s/%s", dst, de->d_name);
            rc = tree_copy(s, t);
        }
        closedir(d);
        return rc;
    }
    if (!S_ISREG(st.st_mode))
        return 0;
    size_t len;
    char *data = file_read_all(src, &len);
    if (!data)
        return -EIO;
    int rc = file_write_all(dst, data, len);
    free(data);
    return rc;
}
