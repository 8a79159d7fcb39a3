#include <math.h>
#include <string.h>
#include "kernels/dispatch.h"
#include "kernels/colstats.h"

/* Sums, counts and extremes first, deviations second; one loop body per
 * element type so each compiles to a tight, vectorizable loop over columns. */
#define COLSTATS_PASS1(T)                                                                                   \
    do {                                                                                                   \
        const T *x = data;                                                                                 \
        for (int64_t r = 0; r < rows; r++)                                                                 \
            for (int64_t c = 0; c < cols; c++) {                                                           \
                double v = (double)x[r * cols + c];                                                        \
                if (v != v) {                                                                              \
                    out[c].nan += 1;                                                                       \
                    continue;                                                                              \
                }                                                                                          \
                out[c].n += 1;                                                                             \
                out[c].mean += v; /* the sum, until divided below */                                       \
                if (v < out[c].min)                                                                        \
                    out[c].min = v;                                                                        \
                if (v > out[c].max)                                                                        \
                    out[c].max = v;                                                                        \
            }                                                                                              \
    } while (0)

#define COLSTATS_PASS2(T)                                                                                   \
    do {                                                                                                   \
        const T *x = data;                                                                                 \
        for (int64_t r = 0; r < rows; r++)                                                                 \
            for (int64_t c = 0; c < cols; c++) {                                                           \
                double v = (double)x[r * cols + c];                                                        \
                if (v == v) {                                                                              \
                    double d = v - out[c].mean;                                                            \
                    out[c].m2 += d * d;                                                                    \
                }                                                                                          \
            }                                                                                              \
    } while (0)


void sl__colstats_chunk(const void *data, sl_dtype t, int64_t rows, int64_t cols, sl__colstats *out)
{
    for (int64_t c = 0; c < cols; c++) {
        out[c] = (sl__colstats){0, 0, 0, 0, INFINITY, -INFINITY};
    }
    SL_DISPATCH_DTYPE(t, COLSTATS_PASS1)
    for (int64_t c = 0; c < cols; c++) {
        if (out[c].n > 0) {
            out[c].mean /= out[c].n;
        } else {
            out[c].mean = NAN;
            out[c].min = out[c].max = NAN;
        }
    }
    SL_DISPATCH_DTYPE(t, COLSTATS_PASS2)
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
