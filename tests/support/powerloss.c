/*
 * powerloss.c - the power-loss simulator (see powerloss.h).
 *
 * Model: a node per file or directory ever seen under the root. A file node
 * keeps its durable bytes (copied at each successful fsync/fdatasync, read
 * back through /proc/self/fd so write-only and unlinked files work too); a
 * directory node keeps its durable entries (name -> node), replaced by the
 * real listing at each fsync of the directory. Nodes are never freed while
 * the simulation runs: a file renamed away or unlinked without a directory
 * fsync is still what its old, durable entry names. powerloss_apply() reads
 * every file's current bytes, builds the tree the durable entries describe,
 * empties the root and writes that tree.
 */
#include "powerloss.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"

#define PL_PAGE    4096u
#define PL_MAX_FDS 4096

struct pl_node;

struct pl_entry {
    char *name;
    struct pl_node *node;
};

struct pl_node {
    struct pl_node *next; /* every node */
    bool is_dir;
    char *path; /* current path; NULL once unlinked or renamed over */
    /* files */
    unsigned char *durable;
    size_t durable_len;
    unsigned char *dropped; /* per page: a failed writeback lost it */
    size_t n_dropped;
    /* directories */
    struct pl_entry *entries;
    size_t n_entries;
    /* powerloss_apply() scratch */
    unsigned char *cur;
    size_t cur_len;
    bool has_cur;
};

/* The tree powerloss_apply() writes. */
struct pl_want {
    char *name;
    bool is_dir;
    unsigned char *data;
    size_t len;
    struct pl_want *kids;
    size_t n_kids;
};

static pthread_mutex_t pl_lock = PTHREAD_MUTEX_INITIALIZER;
static char pl_root[PATH_MAX];
static size_t pl_root_len;
static struct pl_node *pl_nodes;
static struct pl_node *pl_root_node;
static struct pl_node *pl_fd[PL_MAX_FDS];
static uint64_t pl_steps, pl_crash_at;
static bool pl_crashed;
static char pl_crash_what[PATH_MAX + 64];
static char pl_fail_pat[256];
static uint64_t pl_fail_nth, pl_fail_seen;
static bool pl_fail_hit;
static uint64_t pl_fail_step;
static bool pl_trace; /* ESFS_POWERLOSS_TRACE: print every step */
static char **pl_sync_paths;
static size_t pl_n_syncs, pl_cap_syncs;
static uint64_t pl_rng;

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "powerloss: out of memory\n");
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

static uint64_t rnd(void)
{
    pl_rng ^= pl_rng << 13;
    pl_rng ^= pl_rng >> 7;
    pl_rng ^= pl_rng << 17;
    return pl_rng;
}

static bool under_root(const char *path)
{
    return path && strncmp(path, pl_root, pl_root_len) == 0 &&
           (path[pl_root_len] == '/' || path[pl_root_len] == '\0');
}

static const char *rel(const char *path)
{
    if (!under_root(path))
        return path ? path : "?";
    return path[pl_root_len] ? path + pl_root_len + 1 : ".";
}

static struct pl_node *node_new(bool is_dir, const char *path)
{
    struct pl_node *n = calloc(1, sizeof(*n));
    if (!n)
        abort();
    n->is_dir = is_dir;
    n->path = path ? xstrdup(path) : NULL;
    n->next = pl_nodes;
    pl_nodes = n;
    return n;
}

static struct pl_node *node_find(const char *path)
{
    for (struct pl_node *n = pl_nodes; n; n = n->next)
        if (n->path && strcmp(n->path, path) == 0)
            return n;
    return NULL;
}

static void entries_free(struct pl_node *n)
{
    for (size_t i = 0; i < n->n_entries; i++)
        free(n->entries[i].name);
    free(n->entries);
    n->entries = NULL;
    n->n_entries = 0;
}

static void nodes_free(void)
{
    while (pl_nodes) {
        struct pl_node *n = pl_nodes;
        pl_nodes = n->next;
        entries_free(n);
        free(n->path);
        free(n->durable);
        free(n->dropped);
        free(n->cur);
        free(n);
    }
    pl_root_node = NULL;
    memset(pl_fd, 0, sizeof(pl_fd));
}

