#include <math.h>
#include <string.h>
#include "kernels/nanfix.h"
#include "kernels/simd.h"

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

/* One function per element type, in the manner of colstats.c: columns in
 * blocks whose running values live in local arrays, so that the loop over
 * the columns of a row vectorizes while each column's sums run over the
 * kept rows in order, as they always did. A missing value is skipped
 * without a branch (simd.h): -0.0 is added in its place, which leaves any
 * sum's bits as they are, and it takes part in min and max as a NaN, which
 * never wins a comparison. The first missing value of a column is looked
 * for afterwards, in the columns that have one, scanning down from the top. */
#define MS_BLOCK 64

/* MISSING as a mask (simd.h), on a double or a float; integer types, for
 * which (T)0.5 is 0, hold no missing values and the test folds away. */
#define MISSING_MASK(T, v)                                                                                  \
    ((T)0.5 != 0 ? sl_nan_mask64(v) | (sl_inf_mask64(v) & -(uint64_t)(skip_inf != 0)) : 0)
#define MISSING_MASK32(v) sl_missing_mask32(v, skip_inf != 0)

#define MSTATS(T, NAME)                                                                                     \
    SL_HOT static void NAME(const T *restrict x, int64_t rows, int64_t cols, int64_t row0,                \
                            const unsigned char *restrict drop, int skip_inf, sl__mstats *restrict out)   \
    {                                                                                                      \
        for (int64_t c0 = 0; c0 < cols; c0 += MS_BLOCK) {                                                  \
            int64_t w = cols - c0 < MS_BLOCK ? cols - c0 : MS_BLOCK, kept = 0;                             \
            int64_t n[MS_BLOCK];                                                                           \
            double sum[MS_BLOCK], lo[MS_BLOCK], hi[MS_BLOCK], dsum[MS_BLOCK], m2[MS_BLOCK];                \
            for (int64_t c = 0; c < w; c++) {                                                              \
                n[c] = 0;                                                                                  \
                sum[c] = dsum[c] = m2[c] = 0;                                                              \
                lo[c] = INFINITY;                                                                          \
                hi[c] = -INFINITY;                                                                         \
            }                                                                                              \
            for (int64_t r = 0; r < rows; r++) {                                                           \
                if (drop && drop[r])                                                                       \
                    continue;                                                                              \
                kept++;                                                                                    \
                const T *xr = x + r * cols + c0;                                                           \
                for (int64_t c = 0; c < w; c++) {                                                          \
                    double v = (double)xr[c];                                                              \
                    uint64_t miss = MISSING_MASK(T, v);                                                    \
                    n[c] += (int64_t)(~miss & 1);                                                          \
                    sum[c] += sl_sel_f64(miss, -0.0, v);                                                   \
                    double vk = sl_sel_f64(miss, NAN, v); /* a missing value as NaN: never an extreme */     \
                    lo[c] = vk < lo[c] ? vk : lo[c];                                                       \
                    hi[c] = vk > hi[c] ? vk : hi[c];                                                       \
                }                                                                                          \
            }                                                                                              \
            /* the deviations from the first mean: their sum corrects it, their squares give M2 */         \
            for (int64_t c = 0; c < w; c++)                                                                \
                sum[c] = n[c] > 0 ? sum[c] / (double)n[c] : sum[c];                                        \
            for (int64_t r = 0; r < rows; r++) {                                                           \
                if (drop && drop[r])                                                                       \
                    continue;                                                                              \
                const T *xr = x + r * cols + c0;                                                           \
                for (int64_t c = 0; c < w; c++) {                                                          \
                    double v = (double)xr[c];                                                              \
                    uint64_t miss = MISSING_MASK(T, v);                                                    \
                    double d = v - sum[c];                                                                 \
                    dsum[c] += sl_sel_f64(miss, -0.0, d);                                                  \
                    m2[c] += sl_sel_f64(miss, -0.0, d * d);                                                \
                }                                                                                          \
            }                                                                                              \
            for (int64_t c = 0; c < w; c++) {                                                              \
                sl__mstats *s = &out[c0 + c];                                                              \
                *s = (sl__mstats){(double)n[c], sum[c], m2[c], lo[c], hi[c], (double)(kept - n[c]), -1, 0};\
                for (int64_t r = 0; s->missing > 0; r++) {                                                 \
                    double v = (double)x[r * cols + c0 + c];                                               \
                    if (!(drop && drop[r]) && MISSING(v)) {                                                \
                        s->first_missing = row0 + r;                                                       \
                        break;                                                                             \
                    }                                                                                      \
                }                                                                                          \
                finish(s, dsum[c]);                                                                        \
            }                                                                                              \
        }                                                                                                  \
    }

