#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/dispatch.h"
#include "kernels/encode.h"
#include "kernels/labels.h"

size_t sl__distinct_size(int64_t cap)
{
    return sizeof(sl__distinct) + (size_t)(cap > 0 ? cap : 0) * sizeof(double);
}

void sl__distinct_add(sl__distinct *d, int64_t cap, double *x, int64_t n, int64_t row0)
{
    /* the label sets order numbers only: NaNs are counted, and kept apart */
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isnan(x[i]))
            x[m++] = x[i];
        else if (d->nan_count++ == 0)
            d->nan_row = row0 + i;
    }
    if (!d->over && sl__labels_add(d->v, &d->n, (size_t)cap, x, m)) {
        d->over = 1;
        d->over_row = row0 + n;
    }
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
    } else if (!a->over && sl__labels_union(a->v, &a->n, (size_t)cap, b->v, b->n)) {
        a->over = 1;
        a->over_row = b->end_row;
    }
    if (b->end_row > a->end_row)
        a->end_row = b->end_row;
}

int64_t sl__encode_codes(int64_t *codes, const double *x, int64_t n, const double *t, int64_t k, int64_t *first)
{
    int has_nan = k > 0 && isnan(t[k - 1]);
    size_t numbers = (size_t)(k - has_nan);
    int64_t missing = 0, last_code = -1;
    double last = 0;
    int have_last = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (isnan(v)) {
            codes[i] = has_nan ? k - 1 : -1;
        } else {
            /* runs of one value (sorted or grouped data) skip the search */
            if (!have_last || v != last) {
                last = v;
                last_code = sl__labels_find(t, numbers, v);
                have_last = 1;
            }
            codes[i] = last_code;
        }
        if (codes[i] < 0 && missing++ == 0)
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
