/*
 * test_process_crash.c - the daemon killed with SIGKILL at random moments
 * while concurrent writer processes append through the mount, a sealer
 * process seals the 64 KiB segments and a reader process reads `all`.
 *
 * Each writer is a separate process appending unique payloads (some
 * write(2)s carry three lines) to its own streams and to shared ones; it
 * reports every write before it is made and once write(2) has returned
 * (ACKNOWLEDGED) through a pipe to this process, in atomic 16-byte records.
 * After each kill the dead mount is detached (fusermount3 -uz), `esfs
 * verify` must pass on the crashed store, the store is mounted again, and
 * `all` and every stream file are checked: every acknowledged event is
 * there exactly once, each writer's events are in its order, nothing was
 * served that was never written, positions run 1..N and versions 1..n per
 * stream. The reader must never see a malformed line. The sync mode
 * changes every round: a process crash loses nothing acknowledged in any
 * mode (the page cache survives it).
 *
 * Knobs: ESFS_CRASH_ROUNDS (default 25), ESFS_CRASH_WRITERS (4),
 * ESFS_CRASH_MAX_MS (longest run before a kill, 400), ESFS_CRASH_SEED.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mount_util.h"

#define MAX_WRITERS 16
#define N_OWN       2 /* streams of its own per writer */
#define N_SHARED    2 /* streams every writer appends to */

enum { REC_TRY = 1, REC_ACK = 2 };

/* One pipe record: atomic (< PIPE_BUF). */
struct rec {
    uint8_t type, writer, stream, n;
    uint32_t round, seq;
    uint32_t pad;
};

/* What one writer did in one round, indexed by seq. */
struct wlog {
    uint8_t *state;  /* 0 nothing, 1 tried, 2 acknowledged */
    uint8_t *stream; /* stream index: 0..N_OWN-1 own, N_OWN.. shared */
    uint64_t *pos;   /* where it was found (0: not) */
    uint32_t n, cap;
};

struct crash {
    struct mu_mount m;
    uint64_t seed, rng;
    unsigned rounds, writers, max_ms;
    struct wlog *logs; /* [round * writers + writer] */
    uint64_t acked, tried, in_flight_committed, kills, seal_kills, events;
};

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 0) : def;
}

static void stream_name(char *buf, size_t cap, unsigned writer, unsigned idx)
{
    if (idx < N_OWN)
        snprintf(buf, cap, "w%u-s%u", writer, idx);
    else
        snprintf(buf, cap, "shared-%u", idx - N_OWN);
}

static void send_rec(int fd, const struct rec *r)
{
    if (write(fd, r, sizeof(*r)) != (ssize_t)sizeof(*r))
        _exit(3);
}

/* A writer process: appends until the daemon is gone, then exits 0. */
static void writer_main(const char *mnt, unsigned round, unsigned w, uint64_t seed, int out)
{
    int fds[N_OWN + N_SHARED];
    for (unsigned i = 0; i < N_OWN + N_SHARED; i++) {
        char name[64], path[PATH_MAX + 96];
        stream_name(name, sizeof(name), w, i);
        snprintf(path, sizeof(path), "%s/streams/%s", mnt, name);
        fds[i] = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fds[i] < 0)
            _exit(0); /* the daemon died before we started */
    }
    uint64_t rng = seed | 1;
    uint32_t seq = 0;
    char *buf = malloc(3 * 4200);
    if (!buf)
        _exit(4);
    for (;;) {
        unsigned st = (unsigned)(rnd(&rng) % (N_OWN + N_SHARED));
        unsigned n = rnd(&rng) % 8 == 0 ? 3 : 1;
        size_t len = 0;
        for (unsigned i = 0; i < n; i++) {
            size_t pad = rnd(&rng) % 16 == 0 ? 1000 + rnd(&rng) % 3000 : 10 + rnd(&rng) % 300;
            len += (size_t)sprintf(buf + len, "r%u-w%u-%u-", round, w, seq + i);
            for (size_t k = 0; k < pad; k++)
                buf[len++] = (char)('a' + (seq + i + k) % 26);
            buf[len++] = '\n';
        }
        struct rec r = {.type = REC_TRY,
                        .writer = (uint8_t)w,
                        .stream = (uint8_t)st,
                        .n = (uint8_t)n,
                        .round = round,
                        .seq = seq};
        send_rec(out, &r);
        ssize_t wr = write(fds[st], buf, len);
        if (wr != (ssize_t)len)
            _exit(0); /* the daemon is gone: not acknowledged */
        r.type = REC_ACK;
        send_rec(out, &r);
        seq += n;
    }
}

