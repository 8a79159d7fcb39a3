#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "core/error_int.h"
#include "core/fsutil.h"
#include "plan/journal.h"

#define MAGIC "SLJRNL02"

/* A growable byte buffer for (de)serializing. */
typedef struct buf {
    unsigned char *p;
    size_t len, cap, pos;
    int bad;
} buf;

static void put(buf *b, const void *data, size_t n)
{
    if (b->bad || n == 0)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->bad = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_i64(buf *b, int64_t v)
{
    put(b, &v, sizeof v);
}

static int get(buf *b, void *out, size_t n)
{
    if (b->bad || b->pos + n > b->len) {
        b->bad = 1;
        return 0;
    }
    memcpy(out, b->p + b->pos, n);
    b->pos += n;
    return 1;
}

static int64_t get_i64(buf *b)
{
    int64_t v = 0;
    get(b, &v, sizeof v);
    return v;
}

double sl__journal_interval(void)
{
    const char *e = getenv("SLUICE_RESUME_INTERVAL");
    double v = e ? strtod(e, NULL) : 2.0;
    return v >= 0 ? v : 2.0;
}

static void free_passes(sl__journal *j, size_t from)
{
    for (size_t k = from; k < j->n_passes; k++)
        free(j->passes[k].acc);
}

void sl__journal_truncate(sl__journal *j, size_t k)
{
    if (k < j->n_passes) {
        free_passes(j, k);
        j->n_passes = k;
    }
}

void sl__journal_close(sl__journal *j)
{
    free_passes(j, 0);
    free(j->passes);
    free(j->hash_states);
    free(j->leaves);
    free(j->path);
    memset(j, 0, sizeof *j);
}

sl__pass_record *sl__journal_pass(sl__journal *j, size_t k, const char *name, int64_t nchunks, size_t acc_size)
{
    if (k < j->n_passes)
        return &j->passes[k];
    if (k != j->n_passes)
        return NULL;
    sl__pass_record *p = realloc(j->passes, (k + 1) * sizeof *p);
    if (!p)
        return NULL;
    j->passes = p;
    sl__pass_record *r = &p[k];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name ? name : "");
    r->nchunks = nchunks;
    r->acc_size = acc_size;
    r->acc = calloc(acc_size ? acc_size : 1, 1);
    if (!r->acc)
        return NULL;
    j->n_passes = k + 1;
    return r;
}

static void serialize(const sl__journal *j, buf *b)
{
    put(b, MAGIC, 8);
    put(b, j->key, SL_HASH_HEX);
    put_i64(b, j->chunk_rows);
    put_i64(b, j->max_rows);
    put_i64(b, (int64_t)j->n_arrays);
    put_i64(b, (int64_t)sl__hasher_state_size());
    put_i64(b, j->w_rows);
    put_i64(b, j->w_bytes);
    put(b, j->hash_states, j->n_arrays * sl__hasher_state_size());
    put_i64(b, j->n_leaves);
    put(b, j->leaves, (size_t)j->n_leaves * sizeof *j->leaves);
    put_i64(b, (int64_t)j->n_passes);
    for (size_t k = 0; k < j->n_passes; k++) {
        const sl__pass_record *r = &j->passes[k];
        put(b, r->name, sizeof r->name);
        put_i64(b, r->nchunks);
        put_i64(b, r->chunks_done);
        put_i64(b, r->done);
        put_i64(b, (int64_t)r->acc_size);
        put(b, r->acc, r->acc_size);
    }
}

