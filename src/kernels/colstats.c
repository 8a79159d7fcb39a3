#include <math.h>
#include <string.h>
#include "kernels/colstats.h"
#include "kernels/simd.h"

/* Sums, counts and extremes first, deviations second, one function per
 * element type. Columns go in blocks whose running values live in local
 * arrays, one per statistic: nothing the loop writes can alias the data, so
 * it vectorizes across the columns of a row, while each column's sums still
 * run over the rows one after the other, in order, as they always did.
 * Skipping a NaN is branch-free (simd.h): adding -0.0 leaves every sum's
 * bits as they are (x + -0.0 == x, also for x = -0.0, which adding +0.0
 * would turn into +0.0), and v < min and v > max are false for NaN (min and
 * max are written as the selects that minpd and maxpd do, bit for bit). */
#define CS_BLOCK 64

/* Integer types hold no NaN: (T)0.5 is 0 for them, and the test folds away. */
#define NAN_MASK(T, v) ((T)0.5 != 0 ? sl_nan_mask64(v) : 0)

#define COLSTATS(T, NAME)                                                                                   \
    SL_HOT static void NAME(const T *restrict x, int64_t rows, int64_t cols, sl__colstats *restrict out)  \
    {                                                                                                      \
        for (int64_t c0 = 0; c0 < cols; c0 += CS_BLOCK) {                                                  \
            int64_t w = cols - c0 < CS_BLOCK ? cols - c0 : CS_BLOCK;                                       \
            int64_t n[CS_BLOCK];                                                                           \
            double sum[CS_BLOCK], lo[CS_BLOCK], hi[CS_BLOCK], mean[CS_BLOCK], m2[CS_BLOCK];                \
            for (int64_t c = 0; c < w; c++) {                                                              \
                n[c] = 0;                                                                                  \
                sum[c] = m2[c] = 0;                                                                        \
                lo[c] = INFINITY;                                                                          \
                hi[c] = -INFINITY;                                                                         \
            }                                                                                              \
            for (int64_t r = 0; r < rows; r++) {                                                           \
                const T *xr = x + r * cols + c0;                                                           \
                for (int64_t c = 0; c < w; c++) {                                                          \
                    double v = (double)xr[c];                                                              \
                    uint64_t nan = NAN_MASK(T, v);                                                         \
                    n[c] += (int64_t)(~nan & 1);                                                           \
                    sum[c] += sl_sel_f64(nan, -0.0, v);                                                    \
                    lo[c] = v < lo[c] ? v : lo[c];                                                         \
                    hi[c] = v > hi[c] ? v : hi[c];                                                         \
                }                                                                                          \
            }                                                                                              \
            for (int64_t c = 0; c < w; c++)                                                                \
                mean[c] = n[c] > 0 ? sum[c] / (double)n[c] : NAN;                                          \
            for (int64_t r = 0; r < rows; r++) {                                                           \
                const T *xr = x + r * cols + c0;                                                           \
                for (int64_t c = 0; c < w; c++) {                                                          \
                    double v = (double)xr[c];                                                              \
                    double d = v - mean[c];                                                                \
                    m2[c] += sl_sel_f64(NAN_MASK(T, v), -0.0, d * d);                                      \
                }                                                                                          \
            }                                                                                              \
            for (int64_t c = 0; c < w; c++) {                                                              \
                sl__colstats *o = &out[c0 + c];                                                            \
                o->n = (double)n[c];                                                                       \
                o->nan = (double)(rows - n[c]);                                                            \
                o->mean = mean[c];                                                                         \
                o->m2 = m2[c];                                                                             \
                o->min = n[c] > 0 ? lo[c] : NAN;                                                           \
                o->max = n[c] > 0 ? hi[c] : NAN;                                                           \
            }                                                                                              \
        }                                                                                                  \
    }

COLSTATS(int8_t, colstats_i8)
COLSTATS(int16_t, colstats_i16)
COLSTATS(int32_t, colstats_i32)
COLSTATS(int64_t, colstats_i64)
COLSTATS(uint8_t, colstats_u8)
COLSTATS(uint16_t, colstats_u16)
COLSTATS(uint32_t, colstats_u32)
COLSTATS(uint64_t, colstats_u64)
COLSTATS(float, colstats_f32)
COLSTATS(double, colstats_f64)

void sl__colstats_chunk(const void *data, sl_dtype t, int64_t rows, int64_t cols, sl__colstats *out)
{
    switch (t) {
    case SL_INT8: colstats_i8(data, rows, cols, out); break;
    case SL_INT16: colstats_i16(data, rows, cols, out); break;
    case SL_INT32: colstats_i32(data, rows, cols, out); break;
    case SL_INT64: colstats_i64(data, rows, cols, out); break;
    case SL_UINT8: colstats_u8(data, rows, cols, out); break;
    case SL_UINT16: colstats_u16(data, rows, cols, out); break;
    case SL_UINT32: colstats_u32(data, rows, cols, out); break;
    case SL_UINT64: colstats_u64(data, rows, cols, out); break;
    case SL_FLOAT32: colstats_f32(data, rows, cols, out); break;
    case SL_FLOAT64: colstats_f64(data, rows, cols, out); break;
    default:
        /* as before: no values */
        for (int64_t c = 0; c < cols; c++)
            out[c] = (sl__colstats){0, 0, NAN, 0, NAN, NAN};
        break;
    }
}

void sl__colstats_merge(sl__colstats *acc, const sl__colstats *part, int64_t cols)
{
    for (int64_t c = 0; c < cols; c++) {
        sl__colstats *a = &acc[c];
        const sl__colstats *b = &part[c];
        double nan = a->nan + b->nan;
        if (b->n == 0) {
            a->nan = nan;
            continue;
        }
        if (a->n == 0) {
            *a = *b;
            a->nan = nan;
            continue;
        }
        double n = a->n + b->n;
        if (!isfinite(a->mean) || !isfinite(b->mean)) {
            /* an infinity makes the mean infinite (or NaN for +inf and -inf)
             * and the variance NaN, as NumPy has it; Chan's update would
             * compute inf - inf */
            a->mean = a->mean * (a->n / n) + b->mean * (b->n / n);
            a->m2 = NAN;
        } else {
            double delta = b->mean - a->mean;
            a->mean += delta * (b->n / n);
            a->m2 += b->m2 + delta * delta * (a->n * b->n / n);
        }
        a->n = n;
        a->nan = nan;
        if (b->min < a->min)
            a->min = b->min;
        if (b->max > a->max)
            a->max = b->max;
    }
}


double sl__colstats_std(const sl__colstats *s)
{
    return s->n > 0 ? sqrt(s->m2 / s->n) : NAN;
}
