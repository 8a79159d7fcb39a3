/* Unit tests of the missing-value kernel (src/kernels/nanfix.c): masked
 * column statistics on hand-made blocks (NaN, +-Inf counted as missing or
 * as values, dropped rows, row offsets for the first missing value), merging
 * parts against the whole, accuracy of the mean against long double on data
 * with a large offset, rows with missing values, imputation (float32
 * rounding), clipping (float bounds rounded to the type, integer bounds
 * ceil/floor and limited to the type, NaN and Inf left alone) and row
 * compaction - all values worked out by hand. */
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
#include "kernels/nanfix.h"
#include "kernels/simd.h"

static void near(double got, double want, double tol, const char *what)
{
    if (isnan(want)) {
        if (!isnan(got))
            fail_msg("%s: got %.17g, expected NaN", what, got);
        return;
    }
    if (isinf(want)) {
        if (got != want)
            fail_msg("%s: got %.17g, expected %.17g", what, got, want);
        return;
    }
    double scale = fabs(want) > 1 ? fabs(want) : 1;
    if (!(fabs(got - want) <= tol * scale))
        fail_msg("%s: got %.17g, expected %.17g", what, got, want);
}

static void test_stats_block(void **state)
{
    (void)state;
    /* rows 10..14 (row0 = 10), 3 columns; row 12 dropped
     *   col 0: 1, NaN, [9], 3, Inf  -> skip_inf: n 2 (1, 3), mean 2, m2 2, missing 2 (rows 11, 14)
     *   col 1: 2, 4, [NaN], 6, 8     -> n 4, mean 5, m2 20, no missing (the NaN is dropped)
     *   col 2: -Inf, 1, [1], 1, 1    -> skip_inf: n 3, mean 1, m2 0, missing 1 at row 10 */
    const double x[] = {
        1, 2, -INFINITY,
        NAN, 4, 1,
        9, NAN, 1,
        3, 6, 1,
        INFINITY, 8, 1,
    };
    const unsigned char drop[] = {0, 0, 1, 0, 0};
    sl__mstats s[3];
    sl__mstats_chunk(x, SL_FLOAT64, 5, 3, 10, drop, 1, s);
    near(s[0].n, 2, 0, "n0");
    near(s[0].mean, 2, 1e-16, "mean0");
    near(s[0].m2, 2, 1e-15, "m2 0");
    near(s[0].missing, 2, 0, "missing0");
    assert_int_equal(s[0].first_missing, 11);
    near(s[0].min, 1, 0, "min0");
    near(s[0].max, 3, 0, "max0");
    near(s[1].n, 4, 0, "n1");
    near(s[1].mean, 5, 1e-16, "mean1");
    near(s[1].m2, 20, 1e-15, "m2 1");
    near(s[1].missing, 0, 0, "missing1");
    assert_int_equal(s[1].first_missing, -1);
    near(s[2].n, 3, 0, "n2");
    near(s[2].mean, 1, 0, "mean2");
    near(s[2].m2, 0, 0, "m2 2");
    assert_int_equal(s[2].first_missing, 10);
    near(sl__mstats_std(&s[1]), sqrt(5), 1e-15, "std1");

    /* inf kept: col 0 holds +Inf (mean Inf, m2 NaN), col 2 -Inf */
    sl__mstats_chunk(x, SL_FLOAT64, 5, 3, 10, drop, 0, s);
    near(s[0].n, 3, 0, "n0 keep");
    near(s[0].mean, INFINITY, 0, "mean0 keep");
    near(s[0].m2, NAN, 0, "m2 0 keep");
    near(s[0].missing, 1, 0, "missing0 keep");
    near(s[2].mean, -INFINITY, 0, "mean2 keep");
    near(s[2].min, -INFINITY, 0, "min2 keep");

    /* no drop mask: every row */
    sl__mstats_chunk(x, SL_FLOAT64, 5, 3, 0, NULL, 1, s);
    near(s[0].n, 3, 0, "n0 all");
    near(s[0].mean, 13.0 / 3, 1e-15, "mean0 all");
    near(s[1].missing, 1, 0, "missing1 all");
    assert_int_equal(s[1].first_missing, 2);
}

