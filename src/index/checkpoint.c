/*
 * checkpoint.c - index/checkpoint: the position the index files cover, the
 * stream table at that position and the additive hashes of every entry.
 * Normative: docs/format.md, "index/checkpoint".
 *
 * Protocol: the index files are synced first, then the checkpoint replaces
 * the old one atomically (tmp, fsync, rename, fsync dir). Entries past the
 * checkpoint's position may be anything after a crash; they are rewritten by
 * catching up from the log. A checkpoint is trusted only if its own check,
 * every hash and the frame at its position in the log agree.
 */
#include "index_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/io.h"

#define CKPT_MAX_BYTES ((size_t)1 << 32)

static int put64(struct es_buf *b, uint64_t v)
{
    unsigned char *p = es_buf_grow(b, 8);
    if (!p)
        return -ENOMEM;
    es_put64(p, v);
    return 0;
}

int ix_checkpoint_write(struct es_index *ix)
{
    if (ix->in_memory)
        return 0;
    int rc = es_mfile_sync(&ix->global);
    if (rc == 0)
        rc = es_mfile_sync(&ix->posts);
    if (rc)
        return rc;
    struct es_buf b = ES_BUF_INIT;
    unsigned char *h = es_buf_grow(&b, IX_CKPT_HEADER);
    if (!h)
        return es_fail(-ENOMEM, "checkpoint");
    memset(h, 0, IX_CKPT_HEADER);
    memcpy(h, IX_CKPT_MAGIC, 8);
    es_put32(h + 8, ES_FORMAT_VERSION);
    es_put64(h + 16, ix->applied_pos);
    es_put64(h + 24, ix->all_bytes);
    es_put64(h + 32, ix->n_streams);
    es_put64(h + 40, ix->posts_end);
    es_put64(h + 48, ix->global_hash);
    es_put64(h + 56, ix->posts_hash);
    for (uint32_t i = 0; i < ix->n_streams && rc == 0; i++) {
        const struct ix_stream *s = ix->streams[i];
        unsigned char len = (unsigned char)s->name_len;
        rc = es_buf_append(&b, &len, 1);
        if (rc == 0)
            rc = es_buf_append(&b, s->name, s->name_len);
        if (rc == 0)
            rc = put64(&b, s->n_events);
        if (rc == 0)
            rc = put64(&b, s->view_bytes);
        if (rc == 0)
            rc = put64(&b, (uint64_t)s->first_ts);
        if (rc == 0)
            rc = put64(&b, (uint64_t)s->last_ts);
        if (rc == 0)
            rc = put64(&b, s->n_chunks);
        for (uint32_t k = 0; k < s->n_chunks && rc == 0; k++)
            rc = put64(&b, s->chunks[k]);
    }
    if (rc == 0)
        rc = put64(&b, es_hash64(b.data, b.len));
    if (rc)
        rc = es_fail(rc, "serialising the checkpoint");
    if (rc == 0)
        rc = es_io_write_file_atomic(ix->dir, "checkpoint", b.data, b.len);
    es_buf_release(&b);
    if (rc == 0)
        ix->ckpt_pos = ix->applied_pos;
    return rc;
}

struct reader {
    const unsigned char *p;
    size_t left;
    bool bad;
};

static uint64_t get64(struct reader *r)
{
    if (r->left < 8) {
        r->bad = true;
        return 0;
    }
    uint64_t v = es_le64(r->p);
    r->p += 8;
    r->left -= 8;
    return v;
}

static size_t chunks_for(uint64_t n_events)
{
    if (n_events == 0)
        return 0;
    uint32_t k;
    uint64_t slot;
    ix_chunk_of(n_events - 1, &k, &slot);
    return (size_t)k + 1;
}

/* Checks every entry against the checkpoint's hashes and totals. */
static bool entries_agree(struct es_index *ix, uint64_t pos, uint64_t all_bytes, uint64_t gh,
                          uint64_t ph, const char **why)
{
    if (IX_FILE_HEADER + pos * IX_GLOBAL_REC > ix->global.mapped ||
        ix->posts_end > ix->posts.mapped) {
        *why = "index files shorter than the checkpoint says";
        return false;
    }
    uint64_t sum = 0, prev_end = 0;
    for (uint64_t p = 1; p <= pos; p++) {
        const unsigned char *r = ix_global_rec(ix, p);
        uint64_t end = es_le64(r), raw = es_le64(r + 8);
        if (end <= prev_end) {
            *why = "global index offsets do not grow";
            return false;
        }
        prev_end = end;
        sum += ix_global_entry_hash(p, end, raw);
    }
    if (sum != gh || prev_end != all_bytes) {
        *why = "global index does not match the checkpoint's hash";
        return false;
    }
    sum = 0;
    for (uint32_t i = 0; i < ix->n_streams; i++) {
        struct ix_stream *s = ix->streams[i];
        uint64_t prev_pos = 0, prev_v_end = 0;
        for (uint64_t v = 1; v <= s->n_events; v++) {
            const unsigned char *r = ix_post_rec(ix, s, v);
            uint64_t p = es_le64(r), end = es_le64(r + 8);
            if (p <= prev_pos || p > pos || end <= prev_v_end) {
                *why = "stream index entries out of order";
                return false;
            }
            prev_pos = p;
            prev_v_end = end;
            sum += ix_post_entry_hash(s->no, v, p, end);
        }
        if (prev_v_end != s->view_bytes) {
            *why = "stream view size disagrees with its entries";
            return false;
        }
    }
    if (sum != ph) {
        *why = "stream index does not match the checkpoint's hash";
        return false;
    }
    return true;
}