/* Reads all of the open file fd (from offset 0) with the real syscalls. */
static unsigned char *read_all_fd(int fd, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return NULL;
    size_t cap = (size_t)st.st_size, done = 0;
    unsigned char *buf = xmalloc(cap);
    for (;;) {
        if (done == cap) {
            unsigned char probe;
            if (pread(fd, &probe, 1, (off_t)done) <= 0)
                break;
            cap = cap * 2 + PL_PAGE;
            unsigned char *nb = realloc(buf, cap);
            if (!nb)
                abort();
            buf = nb;
        }
        ssize_t r = pread(fd, buf + done, cap - done, (off_t)done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        done += (size_t)r;
    }
    *len = done;
    return buf;
}

static unsigned char *read_all_path(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    unsigned char *b = read_all_fd(fd, len);
    close(fd);
    return b;
}

/* The current bytes of the file open at fd, through /proc (works for
 * write-only and unlinked files). */
static unsigned char *read_open_file(int fd, size_t *len)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
    return read_all_path(p, len);
}

/* Takes the real listing of directory node d as its durable entries,
 * creating nodes for what was never seen (only with `snapshot`, at start). */
static void snapshot_dir(struct pl_node *d, bool snapshot)
{
    entries_free(d);
    DIR *dir = opendir(d->path);
    if (!dir)
        return;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char child[PATH_MAX];
        snprintf(child, sizeof(child), "%s/%s", d->path, de->d_name);
        struct stat st;
        if (lstat(child, &st) != 0 || (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)))
            continue;
        struct pl_node *n = node_find(child);
        if (!n) {
            if (!snapshot)
                fprintf(stderr,
                        "powerloss: %s was not created through the I/O seam; taking it as "
                        "durable\n",
                        rel(child));
            n = node_new(S_ISDIR(st.st_mode), child);
            if (n->is_dir)
                snapshot_dir(n, true);
            else
                n->durable = read_all_path(child, &n->durable_len);
        }
        if (d->n_entries == cap) {
            cap = cap ? cap * 2 : 16;
            struct pl_entry *e = realloc(d->entries, cap * sizeof(*e));
            if (!e)
                abort();
            d->entries = e;
        }
        d->entries[d->n_entries].name = xstrdup(de->d_name);
        d->entries[d->n_entries].node = n;
        d->n_entries++;
    }
    closedir(dir);
}

static void snapshot_root(void)
{
    nodes_free();
    pl_root_node = node_new(true, pl_root);
    snapshot_dir(pl_root_node, true);
}

/* Counts a step; false when the machine is (now) dead. Lock held. */
static bool step(const char *what, const char *path)
{
    if (pl_crashed)
        return false;
    pl_steps++;
    if (pl_trace)
        fprintf(stderr, "powerloss: step %llu: %s %s\n", (unsigned long long)pl_steps, what,
                rel(path));
    if (pl_crash_at && pl_steps >= pl_crash_at) {
        pl_crashed = true;
        snprintf(pl_crash_what, sizeof(pl_crash_what), "step %llu: %s %s",
                 (unsigned long long)pl_steps, what, rel(path));
        return false;
    }
    return true;
}

static const char *fd_path(int fd)
{
    return fd >= 0 && fd < PL_MAX_FDS && pl_fd[fd] ? pl_fd[fd]->path : NULL;
}

static struct pl_node *fd_node(int fd)
{
    return fd >= 0 && fd < PL_MAX_FDS ? pl_fd[fd] : NULL;
}

static void ensure_dropped(struct pl_node *n, size_t pages)
{
    if (pages <= n->n_dropped)
        return;
    unsigned char *d = realloc(n->dropped, pages);
    if (!d)
        abort();
    memset(d + n->n_dropped, 0, pages - n->n_dropped);
    n->dropped = d;
    n->n_dropped = pages;
}

