#include <math.h>
#include <string.h>
#include "kernels/simd.h"
#include "kernels/standardize.h"

/* One function per (input type, output type) pair, so that each compiles to
 * a tight loop over the columns of a row. restrict tells the compiler that
 * the output does not overwrite shift and scale (it would otherwise reload
 * them, or check for overlap at run time, instead of vectorizing); a block
 * standardized in place goes through the single-pointer variant below, as
 * restrict forbids in == out. */
#define STD_COPY(TI, TO, NAME)                                                                              \
    SL_HOT static void NAME(TO *restrict y, const TI *restrict x, int64_t rows, int64_t cols,            \
                            const double *restrict shift, const double *restrict scale)                  \
    {                                                                                                      \
        for (int64_t r = 0; r < rows; r++) {                                                               \
            const TI *xr = x + r * cols;                                                                   \
            TO *yr = y + r * cols;                                                                         \
            for (int64_t c = 0; c < cols; c++)                                                             \
                yr[c] = (TO)(((double)xr[c] - shift[c]) / scale[c]);                                       \
        }                                                                                                  \
    }

#define STD_INPLACE(T, NAME)                                                                                \
    SL_HOT static void NAME(T *restrict x, int64_t rows, int64_t cols, const double *restrict shift,      \
                            const double *restrict scale)                                                  \
    {                                                                                                      \
        for (int64_t r = 0; r < rows; r++) {                                                               \
            T *xr = x + r * cols;                                                                          \
            for (int64_t c = 0; c < cols; c++)                                                             \
                xr[c] = (T)(((double)xr[c] - shift[c]) / scale[c]);                                        \
        }                                                                                                  \
    }

#define STD_PAIRS(TO, SUF)                                                                                  \
    STD_COPY(int8_t, TO, std_i8_##SUF)                                                                     \
    STD_COPY(int16_t, TO, std_i16_##SUF)                                                                   \
    STD_COPY(int32_t, TO, std_i32_##SUF)                                                                   \
    STD_COPY(int64_t, TO, std_i64_##SUF)                                                                   \
    STD_COPY(uint8_t, TO, std_u8_##SUF)                                                                    \
    STD_COPY(uint16_t, TO, std_u16_##SUF)                                                                  \
    STD_COPY(uint32_t, TO, std_u32_##SUF)                                                                  \
    STD_COPY(uint64_t, TO, std_u64_##SUF)                                                                  \
    STD_COPY(float, TO, std_f32_##SUF)                                                                     \
    STD_COPY(double, TO, std_f64_##SUF)

STD_PAIRS(double, f64)
STD_PAIRS(float, f32)
STD_INPLACE(double, std_inplace_f64)
STD_INPLACE(float, std_inplace_f32)

#define STD_DISPATCH_IN(SUF)                                                                                \
    switch (in_t) {                                                                                        \
    case SL_INT8: std_i8_##SUF(out, in, rows, cols, shift, scale); break;                                  \
    case SL_INT16: std_i16_##SUF(out, in, rows, cols, shift, scale); break;                                \
    case SL_INT32: std_i32_##SUF(out, in, rows, cols, shift, scale); break;                                \
    case SL_INT64: std_i64_##SUF(out, in, rows, cols, shift, scale); break;                                \
    case SL_UINT8: std_u8_##SUF(out, in, rows, cols, shift, scale); break;                                 \
    case SL_UINT16: std_u16_##SUF(out, in, rows, cols, shift, scale); break;                               \
    case SL_UINT32: std_u32_##SUF(out, in, rows, cols, shift, scale); break;                               \
    case SL_UINT64: std_u64_##SUF(out, in, rows, cols, shift, scale); break;                               \
    case SL_FLOAT32: std_f32_##SUF(out, in, rows, cols, shift, scale); break;                              \
    case SL_FLOAT64: std_f64_##SUF(out, in, rows, cols, shift, scale); break;                              \
    default: break;                                                                                        \
    }

void sl__standardize(void *out, sl_dtype out_t, const void *in, sl_dtype in_t, int64_t rows, int64_t cols,
                     const double *shift, const double *scale)
{
    if (out == in && out_t == in_t && out_t == SL_FLOAT64)
        std_inplace_f64(out, rows, cols, shift, scale);
    else if (out == in && out_t == in_t && out_t == SL_FLOAT32)
        std_inplace_f32(out, rows, cols, shift, scale);
    else if (out_t == SL_FLOAT64) {
        STD_DISPATCH_IN(f64)
    } else if (out_t == SL_FLOAT32) {
        STD_DISPATCH_IN(f32)
    }
}

/* Counted branch-free by the exponent bits, which vectorizes: all ones (Inf
 * or NaN) only carry into the top bit when the exponent's lowest bit is
 * added (an add and a shift: SSE2 has no 64-bit compare, see simd.h). Only
 * a block that holds any is scanned again for the first. */
#define NF_BLOCK ((size_t)1 << 30)

#define NF_COUNT(T, U, EXP, NAME)                                                                           \
    SL_HOT static size_t NAME(const T *restrict x, size_t n)                                              \
    {                                                                                                      \
        size_t bad = 0;                                                                                    \
        for (size_t i0 = 0; i0 < n; i0 += NF_BLOCK) {                                                      \
            size_t i1 = n - i0 < NF_BLOCK ? n : i0 + NF_BLOCK;                                             \
            U k = 0; /* as wide as a value: the compares' masks add up without widening */                 \
            for (size_t i = i0; i < i1; i++) {                                                             \
                U b;                                                                                       \
                memcpy(&b, &x[i], sizeof b);                                                               \
                k += ((b & EXP) + (EXP & -EXP)) >> (sizeof b * 8 - 1);                                     \
            }                                                                                              \
            bad += k;                                                                                      \
        }                                                                                                  \
        return bad;                                                                                        \
    }

NF_COUNT(double, uint64_t, UINT64_C(0x7ff0000000000000), nonfinite_f64)
NF_COUNT(float, uint32_t, UINT32_C(0x7f800000), nonfinite_f32)

#define NF_FIRST(T, COUNT)                                                                                  \
    do {                                                                                                   \
        const T *x = data;                                                                                 \
        bad = COUNT(x, n);                                                                                 \
        for (size_t i = 0; bad > 0; i++)                                                                   \
            if (!isfinite(x[i])) {                                                                         \
                *first = i;                                                                                \
                break;                                                                                     \
            }                                                                                              \
    } while (0)

size_t sl__count_nonfinite(const void *data, sl_dtype t, size_t n, size_t *first)
{
    size_t bad = 0;
    if (t == SL_FLOAT64)
        NF_FIRST(double, nonfinite_f64);
    else if (t == SL_FLOAT32)
        NF_FIRST(float, nonfinite_f32);
    return bad;
}