/* Seals at random moments until the daemon is gone: `esfs seal MNT`, or
 * a write to .esfs/seal (what that command does), in turn. */
static void sealer_main(const char *mnt, uint64_t seed)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/.esfs/seal", mnt);
    uint64_t rng = seed | 1;
    for (unsigned i = 0;; i++) {
        struct timespec ts = {0, (long)(rnd(&rng) % 40) * 1000000L};
        nanosleep(&ts, NULL); /* the experiment's timing, not synchronisation */
        if (i % 2) {
            if (mu_runl(NULL, 0, "esfs", "seal", mnt, (const char *)NULL) != 0)
                _exit(0);
            continue;
        }
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            _exit(0);
        ssize_t w = write(fd, "1\n", 2);
        close(fd);
        if (w != 2)
            _exit(0);
    }
}

/* Reads `all` again and again; exits 2 on a malformed line or a gap. */
static void reader_main(const char *mnt)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/all", mnt);
    for (;;) {
        size_t len;
        int err;
        char *data = mu_read(path, &len, &err);
        if (!data)
            _exit(0);
        uint64_t expect = 1;
        for (char *line = data; line < data + len;) {
            char *end = memchr(line, '\n', (size_t)(data + len - line));
            if (!end)
                _exit(2); /* a partial line served */
            unsigned long long pos;
            *end = '\0'; /* so sscanf does not measure the whole buffer */
            if (sscanf(line, "{\"pos\":%llu,", &pos) != 1 || pos != expect || end[-1] != '}')
                _exit(2);
            expect++;
            line = end + 1;
        }
        free(data);
    }
}

static struct wlog *wlog_of(struct crash *c, unsigned round, unsigned w)
{
    return &c->logs[(size_t)round * c->writers + w];
}

static void wlog_put(struct wlog *l, uint32_t seq, uint8_t stream, uint8_t state)
{
    if (seq >= l->cap) {
        uint32_t cap = l->cap ? l->cap : 256;
        while (cap <= seq)
            cap *= 2;
        l->state = realloc(l->state, cap);
        l->stream = realloc(l->stream, cap);
        l->pos = realloc(l->pos, cap * sizeof(*l->pos));
        if (!l->state || !l->stream || !l->pos)
            abort();
        memset(l->state + l->cap, 0, cap - l->cap);
        memset(l->pos + l->cap, 0, (cap - l->cap) * sizeof(*l->pos));
        l->cap = cap;
    }
    if (state > l->state[seq])
        l->state[seq] = state;
    l->stream[seq] = stream;
    if (seq + 1 > l->n)
        l->n = seq + 1;
}

static void take_rec(struct crash *c, const struct rec *r)
{
    if (r->round >= c->rounds || r->writer >= c->writers || r->n < 1 || r->n > 3)
        fail_msg("malformed record from a writer");
    struct wlog *l = wlog_of(c, r->round, r->writer);
    for (unsigned i = 0; i < r->n; i++)
        wlog_put(l, r->seq + i, r->stream, (uint8_t)r->type);
    if (r->type == REC_ACK)
        c->acked += r->n;
    else
        c->tried += r->n;
}

/* ---- the check of a mounted store ---- */

struct sview {
    char name[64];
    char *expect;
    size_t len, cap;
    uint64_t ver;
};

