/* CSV records and fields (src/io/csv_scan.h). The common record, one line
 * without a quote at the start of a field, costs two memchr calls; the
 * quote-aware state machine runs only on lines holding a quote character.
 * The index pass and the chunk parser find records with the same function,
 * so they always agree on where a record ends. */
#include "io/csv_scan.h"
#include <math.h>
#include <string.h>
#include "core/error_int.h"
#include "io/csv_num.h"

/* The quote-aware walk: from p (a field start) to the end of the record. */
static size_t record_len_quoted(const sl__csv_dialect *d, const char *p, size_t n, int at_eof,
                                long long *open_quote, int64_t *newlines)
{
    size_t i = 0;
    int64_t nl = 0;
    for (;;) {
        if (i < n && p[i] == d->quote) { /* a quoted field: to its closing quote */
            size_t q = i;
            for (i++;; i += 2) {
                const char *e = i < n ? memchr(p + i, d->quote, n - i) : NULL;
                if (!e || (size_t)(e - p) + 1 >= n) {
                    if (e && at_eof) { /* the file's last byte closes it */
                        i = (size_t)(e - p) + 1;
                        break;
                    }
                    if (!at_eof)
                        return 0;
                    *open_quote = (long long)q;
                    break;
                }
                i = (size_t)(e - p);
                if (p[i + 1] != d->quote) { /* not "": the closing quote */
                    i++;
                    break;
                }
            }
            for (size_t k = q; k < i && k < n; k++)
                nl += p[k] == '\n';
            if (*open_quote >= 0) {
                *newlines = nl;
                return n;
            }
        }
        /* unquoted text (or what follows a closing quote) up to a delimiter or the line's end */
        while (i < n && p[i] != d->delim && p[i] != '\n')
            i++;
        if (i >= n) {
            *newlines = nl;
            return at_eof ? n : 0;
        }
        if (p[i] == '\n') {
            *newlines = nl + 1;
            return i + 1;
        }
        i++; /* past the delimiter: a new field */
    }
}

size_t sl__csv_record_len(const sl__csv_dialect *d, const char *p, size_t n, int at_eof, long long *open_quote,
                          int64_t *newlines)
{
    *open_quote = -1;
    const char *e = memchr(p, '\n', n);
    size_t line = e ? (size_t)(e - p) + 1 : n;
    /* a comment line ends at its line's end, quotes or not; so does a line
     * without any quote character */
    if ((d->comment && n && p[0] == d->comment) || !memchr(p, d->quote, line)) {
        *newlines = e != NULL;
        return e || at_eof ? line : 0;
    }
    return record_len_quoted(d, p, n, at_eof, open_quote, newlines);
}

int sl__csv_record_skipped(const sl__csv_dialect *d, const char *p, size_t len)
{
    if (len && d->comment && p[0] == d->comment)
        return 1;
    return len == 0 || (len == 1 && p[0] == '\n') || (len == 2 && p[0] == '\r' && p[1] == '\n') ||
           (len == 1 && p[0] == '\r');
}

size_t sl__csv_split(const sl__csv_dialect *d, const char *rec, size_t len, sl__csv_field *f, size_t max)
{
    if (len && rec[len - 1] == '\n')
        len--;
    if (len && rec[len - 1] == '\r')
        len--;
    size_t k = 0, i = 0;
    for (;;) {
        sl__csv_field x = {rec + i, 0, 0, 0};
        if (i < len && rec[i] == d->quote) {
            size_t j = i + 1;
            for (;;) {
                const char *e = j < len ? memchr(rec + j, d->quote, len - j) : NULL;
                if (!e) { /* unterminated: the record scan reports it */
                    j = len;
                    break;
                }
                j = (size_t)(e - rec);
                if (j + 1 < len && rec[j + 1] == d->quote) {
                    j += 2;
                    continue;
                }
                break;
            }
            x.p = rec + i + 1;
            x.n = j > i + 1 ? j - i - 1 : 0;
            x.quoted = 1;
            i = j < len ? j + 1 : len;
            if (i < len && rec[i] != d->delim) { /* text after the closing quote */
                x.bad = 1;
                const char *e = memchr(rec + i, d->delim, len - i);
                i = e ? (size_t)(e - rec) : len;
            }
        } else { /* numbers are short: a byte loop beats a memchr call */
            size_t j = i;
            while (j < len && rec[j] != d->delim)
                j++;
            x.n = j - i;
            i = j;
        }
        if (k < max)
            f[k] = x;
        k++;
        if (i >= len)
            return k;
        i++; /* the delimiter */
    }
}

size_t sl__csv_unquote(const sl__csv_field *f, char quote, char *buf, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < f->n && k + 1 < size; i++) {
        buf[k++] = f->p[i];
        if (f->quoted && f->p[i] == quote && i + 1 < f->n && f->p[i + 1] == quote)
            i++;
    }
    if (size)
        buf[k] = '\0';
    return k;
}