/* The corrections of the second pass, d the sum of the deviations. */
static void finish(sl__mstats *s, double d)
{
    if (s->n > 0 && !isfinite(s->mean)) {
        /* +-Inf among the values (inf: keep): the mean is +-Inf or NaN,
         * as NumPy gives it, and there is no finite spread */
        s->m2 = NAN;
    } else if (s->n > 0) {
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
}

MSTATS(int8_t, mstats_i8)
MSTATS(int16_t, mstats_i16)
MSTATS(int32_t, mstats_i32)
MSTATS(int64_t, mstats_i64)
MSTATS(uint8_t, mstats_u8)
MSTATS(uint16_t, mstats_u16)
MSTATS(uint32_t, mstats_u32)
MSTATS(uint64_t, mstats_u64)
MSTATS(float, mstats_f32)
MSTATS(double, mstats_f64)

void sl__mstats_chunk(const void *data, sl_dtype t, int64_t rows, int64_t cols, int64_t row0,
                      const unsigned char *drop, int skip_inf, sl__mstats *out)
{
    switch (t) {
    case SL_INT8: mstats_i8(data, rows, cols, row0, drop, skip_inf, out); break;
    case SL_INT16: mstats_i16(data, rows, cols, row0, drop, skip_inf, out); break;
    case SL_INT32: mstats_i32(data, rows, cols, row0, drop, skip_inf, out); break;
    case SL_INT64: mstats_i64(data, rows, cols, row0, drop, skip_inf, out); break;
    case SL_UINT8: mstats_u8(data, rows, cols, row0, drop, skip_inf, out); break;
    case SL_UINT16: mstats_u16(data, rows, cols, row0, drop, skip_inf, out); break;
    case SL_UINT32: mstats_u32(data, rows, cols, row0, drop, skip_inf, out); break;
    case SL_UINT64: mstats_u64(data, rows, cols, row0, drop, skip_inf, out); break;
    case SL_FLOAT32: mstats_f32(data, rows, cols, row0, drop, skip_inf, out); break;
    case SL_FLOAT64: mstats_f64(data, rows, cols, row0, drop, skip_inf, out); break;
    default:
        /* as before: no values */
        for (int64_t c = 0; c < cols; c++)
            out[c] = (sl__mstats){0, NAN, 0, NAN, NAN, 0, -1, 0};
        break;
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

/* As mstats: local sums for a tile of columns, a missing value skipped by
 * adding -0.0f in its place (x + -0.0f == x for every float x but a
 * signalling NaN, which it quiets: so a sum no value was added to, which
 * could come in as one, is put back as it came). A tile of the full,
 * constant width keeps its sums in registers for the whole chunk: this runs
 * on one thread, in chunk order (NumPy's float32 order), and with the sums
 * in memory each row's additions waited on a store and a load (perf, the
 * benchmark's 8M rows of 16 columns: 38 ms before, 26-30 ms). The same
 * change to mstats made it five times slower: GCC unrolled its 8-wide tile
 * into scalar code. */
#define SUM_TILE 16

static inline __attribute__((always_inline)) void nansum_tile(const float *restrict x, int64_t rows, int64_t cols,
                                                               int64_t c0, int64_t w,
                                                               const unsigned char *restrict drop, int skip_inf,
                                                               float *restrict sum)
{
    float s[SUM_TILE];
    uint32_t added[SUM_TILE] = {0};
    memcpy(s, sum + c0, (size_t)w * sizeof *s);
    for (int64_t r = 0; r < rows; r++) {
        if (drop && drop[r])
            continue;
        const float *xr = x + r * cols + c0;
        for (int64_t c = 0; c < w; c++) {
            uint32_t miss = MISSING_MASK32(xr[c]);
            s[c] += sl_sel_f32(miss, -0.0f, xr[c]);
            added[c] |= ~miss;
        }
    }
    for (int64_t c = 0; c < w; c++)
        if (added[c])
            sum[c0 + c] = s[c];
}

SL_HOT static void nansum_f32(const float *restrict x, int64_t rows, int64_t cols, const unsigned char *restrict drop,
                              int skip_inf, float *restrict sum)
{
    int64_t c0 = 0;
    for (; c0 + SUM_TILE <= cols; c0 += SUM_TILE)
        nansum_tile(x, rows, cols, c0, SUM_TILE, drop, skip_inf, sum);
    if (c0 < cols)
        nansum_tile(x, rows, cols, c0, cols - c0, drop, skip_inf, sum);
}

/* Not SL_HOT itself: clang 14 gives a cloned function's dispatcher another
 * name than the function's, which other files could then not call. */
void sl__nansum_f32(const float *x, int64_t rows, int64_t cols, const unsigned char *drop, int skip_inf, float *sum)
{
    nansum_f32(x, rows, cols, drop, skip_inf, sum);
}

/* ---- rows with a missing value ------------------------------------------------------- */

/* Branch-free (a mask per value, simd.h), so that the loop over the rows
 * of a single column (a target array) vectorizes. */
#define ROWS_MISSING(T, U, MASK, NAME)                                                                      \
    SL_HOT static void NAME(const T *restrict x, int64_t rows, int64_t cols, int skip_inf,                 \
                            unsigned char *restrict miss)                                                  \
    {                                                                                                      \
        if (cols == 1) {                                                                                   \
            for (int64_t r = 0; r < rows; r++)                                                             \
                miss[r] |= (unsigned char)(MASK(x[r]) & 1);                                                \
            return;                                                                                        \
        }                                                                                                  \
        for (int64_t r = 0; r < rows; r++) {                                                               \
            U m = 0;                                                                                       \
            for (int64_t c = 0; c < cols; c++)                                                             \
                m |= MASK(x[r * cols + c]);                                                                \
            miss[r] |= (unsigned char)(m & 1);                                                             \
        }                                                                                                  \
    }

/* each type's mask at its own width: a float's in 32 bits */
#define MISSING_MASK64(v) MISSING_MASK(double, v)
ROWS_MISSING(float, uint32_t, MISSING_MASK32, rows_missing_f32)
ROWS_MISSING(double, uint64_t, MISSING_MASK64, rows_missing_f64)
#undef MISSING_MASK64

void sl__rows_missing(const void *data, sl_dtype t, int64_t rows, int64_t cols, int skip_inf, unsigned char *miss)
{
    if (t == SL_FLOAT32)
        rows_missing_f32(data, rows, cols, skip_inf, miss);
    else if (t == SL_FLOAT64)
        rows_missing_f64(data, rows, cols, skip_inf, miss);
}

/* ---- imputation ------------------------------------------------------------------------ */

/* yr[c] = the fill value where xr[c] is missing, xr[c] elsewhere (c < w),
 * counting the fills of each column in k[c], as wide as a value (MASK and
 * SEL: the element type's, below): no widening of the masks, and no sum
 * across the row, which cost a horizontal add on every row. */
#define FILL_ROW(U, yr, xr, f, w, k)                                                                       \
    for (int64_t c = 0; c < (w); c++) {                                                                    \
        U miss = MASK((xr)[c]);                                                                            \
        (yr)[c] = SEL(miss, (f)[c], (xr)[c]);                                                              \
        (k)[c] += miss & 1;                                                                                \
    }

/* n += the column counts k[0..w) (then cleared). */
#define ADD_COUNTS(n, k, w)                                                                                \
    for (int64_t c = 0; c < (w); c++) {                                                                    \
        (n) += (int64_t)(k)[c];                                                                            \
        (k)[c] = 0;                                                                                        \
    }

/* The column's fill value where a value is missing, the value itself
 * elsewhere: stored back unchanged, bit for bit. */
#define IMPUTE(T, U, NAME)                                                                                  \
    SL_HOT static int64_t NAME(T *restrict x, int64_t rows, int64_t cols, const double *restrict fill,    \
                               int skip_inf)                                                               \
    {                                                                                                      \
        int64_t n = 0;                                                                                     \
        for (int64_t c0 = 0; c0 < cols; c0 += MS_BLOCK) {                                                  \
            int64_t w = cols - c0 < MS_BLOCK ? cols - c0 : MS_BLOCK;                                       \
            T f[MS_BLOCK];                                                                                 \
            U k[MS_BLOCK] = {0};                                                                           \
            for (int64_t c = 0; c < w; c++)                                                                \
                f[c] = (T)fill[c0 + c];                                                                    \
            for (int64_t r = 0; r < rows; r++) {                                                           \
                T *xr = x + r * cols + c0;                                                                 \
                FILL_ROW(U, xr, xr, f, w, k);                                                              \
            }                                                                                              \
            ADD_COUNTS(n, k, w);                                                                           \
        }                                                                                                  \
        return n;                                                                                          \
    }

/* As sl__compact_rows then sl__impute, in one pass over the rows: what a
 * streamed clean does for each array it imputes, where the two passes
 * read and wrote the rows twice. */
#define COMPACT_IMPUTE(T, U, NAME)                                                                          \
    SL_HOT static int64_t NAME(T *restrict dst, const T *restrict src, int64_t rows, int64_t cols,         \
                               const unsigned char *drop, const double *restrict fill, int skip_inf,      \
                               int64_t *imputed)                                                           \
    {                                                                                                      \
        int64_t n = 0, kept = 0;                                                                           \
        T f[MS_BLOCK];                                                                                     \
        U k[MS_BLOCK] = {0};                                                                               \
        for (int64_t c = 0; c < cols; c++)                                                                 \
            f[c] = (T)fill[c];                                                                             \
        for (int64_t r = 0; r < rows; r++) {                                                               \
            if (drop && drop[r])                                                                           \
                continue;                                                                                  \
            const T *xr = src + r * cols;                                                                  \
            T *yr = dst + kept++ * cols;                                                                   \
            FILL_ROW(U, yr, xr, f, cols, k);                                                               \
        }                                                                                                  \
        ADD_COUNTS(n, k, cols);                                                                            \
        *imputed = n;                                                                                      \
        return kept;                                                                                       \
    }

#define MASK(v) MISSING_MASK(double, v)
#define SEL sl_sel_f64
IMPUTE(double, uint64_t, impute_f64)
COMPACT_IMPUTE(double, uint64_t, compact_impute_f64)
#undef MASK
#undef SEL
#define MASK MISSING_MASK32
#define SEL sl_sel_f32
IMPUTE(float, uint32_t, impute_f32)
COMPACT_IMPUTE(float, uint32_t, compact_impute_f32)
#undef MASK
#undef SEL

int64_t sl__impute(void *data, sl_dtype t, int64_t rows, int64_t cols, const double *fill, int skip_inf)
{
    if (t == SL_FLOAT64)
        return impute_f64(data, rows, cols, fill, skip_inf);
    if (t == SL_FLOAT32)
        return impute_f32(data, rows, cols, fill, skip_inf);
    return 0;
}

int64_t sl__compact_impute(void *dst, const void *src, sl_dtype t, int64_t rows, int64_t cols,
                           const unsigned char *drop, const double *fill, int skip_inf, int64_t *imputed)
{
    *imputed = 0;
    if (t == SL_FLOAT64 && cols <= MS_BLOCK)
        return compact_impute_f64(dst, src, rows, cols, drop, fill, skip_inf, imputed);
    if (t == SL_FLOAT32 && cols <= MS_BLOCK)
        return compact_impute_f32(dst, src, rows, cols, drop, fill, skip_inf, imputed);
    int64_t kept = sl__compact_rows(dst, src, (size_t)cols * sl_dtype_size(t), rows, drop);
    *imputed = sl__impute(dst, t, kept, cols, fill, skip_inf);
    return kept;
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