static void check_store(struct crash *c, unsigned rounds_done)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/all", c->m.mnt);
    size_t len;
    int err;
    char *all = mu_read(path, &len, &err);
    if (!all)
        fail_msg("reading all after recovery: %s (seed %llu)", strerror(err),
                 (unsigned long long)c->seed);
    for (unsigned r = 0; r < rounds_done; r++)
        for (unsigned w = 0; w < c->writers; w++) {
            struct wlog *l = wlog_of(c, r, w);
            if (l->pos)
                memset(l->pos, 0, l->cap * sizeof(*l->pos));
        }
    struct sview sv[MAX_WRITERS * N_OWN + N_SHARED];
    size_t n_sv = 0;
    memset(sv, 0, sizeof(sv));
    uint64_t pos_expect = 1;
    for (char *line = all; line < all + len;) {
        char *end = memchr(line, '\n', (size_t)(all + len - line));
        if (!end)
            fail_msg("all ends inside a line at byte %zu", (size_t)(line - all));
        *end = '\0';
        unsigned long long pos, ver;
        char *sp = strstr(line, "\"stream\":\"");
        char *vp = strstr(line, "\"ver\":");
        char *dp = strstr(line, "\"data\":\"");
        if (sscanf(line, "{\"pos\":%llu,", &pos) != 1 || !sp || !vp || !dp ||
            sscanf(vp, "\"ver\":%llu,", &ver) != 1)
            fail_msg("malformed line in all: %.200s", line);
        if (pos != pos_expect)
            fail_msg("position %llu where %llu comes next (seed %llu)", pos,
                     (unsigned long long)pos_expect, (unsigned long long)c->seed);
        pos_expect++;
        sp += 10;
        char *se = strchr(sp, '"');
        dp += 8;
        char *de = strrchr(dp, '"');
        if (!se || !de || se - sp >= 64)
            fail_msg("malformed line in all: %.200s", line);
        size_t i;
        for (i = 0; i < n_sv; i++)
            if (strlen(sv[i].name) == (size_t)(se - sp) &&
                memcmp(sv[i].name, sp, (size_t)(se - sp)) == 0)
                break;
        if (i == n_sv) {
            if (n_sv == sizeof(sv) / sizeof(sv[0]))
                fail_msg("unexpected stream %.*s", (int)(se - sp), sp);
            memcpy(sv[n_sv].name, sp, (size_t)(se - sp));
            n_sv++;
        }
        struct sview *s = &sv[i];
        if (ver != s->ver + 1)
            fail_msg("stream %s: version %llu after %llu", s->name, ver,
                     (unsigned long long)s->ver);
        s->ver = ver;
        size_t dl = (size_t)(de - dp);
        if (s->len + dl + 1 > s->cap) {
            s->cap = (s->len + dl + 1) * 2;
            s->expect = realloc(s->expect, s->cap);
            if (!s->expect)
                abort();
        }
        memcpy(s->expect + s->len, dp, dl);
        s->len += dl;
        s->expect[s->len++] = '\n';
        unsigned rr, ww, seq;
        if (sscanf(dp, "r%u-w%u-%u-", &rr, &ww, &seq) != 3 || rr >= rounds_done || ww >= c->writers)
            fail_msg("position %llu holds a payload nobody wrote: %.80s", pos, dp);
        struct wlog *l = wlog_of(c, rr, ww);
        if (seq >= l->n || l->state[seq] == 0)
            fail_msg("position %llu holds r%u-w%u-%u, which was never written (seed %llu)", pos, rr,
                     ww, seq, (unsigned long long)c->seed);
        if (l->pos[seq])
            fail_msg("r%u-w%u-%u is at positions %llu and %llu (seed %llu)", rr, ww, seq,
                     (unsigned long long)l->pos[seq], pos, (unsigned long long)c->seed);
        char want[64];
        stream_name(want, sizeof(want), ww, l->stream[seq]);
        if (strcmp(want, s->name) != 0)
            fail_msg("r%u-w%u-%u is in stream %s, it was written to %s", rr, ww, seq, s->name,
                     want);
        l->pos[seq] = pos;
        line = end + 1;
    }
    c->events = pos_expect - 1;
    /* every acknowledged event, exactly once (above), in its writer's order */
    for (unsigned r = 0; r < rounds_done; r++)
        for (unsigned w = 0; w < c->writers; w++) {
            struct wlog *l = wlog_of(c, r, w);
            uint64_t last = 0;
            for (uint32_t q = 0; q < l->n; q++) {
                if (l->state[q] == REC_ACK && !l->pos[q])
                    fail_msg("acknowledged event r%u-w%u-%u is lost (seed %llu)", r, w, q,
                             (unsigned long long)c->seed);
                if (!l->pos[q])
                    continue;
                if (l->pos[q] <= last)
                    fail_msg("r%u-w%u-%u at position %llu comes before its predecessor at %llu", r,
                             w, q, (unsigned long long)l->pos[q], (unsigned long long)last);
                last = l->pos[q];
            }
        }
    /* each stream file serves exactly its events' payloads */
    for (size_t i = 0; i < n_sv; i++) {
        char sp[PATH_MAX + 128];
        snprintf(sp, sizeof(sp), "%s/streams/%s", c->m.mnt, sv[i].name);
        size_t sl;
        char *data = mu_read(sp, &sl, &err);
        if (!data || sl != sv[i].len || memcmp(data, sv[i].expect, sl) != 0)
            fail_msg("streams/%s (%zu bytes) disagrees with all (%zu bytes)%s%s", sv[i].name,
                     data ? sl : 0, sv[i].len, data ? "" : ": ", data ? "" : strerror(err));
        free(data);
        free(sv[i].expect);
    }
    free(all);
}