int sl__csv_utf8_ok(const char *s, size_t n, size_t *bad)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        int ok = len > 0 && i + len <= n && !(len == 2 && c < 0xC2) && !(len == 4 && c > 0xF4);
        for (size_t k = 1; ok && k < len; k++)
            ok = (u[i + k] & 0xC0) == 0x80;
        /* overlong 3- and 4-byte forms, surrogates, and past U+10FFFF */
        if (ok && len == 3)
            ok = !(c == 0xE0 && u[i + 1] < 0xA0) && !(c == 0xED && u[i + 1] >= 0xA0);
        if (ok && len == 4)
            ok = !(c == 0xF0 && u[i + 1] < 0x90) && !(c == 0xF4 && u[i + 1] >= 0x90);
        if (!ok) {
            *bad = i;
            return 0;
        }
        i += len;
    }
    return 1;
}

/* ---- parsing records into rows ---- */

/* The line and column (1-based) of byte at in a record that starts on line `line`. */
static void locate(const char *rec, const char *at, int64_t line, int64_t *l, int64_t *c)
{
    const char *start = rec;
    for (const char *q = rec; q < at; q++)
        if (*q == '\n') {
            line++;
            start = q + 1;
        }
    *l = line;
    *c = (int64_t)(at - start) + 1;
}

