/*
 * cmd_client.c - commands that talk to a running mount through its files:
 * append (with an expected-version check), seal and umount.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cli.h"

#define XATTR_VERSION    "user.esfs.version"
#define XATTR_EXPECTED   "user.esfs.expected_version"
#define XATTR_PID        "user.esfs.pid"
#define XATTR_APPEND     "user.esfs.append."
#define XATTR_VALUE_MAX  65536u /* the kernel's limit for an xattr value */
#define MAX_ATOMIC_WRITE (1u << 20)

static const char append_usage[] =
    "usage: esfs append [--expect N|any] STREAMFILE [PAYLOAD]\n"
    "\n"
    "Appends PAYLOAD (or, without it, the lines of standard input) to the stream\n"
    "file STREAMFILE of a mount (e.g. es/streams/Order-123) as one write(2): each\n"
    "line is one event, all appended atomically or none. With --expect N the\n"
    "append happens only if the stream then holds exactly N events (0: the stream\n"
    "must not exist yet); the check and the append are one atomic step in the\n"
    "daemon. This is `setfattr -n user.esfs.expected_version -v N` and the write\n"
    "done from one thread, which a shell cannot do for its own echo. Up to 64 KiB\n"
    "goes as one request, setting user.esfs.append.N (the value is the lines).\n"
    "\n"
    "  --expect N     the expected version (a count of events), or 'any'\n"
    "\n"
    "At most 1 MiB is written with --expect (one atomic write); without it, longer\n"
    "input is written in 1 MiB pieces of whole lines.\n"
    "\n"
    "exit status: 0 appended, 3 the stream is at another version (nothing was\n"
    "appended; the actual version is printed), 1 other failures, 2 bad usage.\n";

static int read_all(int fd, char **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        if (n == cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                return -ENOMEM;
            }
            buf = p;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int write_full(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The kernel hands one write(2) to the daemon as one request (appended
 * atomically) only while its bytes lie in at most 256 pages (max_pages):
 * 1 MiB from a page boundary, 4 KiB less in the worst case. */
#define PAGE_BYTES 4096u

/* Writes data in pieces of whole lines that each arrive as one request:
 * at most MAX_ATOMIC_WRITE bytes, less the piece's offset into its page. */
static int write_lines(int fd, const char *p, size_t n)
{
    while (n > 0) {
        size_t take = n;
        size_t max = MAX_ATOMIC_WRITE - (size_t)((uintptr_t)p % PAGE_BYTES);
        if (take > max) {
            take = max;
            while (take > 0 && p[take - 1] != '\n')
                take--;
            if (take == 0) { /* one line that long: its pieces are joined anyway */
                take = n < MAX_ATOMIC_WRITE ? n : MAX_ATOMIC_WRITE;
                while (take > 0 && p[take - 1] != '\n')
                    take--;
            }
            if (take == 0)
                return -EMSGSIZE;
        }
        int rc = write_full(fd, p, take);
        if (rc)
            return rc;
        p += take;
        n -= take;
    }
    return 0;
}

int cmd_append(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, append_usage))
        return EXIT_OK;
    static const struct option opts[] = {{"expect", required_argument, NULL, 'e'}, {0, 0, 0, 0}};
    const char *expect = NULL;
    uint64_t expected = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        if (c == 'e' && (!strcmp(optarg, "any") || cli_parse_u64(optarg, &expected))) {
            expect = optarg;
            continue;
        }
        if (c == 'e')
            cli_error("append", "--expect needs a number of events or 'any', not '%s'", optarg);
        fputs(append_usage, stderr);
        return EXIT_USAGE;
    }
    if (argc - optind < 1 || argc - optind > 2) {
        fputs(append_usage, stderr);
        return EXIT_USAGE;
    }
    const char *path = argv[optind];
    char *data = NULL;
    size_t len = 0;
    if (argc - optind == 2) {
        const char *payload = argv[optind + 1];
        len = strlen(payload);
        data = malloc(len + 2);
        if (!data)
            return EXIT_PROBLEM;
        memcpy(data, payload, len);
    } else {
        int rc = read_all(STDIN_FILENO, &data, &len);
        if (rc) {
            cli_error("append", "reading standard input: %s", strerror(-rc));
            return EXIT_PROBLEM;
        }
        char *p = realloc(data, len + 2);
        if (!p) {
            free(data);
            return EXIT_PROBLEM;
        }
        data = p;
    }
    if (len == 0) {
        cli_error("append", "nothing to append (empty lines are not events)");
        free(data);
        return EXIT_USAGE;
    }
    if (data[len - 1] != '\n')
        data[len++] = '\n';
    if (expect && strcmp(expect, "any") != 0 && len > MAX_ATOMIC_WRITE) {
        cli_error("append", "%zu bytes is more than one atomic write (1 MiB) with --expect", len);
        free(data);
        return EXIT_USAGE;
    }
    /* from a page boundary, so that up to 1 MiB is one write(2) and one
     * request (write_lines) */
    char *aligned = NULL;
    if (posix_memalign((void **)&aligned, PAGE_BYTES, len) != 0) {
        free(data);
        return EXIT_PROBLEM;
    }
    memcpy(aligned, data, len);
    free(data);
    data = aligned;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) {
        cli_error("append", "%s: %s", path, strerror(errno));
        free(data);
        return EXIT_PROBLEM;
    }
    int rc = 0;
    if (expect && len <= XATTR_VALUE_MAX) {
        /* the check and the append in one request (user.esfs.append.N) */
        char name[64];
        snprintf(name, sizeof(name), "%s%s", XATTR_APPEND, expect);
        if (fsetxattr(fd, name, data, len, 0) != 0)
            rc = -errno;
    } else {
        /* longer: arm the check for this thread, then one write(2) */
        if (expect && fsetxattr(fd, XATTR_EXPECTED, expect, strlen(expect), 0) != 0)
            rc = -errno;
        if (rc == 0)
            rc = write_lines(fd, data, len);
    }
    char actual[32] = "";
    if (rc == -ECANCELED) {
        ssize_t n = fgetxattr(fd, XATTR_VERSION, actual, sizeof(actual) - 1);
        actual[n > 0 ? n : 0] = '\0';
    }
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    free(data);
    if (rc == -ECANCELED) {
        cli_error("append", "%s: expected version %s, but the stream is at version %s (%s)", path,
                  expect, actual[0] ? actual : "?", strerror(ECANCELED));
        return EXIT_CONFLICT;
    }
    if (rc) {
        cli_error("append", "%s: %s", path, strerror(-rc));
        return EXIT_PROBLEM;
    }
    return EXIT_OK;
}

