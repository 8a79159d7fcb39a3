#include <math.h>
#include <string.h>
#include "kernels/dispatch.h"
#include "kernels/nanfix.h"

#define MISSING(v) ((v) != (v) || (skip_inf && ((v) == INFINITY || (v) == -INFINITY)))

#define DISPATCH_FLOAT(M)                                                                                   \
    switch (t) {                                                                                           \
    case SL_FLOAT32: M(float); break;                                                                      \
    case SL_FLOAT64: M(double); break;                                                                     \
    default: break;                                                                                        \
    }

/* ---- statistics ------------------------------------------------------------------ */

void sl__mstats_init(sl__mstats *s, int64_t cols)
{
    for (int64_t c = 0; c < cols; c++)
        s[c] = (sl__mstats){0, NAN, 0, NAN, NAN, 0, -1, 0};
}

/* Counts, sums, extremes and the first missing value. */
#define MSTATS_PASS1(T)                                                                                     \
    do {                                                                                                   \
        const T *x = data;                                                                                 \
        for (int64_t r = 0; r < rows; r++) {                                                               \
            if (drop && drop[r])                                                                           \
                continue;                                                                                  \
            for (int64_t c = 0; c < cols; c++) {                                                           \
                double v = (double)x[r * cols + c];                                                        \
                if (MISSING(v)) {                                                                          \
                    if (out[c].missing == 0)                                                               \
                        out[c].first_missing = row0 + r;                                                   \
                    out[c].missing += 1;                                                                   \
                    continue;                                                                              \
                }                                                                                          \
                out[c].n += 1;                                                                             \
                out[c].mean += v; /* the sum until divided */                                              \
                if (v < out[c].min)                                                                        \
                    out[c].min = v;                                                                        \
                if (v > out[c].max)                                                                        \
                    out[c].max = v;                                                                        \
            }                                                                                              \
        }                                                                                                  \
    } while (0)

/* Deviations from the first mean: their sum corrects it, their squares give M2. */
#define MSTATS_PASS2(T)                                                                                     \
    do {                                                                                                   \
        const T *x = data;                                                                                 \
        for (int64_t r = 0; r < rows; r++) {                                                               \
            if (drop && drop[r])                                                                           \
                continue;                                                                                  \
            for (int64_t c = 0; c < cols; c++) {                                                           \
                double v = (double)x[r * cols + c];                                                        \
                if (MISSING(v))                                                                            \
                    continue;                                                                              \
                double d = v - out[c].mean;                                                                \
                out[c].scratch += d;                                                                       \
                out[c].m2 += d * d;                                                                        \
            }                                                                                              \
        }                                                                                                  \
    } while (0)

void sl__mstats_chunk(const void *data, sl_dtype t, int64_t rows, int64_t cols, int64_t row0,
                      const unsigned char *drop, int skip_inf, sl__mstats *out)
{
    for (int64_t c = 0; c < cols; c++)
        out[c] = (sl__mstats){0, 0, 0, INFINITY, -INFINITY, 0, -1, 0};
    SL_DISPATCH_DTYPE(t, MSTATS_PASS1)
    for (int64_t c = 0; c < cols; c++) {
        if (out[c].n > 0)
            out[c].mean /= out[c].n;
    }
    SL_DISPATCH_DTYPE(t, MSTATS_PASS2)
    for (int64_t c = 0; c < cols; c++) {
        sl__mstats *s = &out[c];
        if (s->n > 0 && !isfinite(s->mean)) {
            /* +-Inf among the values (inf: keep): the mean is +-Inf or NaN,
             * as NumPy gives it, and there is no finite spread */
            s->m2 = NAN;
        } else if (s->n > 0) {
            double d = s->scratch;
            s->mean += d / s->n;
            s->m2 -= d * d / s->n;
            if (s->m2 < 0)
                s->m2 = 0;
            /* the correction cannot move the mean outside the values */
            if (s->mean < s->min)
                s->mean = s->min;
            if (s->mean > s->max)
                s->mean = s->max;
        } else {
            s->mean = s->min = s->max = NAN;
        }
        s->scratch = 0;
    }
}