/* The field's text for a message: unquoted, cut to 60 bytes. */
static void shown(const sl__csv_reader *r, const sl__csv_field *f, char *buf, size_t size)
{
    size_t n = sl__csv_unquote(f, r->d.quote, buf, size);
    if (n + 1 >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
}

static int is_na(const sl__csv_reader *r, const sl__csv_field *f)
{
    for (size_t i = 0; i < r->n_na; i++) {
        size_t k = strlen(r->na[i]);
        if (k == f->n && memcmp(r->na[i], f->p, k) == 0)
            return 1;
    }
    return 0;
}

enum { V_OK, V_NOT_NUMBER, V_NA_INT, V_NOT_INT, V_QUOTE };

/* Parses field f into element `at` of an array of type t. */
static int put_value(const sl__csv_reader *r, const sl__csv_field *f, sl_dtype t, void *base, int64_t at)
{
    if (f->bad)
        return V_QUOTE;
    char tmp[512];
    const char *s = f->p;
    size_t n = f->n;
    if (f->quoted && memchr(s, r->d.quote, n)) { /* "" inside: a number has none, but NA may */
        n = sl__csv_unquote(f, r->d.quote, tmp, sizeof tmp);
        s = tmp;
    }
    int na = r->na_numeric && is_na(r, f);
    if (t == SL_FLOAT64 || t == SL_FLOAT32) {
        double v;
        if (na || !sl__csv_parse_double(s, n, &v)) {
            if (!na && !is_na(r, f))
                return V_NOT_NUMBER;
            v = NAN;
        }
        if (t == SL_FLOAT64)
            ((double *)base)[at] = v;
        else
            ((float *)base)[at] = (float)v;
        return V_OK;
    }
    int64_t v;
    int k = na ? 0 : sl__csv_parse_int64(s, n, &v);
    if (k == 1 && t == SL_INT32 && (v < INT32_MIN || v > INT32_MAX))
        k = -1;
    if (k != 1) {
        double d;
        if (na || (k == 0 && is_na(r, f)))
            return V_NA_INT;
        return k == 0 && !sl__csv_parse_double(s, n, &d) ? V_NOT_NUMBER : V_NOT_INT;
    }
    if (t == SL_INT64)
        ((int64_t *)base)[at] = v;
    else
        ((int32_t *)base)[at] = (int32_t)v;
    return V_OK;
}

static sl_status bad_value(const sl__csv_reader *r, const char *rec, const sl__csv_field *f, size_t c, int64_t line,
                           int why, sl_error *err)
{
    int64_t l, col;
    locate(rec, f->quoted ? f->p - 1 : f->p, line, &l, &col);
    char v[64];
    shown(r, f, v, sizeof v);
    const char *name = r->names[c];
    sl_dtype t = r->dtype[r->arr[c]];
    switch (why) {
    case V_QUOTE:
        return sl__error_set(err, SL_ERR_DATA,
                             "%s:%lld:%lld: text after the closing quote of a quoted field ('%s...') in column "
                             "'%s'; quote the whole field and double each quote inside it, or set on_bad_row: skip",
                             r->file, (long long)l, (long long)col, v, name);
    case V_NA_INT:
        return sl__error_set(err, SL_ERR_DATA,
                             "%s:%lld:%lld: missing value '%s' in column '%s', which is read as %s (integers have "
                             "no NaN); read it as floats (dtypes: { ARRAY: float64 }), or set on_bad_row: skip",
                             r->file, (long long)l, (long long)col, v, name, sl_dtype_name(t));
    case V_NOT_INT:
        return sl__error_set(err, SL_ERR_DATA,
                             "%s:%lld:%lld: '%s' in column '%s' is not a %s integer; read the column as floats "
                             "(dtypes: { ARRAY: float64 }), fix the value, or set on_bad_row: skip",
                             r->file, (long long)l, (long long)col, v, name, sl_dtype_name(t));
    default:
        return sl__error_set(err, SL_ERR_DATA,
                             "%s:%lld:%lld: '%s' in column '%s' is not a number; fix the value, add its spelling "
                             "to na_values if it means missing, leave the column out of 'arrays', or set "
                             "on_bad_row: skip",
                             r->file, (long long)l, (long long)col, v, name);
    }
}

/* The common record: no quote, every float field a plain number. Parses
 * the fields as it finds them, in one pass; 1 when the whole row was read,
 * 0 when the record needs the general path (a quote, a field that is not a
 * plain number, a missing value, a wrong field count), which then reads it
 * again from the start. */
static int fast_row(const sl__csv_reader *r, const char *rec, size_t len, void *const *data, int64_t row)
{
    if (r->na_numeric || memchr(rec, r->d.quote, len))
        return 0;
    const char *p = rec, *end = rec + len;
    const char delim = r->d.delim;
    for (size_t c = 0; c < r->ncols; c++) {
        if (c > 0) {
            if (p >= end || *p != delim)
                return 0;
            p++;
        }
        int a = r->arr[c];
        sl_dtype t = a >= 0 ? r->dtype[a] : SL_DTYPE_NONE;
        if (t != SL_FLOAT64 && t != SL_FLOAT32) {
            const char *q = p;
            while (q < end && *q != delim)
                q++;
            if (a >= 0) {
                sl__csv_field f = {p, (size_t)(q - p), 0, 0};
                if (put_value(r, &f, t, data[a], row * r->cols[a] + r->col[c]) != V_OK)
                    return 0;
            }
            p = q;
            continue;
        }
        double v;
        const char *q = sl__csv_parse_double_prefix(p, end, &v);
        int64_t at = row * r->cols[a] + r->col[c];
        if (!q || (q < end && *q != delim)) { /* nan, a missing value, spaces: the field as a whole */
            q = p;
            while (q < end && *q != delim)
                q++;
            sl__csv_field f = {p, (size_t)(q - p), 0, 0};
            if (put_value(r, &f, t, data[a], at) != V_OK)
                return 0;
            p = q;
            continue;
        }
        if (t == SL_FLOAT64)
            ((double *)data[a])[at] = v;
        else
            ((float *)data[a])[at] = (float)v;
        p = q;
    }
    return p == end;
}

sl_status sl__csv_parse(const sl__csv_reader *r, const char *buf, size_t len, int64_t line0, void *const *data,
                        int64_t max_rows, sl__csv_field *fields, int64_t *rows, int64_t *skipped, sl_error *err)
{
    int64_t row = 0, line = line0, skip = 0;
    sl_status s = SL_OK;
    for (size_t off = 0; off < len && s == SL_OK && row < max_rows;) {
        const char *rec = buf + off;
        long long open;
        int64_t nl;
        size_t n = sl__csv_record_len(&r->d, rec, len - off, 1, &open, &nl);
        off += n;
        int64_t here = line;
        line += nl;
        if (open >= 0) {
            int64_t l, c;
            locate(rec, rec + open, here, &l, &c);
            s = sl__error_set(err, SL_ERR_DATA,
                              "%s:%lld:%lld: the quoted field that starts here is never closed (the file ends "
                              "inside it); add the closing quote, and double each quote inside a quoted field",
                              r->file, (long long)l, (long long)c);
            break;
        }
        if (sl__csv_record_skipped(&r->d, rec, n))
            continue;
        size_t content = n - (n && rec[n - 1] == '\n');
        content -= content && rec[content - 1] == '\r';
        if (fast_row(r, rec, content, data, row)) {
            row++;
            continue;
        }
        size_t k = sl__csv_split(&r->d, rec, n, fields, r->ncols + 1);
        if (k != r->ncols) {
            if (r->skip_bad) {
                skip++;
                continue;
            }
            int64_t l, c;
            size_t end = n - (n && rec[n - 1] == '\n');
            end -= end && rec[end - 1] == '\r';
            const char *at = k > r->ncols ? fields[r->ncols].p - fields[r->ncols].quoted : rec + end;
            locate(rec, at, here, &l, &c);
            s = sl__error_set(err, SL_ERR_DATA,
                              "%s:%lld:%lld: this row has %zu fields, the header %zu (last column '%s'); fix the "
                              "row (a delimiter inside a value needs quotes), or set on_bad_row: skip",
                              r->file, (long long)l, (long long)c, k, r->ncols, r->names[r->ncols - 1]);
            break;
        }
        int bad = 0;
        for (size_t c = 0; c < k && !bad; c++) {
            int a = r->arr[c];
            if (a < 0)
                continue;
            int why = put_value(r, &fields[c], r->dtype[a], data[a], row * r->cols[a] + r->col[c]);
            if (why != V_OK) {
                bad = 1;
                if (!r->skip_bad)
                    s = bad_value(r, rec, &fields[c], c, here, why, err);
            }
        }
        if (bad)
            skip++;
        else
            row++;
    }
    *rows = row;
    *skipped = skip;
    return s;
}