static void test_stats_int_and_f32(void **state)
{
    (void)state;
    const int16_t a[] = {-3, 100, 5, 100, 7, 100};
    sl__mstats s[2];
    sl__mstats_chunk(a, SL_INT16, 3, 2, 0, NULL, 1, s);
    near(s[0].mean, 3, 1e-16, "int mean");
    near(s[0].m2, 56, 1e-14, "int m2"); /* 36 + 4 + 16 */
    near(s[1].m2, 0, 0, "int const m2");
    near(s[0].missing, 0, 0, "int missing");
    const float f[] = {0.1f, NAN, 0.2f};
    sl__mstats_chunk(f, SL_FLOAT32, 3, 1, 0, NULL, 1, s);
    near(s[0].mean, ((double)0.1f + (double)0.2f) / 2, 1e-16, "f32 mean in double");
    assert_int_equal(s[0].first_missing, 1);
}

static void test_merge_equals_whole(void **state)
{
    (void)state;
    enum { R = 1000, C = 2 };
    double *x = malloc(R * C * sizeof *x);
    unsigned char *drop = calloc(R, 1);
    for (int r = 0; r < R; r++) {
        x[r * C] = (r % 17 == 3) ? NAN : sin(r) * 10 + 3;
        x[r * C + 1] = (r % 29 == 5) ? INFINITY : cos(r * 0.7);
        drop[r] = r % 11 == 0;
    }
    sl__mstats whole[C], acc[C], part[C];
    sl__mstats_chunk(x, SL_FLOAT64, R, C, 0, drop, 1, whole);
    sl__mstats_init(acc, C);
    for (int r0 = 0; r0 < R; r0 += 64) {
        int m = R - r0 < 64 ? R - r0 : 64;
        sl__mstats_chunk(x + r0 * C, SL_FLOAT64, m, C, r0, drop + r0, 1, part);
        sl__mstats_merge(acc, part, C);
    }
    for (int c = 0; c < C; c++) {
        near(acc[c].n, whole[c].n, 0, "n");
        near(acc[c].mean, whole[c].mean, 1e-15, "mean");
        near(acc[c].m2, whole[c].m2, 1e-13, "m2");
        near(acc[c].min, whole[c].min, 0, "min");
        near(acc[c].max, whole[c].max, 0, "max");
        near(acc[c].missing, whole[c].missing, 0, "missing");
        assert_int_equal(acc[c].first_missing, whole[c].first_missing);
    }
    assert_int_equal(acc[0].first_missing, 3); /* row 3: NaN, not dropped */
    assert_int_equal(acc[1].first_missing, 5);
    /* Inf parts merge like NumPy's mean: +Inf with a finite part stays +Inf, with -Inf gives NaN */
    const double pinf[] = {1, INFINITY}, ninf[] = {-INFINITY, 2}, fin[] = {4, 6};
    sl__mstats_init(acc, 1);
    sl__mstats_chunk(fin, SL_FLOAT64, 2, 1, 0, NULL, 0, part);
    sl__mstats_merge(acc, part, 1);
    sl__mstats_chunk(pinf, SL_FLOAT64, 2, 1, 2, NULL, 0, part);
    sl__mstats_merge(acc, part, 1);
    near(acc[0].mean, INFINITY, 0, "fin + inf");
    near(acc[0].n, 4, 0, "n with inf");
    sl__mstats_chunk(ninf, SL_FLOAT64, 2, 1, 4, NULL, 0, part);
    sl__mstats_merge(acc, part, 1);
    near(acc[0].mean, NAN, 0, "inf + -inf");
    free(x);
    free(drop);
}