static bool page_differs(const unsigned char *a, size_t al, const unsigned char *b, size_t bl,
                         size_t p)
{
    size_t lo = (size_t)p * PL_PAGE, hi = lo + PL_PAGE;
    for (size_t i = lo; i < hi; i++) {
        bool ina = i < al, inb = i < bl;
        if (ina != inb)
            return true;
        if (!ina)
            return false;
        if (a[i] != b[i])
            return true;
    }
    return false;
}

/* ---- the seam ---- */

static int pl_open(const char *path, int flags, mode_t mode)
{
    pthread_mutex_lock(&pl_lock);
    if ((flags & (O_CREAT | O_TRUNC)) && !step("open", path)) {
        pthread_mutex_unlock(&pl_lock);
        errno = EIO;
        return -1;
    }
    struct pl_node *n = under_root(path) ? node_find(path) : NULL;
    struct stat st;
    bool existed = under_root(path) && !n && lstat(path, &st) == 0;
    int fd = es_io_posix.open(path, flags, mode);
    int saved = errno;
    if (fd >= 0 && under_root(path)) {
        if (!n) {
            bool is_dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
            n = node_new(is_dir, path);
            if (existed) {
                fprintf(stderr, "powerloss: %s existed without being seen; taking it as durable\n",
                        rel(path));
                if (is_dir)
                    snapshot_dir(n, true);
                else
                    n->durable = read_all_path(path, &n->durable_len);
            }
        }
        if (fd < PL_MAX_FDS)
            pl_fd[fd] = n;
    }
    pthread_mutex_unlock(&pl_lock);
    errno = saved;
    return fd;
}

static int pl_close(int fd)
{
    pthread_mutex_lock(&pl_lock);
    if (fd >= 0 && fd < PL_MAX_FDS)
        pl_fd[fd] = NULL;
    pthread_mutex_unlock(&pl_lock);
    return es_io_posix.close(fd);
}

static ssize_t pl_pread(int fd, void *buf, size_t n, off_t off)
{
    return es_io_posix.pread(fd, buf, n, off);
}

static ssize_t pl_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    pthread_mutex_lock(&pl_lock);
    if (!step("pwrite", fd_path(fd))) {
        pthread_mutex_unlock(&pl_lock);
        errno = EIO;
        return -1;
    }
    ssize_t w = es_io_posix.pwrite(fd, buf, n, off);
    int saved = errno;
    struct pl_node *node = fd_node(fd);
    if (w > 0 && node && node->dropped) {
        for (size_t p = (size_t)off / PL_PAGE;
             p <= ((size_t)off + (size_t)w - 1) / PL_PAGE && p < node->n_dropped; p++)
            node->dropped[p] = 0;
    }
    pthread_mutex_unlock(&pl_lock);
    errno = saved;
    return w;
}

static int pl_sync(int fd, const char *what)
{
    pthread_mutex_lock(&pl_lock);
    struct pl_node *node = fd_node(fd);
    if (!step(what, fd_path(fd))) {
        pthread_mutex_unlock(&pl_lock);
        errno = EIO;
        return -1;
    }
    if (!node) {
        pthread_mutex_unlock(&pl_lock);
        return es_io_posix.fsync(fd);
    }
    if (node->is_dir) {
        if (node->path)
            snapshot_dir(node, false);
        pthread_mutex_unlock(&pl_lock);
        return 0;
    }
    size_t cl = 0;
    unsigned char *cur = read_open_file(fd, &cl);
    if (!cur) {
        pthread_mutex_unlock(&pl_lock);
        errno = EIO;
        return -1;
    }
    size_t pages = ((cl > node->durable_len ? cl : node->durable_len) + PL_PAGE - 1) / PL_PAGE;
    if (pl_fail_nth && node->path && strstr(node->path, pl_fail_pat) &&
        ++pl_fail_seen == pl_fail_nth) {
        /* a failed writeback: its dirty pages are gone for good */
        pl_fail_hit = true;
        pl_fail_step = pl_steps;
        if (pl_trace)
            fprintf(stderr, "powerloss: step %llu fails with EIO\n", (unsigned long long)pl_steps);
        ensure_dropped(node, pages);
        for (size_t p = 0; p < pages; p++)
            if (page_differs(cur, cl, node->durable, node->durable_len, p))
                node->dropped[p] = 1;
        free(cur);
        pthread_mutex_unlock(&pl_lock);
        errno = EIO;
        return -1;
    }
    /* durable = current, except pages a failed writeback dropped */
    for (size_t p = 0; p < node->n_dropped && p < pages; p++) {
        if (!node->dropped[p])
            continue;
        for (size_t i = p * PL_PAGE; i < (p + 1) * PL_PAGE && i < cl; i++)
            cur[i] = i < node->durable_len ? node->durable[i] : 0;
    }
    free(node->durable);
    node->durable = cur;
    node->durable_len = cl;
    if (node->path) {
        if (pl_n_syncs == pl_cap_syncs) {
            pl_cap_syncs = pl_cap_syncs ? pl_cap_syncs * 2 : 64;
            char **p = realloc(pl_sync_paths, pl_cap_syncs * sizeof(*p));
            if (!p)
                abort();
            pl_sync_paths = p;
        }
        pl_sync_paths[pl_n_syncs++] = xstrdup(node->path);
    }
    pthread_mutex_unlock(&pl_lock);
    return 0;
}