static void count_in_flight(struct crash *c, unsigned round)
{
    for (unsigned w = 0; w < c->writers; w++) {
        struct wlog *l = wlog_of(c, round, w);
        for (uint32_t q = 0; q < l->n; q++)
            c->in_flight_committed += l->state[q] == REC_TRY && l->pos[q];
    }
}

static const char *sync_of(unsigned round)
{
    static const char *const modes[] = {"--sync=always", "--sync=batch:5", "--sync=none"};
    return modes[round % 3];
}

static void mount_or_fail(struct crash *c, unsigned round)
{
    char err[2048];
    int rc =
        mu_mount(&c->m, err, sizeof(err), sync_of(round), "--segment-size=64K", (const char *)NULL);
    if (rc)
        fail_msg("round %u: mount after a kill failed (exit %d): %s (seed %llu)", round, rc, err,
                 (unsigned long long)c->seed);
}

static void verify_or_fail(struct crash *c, const char *when)
{
    char out[8192];
    int rc = mu_runl(out, sizeof(out), "esfs", "verify", c->m.store, (const char *)NULL);
    if (rc != 0)
        fail_msg("esfs verify %s: exit %d:\n%s(seed %llu)", when, rc, out,
                 (unsigned long long)c->seed);
}

static int count_wals(const char *store)
{
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/wal", store);
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += strstr(de->d_name, ".wal") != NULL;
    if (d)
        closedir(d);
    return n;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void one_round(struct crash *c, unsigned round)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        fail_msg("pipe: %s", strerror(errno));
    pid_t kids[MAX_WRITERS + 2];
    unsigned n_kids = 0;
    for (unsigned w = 0; w < c->writers + 2; w++) {
        uint64_t seed = rnd(&c->rng);
        pid_t pid = fork();
        if (pid < 0)
            fail_msg("fork: %s", strerror(errno));
        if (pid == 0) {
            close(p[0]);
            if (w < c->writers)
                writer_main(c->m.mnt, round, w, seed, p[1]);
            close(p[1]);
            if (w == c->writers)
                sealer_main(c->m.mnt, seed);
            reader_main(c->m.mnt);
        }
        kids[n_kids++] = pid;
    }
    close(p[1]);
    /* the experiment: let them run for a random time, taking records */
    int64_t deadline = now_ms() + 20 + (int64_t)(rnd(&c->rng) % c->max_ms);
    struct rec r;
    size_t have = 0;
    bool killed = false;
    int64_t t_kill = 0, t_reaped = 0;
    for (;;) {
        int timeout = -1;
        if (!killed) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                /* in a seal? (a wal waiting in wal/ beside the active one) */
                if (count_wals(c->m.store) > 1)
                    c->seal_kills++;
                t_kill = now_ms();
                if (mu_kill9(&c->m) != 0)
                    fail_msg("round %u: the daemon died by itself before the kill (wait "
                             "status %#x; seed %llu)",
                             round, c->m.daemon_status, (unsigned long long)c->seed);
                c->kills++;
                killed = true;
                t_reaped = now_ms();
                continue;
            }
            timeout = (int)left;
        }
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        int pr = poll(&pf, 1, timeout);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            continue;
        ssize_t n = read(p[0], (char *)&r + have, sizeof(r) - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* every writer has exited */
        have += (size_t)n;
        if (have == sizeof(r)) {
            take_rec(c, &r);
            have = 0;
        }
    }
    close(p[0]);
    if (!killed)
        fail_msg("round %u: every writer stopped before the kill: the mount failed them", round);
    for (unsigned i = 0; i < n_kids; i++) {
        int st;
        while (waitpid(kids[i], &st, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("round %u: %s %u ended with status %#x%s", round,
                     i < c->writers    ? "writer"
                     : i == c->writers ? "sealer"
                                       : "reader",
                     i, st, i == c->writers + 1 ? " (it read a malformed or gapped all)" : "");
    }
    if (getenv("ESFS_CRASH_VERBOSE"))
        print_message("[ process_crash ] round %u: the kill took %lld ms, the clients ended "
                      "%lld ms later\n",
                      round, (long long)(t_reaped - t_kill), (long long)(now_ms() - t_reaped));
}

static int setup(void **state)
{
    struct crash *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    mu_init(&c->m, "pcrash");
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct crash *c = *state;
    mu_cleanup(&c->m);
    for (size_t i = 0; c->logs && i < (size_t)c->rounds * c->writers; i++) {
        free(c->logs[i].state);
        free(c->logs[i].stream);
        free(c->logs[i].pos);
    }
    free(c->logs);
    free(c);
    return 0;
}

static void test_process_crash_sigkill_rounds(void **state)
{
    struct crash *c = *state;
    const char *why = mu_skip_reason();
    if (why) {
        print_message("[ process_crash ] skipped: %s\n", why);
        skip();
    }
    c->rounds = (unsigned)env_u64("ESFS_CRASH_ROUNDS", 25);
    c->writers = (unsigned)env_u64("ESFS_CRASH_WRITERS", 4);
    c->max_ms = (unsigned)env_u64("ESFS_CRASH_MAX_MS", 400);
    c->seed = env_u64("ESFS_CRASH_SEED", (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20));
    if (c->writers < 1 || c->writers > MAX_WRITERS)
        c->writers = 4;
    if (c->max_ms < 1)
        c->max_ms = 1;
    c->rng = c->seed * 0x9E3779B97F4A7C15ull | 1;
    c->logs = calloc((size_t)c->rounds * c->writers + 1, sizeof(*c->logs));
    assert_non_null(c->logs);
    print_message("[ process_crash ] %u rounds, %u writers, kill within 20..%u ms, seed %llu "
                  "(ESFS_CRASH_SEED=%llu to repeat)\n",
                  c->rounds, c->writers, c->max_ms + 20, (unsigned long long)c->seed,
                  (unsigned long long)c->seed);
    int64_t t0 = now_ms();
    bool verbose = env_u64("ESFS_CRASH_VERBOSE", 0) != 0;
    for (unsigned round = 0; round < c->rounds; round++) {
        int64_t a = now_ms();
        mount_or_fail(c, round);
        int64_t b = now_ms();
        check_store(c, round);
        if (round > 0)
            count_in_flight(c, round - 1);
        int64_t d = now_ms();
        one_round(c, round);
        int64_t e = now_ms();
        verify_or_fail(c, "of the killed daemon's store");
        if (verbose)
            print_message("[ process_crash ] round %u (%s): mount %lld ms, check %lld ms (%llu "
                          "events), run %lld ms, verify %lld ms\n",
                          round, sync_of(round), (long long)(b - a), (long long)(d - b),
                          (unsigned long long)c->events, (long long)(e - d),
                          (long long)(now_ms() - e));
    }
    /* the last recovery, a clean stop, and verify */
    mount_or_fail(c, 0);
    check_store(c, c->rounds);
    count_in_flight(c, c->rounds - 1);
    int st = mu_umount(&c->m);
    if (st != 0)
        fail_msg("the daemon did not exit cleanly: wait status %#x", st);
    verify_or_fail(c, "after a clean stop");
    print_message("[ process_crash ] %llu kills (%llu while a rotated segment waited to be "
                  "sealed), %llu events written, %llu acknowledged and all found, %llu "
                  "committed without acknowledgement (in flight at a kill), %llu events in the "
                  "store, %.1f s\n",
                  (unsigned long long)c->kills, (unsigned long long)c->seal_kills,
                  (unsigned long long)c->tried, (unsigned long long)c->acked,
                  (unsigned long long)c->in_flight_committed, (unsigned long long)c->events,
                  (double)(now_ms() - t0) / 1000.0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_process_crash_sigkill_rounds, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
