/* The CSV index pass (src/io/csv_index.h). Sequential by design: where a
 * record starts depends on every quote before it, and one pass with memchr
 * runs at memory speed on a file in the page cache (the parse that follows
 * is the costly part, and that runs on all threads). */
#include "io/csv_index.h"
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"

#define BLOCK ((size_t)4 << 20)

static sl_status push(sl__csv_index *ix, size_t *cap, int64_t off, int64_t line, sl_error *err)
{
    if (ix->n + 1 >= *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        int64_t *o = realloc(ix->off, c * sizeof *o);
        if (o)
            ix->off = o;
        int64_t *l = o ? realloc(ix->line, c * sizeof *l) : NULL;
        if (!l)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        ix->line = l;
        *cap = c;
    }
    ix->off[ix->n] = off;
    ix->line[ix->n] = line;
    ix->n++;
    return SL_OK;
}

/* One record in skip mode: 1 when it parses, 0 when it is skipped. */
static int record_good(const sl__csv_reader *r, const char *rec, size_t len, int64_t line, void *const *row,
                       sl__csv_field *fields)
{
    int64_t rows = 0, skipped = 0;
    sl_error e = {0};
    return sl__csv_parse(r, rec, len, line, row, 1, fields, &rows, &skipped, &e) == SL_OK && rows == 1;
}

sl_status sl__csv_index_build(sl__csv_source *src, const sl__csv_reader *r, int64_t start, int64_t line0, int64_t every,
                              sl__csv_index *ix, sl_error *err)
{
    memset(ix, 0, sizeof *ix);
    ix->every = every;
    size_t cap = 0, size = BLOCK, have = 0;
    char *buf = malloc(size);
    /* skip mode: a scratch row (8 bytes an element) and fields */
    int64_t width = 0;
    for (size_t a = 0; r->skip_bad && a < r->n_arrays; a++)
        width += r->cols[a];
    double *scratch = r->skip_bad ? malloc((size_t)(width ? width : 1) * 8) : NULL;
    void **row = r->skip_bad ? calloc(r->n_arrays ? r->n_arrays : 1, sizeof *row) : NULL;
    sl__csv_field *fields = r->skip_bad ? malloc((r->ncols + 1) * sizeof *fields) : NULL;
    sl_status s = buf && (!r->skip_bad || (scratch && row && fields)) ? SL_OK
                                                                        : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t a = 0, k = 0; s == SL_OK && r->skip_bad && a < r->n_arrays; k += (size_t)r->cols[a], a++)
        row[a] = scratch + k;
    int64_t pos = start, line = line0; /* of buf[0] */
    int eof = 0;
    while (s == SL_OK) {
        if (!eof && have < size) { /* fill the buffer */
            size_t k;
            s = sl__csv_source_read(src, buf + have, size - have, pos + (int64_t)have, &k, err);
            if (s)
                break;
            eof = k == 0;
            have += k;
            if (!eof && have < size)
                continue;
        }
        size_t used = 0;
        while (used < have) {
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
                s = sl__error_set(err, SL_ERR_DATA,
                                  "%s:%lld:%lld: the quoted field that starts here is never closed (the file ends "
                                  "inside it); add the closing quote, and double each quote inside a quoted field",
                                  r->file, (long long)l, (long long)c);
                break;
            }
            if (!sl__csv_record_skipped(&r->d, rec, n)) {
                int good = !r->skip_bad || record_good(r, rec, n, line, row, fields);
                if (!good && ix->skipped++ == 0)
                    ix->first_skipped_line = line;
                if (good && ix->rows % every == 0)
                    s = push(ix, &cap, pos + (int64_t)used, line, err);
                ix->rows += good;
            }
            used += n;
            line += nl;
            if (s)
                break;
        }
        if (s || (eof && used == have))
            break;
        if (used == 0 && have == size) { /* one record longer than the buffer */
            char *b = size < ((size_t)1 << 31) ? realloc(buf, size * 2) : NULL;
            if (!b) {
                s = sl__error_set(err, SL_ERR_DATA,
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
    }
    if (s == SL_OK)
        s = push(ix, &cap, pos + (int64_t)have, line, err);
    if (s == SL_OK)
        ix->n--; /* the last entry is the end, not a chunk's start */
    free(buf);
    free(scratch);
    free(row);
    free(fields);
    if (s)
        sl__csv_index_free(ix);
    return s;
}

void sl__csv_index_free(sl__csv_index *ix)
{
    free(ix->off);
    free(ix->line);
    ix->off = ix->line = NULL;
    ix->n = 0;
}