void sl__mstats_merge(sl__mstats *acc, const sl__mstats *part, int64_t cols)
{
    for (int64_t c = 0; c < cols; c++) {
        sl__mstats *a = &acc[c];
        const sl__mstats *b = &part[c];
        if (b->missing > 0 && a->first_missing < 0)
            a->first_missing = b->first_missing;
        a->missing += b->missing;
        if (b->n == 0)
            continue;
        if (a->n == 0) {
            a->n = b->n;
            a->mean = b->mean;
            a->m2 = b->m2;
            a->min = b->min;
            a->max = b->max;
            continue;
        }
        double n = a->n + b->n;
        if (!isfinite(a->mean) || !isfinite(b->mean)) {
            /* +-Inf + finite = +-Inf, Inf + -Inf = NaN: the mean of the union */
            a->mean = a->mean + b->mean;
            a->m2 = NAN;
            a->n = n;
            if (b->min < a->min)
                a->min = b->min;
            if (b->max > a->max)
                a->max = b->max;
            continue;
        }
        double delta = b->mean - a->mean;
        a->mean += delta * (b->n / n);
        a->m2 += b->m2 + delta * delta * (a->n * b->n / n);
        a->n = n;
        if (b->min < a->min)
            a->min = b->min;
        if (b->max > a->max)
            a->max = b->max;
    }
}

double sl__mstats_std(const sl__mstats *s)
{
    return s->n > 0 ? sqrt(s->m2 / s->n) : NAN;
}

void sl__nansum_f32(const float *x, int64_t rows, int64_t cols, const unsigned char *drop, int skip_inf, float *sum)
{
    for (int64_t r = 0; r < rows; r++) {
        if (drop && drop[r])
            continue;
        for (int64_t k = 0; k < cols; k++) {
            float v = x[r * cols + k];
            if (v == v && (!skip_inf || isfinite(v)))
                sum[k] += v;
        }
    }
}

/* ---- rows with a missing value ------------------------------------------------------- */