static int pl_fsync(int fd)
{
    return pl_sync(fd, "fsync");
}

static int pl_fdatasync(int fd)
{
    return pl_sync(fd, "fdatasync");
}

static int pl_ftruncate(int fd, off_t len)
{
    pthread_mutex_lock(&pl_lock);
    if (!step("ftruncate", fd_path(fd))) {
        pthread_mutex_unlock(&pl_lock);
        errno = EIO;
        return -1;
    }
    int rc = es_io_posix.ftruncate(fd, len);
    int saved = errno;
    pthread_mutex_unlock(&pl_lock);
    errno = saved;
    return rc;
}

static int pl_fallocate(int fd, int mode, off_t off, off_t len)
{
    pthread_mutex_lock(&pl_lock);
    if (!step("fallocate", fd_path(fd))) {
        pthread_mutex_unlock(&pl_lock);
        errno = EIO;
        return -1;
    }
    int rc = es_io_posix.fallocate(fd, mode, off, len);
    int saved = errno;
    pthread_mutex_unlock(&pl_lock);
    errno = saved;
    return rc;
}

static int pl_fstat(int fd, struct stat *st)
{
    return es_io_posix.fstat(fd, st);
}

/* Moves every node at or below `from` to the same place below `to`. */
static void move_paths(const char *from, const char *to)
{
    size_t fl = strlen(from);
    for (struct pl_node *n = pl_nodes; n; n = n->next) {
        if (!n->path || strncmp(n->path, from, fl) != 0 ||
            (n->path[fl] != '\0' && n->path[fl] != '/'))
            continue;
        char np[PATH_MAX];
        snprintf(np, sizeof(np), "%s%s", to, n->path + fl);
        free(n->path);
        n->path = xstrdup(np);
    }
}

static void forget_path(const char *path)
{
    struct pl_node *n = node_find(path);
    if (!n)
        return;
    if (n->is_dir) {
        size_t l = strlen(path);
        for (struct pl_node *m = pl_nodes; m; m = m->next)
            if (m->path && strncmp(m->path, path, l) == 0 && m->path[l] == '/') {
                free(m->path);
                m->path = NULL;
            }
    }
    free(n->path);
    n->path = NULL;
}

static int pl_rename(const char *from, const char *to)
{
    pthread_mutex_lock(&pl_lock);
    if (!step("rename", to)) {
        pthread_mutex_unlock(&pl_lock);
        errno = EIO;
        return -1;
    }
    int rc = es_io_posix.rename(from, to);
    int saved = errno;
    if (rc == 0 && strcmp(from, to) != 0) {
        forget_path(to);
        move_paths(from, to);
    }
    pthread_mutex_unlock(&pl_lock);
    errno = saved;
    return rc;
}