static void test_mean_accuracy(void **state)
{
    (void)state;
    /* a large offset: the naive sum loses digits, the corrected mean does not */
    enum { R = 100000 };
    double *x = malloc(R * sizeof *x);
    long double sum = 0;
    for (int r = 0; r < R; r++) {
        x[r] = 1e9 + (double)((r * 7919) % 1000) * 0.001 + 0.1;
        sum += x[r];
    }
    sl__mstats s;
    sl__mstats_chunk(x, SL_FLOAT64, R, 1, 0, NULL, 1, &s);
    double exact = (double)(sum / R);
    assert_true(fabs(s.mean - exact) <= 2 * (nextafter(exact, INFINITY) - exact));
    free(x);
}

static void test_all_missing_and_empty(void **state)
{
    (void)state;
    const double x[] = {NAN, NAN};
    sl__mstats s, acc;
    sl__mstats_chunk(x, SL_FLOAT64, 2, 1, 7, NULL, 1, &s);
    near(s.n, 0, 0, "n");
    near(s.mean, NAN, 0, "mean");
    near(s.min, NAN, 0, "min");
    near(sl__mstats_std(&s), NAN, 0, "std");
    sl__mstats_init(&acc, 1);
    sl__mstats_merge(&acc, &s, 1);
    near(acc.n, 0, 0, "acc n");
    near(acc.missing, 2, 0, "acc missing");
    assert_int_equal(acc.first_missing, 7);
    sl__mstats_chunk(x, SL_FLOAT64, 0, 1, 0, NULL, 1, &s);
    near(s.n, 0, 0, "empty");
}

static void test_rows_missing(void **state)
{
    (void)state;
    const double x[] = {1, 2, NAN, 3, 4, INFINITY, 5, 6};
    unsigned char m[4] = {0, 0, 0, 1};
    sl__rows_missing(x, SL_FLOAT64, 4, 2, 1, m);
    assert_memory_equal(m, ((unsigned char[]){0, 1, 1, 1}), 4);
    memset(m, 0, 4);
    sl__rows_missing(x, SL_FLOAT64, 4, 2, 0, m);
    assert_memory_equal(m, ((unsigned char[]){0, 1, 0, 0}), 4);
    /* a single float32 column (the target array's case, its own loop) */
    const float y[] = {1, NAN, -INFINITY, 2};
    memset(m, 0, 4);
    sl__rows_missing(y, SL_FLOAT32, 4, 1, 1, m);
    assert_memory_equal(m, ((unsigned char[]){0, 1, 1, 0}), 4);
    memset(m, 0, 4);
    sl__rows_missing(y, SL_FLOAT32, 4, 1, 0, m);
    assert_memory_equal(m, ((unsigned char[]){0, 1, 0, 0}), 4);
    const int32_t i[] = {1, 2};
    memset(m, 0, 4);
    sl__rows_missing(i, SL_INT32, 2, 1, 1, m);
    assert_memory_equal(m, ((unsigned char[]){0, 0, 0, 0}), 4);
}

static void test_impute(void **state)
{
    (void)state;
    double x[] = {NAN, 1, -INFINITY, NAN, 5, INFINITY};
    const double fill[] = {10, 20};
    assert_int_equal(sl__impute(x, SL_FLOAT64, 3, 2, fill, 0), 2);
    const double want0[] = {10, 1, -INFINITY, 20, 5, INFINITY};
    assert_memory_equal(x, want0, sizeof x);
    assert_int_equal(sl__impute(x, SL_FLOAT64, 3, 2, fill, 1), 2);
    const double want1[] = {10, 1, 10, 20, 5, 20};
    assert_memory_equal(x, want1, sizeof x);
    float f[] = {NAN, 2};
    const double fill32[] = {0.1};
    assert_int_equal(sl__impute(f, SL_FLOAT32, 2, 1, fill32, 1), 1);
    assert_true(f[0] == 0.1f);
    int8_t i[] = {1, 2};
    assert_int_equal(sl__impute(i, SL_INT8, 2, 1, fill, 1), 0);
}

