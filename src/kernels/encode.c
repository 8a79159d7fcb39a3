#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/dispatch.h"
#include "kernels/encode.h"

size_t sl__distinct_size(int64_t cap)
{
    return sizeof(sl__distinct) + (size_t)(cap > 0 ? cap : 0) * sizeof(double);
}

/* numpy.unique's order: NaN after every number, and equal to itself. */
static int cmp_value(double a, double b)
{
    if (isnan(a))
        return isnan(b) ? 0 : 1;
    if (isnan(b))
        return -1;
    return a < b ? -1 : a > b;
}

static int cmp_qsort(const void *a, const void *b)
{
    return cmp_value(*(const double *)a, *(const double *)b);
}

int64_t sl__distinct_find(const double *t, int64_t k, double v)
{
    if (isnan(v))
        return k > 0 && isnan(t[k - 1]) ? k - 1 : -1;
    int64_t lo = 0, hi = k > 0 && isnan(t[k - 1]) ? k - 1 : k;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (t[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < k && t[lo] == v ? lo : -1;
}

/* Size of the union of two sorted sets. */
static int64_t union_count(const double *a, int64_t na, const double *b, int64_t nb)
{
    int64_t i = 0, j = 0, u = 0;
    while (i < na && j < nb) {
        int c = cmp_value(a[i], b[j]);
        i += c <= 0;
        j += c >= 0;
        u++;
    }
    return u + (na - i) + (nb - j);
}

/* a[0..na) becomes the union of itself and b[0..nb), u values: merged from
 * the back, so that it needs no buffer (a has room for u). */
static void union_into(double *a, int64_t na, const double *b, int64_t nb, int64_t u)
{
    int64_t i = na - 1, j = nb - 1, k = u - 1;
    while (j >= 0) {
        int c = i >= 0 ? cmp_value(a[i], b[j]) : -1;
        if (c > 0) {
            a[k--] = a[i--];
        } else {
            a[k--] = b[j--];
            i -= c == 0;
        }
    }
}

/* Sorts m values and removes repeats; returns how many are left. */
static int64_t sort_unique(double *x, int64_t m)
{
    qsort(x, (size_t)m, sizeof *x, cmp_qsort);
    int64_t u = 0;
    for (int64_t i = 0; i < m; i++)
        if (u == 0 || cmp_value(x[u - 1], x[i]) != 0)
            x[u++] = x[i];
    return u;
}

static void add_sorted(sl__distinct *d, int64_t cap, const double *x, int64_t m, int64_t row)
{
    if (d->over)
        return;
    int64_t u = union_count(d->v, d->n, x, m);
    if (u > cap) {
        d->over = 1;
        d->over_row = row;
        return;
    }
    union_into(d->v, d->n, x, m, u);
    d->n = u;
}

/* Values the table lacks wait in a small buffer and join it sorted, a few
 * hundred at a time: a column of few classes costs a binary search per
 * value, and one of many distinct values never costs a move of the table
 * per value. */
#define MISS_MAX 256

void sl__distinct_add(sl__distinct *d, int64_t cap, const double *x, int64_t n, int64_t row0)
{
    double miss[MISS_MAX];
    int64_t m = 0;
    double last = NAN;
    int have_last = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i] + 0.0; /* -0 becomes 0 */
        if (isnan(v) && d->nan_count++ == 0)
            d->nan_row = row0 + i;
        /* past the cap only NaNs count: the first one's row is reported */
        if (d->over || (have_last && cmp_value(v, last) == 0))
            continue;
        last = v;
        have_last = 1;
        if (sl__distinct_find(d->v, d->n, v) >= 0)
            continue;
        miss[m++] = v;
        if (m == MISS_MAX) {
            add_sorted(d, cap, miss, sort_unique(miss, m), row0 + i + 1);
            m = 0;
        }
    }
    if (m)
        add_sorted(d, cap, miss, sort_unique(miss, m), row0 + n);
    if (row0 + n > d->end_row)
        d->end_row = row0 + n;
}

void sl__distinct_merge(sl__distinct *a, const sl__distinct *b, int64_t cap)
{
    if (b->nan_count > 0 && a->nan_count == 0)
        a->nan_row = b->nan_row;
    a->nan_count += b->nan_count;
    if (!a->over && b->over) {
        a->over = 1;
        a->over_row = b->over_row;
    } else if (!a->over) {
        add_sorted(a, cap, b->v, b->n, b->end_row);
    }
    if (b->end_row > a->end_row)
        a->end_row = b->end_row;
}