static int pl_unlink(const char *path)
{
    pthread_mutex_lock(&pl_lock);
    if (!step("unlink", path)) {
        pthread_mutex_unlock(&pl_lock);
        errno = EIO;
        return -1;
    }
    int rc = es_io_posix.unlink(path);
    int saved = errno;
    if (rc == 0)
        forget_path(path);
    pthread_mutex_unlock(&pl_lock);
    errno = saved;
    return rc;
}

static int pl_mkdir(const char *path, mode_t mode)
{
    pthread_mutex_lock(&pl_lock);
    if (!step("mkdir", path)) {
        pthread_mutex_unlock(&pl_lock);
        errno = EIO;
        return -1;
    }
    int rc = es_io_posix.mkdir(path, mode);
    int saved = errno;
    if (rc == 0 && under_root(path) && !node_find(path))
        node_new(true, path);
    pthread_mutex_unlock(&pl_lock);
    errno = saved;
    return rc;
}

static int64_t pl_clock(void)
{
    return es_io_posix.clock_realtime_ns();
}

static const struct es_io_ops pl_ops = {
    .open = pl_open,
    .close = pl_close,
    .pread = pl_pread,
    .pwrite = pl_pwrite,
    .fsync = pl_fsync,
    .fdatasync = pl_fdatasync,
    .ftruncate = pl_ftruncate,
    .fstat = pl_fstat,
    .rename = pl_rename,
    .unlink = pl_unlink,
    .mkdir = pl_mkdir,
    .fallocate = pl_fallocate,
    .clock_realtime_ns = pl_clock,
};

/* ---- control ---- */

static void reset_counters(void)
{
    pl_steps = 0;
    pl_crash_at = 0;
    pl_crashed = false;
    pl_crash_what[0] = '\0';
    pl_fail_nth = pl_fail_seen = 0;
    pl_fail_pat[0] = '\0';
    pl_fail_hit = false;
}

void powerloss_start(const char *root)
{
    pthread_mutex_lock(&pl_lock);
    snprintf(pl_root, sizeof(pl_root), "%s", root);
    pl_root_len = strlen(pl_root);
    while (pl_root_len > 1 && pl_root[pl_root_len - 1] == '/')
        pl_root[--pl_root_len] = '\0';
    snapshot_root();
    reset_counters();
    for (size_t i = 0; i < pl_n_syncs; i++)
        free(pl_sync_paths[i]);
    pl_n_syncs = 0;
    pl_trace = getenv("ESFS_POWERLOSS_TRACE") != NULL;
    pthread_mutex_unlock(&pl_lock);
    es_io_set(&pl_ops);
}

void powerloss_stop(void)
{
    es_io_set(NULL);
    pthread_mutex_lock(&pl_lock);
    nodes_free();
    reset_counters();
    for (size_t i = 0; i < pl_n_syncs; i++)
        free(pl_sync_paths[i]);
    free(pl_sync_paths);
    pl_sync_paths = NULL;
    pl_n_syncs = pl_cap_syncs = 0;
    pthread_mutex_unlock(&pl_lock);
}

void powerloss_arm(uint64_t k)
{
    pthread_mutex_lock(&pl_lock);
    pl_steps = 0;
    pl_crash_at = k;
    pl_crashed = false;
    pl_crash_what[0] = '\0';
    pthread_mutex_unlock(&pl_lock);
}

void powerloss_crash(void)
{
    pthread_mutex_lock(&pl_lock);
    if (!pl_crashed) {
        pl_crashed = true;
        snprintf(pl_crash_what, sizeof(pl_crash_what), "after step %llu: crash requested",
                 (unsigned long long)pl_steps);
    }
    pthread_mutex_unlock(&pl_lock);
}

bool powerloss_crashed(void)
{
    pthread_mutex_lock(&pl_lock);
    bool c = pl_crashed;
    pthread_mutex_unlock(&pl_lock);
    return c;
}

uint64_t powerloss_steps(void)
{
    pthread_mutex_lock(&pl_lock);
    uint64_t n = pl_steps;
    pthread_mutex_unlock(&pl_lock);
    return n;
}

const char *powerloss_crash_what(void)
{
    return pl_crash_what;
}