static void test_clip_float(void **state)
{
    (void)state;
    double x[] = {-5, 0, NAN, 3, 7, 2, INFINITY, -INFINITY};
    const double lo[] = {0, 1}, hi[] = {4, 2};
    /* col 0: -5 0 NaN 7 Inf -> 0 0 NaN 4 Inf (skip_inf); col 1: 0 3 2 -Inf -> 1 2 2 -Inf */
    assert_int_equal(sl__clip(x, SL_FLOAT64, 4, 2, lo, hi, 1), 4);
    const double want[] = {0, 1, NAN, 2, 4, 2, INFINITY, -INFINITY};
    for (int k = 0; k < 8; k++)
        near(x[k], want[k], 0, "clip");
    /* Inf as a value: clipped */
    assert_int_equal(sl__clip(x, SL_FLOAT64, 4, 2, lo, hi, 0), 2);
    near(x[6], 4, 0, "inf clipped");
    near(x[7], 1, 0, "-inf clipped");
    /* float32: bounds rounded to float32 first; a value equal to the rounded bound is not changed */
    float f[] = {0.1f, 0.05f, 0.95f};
    const double l32[] = {0.1}, h32[] = {0.9};
    assert_int_equal(sl__clip(f, SL_FLOAT32, 3, 1, l32, h32, 1), 2);
    assert_true(f[0] == 0.1f && f[1] == 0.1f && f[2] == 0.9f);
    /* NaN bounds: the column is left alone */
    double y[] = {-1e300, 1e300};
    const double nl[] = {NAN}, nh[] = {NAN};
    assert_int_equal(sl__clip(y, SL_FLOAT64, 2, 1, nl, nh, 1), 0);
}

static void test_clip_int(void **state)
{
    (void)state;
    int8_t a[] = {-128, -3, 3, 4, 127};
    const double lo[] = {-2.5}, hi[] = {3.5}; /* -> [-2, 3] */
    assert_int_equal(sl__clip(a, SL_INT8, 5, 1, lo, hi, 1), 4);
    assert_memory_equal(a, ((int8_t[]){-2, -2, 3, 3, 3}), 5);
    uint8_t u[] = {0, 200, 255};
    const double ul[] = {-1000}, uh[] = {1e10}; /* limited to [0, 255]: nothing changes */
    assert_int_equal(sl__clip(u, SL_UINT8, 3, 1, ul, uh, 1), 0);
    int64_t big[] = {INT64_MIN, 0, INT64_MAX};
    const double bl[] = {-INFINITY}, bh[] = {9.3e18}; /* hi above INT64_MAX: limited */
    assert_int_equal(sl__clip(big, SL_INT64, 3, 1, bl, bh, 1), 0);
    const double bl2[] = {-5}, bh2[] = {5};
    assert_int_equal(sl__clip(big, SL_INT64, 3, 1, bl2, bh2, 1), 2);
    assert_true(big[0] == -5 && big[1] == 0 && big[2] == 5);
    uint64_t uu[] = {UINT64_MAX, 3};
    const double ul3[] = {4}, uh3[] = {1e30};
    assert_int_equal(sl__clip(uu, SL_UINT64, 2, 1, ul3, uh3, 1), 1);
    assert_true(uu[0] == UINT64_MAX && uu[1] == 4);
}

