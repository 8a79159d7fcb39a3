#include <math.h>
#include <stdint.h>
#include <string.h>
#include "kernels/cast.h"

/* A source value widened without loss: one of the three members is used. */
typedef struct wide {
    int kind; /* 0: f, 1: i, 2: u */
    double f;
    int64_t i;
    uint64_t u;
} wide;

static wide load(const void *src, sl_dtype t, size_t k)
{
    wide w = {0, 0, 0, 0};
    switch (t) {
    case SL_INT8: w.kind = 1; w.i = ((const int8_t *)src)[k]; break;
    case SL_INT16: w.kind = 1; w.i = ((const int16_t *)src)[k]; break;
    case SL_INT32: w.kind = 1; w.i = ((const int32_t *)src)[k]; break;
    case SL_INT64: w.kind = 1; w.i = ((const int64_t *)src)[k]; break;
    case SL_UINT8: w.kind = 2; w.u = ((const uint8_t *)src)[k]; break;
    case SL_UINT16: w.kind = 2; w.u = ((const uint16_t *)src)[k]; break;
    case SL_UINT32: w.kind = 2; w.u = ((const uint32_t *)src)[k]; break;
    case SL_UINT64: w.kind = 2; w.u = ((const uint64_t *)src)[k]; break;
    case SL_FLOAT32: w.f = ((const float *)src)[k]; break;
    case SL_FLOAT64: w.f = ((const double *)src)[k]; break;
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
    if (w.kind == 0) {
        if (!isfinite(w.f))
            return 0;
        double t = trunc(w.f);
        /* hi + 1 and -lo are powers of two, exact as doubles, so the
         * half-open tests are exact even for 64-bit targets */
        if (unsigned_target) {
            if (t < 0 || t >= (double)hi + 1.0)
                return 0;
            *ui = (uint64_t)t;
        } else {
            if (t < (double)lo || t >= -(double)lo)
                return 0;
            *si = (int64_t)t;
        }
        return 1;
    }
    if (w.kind == 1) {
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

static double wide_to_double(wide w)
{
    return w.kind == 0 ? w.f : w.kind == 1 ? (double)w.i : (double)w.u;
}

sl__cast_result sl__cast(void *dst, sl_dtype dst_t, const void *src, sl_dtype src_t, size_t n)
{
    sl__cast_result r = {0, 0};
    if (dst_t == src_t) {
        if (dst != src)
            memcpy(dst, src, n * sl_dtype_size(src_t));
        return r;
    }
    /* the conversions every ML pipeline does, kept vectorizable */
    if (dst_t == SL_FLOAT64 && src_t == SL_FLOAT32) {
        double *d = dst;
        const float *s = src;
        for (size_t k = 0; k < n; k++)
            d[k] = s[k];
        return r;
    }
    if (dst_t == SL_FLOAT32 && src_t == SL_FLOAT64) {
        float *d = dst;
        const double *s = src;
        for (size_t k = 0; k < n; k++)
            d[k] = (float)s[k];
        return r;
    }
    if (dst_t == SL_FLOAT64 || dst_t == SL_FLOAT32) {
        for (size_t k = 0; k < n; k++) {
            wide w = load(src, src_t, k);
            if (dst_t == SL_FLOAT64)
                ((double *)dst)[k] = wide_to_double(w);
            else /* straight to float: going through double would round twice */
                ((float *)dst)[k] = w.kind == 0 ? (float)w.f : w.kind == 1 ? (float)w.i : (float)w.u;
        }
        return r;
    }
    int64_t lo;
    uint64_t hi;
    int_range(dst_t, &lo, &hi);
    int unsigned_target = dst_t >= SL_UINT8 && dst_t <= SL_UINT64;
    for (size_t k = 0; k < n; k++) {
        int64_t si = 0;
        uint64_t ui = 0;
        if (!to_int(load(src, src_t, k), lo, hi, &si, &ui, unsigned_target)) {
            if (r.bad++ == 0)
                r.first_bad = k;
            si = 0;
            ui = 0;
        }
        store_int(dst, dst_t, k, si, ui);
    }
    return r;
}