void powerloss_fail_sync(const char *path_contains, uint64_t nth)
{
    pthread_mutex_lock(&pl_lock);
    snprintf(pl_fail_pat, sizeof(pl_fail_pat), "%s", path_contains ? path_contains : "");
    pl_fail_nth = nth;
    pl_fail_seen = 0;
    pl_fail_hit = false;
    pthread_mutex_unlock(&pl_lock);
}

bool powerloss_sync_failed(void)
{
    pthread_mutex_lock(&pl_lock);
    bool hit = pl_fail_hit;
    pthread_mutex_unlock(&pl_lock);
    return hit;
}

uint64_t powerloss_sync_failed_step(void)
{
    pthread_mutex_lock(&pl_lock);
    uint64_t k = pl_fail_hit ? pl_fail_step : 0;
    pthread_mutex_unlock(&pl_lock);
    return k;
}

uint64_t powerloss_syncs(const char *path_contains)
{
    pthread_mutex_lock(&pl_lock);
    uint64_t n = 0;
    for (size_t i = 0; i < pl_n_syncs; i++)
        if (strstr(pl_sync_paths[i], path_contains))
            n++;
    pthread_mutex_unlock(&pl_lock);
    return n;
}

const char *powerloss_mode_name(enum pl_mode mode)
{
    switch (mode) {
    case PL_CLEAN: return "clean";
    case PL_PREFIX: return "torn-prefix";
    case PL_PAGES: return "torn-pages";
    case PL_CHAOS: return "torn-pages+metadata";
    }
    return "?";
}

/* ---- applying a crash ---- */

static unsigned char *mix(struct pl_node *n, enum pl_mode mode, size_t *len)
{
    const unsigned char *d = n->durable, *c = n->has_cur ? n->cur : n->durable;
    size_t dl = n->durable_len, cl = n->has_cur ? n->cur_len : n->durable_len;
    size_t lo = dl < cl ? dl : cl, hi = dl < cl ? cl : dl;
    size_t l = dl;
    if (mode == PL_CLEAN || (dl == cl && (dl == 0 || d == c || memcmp(d, c, dl) == 0))) {
        unsigned char *out = xmalloc(dl);
        if (dl)
            memcpy(out, d, dl);
        *len = dl;
        return out;
    }
    if (hi > lo) {
        switch (rnd() % 3) {
        case 0: l = dl; break;
        case 1: l = cl; break;
        default: l = lo + (size_t)(rnd() % (hi - lo + 1)); break;
        }
    }
    unsigned char *out = xmalloc(l);
    if (mode == PL_PREFIX) {
        for (size_t i = 0; i < l; i++)
            out[i] = i < dl ? d[i] : c[i];
        *len = l;
        return out;
    }
    for (size_t p = 0; p * PL_PAGE < l; p++) {
        bool dropped = p < n->n_dropped && n->dropped[p];
        bool keep = !dropped && page_differs(d, dl, c, cl, p) && (rnd() & 1);
        for (size_t i = p * PL_PAGE; i < (p + 1) * PL_PAGE && i < l; i++) {
            if (keep && i < cl)
                out[i] = c[i];
            else
                out[i] = i < dl ? d[i] : 0;
        }
    }
    *len = l;
    return out;
}

static void want_free(struct pl_want *w)
{
    for (size_t i = 0; i < w->n_kids; i++)
        want_free(&w->kids[i]);
    free(w->kids);
    free(w->name);
    free(w->data);
}

static void want_add(struct pl_want *parent, size_t *cap, const char *name, struct pl_node *n,
                     enum pl_mode mode, int depth);

