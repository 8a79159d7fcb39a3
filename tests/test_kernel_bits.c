/* Bit-exactness of the streaming kernels: standardize, count_nonfinite,
 * cast, colstats, mstats, impute, nansum_f32, the co-moment means and
 * check_finite run on random blocks (NaNs with payloads, +-Inf, -0.0,
 * subnormals, huge values whose sums overflow, dropped rows, all-missing and
 * never-missing columns) of every element type, over shapes that are
 * narrower and wider than a vector and than the kernels' column blocks, and
 * their output is compared byte for byte with plain scalar loops written
 * here from the kernels' documented semantics. The kernels may be vectorized
 * across columns, but never so that a single bit of a result changes: a
 * column's sums must stay sequential in row order. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kernels/cast.h"
#include "kernels/colstats.h"
#include "kernels/gram.h"
#include "kernels/nanfix.h"
#include "kernels/standardize.h"
#include "ops/model_int.h"
#include "plan/pipeline_int.h"

static const int64_t COLS[] = {1, 3, 16, 17, 33, 64, 65, 130};
static const int64_t ROWS[] = {0, 1, 7, 1000};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define SEEDS 3
#define ROW0 1000000007

static const sl_dtype ALL[] = {SL_INT8, SL_INT16, SL_INT32, SL_INT64, SL_UINT8,
                               SL_UINT16, SL_UINT32, SL_UINT64, SL_FLOAT32, SL_FLOAT64};

/* ---- random blocks --------------------------------------------------------- */

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double unit(uint64_t *s)
{
    return (double)(next(s) >> 11) / 9007199254740992.0;
}

/* How a column's values are drawn: the share of special values and the
 * offset and spread of the ordinary ones. */
typedef struct colgen {
    double p_special;
    double offset, spread;
    int small_ints;
} colgen;

static colgen column_kind(uint64_t *s)
{
    static const double p[] = {0, 0, 0.01, 0.2, 1};
    static const double off[] = {0, 1e3, -1e8, 1e8};
    static const double spr[] = {1, 1e-3, 1e5, 1e300};
    colgen g = {p[next(s) % N_OF(p)], off[next(s) % N_OF(off)], spr[next(s) % N_OF(spr)], (int)(next(s) % 2)};
    return g;
}