int ix_checkpoint_load(struct es_index *ix, const char **why)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/checkpoint", ix->dir);
    void *data = NULL;
    size_t len = 0;
    int rc = es_io_read_file(path, &data, &len, CKPT_MAX_BYTES);
    if (rc) {
        *why = rc == -ENOENT ? "no checkpoint" : "checkpoint unreadable";
        return rc == -ENOENT ? ES_ENOTFOUND : rc;
    }
    const unsigned char *h = data;
    rc = ES_ECORRUPT;
    if (len < IX_CKPT_HEADER + 8 || memcmp(h, IX_CKPT_MAGIC, 8) != 0) {
        *why = "checkpoint has no valid header";
        goto out;
    }
    if (es_le64(h + len - 8) != es_hash64(h, len - 8)) {
        *why = "checkpoint check mismatch";
        goto out;
    }
    if (es_le32(h + 8) != ES_FORMAT_VERSION) {
        *why = "checkpoint of another format version";
        goto out;
    }
    uint64_t pos = es_le64(h + 16), all_bytes = es_le64(h + 24), n_streams = es_le64(h + 32);
    uint64_t posts_end = es_le64(h + 40), gh = es_le64(h + 48), ph = es_le64(h + 56);
    if (n_streams > UINT32_MAX || posts_end < IX_FILE_HEADER || n_streams > pos) {
        *why = "checkpoint header out of range";
        goto out;
    }
    struct reader r = {.p = h + IX_CKPT_HEADER, .left = len - 8 - IX_CKPT_HEADER};
    ix->posts_end = posts_end;
    for (uint64_t i = 0; i < n_streams; i++) {
        if (r.left < 1) {
            r.bad = true;
            break;
        }
        size_t nl = r.p[0];
        r.p++;
        r.left--;
        if (nl == 0 || r.left < nl) {
            r.bad = true;
            break;
        }
        const char *name = (const char *)r.p;
        r.p += nl;
        r.left -= nl;
        struct ix_stream *s;
        if (ix_stream_find(ix, name, nl) || es_stream_name_check(name, nl) != 0) {
            r.bad = true;
            break;
        }
        if ((rc = ix_stream_add(ix, name, nl, &s)) != 0)
            goto out;
        rc = ES_ECORRUPT;
        s->n_events = get64(&r);
        s->view_bytes = get64(&r);
        s->first_ts = (int64_t)get64(&r);
        s->last_ts = (int64_t)get64(&r);
        uint64_t nc = get64(&r);
        if (r.bad || s->n_events == 0 || s->n_events > pos || nc != chunks_for(s->n_events) ||
            nc > r.left / 8) {
            r.bad = true;
            break;
        }
        s->chunks = malloc(nc * sizeof(*s->chunks));
        if (!s->chunks) {
            rc = es_fail(-ENOMEM, "loading the checkpoint");
            goto out;
        }
        s->n_chunks = s->cap_chunks = (uint32_t)nc;
        for (uint64_t k = 0; k < nc; k++) {
            s->chunks[k] = get64(&r);
            uint64_t bytes = ix_chunk_cap((uint32_t)k) * IX_POST_REC;
            if (s->chunks[k] < IX_FILE_HEADER || s->chunks[k] + bytes > posts_end)
                r.bad = true;
        }
        if (r.bad)
            break;
    }
    if (r.bad || r.left != 0) {
        *why = "checkpoint stream table malformed";
        goto out;
    }
    if (!entries_agree(ix, pos, all_bytes, gh, ph, why))
        goto out;
    ix->applied_pos = pos;
    ix->all_bytes = all_bytes;
    ix->global_hash = gh;
    ix->posts_hash = ph;
    ix->ckpt_pos = pos;
    rc = 0;
out:
    free(data);
    return rc;
}