static void test_compact_rows(void **state)
{
    (void)state;
    const int16_t src[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    int16_t dst[10];
    const unsigned char drop[] = {1, 0, 0, 1, 0};
    assert_int_equal(sl__compact_rows(dst, src, 4, 5, drop), 3);
    assert_memory_equal(dst, ((int16_t[]){3, 4, 5, 6, 9, 10}), 12);
    assert_int_equal(sl__compact_rows(dst, src, 4, 5, NULL), 5);
    assert_memory_equal(dst, src, sizeof src);
    const unsigned char all[] = {1, 1, 1, 1, 1};
    assert_int_equal(sl__compact_rows(dst, src, 4, 5, all), 0);
}

/* The fused pass against the two it replaces (compact, then impute in place),
 * bit for bit, float32 and float64, ±Inf missing or not, a single column,
 * and a width past the fused kernel's (which then runs the two passes). */
static void test_compact_impute(void **state)
{
    (void)state;
    enum { ROWS = 257 };
    for (int64_t cols = 1; cols <= 70; cols += cols < 4 ? 1 : 33) {
        double *x = malloc(ROWS * cols * sizeof *x), *fill = malloc(cols * sizeof *fill);
        double *a = malloc(ROWS * cols * sizeof *a), *b = malloc(ROWS * cols * sizeof *b);
        float *xf = malloc(ROWS * cols * sizeof *xf), *af = malloc(ROWS * cols * sizeof *af),
              *bf = malloc(ROWS * cols * sizeof *bf);
        unsigned char drop[ROWS];
        for (int64_t k = 0; k < cols; k++)
            fill[k] = 0.1 * (double)k - 3.3;
        for (int64_t i = 0; i < ROWS * cols; i++) {
            x[i] = i % 7 == 3 ? NAN : i % 13 == 5 ? -INFINITY : sin((double)i);
            xf[i] = (float)x[i];
        }
        for (int r = 0; r < ROWS; r++)
            drop[r] = r % 5 == 1;
        for (int skip_inf = 0; skip_inf < 2; skip_inf++) {
            int64_t n = 0;
            int64_t kept = sl__compact_impute(a, x, SL_FLOAT64, ROWS, cols, drop, fill, skip_inf, &n);
            assert_int_equal(kept, sl__compact_rows(b, x, (size_t)cols * 8, ROWS, drop));
            assert_int_equal(n, sl__impute(b, SL_FLOAT64, kept, cols, fill, skip_inf));
            assert_memory_equal(a, b, (size_t)(kept * cols) * sizeof *a);
            kept = sl__compact_impute(af, xf, SL_FLOAT32, ROWS, cols, NULL, fill, skip_inf, &n);
            assert_int_equal(kept, ROWS);
            memcpy(bf, xf, ROWS * cols * sizeof *bf);
            assert_int_equal(n, sl__impute(bf, SL_FLOAT32, ROWS, cols, fill, skip_inf));
            assert_true(n > 0);
            assert_memory_equal(af, bf, (size_t)(ROWS * cols) * sizeof *af);
        }
        free(x);
        free(fill);
        free(a);
        free(b);
        free(xf);
        free(af);
        free(bf);
    }
}

/* sl_missing_mask32 against isnan / isinf on every class of float32: zeros,
 * subnormals, the largest finite, ±Inf, quiet, signalling and negative
 * NaNs, and the bit patterns at each boundary. */
static void test_missing_mask32(void **state)
{
    (void)state;
    const uint32_t bits[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x3f800000u, 0x7f7fffffu,
                             0xff7fffffu, 0x7f800000u, 0xff800000u, 0x7f800001u, 0x7fc00000u, 0xffc00000u,
                             0x7fffffffu, 0xffffffffu, 0x7fbfffffu, 0x00800000u};
    for (size_t k = 0; k < sizeof bits / sizeof *bits; k++) {
        float v;
        memcpy(&v, &bits[k], sizeof v);
        for (uint32_t inf = 0; inf < 2; inf++) {
            uint32_t want = (isnan(v) || (inf && isinf(v))) ? UINT32_MAX : 0;
            if (sl_missing_mask32(v, inf) != want)
                fail_msg("0x%08x with inf %u: mask 0x%08x, expected 0x%08x", bits[k], inf, sl_missing_mask32(v, inf),
                         want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_block),
        cmocka_unit_test(test_stats_int_and_f32),
        cmocka_unit_test(test_merge_equals_whole),
        cmocka_unit_test(test_mean_accuracy),
        cmocka_unit_test(test_all_missing_and_empty),
        cmocka_unit_test(test_rows_missing),
        cmocka_unit_test(test_impute),
        cmocka_unit_test(test_clip_float),
        cmocka_unit_test(test_clip_int),
        cmocka_unit_test(test_compact_rows),
        cmocka_unit_test(test_compact_impute),
        cmocka_unit_test(test_missing_mask32),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