static double f64_of(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static float f32_of(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static double special64(uint64_t *s)
{
    switch (next(s) % 14) {
    case 0: return NAN;
    case 1: return -NAN;
    case 2: return f64_of(0x7ff8000000000000ull | (next(s) & 0x0007ffffffffffffull) | (next(s) >> 63 << 63));
    case 3: return f64_of(0x7ff0000000000001ull | (next(s) & 0x0003ffffffffffffull)); /* signalling */
    case 4: return INFINITY;
    case 5: return -INFINITY;
    case 6: return -0.0;
    case 7: return 0.0;
    case 8: return DBL_TRUE_MIN;
    case 9: return -DBL_MIN / 3;
    case 10: return DBL_MAX;
    case 11: return -DBL_MAX;
    case 12: return 1e308;
    default: return NAN;
    }
}

static float special32(uint64_t *s)
{
    switch (next(s) % 14) {
    case 0: return NAN;
    case 1: return -NAN;
    case 2: return f32_of(0x7fc00000u | (uint32_t)(next(s) & 0x003fffffu) | (uint32_t)(next(s) >> 63 << 31));
    case 3: return f32_of(0x7f800001u | (uint32_t)(next(s) & 0x001fffffu));
    case 4: return INFINITY;
    case 5: return -INFINITY;
    case 6: return -0.0f;
    case 7: return 0.0f;
    case 8: return FLT_TRUE_MIN;
    case 9: return -FLT_MIN / 3;
    case 10: return FLT_MAX;
    case 11: return -FLT_MAX;
    case 12: return 3e38f;
    default: return NAN;
    }
}

static double ordinary(uint64_t *s, const colgen *g)
{
    double v = g->offset + g->spread * (unit(s) - 0.5);
    if (g->small_ints)
        v = (double)(int64_t)(v / (g->spread > 100 ? g->spread / 100 : 1)) * (next(s) % 8 == 0 ? -0.0 : 1.0);
    return v;
}

/* rows x cols of type t, each column drawn its own way. */
static void *random_block(sl_dtype t, int64_t rows, int64_t cols, uint64_t *s)
{
    size_t n = (size_t)(rows * cols), es = sl_dtype_size(t);
    unsigned char *buf = malloc(n * es + 1);
    colgen *g = malloc((size_t)cols * sizeof *g);
    for (int64_t c = 0; c < cols; c++)
        g[c] = column_kind(s);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            size_t k = (size_t)(r * cols + c);
            int sp = unit(s) < g[c].p_special;
            uint64_t bits = next(s);
            int small = g[c].small_ints;
            switch (t) {
            case SL_FLOAT64: ((double *)buf)[k] = sp ? special64(s) : ordinary(s, &g[c]); break;
            case SL_FLOAT32: {
                double v = ordinary(s, &g[c]);
                ((float *)buf)[k] = sp ? special32(s) : fabs(v) < 3e38 ? (float)v : (float)(v * 1e-270);
                break;
            }
            case SL_INT8: ((int8_t *)buf)[k] = (int8_t)(small ? (int64_t)(bits % 21) - 10 : (int64_t)bits); break;
            case SL_INT16: ((int16_t *)buf)[k] = (int16_t)(small ? (int64_t)(bits % 201) - 100 : (int64_t)bits); break;
            case SL_INT32: ((int32_t *)buf)[k] = (int32_t)(small ? (int64_t)(bits % 201) - 100 : (int64_t)bits); break;
            case SL_INT64: ((int64_t *)buf)[k] = small ? (int64_t)(bits % 201) - 100 : (int64_t)bits; break;
            case SL_UINT8: ((uint8_t *)buf)[k] = (uint8_t)(small ? bits % 21 : bits); break;
            case SL_UINT16: ((uint16_t *)buf)[k] = (uint16_t)(small ? bits % 201 : bits); break;
            case SL_UINT32: ((uint32_t *)buf)[k] = (uint32_t)(small ? bits % 201 : bits); break;
            case SL_UINT64: ((uint64_t *)buf)[k] = small ? bits % 201 : bits; break;
            default: break;
            }
        }
    free(g);
    return buf;
}

/* NULL, or a mask dropping some rows, none or all of them. */
static unsigned char *random_drop(int64_t rows, uint64_t *s, int kind)
{
    if (kind == 0)
        return NULL;
    unsigned char *d = malloc((size_t)rows + 1);
    for (int64_t r = 0; r < rows; r++)
        d[r] = kind == 1 ? (unsigned char)(unit(s) < 0.2 ? 1 + next(s) % 255 : 0) : kind == 2 ? 0 : 1;
    return d;
}

/* Element k of a block of type t, as a double (exact but for 64-bit integers,
 * which round to nearest as C converts them). */
static double ld(const void *p, sl_dtype t, size_t k)
{
    switch (t) {
    case SL_INT8: return ((const int8_t *)p)[k];
    case SL_INT16: return ((const int16_t *)p)[k];
    case SL_INT32: return ((const int32_t *)p)[k];
    case SL_INT64: return (double)((const int64_t *)p)[k];
    case SL_UINT8: return ((const uint8_t *)p)[k];
    case SL_UINT16: return ((const uint16_t *)p)[k];
    case SL_UINT32: return ((const uint32_t *)p)[k];
    case SL_UINT64: return (double)((const uint64_t *)p)[k];
    case SL_FLOAT32: return ((const float *)p)[k];
    case SL_FLOAT64: return ((const double *)p)[k];
    default: fail_msg("dtype %d", (int)t); return 0;
    }
}

/* Element k exactly (long double holds every int64, uint64 and double). */
static long double ld_exact(const void *p, sl_dtype t, size_t k)
{
    switch (t) {
    case SL_INT64: return (long double)((const int64_t *)p)[k];
    case SL_UINT64: return (long double)((const uint64_t *)p)[k];
    default: return ld(p, t, k);
    }
}

static void same_bytes(const void *got, const void *want, size_t n, const char *what, sl_dtype t, int64_t rows,
                       int64_t cols)
{
    if (memcmp(got, want, n) == 0)
        return;
    size_t k = 0;
    while (((const unsigned char *)got)[k] == ((const unsigned char *)want)[k])
        k++;
    fail_msg("%s, %s, %lld x %lld: first differing byte %zu of %zu", what, sl_dtype_name(t), (long long)rows,
             (long long)cols, k, n);
}

static int is_missing(double v, int skip_inf)
{
    return isnan(v) || (skip_inf && isinf(v));
}

/* ---- standardize and count_nonfinite ---------------------------------------- */

static void random_affine(int64_t cols, uint64_t *s, double *shift, double *scale)
{
    for (int64_t c = 0; c < cols; c++) {
        switch (next(s) % 8) {
        case 0: shift[c] = 0, scale[c] = 1; break;
        case 1: shift[c] = -0.0, scale[c] = 0; break;
        case 2: shift[c] = NAN, scale[c] = 3; break;
        case 3: shift[c] = 1e8, scale[c] = -1e-300; break;
        default: shift[c] = 1e4 * (unit(s) - 0.5), scale[c] = 1e-3 + 10 * unit(s); break;
        }
    }
}

static void test_standardize(void **state)
{
    (void)state;
    uint64_t s = 0x5eed0001;
    for (size_t a = 0; a < N_OF(COLS); a++)
        for (size_t b = 0; b < N_OF(ROWS); b++)
            for (size_t i = 0; i < N_OF(ALL); i++)
                for (int seed = 0; seed < SEEDS; seed++) {
                    int64_t cols = COLS[a], rows = ROWS[b];
                    size_t n = (size_t)(rows * cols);
                    sl_dtype in_t = ALL[i];
                    void *x = random_block(in_t, rows, cols, &s);
                    double *shift = malloc((size_t)cols * sizeof *shift), *scale = malloc((size_t)cols * sizeof *scale);
                    random_affine(cols, &s, shift, scale);
                    for (int o = 0; o < 2; o++) {
                        sl_dtype out_t = o ? SL_FLOAT32 : SL_FLOAT64;
                        size_t es = sl_dtype_size(out_t);
                        unsigned char *got = malloc(n * es + 1), *want = malloc(n * es + 1);
                        for (size_t k = 0; k < n; k++) {
                            double q = (ld(x, in_t, k) - shift[k % (size_t)cols]) / scale[k % (size_t)cols];
                            if (o)
                                ((float *)want)[k] = (float)q;
                            else
                                ((double *)want)[k] = q;
                        }
                        sl__standardize(got, out_t, x, in_t, rows, cols, shift, scale);
                        same_bytes(got, want, n * es, "standardize", in_t, rows, cols);
                        if (in_t == out_t) { /* in place */
                            memcpy(got, x, n * es);
                            sl__standardize(got, out_t, got, in_t, rows, cols, shift, scale);
                            same_bytes(got, want, n * es, "standardize in place", in_t, rows, cols);
                        }
                        free(got);
                        free(want);
                    }
                    /* count_nonfinite: ints never, first untouched when none */
                    size_t bad = 0, first = (size_t)-7, got_first = (size_t)-7;
                    for (size_t k = 0; k < n && sl_dtype_is_float(in_t); k++)
                        if (!isfinite(ld(x, in_t, k)) && bad++ == 0)
                            first = k;
                    size_t got_bad = sl__count_nonfinite(x, in_t, n, &got_first);
                    if (got_bad != bad || got_first != first)
                        fail_msg("count_nonfinite %s %lld x %lld: %zu at %zu, expected %zu at %zu", sl_dtype_name(in_t),
                                 (long long)rows, (long long)cols, got_bad, got_first, bad, first);
                    free(shift);
                    free(scale);
                    free(x);
                }
}

/* ---- cast -------------------------------------------------------------------- */

static void int_limits(sl_dtype t, long double *lo, long double *hi)
{
    int bits = (int)sl_dtype_size(t) * 8;
    if (sl_dtype_is_signed(t)) {
        *lo = -ldexpl(1.0L, bits - 1);
        *hi = ldexpl(1.0L, bits - 1) - 1;
    } else {
        *lo = 0;
        *hi = ldexpl(1.0L, bits) - 1;
    }
}

static void store_exact(void *p, sl_dtype t, size_t k, long double v)
{
    switch (t) {
    case SL_INT8: ((int8_t *)p)[k] = (int8_t)v; break;
    case SL_INT16: ((int16_t *)p)[k] = (int16_t)v; break;
    case SL_INT32: ((int32_t *)p)[k] = (int32_t)v; break;
    case SL_INT64: ((int64_t *)p)[k] = (int64_t)v; break;
    case SL_UINT8: ((uint8_t *)p)[k] = (uint8_t)v; break;
    case SL_UINT16: ((uint16_t *)p)[k] = (uint16_t)v; break;
    case SL_UINT32: ((uint32_t *)p)[k] = (uint32_t)v; break;
    case SL_UINT64: ((uint64_t *)p)[k] = (uint64_t)v; break;
    /* one rounding, from the exact value */
    case SL_FLOAT32: ((float *)p)[k] = (float)v; break;
    case SL_FLOAT64: ((double *)p)[k] = (double)v; break;
    default: break;
    }
}

/* Float values at and around every integer limit. */
static void *cast_floats(sl_dtype t, size_t n, uint64_t *s)
{
    void *x = random_block(t, 1, (int64_t)n, s);
    for (size_t k = 0; k < n; k++) {
        if (next(s) % 3)
            continue;
        int e = (int)(next(s) % 66);
        static const double d[] = {0, 0.5, 1, -0.5, -1, 0.99, -0.99};
        double v = ldexp(1.0, e) * (next(s) % 2 ? -1 : 1) + d[next(s) % N_OF(d)];
        if (t == SL_FLOAT32)
            ((float *)x)[k] = (float)v;
        else
            ((double *)x)[k] = v;
    }
    return x;
}

static void test_cast(void **state)
{
    (void)state;
    uint64_t s = 0x5eed0002;
    static const size_t NS[] = {0, 1, 7, 16, 17, 33, 1000, 4099};
    for (size_t a = 0; a < N_OF(NS); a++)
        for (size_t i = 0; i < N_OF(ALL); i++)
            for (size_t j = 0; j < N_OF(ALL); j++)
                for (int seed = 0; seed < SEEDS; seed++) {
                    size_t n = NS[a];
                    sl_dtype st = ALL[i], dt = ALL[j];
                    void *x = sl_dtype_is_float(st) ? cast_floats(st, n, &s) : random_block(st, 1, (int64_t)n, &s);
                    size_t es = sl_dtype_size(dt);
                    unsigned char *got = malloc(n * es + 1), *want = malloc(n * es + 1);
                    memset(got, 0xa5, n * es + 1);
                    size_t bad = 0, first = 0;
                    long double lo = 0, hi = 0;
                    if (!sl_dtype_is_float(dt))
                        int_limits(dt, &lo, &hi);
                    for (size_t k = 0; k < n; k++) {
                        long double v = ld_exact(x, st, k);
                        if (sl_dtype_is_float(dt)) {
                            store_exact(want, dt, k, v);
                            continue;
                        }
                        if (sl_dtype_is_float(st))
                            v = isfinite(v) ? truncl(v) : NAN;
                        if (!(v >= lo && v <= hi)) {
                            if (bad++ == 0)
                                first = k;
                            v = 0;
                        }
                        store_exact(want, dt, k, v);
                    }
                    if (st == dt)
                        memcpy(want, x, n * es);
                    sl__cast_result r = sl__cast(got, dt, x, st, n);
                    char what[64];
                    snprintf(what, sizeof what, "cast from %s", sl_dtype_name(st));
                    same_bytes(got, want, n * es, what, dt, (int64_t)n, 1);
                    if (got[n * es] != 0xa5)
                        fail_msg("%s to %s wrote past the end", what, sl_dtype_name(dt));
                    if (r.bad != bad || (bad && r.first_bad != first))
                        fail_msg("%s to %s, n %zu: %zu bad from %zu, expected %zu from %zu", what, sl_dtype_name(dt), n,
                                 r.bad, r.first_bad, bad, first);
                    if (st == dt) { /* onto itself */
                        r = sl__cast(x, dt, x, st, n);
                        same_bytes(x, want, n * es, "cast onto itself", dt, (int64_t)n, 1);
                    }
                    free(got);
                    free(want);
                    free(x);
                }
}

/* ---- colstats ------------------------------------------------------------------ */

static void ref_colstats(const void *x, sl_dtype t, int64_t rows, int64_t cols, sl__colstats *out)
{
    for (int64_t c = 0; c < cols; c++) {
        double n = 0, nan = 0, sum = 0, min = INFINITY, max = -INFINITY, m2 = 0, mean;
        for (int64_t r = 0; r < rows; r++) {
            double v = ld(x, t, (size_t)(r * cols + c));
            if (isnan(v)) {
                nan += 1;
                continue;
            }
            n += 1;
            sum += v;
            if (v < min)
                min = v;
            if (v > max)
                max = v;
        }
        if (n > 0) {
            mean = sum / n;
        } else {
            mean = min = max = NAN;
        }
        for (int64_t r = 0; r < rows; r++) {
            double v = ld(x, t, (size_t)(r * cols + c));
            if (!isnan(v)) {
                double d = v - mean;
                m2 += d * d;
            }
        }
        out[c] = (sl__colstats){n, nan, mean, m2, min, max};
    }
}

static void test_colstats(void **state)
{
    (void)state;
    uint64_t s = 0x5eed0003;
    for (size_t a = 0; a < N_OF(COLS); a++)
        for (size_t b = 0; b < N_OF(ROWS); b++)
            for (size_t i = 0; i < N_OF(ALL); i++)
                for (int seed = 0; seed < SEEDS; seed++) {
                    int64_t cols = COLS[a], rows = ROWS[b];
                    void *x = random_block(ALL[i], rows, cols, &s);
                    sl__colstats *got = malloc((size_t)cols * sizeof *got), *want = malloc((size_t)cols * sizeof *want);
                    memset(got, 0x5a, (size_t)cols * sizeof *got);
                    ref_colstats(x, ALL[i], rows, cols, want);
                    sl__colstats_chunk(x, ALL[i], rows, cols, got);
                    same_bytes(got, want, (size_t)cols * sizeof *got, "colstats", ALL[i], rows, cols);
                    free(got);
                    free(want);
                    free(x);
                }
}

/* ---- mstats ---------------------------------------------------------------------- */

/* sl__mstats_chunk as nanfix.h documents it: over kept rows, missing values
 * counted (the first one's row noted), the others summed in row order, then
 * the deviations from that mean summed and squared, the mean corrected by
 * their mean, M2 by sum(d)^2 / n, clamped to 0, the mean kept within
 * [min, max]; an infinite mean (infinities kept) has a NaN M2. */
static void ref_mstats(const void *x, sl_dtype t, int64_t rows, int64_t cols, int64_t row0,
                       const unsigned char *drop, int skip_inf, sl__mstats *out)
{
    for (int64_t c = 0; c < cols; c++) {
        sl__mstats m = {0, 0, 0, INFINITY, -INFINITY, 0, -1, 0};
        for (int64_t r = 0; r < rows; r++) {
            double v = ld(x, t, (size_t)(r * cols + c));
            if (drop && drop[r])
                continue;
            if (is_missing(v, skip_inf)) {
                if (m.missing == 0)
                    m.first_missing = row0 + r;
                m.missing += 1;
                continue;
            }
            m.n += 1;
            m.mean += v;
            if (v < m.min)
                m.min = v;
            if (v > m.max)
                m.max = v;
        }
        if (m.n > 0)
            m.mean /= m.n;
        double sd = 0, m2 = 0;
        for (int64_t r = 0; r < rows; r++) {
            double v = ld(x, t, (size_t)(r * cols + c));
            if ((drop && drop[r]) || is_missing(v, skip_inf))
                continue;
            double d = v - m.mean;
            sd += d;
            m2 += d * d;
        }
        m.m2 = m2;
        if (m.n > 0 && !isfinite(m.mean)) {
            m.m2 = NAN;
        } else if (m.n > 0) {
            m.mean += sd / m.n;
            m.m2 -= sd * sd / m.n;
            if (m.m2 < 0)
                m.m2 = 0;
            if (m.mean < m.min)
                m.mean = m.min;
            if (m.mean > m.max)
                m.mean = m.max;
        } else {
            m.mean = m.min = m.max = NAN;
        }
        out[c] = m;
    }
}

static void test_mstats(void **state)
{
    (void)state;
    uint64_t s = 0x5eed0004;
    for (size_t a = 0; a < N_OF(COLS); a++)
        for (size_t b = 0; b < N_OF(ROWS); b++)
            for (size_t i = 0; i < N_OF(ALL); i++)
                for (int seed = 0; seed < SEEDS; seed++)
                    for (int dk = 0; dk < 4; dk++)
                        for (int skip_inf = 0; skip_inf < 2; skip_inf++) {
                            int64_t cols = COLS[a], rows = ROWS[b];
                            void *x = random_block(ALL[i], rows, cols, &s);
                            unsigned char *drop = random_drop(rows, &s, dk);
                            size_t sz = (size_t)cols * sizeof(sl__mstats);
                            sl__mstats *got = malloc(sz), *want = malloc(sz);
                            memset(got, 0x5a, sz);
                            ref_mstats(x, ALL[i], rows, cols, ROW0, drop, skip_inf, want);
                            sl__mstats_chunk(x, ALL[i], rows, cols, ROW0, drop, skip_inf, got);
                            same_bytes(got, want, sz, skip_inf ? "mstats, skip_inf" : "mstats", ALL[i], rows, cols);
                            free(got);
                            free(want);
                            free(drop);
                            free(x);
                        }
}

/* ---- impute ------------------------------------------------------------------------- */

static void test_impute(void **state)
{
    (void)state;
    uint64_t s = 0x5eed0005;
    for (size_t a = 0; a < N_OF(COLS); a++)
        for (size_t b = 0; b < N_OF(ROWS); b++)
            for (size_t i = 0; i < N_OF(ALL); i++)
                for (int seed = 0; seed < SEEDS; seed++)
                    for (int skip_inf = 0; skip_inf < 2; skip_inf++) {
                        int64_t cols = COLS[a], rows = ROWS[b];
                        sl_dtype t = ALL[i];
                        size_t n = (size_t)(rows * cols), bytes = n * sl_dtype_size(t);
                        unsigned char *got = random_block(t, rows, cols, &s), *want = malloc(bytes + 1);
                        double *fill = malloc((size_t)cols * sizeof *fill);
                        for (int64_t c = 0; c < cols; c++)
                            fill[c] = c % 5 == 4 ? NAN : c % 5 == 3 ? -0.0 : c % 5 == 2 ? 1e300 : 1e3 * unit(&s);
                        memcpy(want, got, bytes);
                        int64_t imputed = 0;
                        for (size_t k = 0; k < n && sl_dtype_is_float(t); k++) {
                            if (!is_missing(ld(want, t, k), skip_inf))
                                continue;
                            imputed++;
                            if (t == SL_FLOAT32)
                                ((float *)want)[k] = (float)fill[k % (size_t)cols];
                            else
                                ((double *)want)[k] = fill[k % (size_t)cols];
                        }
                        int64_t r = sl__impute(got, t, rows, cols, fill, skip_inf);
                        same_bytes(got, want, bytes, skip_inf ? "impute, skip_inf" : "impute", t, rows, cols);
                        assert_int_equal(r, imputed);
                        free(fill);
                        free(got);
                        free(want);
                    }
}

/* ---- float32 sums (clean's mean_dtype: input) --------------------------------------- */

static void test_nansum_f32(void **state)
{
    (void)state;
    uint64_t s = 0x5eed0008;
    for (size_t a = 0; a < N_OF(COLS); a++)
        for (size_t b = 0; b < N_OF(ROWS); b++)
            for (int seed = 0; seed < SEEDS; seed++)
                for (int dk = 0; dk < 4; dk++)
                    for (int skip_inf = 0; skip_inf < 2; skip_inf++) {
                        int64_t cols = COLS[a], rows = ROWS[b];
                        float *x = random_block(SL_FLOAT32, rows, cols, &s);
                        unsigned char *drop = random_drop(rows, &s, dk);
                        /* the sums so far (a pass adds chunk after chunk), also
                         * NaNs with any payload, signalling ones too */
                        float *got = random_block(SL_FLOAT32, 1, cols, &s);
                        float *want = malloc((size_t)cols * sizeof *want + 1);
                        for (int64_t c = 0; c < cols; c++) {
                            want[c] = got[c];
                            for (int64_t r = 0; r < rows; r++) {
                                float v = x[r * cols + c];
                                if (!(drop && drop[r]) && !is_missing(v, skip_inf))
                                    want[c] += v;
                            }
                        }
                        sl__nansum_f32(x, rows, cols, drop, skip_inf, got);
                        same_bytes(got, want, (size_t)cols * sizeof *got, "nansum_f32", SL_FLOAT32, rows, cols);
                        free(got);
                        free(want);
                        free(drop);
                        free(x);
                    }
}

/* ---- co-moment means ---------------------------------------------------------------- */

/* gram.c's means: plain column means, corrected by the mean of the
 * deviations from them. */
static void ref_means(const double *X, const double *y, int64_t rows, int64_t F, double *xm, double *ym)
{
    for (int64_t j = 0; j < F; j++) {
        double sum = 0, corr = 0;
        for (int64_t i = 0; i < rows; i++)
            sum += X[i * F + j];
        sum /= (double)rows;
        for (int64_t i = 0; i < rows; i++)
            corr += X[i * F + j] - sum;
        xm[j] = sum + corr / (double)rows;
    }
    double sy = 0, cy = 0;
    for (int64_t i = 0; i < rows; i++)
        sy += y[i];
    sy /= (double)rows;
    for (int64_t i = 0; i < rows; i++)
        cy += y[i] - sy;
    *ym = sy + cy / (double)rows;
}

/* The doubles agree bit for bit, but where both are NaN: two NaN operands of
 * an addition give one or the other, as the compiler orders them (C leaves
 * NaN payloads unspecified), and means adds raw values, input NaNs included. */
static void same_or_nan(const double *got, const double *want, size_t n, const char *what, int64_t rows, int64_t F)
{
    for (size_t k = 0; k < n; k++)
        if (!(isnan(got[k]) && isnan(want[k])) && memcmp(&got[k], &want[k], sizeof *got) != 0)
            fail_msg("%s, %lld x %lld: entry %zu is %.17g, expected %.17g", what, (long long)rows, (long long)F, k,
                     got[k], want[k]);
}

static void test_comoment_means(void **state)
{
    (void)state;
    uint64_t s = 0x5eed0006;
    for (size_t a = 0; a < N_OF(COLS); a++)
        for (size_t b = 0; b < N_OF(ROWS); b++)
            for (int seed = 0; seed < 2 * SEEDS; seed++) {
                int64_t F = COLS[a], rows = ROWS[b];
                double *X = random_block(SL_FLOAT64, rows, F, &s), *y = random_block(SL_FLOAT64, rows, 1, &s);
                int exact = seed % 2 == 0;
                if (exact) { /* NaNs only from Inf - Inf, all the same */
                    for (int64_t k = 0; k < rows * F; k++)
                        X[k] = isnan(X[k]) ? -INFINITY : X[k];
                    for (int64_t k = 0; k < rows; k++)
                        y[k] = isnan(y[k]) ? INFINITY : y[k];
                }
                size_t sz = sl__comoment_size(F);
                double *cm = malloc(sz * sizeof *cm), *want = calloc(sz, sizeof *want);
                double *scratch = malloc(sl__comoment_scratch_size(rows, F) * sizeof *scratch);
                if (rows > 0) {
                    ref_means(X, y, rows, F, want + SL__CM_XMEAN, &want[SL__CM_YMEAN]);
                    want[SL__CM_N] = (double)rows;
                }
                for (int fast = 0; fast < 2; fast++) {
                    sl_error err;
                    if (fast)
                        assert_int_equal(sl__comoment_chunk(X, y, rows, F, cm, scratch, &err), SL_OK);
                    else
                        sl__comoment_chunk_ref(X, y, rows, F, cm);
                    const char *what = fast ? "x means" : "x means (ref)";
                    if (exact) {
                        same_bytes(cm + SL__CM_XMEAN, want + SL__CM_XMEAN, (size_t)F * sizeof *cm, what, SL_FLOAT64,
                                   rows, F);
                        same_bytes(cm, want, 2 * sizeof *cm, "n, y mean", SL_FLOAT64, rows, F);
                    } else {
                        same_or_nan(cm + SL__CM_XMEAN, want + SL__CM_XMEAN, (size_t)F, what, rows, F);
                        same_or_nan(cm, want, 2, "n, y mean", rows, F);
                    }
                }
                free(scratch);
                free(cm);
                free(want);
                free(y);
                free(X);
            }
}

/* ---- check_finite --------------------------------------------------------------------- */

static void test_check_finite(void **state)
{
    (void)state;
    sl_pipeline pipe;
    memset(&pipe, 0, sizeof pipe);
    pipe.path = "p.yaml";
    sl_stage st;
    memset(&st, 0, sizeof st);
    st.pipe = &pipe;
    st.name = "fit";
    uint64_t s = 0x5eed0007;
    for (size_t a = 0; a < N_OF(COLS); a++)
        for (size_t b = 0; b < N_OF(ROWS); b++)
            for (int seed = 0; seed < 2 * SEEDS; seed++) {
                int64_t cols = COLS[a], rows = ROWS[b];
                double *x = random_block(SL_FLOAT64, rows, cols, &s);
                size_t n = (size_t)(rows * cols), bad = 0, first = 0;
                if (seed == 0) /* all finite */
                    for (size_t k = 0; k < n; k++)
                        x[k] = isfinite(x[k]) ? x[k] : -0.0;
                for (size_t k = 0; k < n; k++)
                    if (!isfinite(x[k]) && bad++ == 0)
                        first = k;
                sl_error err;
                memset(&err, 0, sizeof err);
                sl_status rc = sl__check_finite(&st, "X", x, rows, cols, ROW0, &err);
                if (bad == 0) {
                    assert_int_equal(rc, SL_OK);
                } else {
                    char want[SL_ERROR_MESSAGE_MAX];
                    snprintf(want, sizeof want,
                             "array 'X' row %lld column %lld is %g (%zu non-finite value%s in rows %lld..%lld); "
                             "remove or impute them first (op clean)",
                             (long long)(ROW0 + (int64_t)(first / (size_t)cols)), (long long)(first % (size_t)cols),
                             x[first], bad, bad == 1 ? "" : "s", (long long)ROW0, (long long)(ROW0 + rows - 1));
                    assert_int_equal(rc, SL_ERR_DATA);
                    assert_string_equal(err.message, want);
                }
                free(x);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standardize),
        cmocka_unit_test(test_cast),
        cmocka_unit_test(test_colstats),
        cmocka_unit_test(test_mstats),
        cmocka_unit_test(test_impute),
        cmocka_unit_test(test_nansum_f32),
        cmocka_unit_test(test_comoment_means),
        cmocka_unit_test(test_check_finite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
