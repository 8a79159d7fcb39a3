/* The CSV index pass (src/io/csv_index.h). Where a record starts depends on
 * every quote before it, so the pass is sequential in principle; it runs in
 * parallel by speculation. The text is cut into one segment per thread;
 * each segment after the first guesses that the line following its cut
 * starts a record and indexes from there. The segments are then joined in
 * order: a guess is right when the segment before ends (reaches its first
 * record start at or past the cut) exactly where the guess began, since the
 * scan from a record start is determined by the text alone. A wrong guess
 * (a quoted line break across the cut) is scanned again from where the
 * segment before really ended. So the index is the sequential one whatever
 * the thread count, and in the common case costs 1/threads of it. */
#include "io/csv_index.h"
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"

#define BLOCK ((size_t)4 << 20)
/* segments smaller than this are not worth a thread (tests lower it) */
int64_t sl__csv_min_segment = (int64_t)16 << 20;

/* What a scan of the records from `start` up to `limit` found. */
typedef struct seg {
    int64_t start, limit;
    int64_t end, end_line;   /* the first record start at or past limit (or the text's end), its line */
    int64_t rows, skipped, first_skipped_line;
    sl__csv_index e;         /* entries: every `every`-th record, from the first (rec counts from 0) */
    size_t cap;
    sl_status status;
    sl_error err;
} seg;

/* Adds an entry (record number, offset, line) to ix (capacity *cap). */
static sl_status append(sl__csv_index *ix, size_t *cap, int64_t rec, int64_t off, int64_t line, sl_error *err)
{
    if (ix->n + 1 >= *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        int64_t *a = realloc(ix->rec, c * sizeof *a);
        if (a)
            ix->rec = a;
        int64_t *o = a ? realloc(ix->off, c * sizeof *o) : NULL;
        if (o)
            ix->off = o;
        int64_t *l = o ? realloc(ix->line, c * sizeof *l) : NULL;
        if (!l)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        ix->line = l;
        *cap = c;
    }
    ix->rec[ix->n] = rec;
    ix->off[ix->n] = off;
    ix->line[ix->n] = line;
    ix->n++;
    return SL_OK;
}

static void seg_free(seg *g)
{
    sl__csv_index_free(&g->e);
    g->cap = 0;
}

/* One record in skip mode: 1 when it parses, 0 when it is skipped. */
static int record_good(const sl__csv_reader *r, const char *rec, size_t len, int64_t line, void *const *row,
                       sl__csv_field *fields)
{
    int64_t rows = 0, skipped = 0;
    sl_error e = {0};
    return sl__csv_parse(r, rec, len, line, row, 1, fields, &rows, &skipped, &e) == SL_OK && rows == 1;
}

/* Scans records from g->start (a record start, on line `line`) until one
 * starts at or past g->limit; fills g. */
static void scan(sl__csv_source *src, const sl__csv_reader *r, int64_t line, int64_t every, seg *g)
{
    size_t size = BLOCK, have = 0;
    char *buf = malloc(size);
    int64_t width = 0;
    for (size_t a = 0; r->skip_bad && a < r->n_arrays; a++)
        width += r->cols[a];
    /* skip mode: a scratch row (8 bytes an element) and fields */
    double *scratch = r->skip_bad ? malloc((size_t)(width ? width : 1) * 8) : NULL;
    void **row = r->skip_bad ? calloc(r->n_arrays ? r->n_arrays : 1, sizeof *row) : NULL;
    sl__csv_field *fields = r->skip_bad ? malloc((r->ncols + 1) * sizeof *fields) : NULL;
    sl_status s = buf && (!r->skip_bad || (scratch && row && fields)) ? SL_OK
                                                                        : sl__error_set(&g->err, SL_ERR_NOMEM, "out of memory");
    for (size_t a = 0, k = 0; s == SL_OK && r->skip_bad && a < r->n_arrays; k += (size_t)r->cols[a], a++)
        row[a] = scratch + k;
    int64_t pos = g->start; /* of buf[0] */
    size_t used = 0;
    int eof = 0, done = pos >= g->limit;
    while (s == SL_OK && !done) {
        if (!eof && have < size) { /* fill the buffer */
            size_t k;
            s = sl__csv_source_read(src, buf + have, size - have, pos + (int64_t)have, &k, &g->err);
            if (s)
                break;
            eof = k == 0;
            have += k;
            if (!eof && have < size)
                continue;
        }
        used = 0;
        while (used < have && s == SL_OK) {
            if (pos + (int64_t)used >= g->limit) {
                done = 1;
                break;
            }
            long long open;
            int64_t nl;
            const char *rec = buf + used;
            size_t n = sl__csv_record_len(&r->d, rec, have - used, eof, &open, &nl);
            if (n == 0)
                break;
            if (open >= 0) {
                int64_t l = line, c = 1;
                for (long long q = 0; q < open; q++, c++)
                    if (rec[q] == '\n') {
                        l++;
                        c = 0;
                    }
                s = sl__error_set(&g->err, SL_ERR_DATA,
                                  "%s:%lld:%lld: the quoted field that starts here is never closed (the file ends "
                                  "inside it); add the closing quote, and double each quote inside a quoted field",
                                  r->file, (long long)l, (long long)c);
                break;
            }
            if (!sl__csv_record_skipped(&r->d, rec, n)) {
                int good = !r->skip_bad || record_good(r, rec, n, line, row, fields);
                if (!good && g->skipped++ == 0)
                    g->first_skipped_line = line;
                if (good && g->rows % every == 0)
                    s = append(&g->e, &g->cap, g->rows, pos + (int64_t)used, line, &g->err);
                g->rows += good;
            }
            used += n;
            line += nl;
        }
        if (s || done || (eof && used == have))
            break;
        if (used == 0 && have == size) { /* one record longer than the buffer */
            char *b = size < ((size_t)1 << 31) ? realloc(buf, size * 2) : NULL;
            if (!b) {
                s = sl__error_set(&g->err, SL_ERR_DATA,
                                  "%s:%lld: a record longer than %zu MiB (an unclosed quote?); check the quotes "
                                  "of the record that starts on this line",
                                  r->file, (long long)line, size >> 20);
                break;
            }
            buf = b;
            size *= 2;
            continue;
        }
        memmove(buf, buf + used, have - used);
        have -= used;
        pos += (int64_t)used;
        used = 0;
    }
    g->end = pos + (int64_t)(done ? used : have);
    g->end_line = line;
    g->status = s;
    free(buf);
    free(scratch);
    free(row);
    free(fields);
}

