#include <math.h>
#include "kernels/standardize.h"

/* One loop per (input type, output type) pair so that each compiles to a
 * tight loop over the columns of a row. */
#define STD_LOOP(TI, TO)                                                                                    \
    do {                                                                                                   \
        const TI *x = in;                                                                                  \
        TO *y = out;                                                                                       \
        for (int64_t r = 0; r < rows; r++) {                                                               \
            const TI *xr = x + r * cols;                                                                   \
            TO *yr = y + r * cols;                                                                         \
            for (int64_t c = 0; c < cols; c++)                                                             \
                yr[c] = (TO)(((double)xr[c] - shift[c]) / scale[c]);                                       \
        }                                                                                                  \
    } while (0)

#define STD_DISPATCH_IN(TO)                                                                                 \
    switch (in_t) {                                                                                        \
    case SL_INT8: STD_LOOP(int8_t, TO); break;                                                             \
    case SL_INT16: STD_LOOP(int16_t, TO); break;                                                           \
    case SL_INT32: STD_LOOP(int32_t, TO); break;                                                           \
    case SL_INT64: STD_LOOP(int64_t, TO); break;                                                           \
    case SL_UINT8: STD_LOOP(uint8_t, TO); break;                                                           \
    case SL_UINT16: STD_LOOP(uint16_t, TO); break;                                                         \
    case SL_UINT32: STD_LOOP(uint32_t, TO); break;                                                         \
    case SL_UINT64: STD_LOOP(uint64_t, TO); break;                                                         \
    case SL_FLOAT32: STD_LOOP(float, TO); break;                                                           \
    case SL_FLOAT64: STD_LOOP(double, TO); break;                                                          \
    default: break;                                                                                        \
    }

void sl__standardize(void *out, sl_dtype out_t, const void *in, sl_dtype in_t, int64_t rows, int64_t cols,
                     const double *shift, const double *scale)
{
    if (out_t == SL_FLOAT64) {
        STD_DISPATCH_IN(double)
    } else if (out_t == SL_FLOAT32) {
        STD_DISPATCH_IN(float)
    }
}

#define NF_LOOP(T)                                                                                          \
    do {                                                                                                   \
        const T *x = data;                                                                                 \
        for (size_t i = 0; i < n; i++)                                                                     \
            if (!isfinite(x[i])) {                                                                         \
                if (bad++ == 0)                                                                            \
                    *first = i;                                                                            \
            }                                                                                              \
    } while (0)

size_t sl__count_nonfinite(const void *data, sl_dtype t, size_t n, size_t *first)
{
    size_t bad = 0;
    if (t == SL_FLOAT64)
        NF_LOOP(double);
    else if (t == SL_FLOAT32)
        NF_LOOP(float);
    return bad;
}