static void build_dir(struct pl_want *w, struct pl_node *d, enum pl_mode mode, int depth)
{
    size_t cap = 0;
    if (depth > 64)
        return;
    /* the durable entries, and under PL_CHAOS each unsynced change at random */
    struct pl_entry *cur = NULL;
    size_t n_cur = 0;
    if (mode == PL_CHAOS && d->path) {
        DIR *dir = opendir(d->path);
        struct dirent *de;
        size_t ccap = 0;
        while (dir && (de = readdir(dir)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char child[PATH_MAX];
            snprintf(child, sizeof(child), "%s/%s", d->path, de->d_name);
            struct pl_node *n = node_find(child);
            if (!n)
                continue;
            if (n_cur == ccap) {
                ccap = ccap ? ccap * 2 : 16;
                struct pl_entry *e = realloc(cur, ccap * sizeof(*e));
                if (!e)
                    abort();
                cur = e;
            }
            cur[n_cur].name = xstrdup(de->d_name);
            cur[n_cur].node = n;
            n_cur++;
        }
        if (dir)
            closedir(dir);
    }
    for (size_t i = 0; i < d->n_entries; i++) {
        struct pl_node *now = NULL;
        for (size_t j = 0; j < n_cur; j++)
            if (!strcmp(cur[j].name, d->entries[i].name))
                now = cur[j].node;
        struct pl_node *pick = d->entries[i].node;
        if (mode == PL_CHAOS && d->path && now != pick && (rnd() & 1))
            pick = now;
        if (pick)
            want_add(w, &cap, d->entries[i].name, pick, mode, depth);
    }
    for (size_t j = 0; j < n_cur; j++) {
        bool durable = false;
        for (size_t i = 0; i < d->n_entries; i++)
            durable |= !strcmp(cur[j].name, d->entries[i].name);
        if (!durable && (rnd() & 1))
            want_add(w, &cap, cur[j].name, cur[j].node, mode, depth);
        free(cur[j].name);
    }
    free(cur);
}

static void want_add(struct pl_want *parent, size_t *cap, const char *name, struct pl_node *n,
                     enum pl_mode mode, int depth)
{
    if (parent->n_kids == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        struct pl_want *k = realloc(parent->kids, *cap * sizeof(*k));
        if (!k)
            abort();
        parent->kids = k;
    }
    struct pl_want *w = &parent->kids[parent->n_kids++];
    memset(w, 0, sizeof(*w));
    w->name = xstrdup(name);
    w->is_dir = n->is_dir;
    if (n->is_dir)
        build_dir(w, n, mode, depth + 1);
    else
        w->data = mix(n, mode, &w->len);
}

static void remove_tree(const char *path, bool keep_top)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char sub[PATH_MAX];
            snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
            remove_tree(sub, false);
        }
        if (d)
            closedir(d);
        if (!keep_top)
            rmdir(path);
    } else {
        unlink(path);
    }
}

static void write_tree(const char *path, const struct pl_want *w)
{
    for (size_t i = 0; i < w->n_kids; i++) {
        const struct pl_want *k = &w->kids[i];
        char sub[PATH_MAX];
        snprintf(sub, sizeof(sub), "%s/%s", path, k->name);
        if (k->is_dir) {
            if (mkdir(sub, 0755) != 0 && errno != EEXIST)
                fprintf(stderr, "powerloss: mkdir %s: %s\n", sub, strerror(errno));
            write_tree(sub, k);
            continue;
        }
        int fd = open(sub, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "powerloss: create %s: %s\n", sub, strerror(errno));
            continue;
        }
        size_t done = 0;
        while (done < k->len) {
            ssize_t n = write(fd, k->data + done, k->len - done);
            if (n <= 0)
                break;
            done += (size_t)n;
        }
        close(fd);
    }
}

void powerloss_apply(enum pl_mode mode, uint64_t seed)
{
    pthread_mutex_lock(&pl_lock);
    pl_rng = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    if (!pl_rng)
        pl_rng = 1;
    for (struct pl_node *n = pl_nodes; n; n = n->next) {
        free(n->cur);
        n->cur = NULL;
        n->has_cur = false;
        if (!n->is_dir && n->path) {
            n->cur = read_all_path(n->path, &n->cur_len);
            n->has_cur = n->cur != NULL;
        }
    }
    struct pl_want top;
    memset(&top, 0, sizeof(top));
    top.is_dir = true;
    build_dir(&top, pl_root_node, mode, 0);
    remove_tree(pl_root, true);
    write_tree(pl_root, &top);
    want_free(&top);
    snapshot_root();
    reset_counters();
    pthread_mutex_unlock(&pl_lock);
}
