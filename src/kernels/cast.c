#include <math.h>
#include <stdint.h>
#include <string.h>
#include "kernels/cast.h"
#include "kernels/simd.h"

/* ---- integer to integer ---------------------------------------------------------------- */

/* An integer source value widened without loss: i for signed types, u for
 * unsigned ones. */
typedef struct wide {
    int is_signed;
    int64_t i;
    uint64_t u;
} wide;

static wide load(const void *src, sl_dtype t, size_t k)
{
    wide w = {0, 0, 0};
    switch (t) {
    case SL_INT8: w.is_signed = 1; w.i = ((const int8_t *)src)[k]; break;
    case SL_INT16: w.is_signed = 1; w.i = ((const int16_t *)src)[k]; break;
    case SL_INT32: w.is_signed = 1; w.i = ((const int32_t *)src)[k]; break;
    case SL_INT64: w.is_signed = 1; w.i = ((const int64_t *)src)[k]; break;
    case SL_UINT8: w.u = ((const uint8_t *)src)[k]; break;
    case SL_UINT16: w.u = ((const uint16_t *)src)[k]; break;
    case SL_UINT32: w.u = ((const uint32_t *)src)[k]; break;
    case SL_UINT64: w.u = ((const uint64_t *)src)[k]; break;
    default: break;
    }
    return w;
}

/* Integer target range as signed/unsigned limits. */
static void int_range(sl_dtype t, int64_t *lo, uint64_t *hi)
{
    switch (t) {
    case SL_INT8: *lo = INT8_MIN; *hi = INT8_MAX; break;
    case SL_INT16: *lo = INT16_MIN; *hi = INT16_MAX; break;
    case SL_INT32: *lo = INT32_MIN; *hi = INT32_MAX; break;
    case SL_INT64: *lo = INT64_MIN; *hi = INT64_MAX; break;
    case SL_UINT8: *lo = 0; *hi = UINT8_MAX; break;
    case SL_UINT16: *lo = 0; *hi = UINT16_MAX; break;
    case SL_UINT32: *lo = 0; *hi = UINT32_MAX; break;
    default: *lo = 0; *hi = UINT64_MAX; break;
    }
}

/* Converts w to an integer in [lo, hi]; returns 0 when it does not fit. */
static int to_int(wide w, int64_t lo, uint64_t hi, int64_t *si, uint64_t *ui, int unsigned_target)
{
    if (w.is_signed) {
        if (unsigned_target) {
            if (w.i < 0 || (uint64_t)w.i > hi)
                return 0;
            *ui = (uint64_t)w.i;
        } else {
            if (w.i < lo || (w.i > 0 && (uint64_t)w.i > hi))
                return 0;
            *si = w.i;
        }
        return 1;
    }
    if (w.u > hi)
        return 0;
    if (unsigned_target)
        *ui = w.u;
    else
        *si = (int64_t)w.u;
    return 1;
}

static void store_int(void *dst, sl_dtype t, size_t k, int64_t si, uint64_t ui)
{
    switch (t) {
    case SL_INT8: ((int8_t *)dst)[k] = (int8_t)si; break;
    case SL_INT16: ((int16_t *)dst)[k] = (int16_t)si; break;
    case SL_INT32: ((int32_t *)dst)[k] = (int32_t)si; break;
    case SL_INT64: ((int64_t *)dst)[k] = si; break;
    case SL_UINT8: ((uint8_t *)dst)[k] = (uint8_t)ui; break;
    case SL_UINT16: ((uint16_t *)dst)[k] = (uint16_t)ui; break;
    case SL_UINT32: ((uint32_t *)dst)[k] = (uint32_t)ui; break;
    case SL_UINT64: ((uint64_t *)dst)[k] = ui; break;
    default: break;
    }
}

/* ---- float targets ----------------------------------------------------------------- */

/* One loop per pair, so that each is a plain vectorizable conversion. A
 * source converts straight to the target: going through double would round
 * an int64 twice on its way to float32. */
#define TO_FLOAT(TS, TD, NAME)                                                                              \
    SL_HOT static void NAME(TD *restrict d, const TS *restrict s, size_t n)                               \
    {                                                                                                      \
        for (size_t k = 0; k < n; k++)                                                                     \
            d[k] = (TD)s[k];                                                                               \
    }