/* The record start guessed for a cut at `at`: just past the first '\n' at
 * or after at - 1 (so a cut that falls on a line's start keeps it); `limit`
 * when no line ends before it. */
static sl_status guess_start(sl__csv_source *src, int64_t at, int64_t limit, int64_t *out, sl_error *err)
{
    char buf[1 << 16];
    for (at = at > 0 ? at - 1 : 0; at < limit;) {
        size_t got;
        sl_status s = sl__csv_source_read(src, buf, sizeof buf, at, &got, err);
        if (s)
            return s;
        if (got == 0)
            break;
        const char *e = memchr(buf, '\n', got);
        if (e) {
            *out = at + (e - buf) + 1;
            return SL_OK;
        }
        at += (int64_t)got;
    }
    *out = limit;
    return SL_OK;
}

sl_status sl__csv_index_build(sl__csv_source *src, const sl__csv_reader *r, int64_t start, int64_t line0,
                              int64_t every, int threads, sl__csv_index *ix, sl_error *err)
{
    memset(ix, 0, sizeof *ix);
    int64_t size = sl__csv_source_serial(src) ? -1 : sl__csv_source_size(src);
    int t = size < 0 ? 1 : threads < 1 ? 1 : threads;
    while (t > 1 && (size - start) / t < sl__csv_min_segment)
        t--;
    seg *g = calloc((size_t)t, sizeof *g);
    int64_t *cut = malloc(((size_t)t + 1) * sizeof *cut);
    sl_status s = g && cut ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (int k = 0; s == SL_OK && k <= t; k++)
        cut[k] = k == t ? INT64_MAX : start + (size - start) / t * k;
    for (int k = 0; s == SL_OK && k < t; k++) {
        g[k].limit = cut[k + 1];
        g[k].start = start;
        if (k > 0)
            s = guess_start(src, cut[k], cut[k + 1], &g[k].start, err);
    }
    if (s == SL_OK) {
#pragma omp parallel for num_threads(t) schedule(static, 1)
        for (int k = 0; k < t; k++)
            scan(src, r, k == 0 ? line0 : 0, every, &g[k]);
    }
    /* join the segments in order; a wrong guess is scanned again */
    size_t cap = 0;
    int64_t end = start, line = line0;
    for (int k = 0; s == SL_OK && k < t; k++) {
        seg *h = &g[k];
        int64_t shift = k == 0 ? 0 : line; /* the guessed segments count lines from 0 */
        /* a wrong guess, or an error whose message needs the true line numbers */
        if (k > 0 && (h->start != end || h->status)) {
            seg_free(h);
            int64_t limit = h->limit;
            memset(h, 0, sizeof *h);
            h->start = end;
            h->limit = limit;
            scan(src, r, line, every, h);
            shift = 0;
        }
        if (h->status) {
            *err = h->err;
            s = h->status;
            break;
        }
        for (size_t i = 0; i < h->e.n && s == SL_OK; i++)
            s = append(ix, &cap, ix->rows + h->e.rec[i], h->e.off[i], h->e.line[i] + shift, err);
        if (h->skipped && ix->skipped == 0)
            ix->first_skipped_line = h->first_skipped_line + shift;
        ix->skipped += h->skipped;
        ix->rows += h->rows;
        end = h->end;
        line = h->end_line + shift;
    }
    if (s == SL_OK) /* the end of the data */
        s = append(ix, &cap, ix->rows, end, line, err);
    if (s == SL_OK)
        ix->n--;
    for (int k = 0; g && k < t; k++)
        seg_free(&g[k]);
    free(g);
    free(cut);
    if (s)
        sl__csv_index_free(ix);
    return s;
}

size_t sl__csv_index_find(const sl__csv_index *ix, int64_t row)
{
    size_t lo = 0, hi = ix->n; /* the last entry with rec <= row */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->rec[mid] <= row)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

void sl__csv_index_free(sl__csv_index *ix)
{
    free(ix->rec);
    free(ix->off);
    free(ix->line);
    ix->rec = ix->off = ix->line = NULL;
    ix->n = 0;
}