sl_status sl__journal_save(sl__journal *j, sl_error *err)
{
    buf b = {0};
    serialize(j, &b);
    sl__hasher *h = sl__hasher_new();
    char sum[SL_HASH_HEX] = "";
    if (h && !b.bad) {
        sl__hasher_add(h, b.p, b.len);
        sl__hasher_hex(h, sum);
        put(&b, sum, SL_HASH_HEX);
    }
    sl__hasher_free(h);
    if (!h || b.bad) {
        free(b.p);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    size_t n = strlen(j->path) + 5;
    char *tmp = malloc(n);
    sl_status s = SL_OK;
    int fd = -1;
    if (!tmp)
        s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    else {
        snprintf(tmp, n, "%s.tmp", j->path);
        fd = sl__create_new(tmp, 0666); /* never through a link planted there */
    }
    if (s == SL_OK) {
        ssize_t wr = fd >= 0 ? write(fd, b.p, b.len) : -1;
        if (wr >= 0 && wr != (ssize_t)b.len)
            errno = ENOSPC; /* a short write to a regular file: the disk is full */
        int ok = wr == (ssize_t)b.len && fsync(fd) == 0;
        int e = errno;
        if (fd >= 0 && close(fd) != 0 && ok) { /* closed either way: never close it twice */
            ok = 0;
            e = errno;
        }
        if (ok && rename(tmp, j->path) != 0) {
            ok = 0;
            e = errno;
        }
        if (!ok) {
            char why[160];
            s = sl__error_set(err, SL_ERR_IO, "cannot write resume journal '%s': %s", j->path,
                              sl__open_error_text(e, NULL, why, sizeof why));
            unlink(tmp);
        }
    }
    free(tmp);
    free(b.p);
    return s;
}

/* The largest journal a stage of nchunks chunks can write: its fixed parts,
 * accumulators of column statistics and histograms, and a filter's count per
 * chunk, with room to spare. A larger file is not a journal of this stage:
 * reading it would cost its size in memory (a sparse 64 GiB file). */
static int64_t max_size(const sl__journal *j)
{
    int64_t nchunks = j->chunk_rows > 0 && j->max_rows > 0 ? j->max_rows / j->chunk_rows + 1 : 1;
    return ((int64_t)256 << 20) + 72 * nchunks + (int64_t)j->n_arrays * (int64_t)sl__hasher_state_size();
}

/* Reads the journal file whole into b, if it is a regular file (never a
 * link, a FIFO or a device) of a plausible size. */
static int read_file(const sl__journal *j, buf *b)
{
    struct stat st;
    int fd = sl__open_own(j->path, O_RDONLY, &st);
    if (fd < 0)
        return 0;
    int ok = st.st_size > SL_HASH_HEX && st.st_size <= max_size(j);
    if (ok) {
        b->cap = (size_t)st.st_size;
        b->p = malloc(b->cap);
        ok = b->p != NULL;
    }
    while (ok && b->len < b->cap) {
        ssize_t got = read(fd, b->p + b->len, b->cap - b->len);
        if (got <= 0)
            ok = 0; /* shrank while read, or an error */
        else
            b->len += (size_t)got;
    }
    close(fd);
    return ok;
}

static int load(sl__journal *j)
{
    buf b = {0};
    int ok = read_file(j, &b) && b.len > SL_HASH_HEX;
    if (ok) {
        /* the checksum covers everything before it */
        sl__hasher *h = sl__hasher_new();
        char sum[SL_HASH_HEX];
        ok = h != NULL;
        if (ok) {
            sl__hasher_add(h, b.p, b.len - SL_HASH_HEX);
            sl__hasher_hex(h, sum);
            ok = memcmp(sum, b.p + b.len - SL_HASH_HEX, SL_HASH_HEX) == 0;
        }
        sl__hasher_free(h);
        b.len -= SL_HASH_HEX;
    }
    char magic[8], key[SL_HASH_HEX];
    ok = ok && get(&b, magic, 8) && memcmp(magic, MAGIC, 8) == 0 && get(&b, key, SL_HASH_HEX) &&
         memcmp(key, j->key, SL_HASH_HEX) == 0 && get_i64(&b) == j->chunk_rows && get_i64(&b) == j->max_rows &&
         get_i64(&b) == (int64_t)j->n_arrays && get_i64(&b) == (int64_t)sl__hasher_state_size();
    if (ok) {
        j->w_rows = get_i64(&b);
        j->w_bytes = get_i64(&b);
        ok = get(&b, j->hash_states, j->n_arrays * sl__hasher_state_size());
    }
    int64_t nl = ok ? get_i64(&b) : 0;
    ok = ok && nl >= 0 && (size_t)nl <= (b.len - b.pos) / sizeof *j->leaves;
    if (ok && nl > 0) {
        j->leaves = malloc((size_t)nl * sizeof *j->leaves);
        ok = j->leaves && get(&b, j->leaves, (size_t)nl * sizeof *j->leaves);
        j->n_leaves = ok ? nl : 0;
    }
    int64_t np = ok ? get_i64(&b) : 0;
    for (int64_t k = 0; ok && k < np; k++) {
        char name[64];
        ok = get(&b, name, sizeof name);
        name[sizeof name - 1] = '\0';
        int64_t nchunks = get_i64(&b), done_chunks = get_i64(&b), done = get_i64(&b), acc = get_i64(&b);
        ok = ok && !b.bad && acc >= 0 && (size_t)acc <= b.len;
        sl__pass_record *r = ok ? sl__journal_pass(j, (size_t)k, name, nchunks, (size_t)acc) : NULL;
        ok = r && get(&b, r->acc, (size_t)acc);
        if (r) {
            r->chunks_done = done_chunks;
            r->done = (int)done;
        }
    }
    free(b.p);
    if (!ok)
        sl__journal_truncate(j, 0);
    return ok;
}

sl_status sl__journal_open(sl__journal *j, const char *ckpt_path, const char *key, int64_t chunk_rows,
                           int64_t max_rows, size_t n_arrays, sl_error *err)
{
    memset(j, 0, sizeof *j);
    size_t n = strlen(ckpt_path) + 16;
    j->path = malloc(n);
    j->hash_states = calloc(n_arrays ? n_arrays : 1, sl__hasher_state_size());
    if (!j->path || !j->hash_states) {
        sl__journal_close(j);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    snprintf(j->path, n, "%s.tmp.resume", ckpt_path);
    memcpy(j->key, key, SL_HASH_HEX);
    j->chunk_rows = chunk_rows;
    j->max_rows = max_rows;
    j->n_arrays = n_arrays;
    j->loaded = load(j);
    return SL_OK;
}

void sl__journal_remove(const sl__journal *j)
{
    if (!j->path)
        return;
    unlink(j->path);
    size_t n = strlen(j->path) + 5;
    char *tmp = malloc(n);
    if (tmp) {
        snprintf(tmp, n, "%s.tmp", j->path); /* a save the process died in */
        unlink(tmp);
        free(tmp);
    }
}