static const char seal_usage[] =
    "usage: esfs seal MOUNTPOINT\n"
    "\n"
    "Seals the active segment of the store mounted at MOUNTPOINT (the same as\n"
    "writing to MOUNTPOINT/.esfs/seal). Returns once every event appended before\n"
    "it is in a sealed segment that is durable in STORE/segments/: copying that\n"
    "folder then is a backup of all those events.\n";

int cmd_seal(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, seal_usage))
        return EXIT_OK;
    if (argc != 2) {
        fputs(seal_usage, stderr);
        return EXIT_USAGE;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/.esfs/seal", argv[1]);
    int fd = open(path, O_WRONLY);
    if (fd < 0) {
        cli_error("seal", "%s: %s", path, strerror(errno));
        return EXIT_PROBLEM;
    }
    int rc = write_full(fd, "seal\n", 5);
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc) {
        cli_error("seal", "%s: %s", argv[1], strerror(-rc));
        return EXIT_PROBLEM;
    }
    return EXIT_OK;
}

static const char umount_usage[] =
    "usage: esfs umount MOUNTPOINT\n"
    "\n"
    "Unmounts MOUNTPOINT (fusermount3 -u) and waits until the daemon has finished:\n"
    "queued appends acknowledged or failed, the log synced, the index\n"
    "checkpointed and the store unlocked.\n";

int cmd_umount(int argc, char **argv)
{
    if (cli_wants_help(argc, argv, umount_usage))
        return EXIT_OK;
    if (argc != 2) {
        fputs(umount_usage, stderr);
        return EXIT_USAGE;
    }
    const char *mnt = argv[1];
    char pidbuf[32];
    ssize_t n = getxattr(mnt, XATTR_PID, pidbuf, sizeof(pidbuf) - 1);
    int pidfd = -1;
    if (n > 0) {
        pidbuf[n] = '\0';
        pidfd = (int)syscall(SYS_pidfd_open, (pid_t)atoi(pidbuf), 0);
    } else if (errno == ENOTCONN) {
        cli_error("umount",
                  "%s: the daemon is gone (transport endpoint not connected); "
                  "unmounting anyway",
                  mnt);
    }
    pid_t child = fork();
    if (child < 0) {
        cli_error("umount", "fork: %s", strerror(errno));
        return EXIT_PROBLEM;
    }
    if (child == 0) {
        execlp("fusermount3", "fusermount3", "-u", mnt, (char *)NULL);
        fprintf(stderr, "esfs umount: running fusermount3: %s\n", strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (pidfd >= 0)
            close(pidfd);
        return EXIT_PROBLEM;
    }
    if (pidfd >= 0) {
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        int r;
        while ((r = poll(&p, 1, 120000)) < 0 && errno == EINTR)
            ;
        close(pidfd);
        if (r == 0) {
            cli_error("umount", "%s is unmounted, but the daemon has not exited after 120 s", mnt);
            return EXIT_PROBLEM;
        }
    }
    return EXIT_OK;
}