#define ROWS_MISSING(T)                                                                                     \
    do {                                                                                                   \
        const T *x = data;                                                                                 \
        for (int64_t r = 0; r < rows; r++) {                                                               \
            const T *row = x + r * cols;                                                                   \
            for (int64_t c = 0; c < cols; c++) {                                                           \
                double v = (double)row[c];                                                                 \
                if (MISSING(v)) {                                                                          \
                    miss[r] = 1;                                                                           \
                    break;                                                                                 \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
    } while (0)

void sl__rows_missing(const void *data, sl_dtype t, int64_t rows, int64_t cols, int skip_inf, unsigned char *miss)
{
    DISPATCH_FLOAT(ROWS_MISSING)
}

/* ---- imputation ------------------------------------------------------------------------ */

#define IMPUTE(T)                                                                                           \
    do {                                                                                                   \
        T *x = data;                                                                                       \
        for (int64_t r = 0; r < rows; r++) {                                                               \
            T *row = x + r * cols;                                                                         \
            for (int64_t c = 0; c < cols; c++) {                                                           \
                double v = (double)row[c];                                                                 \
                if (MISSING(v)) {                                                                          \
                    row[c] = (T)fill[c];                                                                   \
                    n++;                                                                                   \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
    } while (0)

int64_t sl__impute(void *data, sl_dtype t, int64_t rows, int64_t cols, const double *fill, int skip_inf)
{
    int64_t n = 0;
    DISPATCH_FLOAT(IMPUTE)
    return n;
}

/* ---- clipping ----------------------------------------------------------------------------- */

#define CLIP_FLOAT(T)                                                                                       \
    do {                                                                                                   \
        T *x = data;                                                                                       \
        for (int64_t c = 0; c < cols; c++) {                                                               \
            if (lo[c] != lo[c] || hi[c] != hi[c])                                                          \
                continue;                                                                                  \
            const T l = (T)lo[c], h = (T)hi[c];                                                            \
            for (int64_t r = 0; r < rows; r++) {                                                           \
                T v = x[r * cols + c];                                                                     \
                if (v < l) {                                                                               \
                    if (!(skip_inf && v == -INFINITY)) {                                                   \
                        x[r * cols + c] = l;                                                               \
                        n++;                                                                               \
                    }                                                                                      \
                } else if (v > h) {                                                                        \
                    if (!(skip_inf && v == INFINITY)) {                                                    \
                        x[r * cols + c] = h;                                                               \
                        n++;                                                                               \
                    }                                                                                      \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
    } while (0)

/* An integral double bound limited to [tmin, tmax]: the bound as T. */
#define INT_BOUND(T, d, tmin, tmax) ((d) <= (double)(tmin) ? (T)(tmin) : (d) >= (double)(tmax) ? (T)(tmax) : (T)(d))

#define CLIP_INT(T, tmin, tmax)                                                                             \
    do {                                                                                                   \
        T *x = data;                                                                                       \
        for (int64_t c = 0; c < cols; c++) {                                                               \
            if (lo[c] != lo[c] || hi[c] != hi[c])                                                          \
                continue;                                                                                  \
            double dl = ceil(lo[c]), dh = floor(hi[c]);                                                    \
            const T l = INT_BOUND(T, dl, tmin, tmax), h = INT_BOUND(T, dh, tmin, tmax);                    \
            for (int64_t r = 0; r < rows; r++) {                                                           \
                T v = x[r * cols + c];                                                                     \
                if (v < l) {                                                                               \
                    x[r * cols + c] = l;                                                                   \
                    n++;                                                                                   \
                } else if (v > h) {                                                                        \
                    x[r * cols + c] = h;                                                                   \
                    n++;                                                                                   \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
    } while (0)

int64_t sl__clip(void *data, sl_dtype t, int64_t rows, int64_t cols, const double *lo, const double *hi,
                 int skip_inf)
{
    int64_t n = 0;
    switch (t) {
    case SL_INT8: CLIP_INT(int8_t, INT8_MIN, INT8_MAX); break;
    case SL_INT16: CLIP_INT(int16_t, INT16_MIN, INT16_MAX); break;
    case SL_INT32: CLIP_INT(int32_t, INT32_MIN, INT32_MAX); break;
    case SL_INT64: CLIP_INT(int64_t, INT64_MIN, INT64_MAX); break;
    case SL_UINT8: CLIP_INT(uint8_t, 0, UINT8_MAX); break;
    case SL_UINT16: CLIP_INT(uint16_t, 0, UINT16_MAX); break;
    case SL_UINT32: CLIP_INT(uint32_t, 0, UINT32_MAX); break;
    case SL_UINT64: CLIP_INT(uint64_t, 0, UINT64_MAX); break;
    case SL_FLOAT32: CLIP_FLOAT(float); break;
    case SL_FLOAT64: CLIP_FLOAT(double); break;
    default: break;
    }
    return n;
}

/* ---- row compaction ------------------------------------------------------------------------- */

int64_t sl__compact_rows(void *dst, const void *src, size_t row_bytes, int64_t rows, const unsigned char *drop)
{
    char *d = dst;
    const char *s = src;
    if (!drop) {
        if (rows > 0)
            memcpy(d, s, (size_t)rows * row_bytes);
        return rows;
    }
    int64_t kept = 0;
    for (int64_t r = 0; r < rows;) {
        if (drop[r]) {
            r++;
            continue;
        }
        int64_t end = r + 1;
        while (end < rows && !drop[end])
            end++;
        memcpy(d + (size_t)kept * row_bytes, s + (size_t)r * row_bytes, (size_t)(end - r) * row_bytes);
        kept += end - r;
        r = end;
    }
    return kept;
}