#define TO_FLOAT_FROM_ALL(TD, SUF)                                                                          \
    TO_FLOAT(int8_t, TD, i8_to_##SUF)                                                                      \
    TO_FLOAT(int16_t, TD, i16_to_##SUF)                                                                    \
    TO_FLOAT(int32_t, TD, i32_to_##SUF)                                                                    \
    TO_FLOAT(int64_t, TD, i64_to_##SUF)                                                                    \
    TO_FLOAT(uint8_t, TD, u8_to_##SUF)                                                                     \
    TO_FLOAT(uint16_t, TD, u16_to_##SUF)                                                                   \
    TO_FLOAT(uint32_t, TD, u32_to_##SUF)                                                                   \
    TO_FLOAT(uint64_t, TD, u64_to_##SUF)

TO_FLOAT_FROM_ALL(double, f64)
TO_FLOAT_FROM_ALL(float, f32)
TO_FLOAT(float, double, f32_to_f64)
TO_FLOAT(double, float, f64_to_f32)

/* ---- float sources, integer targets -------------------------------------------------- */

/* trunc(v) is in [lo, hi] when lo - 1 < v < hi + 1: both bounds are exact as
 * doubles (0 or +-powers of two, less one) and the tests fail for NaN and
 * +-Inf. For int64, -2^63 - 1 is not a double, but every double below -2^52
 * is an integer, so v >= -2^63 is the same test. Written so, without trunc
 * (which GCC does not vectorize), and with a value that does not fit replaced
 * by 0 before the conversion (which GCC would not speculate on values that
 * may not fit), the loop is branch-free and vectorizes; only a block that
 * holds such a value is scanned again for the first. */
#define FITS_I8(v) (((v) > -0x1p7 - 1) & ((v) < 0x1p7))
#define FITS_I16(v) (((v) > -0x1p15 - 1) & ((v) < 0x1p15))
#define FITS_I32(v) (((v) > -0x1p31 - 1) & ((v) < 0x1p31))
#define FITS_I64(v) (((v) >= -0x1p63) & ((v) < 0x1p63))
#define FITS_U8(v) (((v) > -1.0) & ((v) < 0x1p8))
#define FITS_U16(v) (((v) > -1.0) & ((v) < 0x1p16))
#define FITS_U32(v) (((v) > -1.0) & ((v) < 0x1p32))
#define FITS_U64(v) (((v) > -1.0) & ((v) < 0x1p64))

#define FLOAT_TO_INT(TS, TD, FITS, NAME)                                                                    \
    SL_HOT static size_t NAME(TD *restrict d, const TS *restrict s, size_t n, size_t *first)              \
    {                                                                                                      \
        size_t bad = 0;                                                                                    \
        for (size_t k = 0; k < n; k++) {                                                                   \
            double v = s[k];                                                                               \
            int ok = FITS(v);                                                                              \
            d[k] = (TD)(ok ? v : 0.0);                                                                     \
            bad += !ok;                                                                                    \
        }                                                                                                  \
        for (size_t k = 0; bad > 0; k++)                                                                   \
            if (!FITS((double)s[k])) {                                                                     \
                *first = k;                                                                                \
                break;                                                                                     \
            }                                                                                              \
        return bad;                                                                                        \
    }

#define FLOAT_TO_INTS(TS, SUF)                                                                              \
    FLOAT_TO_INT(TS, int8_t, FITS_I8, SUF##_to_i8)                                                         \
    FLOAT_TO_INT(TS, int16_t, FITS_I16, SUF##_to_i16)                                                      \
    FLOAT_TO_INT(TS, int32_t, FITS_I32, SUF##_to_i32)                                                      \
    FLOAT_TO_INT(TS, int64_t, FITS_I64, SUF##_to_i64)                                                      \
    FLOAT_TO_INT(TS, uint8_t, FITS_U8, SUF##_to_u8)                                                        \
    FLOAT_TO_INT(TS, uint16_t, FITS_U16, SUF##_to_u16)                                                     \
    FLOAT_TO_INT(TS, uint32_t, FITS_U32, SUF##_to_u32)                                                     \
    FLOAT_TO_INT(TS, uint64_t, FITS_U64, SUF##_to_u64)

FLOAT_TO_INTS(float, f32)
FLOAT_TO_INTS(double, f64)

#define FLOAT_TO_INT_CASE(SUF)                                                                              \
    switch (dst_t) {                                                                                       \
    case SL_INT8: r.bad = SUF##_to_i8(dst, src, n, &r.first_bad); break;                                   \
    case SL_INT16: r.bad = SUF##_to_i16(dst, src, n, &r.first_bad); break;                                 \
    case SL_INT32: r.bad = SUF##_to_i32(dst, src, n, &r.first_bad); break;                                 \
    case SL_INT64: r.bad = SUF##_to_i64(dst, src, n, &r.first_bad); break;                                 \
    case SL_UINT8: r.bad = SUF##_to_u8(dst, src, n, &r.first_bad); break;                                  \
    case SL_UINT16: r.bad = SUF##_to_u16(dst, src, n, &r.first_bad); break;                                \
    case SL_UINT32: r.bad = SUF##_to_u32(dst, src, n, &r.first_bad); break;                                \
    case SL_UINT64: r.bad = SUF##_to_u64(dst, src, n, &r.first_bad); break;                                \
    default: break;                                                                                        \
    }

#define TO_FLOAT_CASE(SUF)                                                                                  \
    switch (src_t) {                                                                                       \
    case SL_INT8: i8_to_##SUF(dst, src, n); break;                                                         \
    case SL_INT16: i16_to_##SUF(dst, src, n); break;                                                       \
    case SL_INT32: i32_to_##SUF(dst, src, n); break;                                                       \
    case SL_INT64: i64_to_##SUF(dst, src, n); break;                                                       \
    case SL_UINT8: u8_to_##SUF(dst, src, n); break;                                                        \
    case SL_UINT16: u16_to_##SUF(dst, src, n); break;                                                      \
    case SL_UINT32: u32_to_##SUF(dst, src, n); break;                                                      \
    case SL_UINT64: u64_to_##SUF(dst, src, n); break;                                                      \
    default: break;                                                                                        \
    }

sl__cast_result sl__cast(void *dst, sl_dtype dst_t, const void *src, sl_dtype src_t, size_t n)
{
    sl__cast_result r = {0, 0};
    if (dst_t == src_t) {
        if (dst != src)
            memcpy(dst, src, n * sl_dtype_size(src_t));
        return r;
    }
    if (dst_t == SL_FLOAT64 && src_t == SL_FLOAT32) {
        f32_to_f64(dst, src, n);
        return r;
    }
    if (dst_t == SL_FLOAT32 && src_t == SL_FLOAT64) {
        f64_to_f32(dst, src, n);
        return r;
    }
    if (dst_t == SL_FLOAT64) {
        TO_FLOAT_CASE(f64)
        return r;
    }
    if (dst_t == SL_FLOAT32) {
        TO_FLOAT_CASE(f32)
        return r;
    }
    if (src_t == SL_FLOAT32) {
        FLOAT_TO_INT_CASE(f32)
        return r;
    }
    if (src_t == SL_FLOAT64) {
        FLOAT_TO_INT_CASE(f64)
        return r;
    }
    /* integer to integer: rare in numerical pipelines, so one generic
     * range-checked loop rather than 56 specialized ones */
    int64_t ilo;
    uint64_t ihi;
    int_range(dst_t, &ilo, &ihi);
    int unsigned_target = dst_t >= SL_UINT8 && dst_t <= SL_UINT64;
    for (size_t k = 0; k < n; k++) {
        int64_t si = 0;
        uint64_t ui = 0;
        if (!to_int(load(src, src_t, k), ilo, ihi, &si, &ui, unsigned_target)) {
            if (r.bad++ == 0)
                r.first_bad = k;
            si = 0;
            ui = 0;
        }
        store_int(dst, dst_t, k, si, ui);
    }
    return r;
}

void sl__widen_f32_in_place(void *buf, size_t n)
{
    /* front to back through a copy of each block: the values a block writes
     * end at 8(k + m) <= 4n + 4(k + m), before the float32 values of the
     * blocks after it */
    enum { BLOCK = 2048 };
    float tmp[BLOCK];
    const float *src = (const float *)((char *)buf + n * sizeof(float));
    double *dst = buf;
    for (size_t k = 0; k < n; k += BLOCK) {
        size_t m = n - k < BLOCK ? n - k : BLOCK;
        memcpy(tmp, src + k, m * sizeof *tmp);
        f32_to_f64(dst + k, tmp, m);
    }
}