int64_t sl__encode_codes(int64_t *codes, const double *x, int64_t n, const double *t, int64_t k, int64_t *first)
{
    int64_t missing = 0;
    double last = NAN;
    int64_t last_code = -1;
    int have_last = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        /* runs of one value (sorted or grouped data) skip the search */
        if (!have_last || cmp_value(v, last) != 0) {
            last = v;
            last_code = sl__distinct_find(t, k, v);
            have_last = 1;
        }
        codes[i] = last_code;
        if (last_code < 0 && missing++ == 0)
            *first = i;
    }
    return missing;
}

#define COLUMN_F64(T)                                                                                       \
    do {                                                                                                   \
        const T *p = (const T *)x + col;                                                                   \
        for (int64_t r = 0; r < rows; r++)                                                                 \
            out[r] = (double)p[r * cols];                                                                  \
    } while (0)

/* 2^53: the integers up to it, and not all beyond, convert to double
 * exactly; beyond it two values could become one class. */
#define EXACT_MAX ((int64_t)1 << 53)

int64_t sl__column_f64(double *out, const void *x, sl_dtype t, int64_t rows, int64_t cols, int64_t col,
                       int64_t *first)
{
    SL_DISPATCH_DTYPE(t, COLUMN_F64)
    int64_t bad = 0;
    if (t == SL_INT64) {
        const int64_t *p = (const int64_t *)x + col;
        for (int64_t r = 0; r < rows; r++)
            if ((p[r * cols] > EXACT_MAX || p[r * cols] < -EXACT_MAX) && bad++ == 0)
                *first = r;
    } else if (t == SL_UINT64) {
        const uint64_t *p = (const uint64_t *)x + col;
        for (int64_t r = 0; r < rows; r++)
            if (p[r * cols] > (uint64_t)EXACT_MAX && bad++ == 0)
                *first = r;
    }
    return bad;
}

#define ONEHOT_SET(T)                                                                                       \
    do {                                                                                                   \
        T *y = out;                                                                                        \
        for (int64_t r = 0; r < rows; r++) {                                                               \
            int64_t c = codes[r];                                                                          \
            if (c < 0 || c == drop)                                                                        \
                continue;                                                                                  \
            y[r * out_cols + off + c - (drop >= 0 && c > drop)] = (T)1;                                    \
        }                                                                                                  \
    } while (0)

void sl__onehot_set(void *out, sl_dtype t, int64_t rows, int64_t out_cols, int64_t off, const int64_t *codes,
                    int64_t drop)
{
    SL_DISPATCH_DTYPE(t, ONEHOT_SET)
}

/* Elements of a column, copied a block at a time into a contiguous buffer,
 * converted there by sl__cast and copied out: one conversion loop per block
 * rather than a call per value. */
#define CAST_BLOCK 256

static void gather(void *dst, const void *src, size_t size, int64_t stride, int64_t n)
{
    const char *s = src;
    char *d = dst;
    for (int64_t r = 0; r < n; r++)
        memcpy(d + (size_t)r * size, s + (size_t)(r * stride) * size, size);
}

static void scatter(void *dst, const void *src, size_t size, int64_t stride, int64_t n)
{
    const char *s = src;
    char *d = dst;
    for (int64_t r = 0; r < n; r++)
        memcpy(d + (size_t)(r * stride) * size, s + (size_t)r * size, size);
}

sl__cast_result sl__cast_column(void *out, sl_dtype ot, int64_t out_cols, int64_t ocol, const void *in, sl_dtype it,
                                int64_t in_cols, int64_t icol, int64_t rows)
{
    sl__cast_result res = {0, 0};
    uint64_t a[CAST_BLOCK], b[CAST_BLOCK]; /* 8-byte slots hold any dtype */
    size_t isz = sl_dtype_size(it), osz = sl_dtype_size(ot);
    for (int64_t r0 = 0; r0 < rows; r0 += CAST_BLOCK) {
        int64_t n = rows - r0 < CAST_BLOCK ? rows - r0 : CAST_BLOCK;
        gather(a, (const char *)in + (size_t)(r0 * in_cols + icol) * isz, isz, in_cols, n);
        sl__cast_result c = sl__cast(b, ot, a, it, (size_t)n);
        if (c.bad && res.bad == 0)
            res.first_bad = (size_t)r0 + c.first_bad;
        res.bad += c.bad;
        scatter((char *)out + (size_t)(r0 * out_cols + ocol) * osz, b, osz, out_cols, n);
    }
    return res;
}
