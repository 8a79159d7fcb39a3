/* Unit tests of the column statistics kernel (src/kernels/colstats.c):
 * statistics of small hand-made blocks of every element type, with NaNs, all
 * worked out by hand; merging chunk partials in order against the statistics
 * of the concatenation and against an independent long double computation;
 * all-NaN and empty columns and parts. */
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
#include "kernels/colstats.h"

/* |got - want| <= tol * max(1, |want|); NaN only equals NaN. */
static void near(double got, double want, double tol, const char *what)
{
    if (isnan(want)) {
        if (!isnan(got))
            fail_msg("%s: got %.17g, expected NaN", what, got);
        return;
    }
    double scale = fabs(want) > 1 ? fabs(want) : 1;
    if (!(fabs(got - want) <= tol * scale))
        fail_msg("%s: got %.17g, expected %.17g (diff %.3g)", what, got, want, got - want);
}

static void check_stats(const sl__colstats *s, double n, double nan, double mean, double m2, double min, double max,
                        const char *what)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s n", what);
    near(s->n, n, 0, buf);
    snprintf(buf, sizeof buf, "%s nan", what);
    near(s->nan, nan, 0, buf);
    snprintf(buf, sizeof buf, "%s mean", what);
    near(s->mean, mean, 1e-15, buf);
    snprintf(buf, sizeof buf, "%s m2", what);
    near(s->m2, m2, 1e-14, buf);
    snprintf(buf, sizeof buf, "%s min", what);
    near(s->min, min, 0, buf);
    snprintf(buf, sizeof buf, "%s max", what);
    near(s->max, max, 0, buf);
}

/* ---- hand-made blocks ------------------------------------------------------ */

static void test_float64_block(void **state)
{
    (void)state;
    /* 4 rows x 3 columns:
     *   col 0: 1, 2, NaN, 5  -> n 3, mean 8/3, m2 = 25/9 + 4/9 + 49/9 = 26/3, std sqrt(26/9)
     *   col 1: all NaN       -> n 0, nan 4, mean/min/max/std NaN
     *   col 2: -3 four times -> mean -3, m2 0, std 0 */
    const double x[] = {
        1, NAN, -3,
        2, NAN, -3,
        NAN, NAN, -3,
        5, NAN, -3,
    };
    sl__colstats s[3];
    sl__colstats_chunk(x, SL_FLOAT64, 4, 3, s);
    check_stats(&s[0], 3, 1, 8.0 / 3.0, 26.0 / 3.0, 1, 5, "col0");
    near(sl__colstats_std(&s[0]), sqrt(26.0) / 3.0, 1e-15, "col0 std");
    assert_true(s[1].n == 0);
    assert_true(s[1].nan == 4);
    assert_true(isnan(s[1].mean));
    assert_true(isnan(s[1].min) && isnan(s[1].max));
    assert_true(isnan(sl__colstats_std(&s[1])));
    check_stats(&s[2], 4, 0, -3, 0, -3, -3, "col2");
    assert_true(sl__colstats_std(&s[2]) == 0.0);
}

static void test_float32_block(void **state)
{
    (void)state;
    /* 5 x 1: 0.5, 1.5, NaN, -2, 4 -> n 4, mean 1, m2 0.25 + 0.25 + 9 + 9 = 18.5,
     * std sqrt(18.5 / 4) */
    const float x[] = {0.5f, 1.5f, NAN, -2.0f, 4.0f};
    sl__colstats s;
    sl__colstats_chunk(x, SL_FLOAT32, 5, 1, &s);
    check_stats(&s, 4, 1, 1.0, 18.5, -2, 4, "f32");
    near(sl__colstats_std(&s), sqrt(4.625), 1e-15, "f32 std");

    /* float32 values are used exactly: 0.1f is 13421773 * 2^-27, not 0.1 */
    const float y[] = {0.1f, 0.1f};
    sl__colstats_chunk(y, SL_FLOAT32, 2, 1, &s);
    assert_true(s.mean == 13421773.0 * ldexp(1.0, -27));
    assert_true(s.m2 == 0);
    assert_true(s.min == s.max && s.min == (double)0.1f);
}

static void test_int_blocks(void **state)
{
    (void)state;
    sl__colstats s[2];

    /* int8, 3 x 2: col 0 = -128, 127, 0 (mean -1/3); col 1 = 1, 2, 3 (mean 2, m2 2) */
    const int8_t a[] = {-128, 1, 127, 2, 0, 3};
    sl__colstats_chunk(a, SL_INT8, 3, 2, s);
    double m = -1.0 / 3.0;
    check_stats(&s[0], 3, 0, m, (-128 - m) * (-128 - m) + (127 - m) * (127 - m) + m * m, -128, 127, "int8 c0");
    check_stats(&s[1], 3, 0, 2, 2, 1, 3, "int8 c1");

    /* uint8: 255, 0, 1, 2 -> mean 64.5, m2 = 190.5^2 + 64.5^2 + 63.5^2 + 62.5^2 */
    const uint8_t b[] = {255, 0, 1, 2};
    sl__colstats_chunk(b, SL_UINT8, 4, 1, s);
    check_stats(&s[0], 4, 0, 64.5, 190.5 * 190.5 + 64.5 * 64.5 + 63.5 * 63.5 + 62.5 * 62.5, 0, 255, "uint8");

    /* int16: -32768, 32767 -> mean -0.5, m2 2 * 32767.5^2 */
    const int16_t c[] = {-32768, 32767};
    sl__colstats_chunk(c, SL_INT16, 2, 1, s);
    check_stats(&s[0], 2, 0, -0.5, 2 * 32767.5 * 32767.5, -32768, 32767, "int16");

    /* uint16: 10, 20, 30, 40 -> mean 25, m2 225 + 25 + 25 + 225 = 500 */
    const uint16_t d[] = {10, 20, 30, 40};
    sl__colstats_chunk(d, SL_UINT16, 4, 1, s);
    check_stats(&s[0], 4, 0, 25, 500, 10, 40, "uint16");

    /* int32 2 x 2: col 0 = INT32_MIN, INT32_MAX; col 1 = 7, 7 */
    const int32_t e[] = {INT32_MIN, 7, INT32_MAX, 7};
    sl__colstats_chunk(e, SL_INT32, 2, 2, s);
    check_stats(&s[0], 2, 0, -0.5, 2 * 2147483647.5 * 2147483647.5, -2147483648.0, 2147483647.0, "int32 c0");
    check_stats(&s[1], 2, 0, 7, 0, 7, 7, "int32 c1");

    /* uint32: 4294967295, 1 -> mean 2147483648, m2 2 * 2147483647^2 */
    const uint32_t f[] = {4294967295u, 1};
    sl__colstats_chunk(f, SL_UINT32, 2, 1, s);
    check_stats(&s[0], 2, 0, 2147483648.0, 2 * 2147483647.0 * 2147483647.0, 1, 4294967295.0, "uint32");

    /* int64: -6, 0, 6, 1e15 (exact in double) -> mean 2.5e14 */
    const int64_t g[] = {-6, 0, 6, 1000000000000000LL};
    sl__colstats_chunk(g, SL_INT64, 4, 1, s);
    double gm = 2.5e14;
    check_stats(&s[0], 4, 0, gm, (-6 - gm) * (-6 - gm) + gm * gm + (6 - gm) * (6 - gm) + 7.5e14 * 7.5e14, -6, 1e15,
                "int64");

    /* uint64: 2^63 and 2^63 + 4096 (exact as doubles, and so are their sum
     * 2^64 + 4096 and mean 2^63 + 2048) -> m2 2 * 2048^2 */
    const uint64_t h[] = {1ULL << 63, (1ULL << 63) + 4096};
    sl__colstats_chunk(h, SL_UINT64, 2, 1, s);
    check_stats(&s[0], 2, 0, ldexp(1.0, 63) + 2048, 2.0 * 2048 * 2048, ldexp(1.0, 63), ldexp(1.0, 63) + 4096,
                "uint64");
}

/* A single value: mean is the value, m2 and std are 0. */
static void test_single_value_and_empty(void **state)
{
    (void)state;
    const double x[] = {-7.25};
    sl__colstats s;
    sl__colstats_chunk(x, SL_FLOAT64, 1, 1, &s);
    check_stats(&s, 1, 0, -7.25, 0, -7.25, -7.25, "single");
    assert_true(sl__colstats_std(&s) == 0.0);

    /* zero rows: nothing counted, mean NaN */
    sl__colstats e[2];
    sl__colstats_chunk(x, SL_FLOAT64, 0, 2, e);
    for (int c = 0; c < 2; c++) {
        assert_true(e[c].n == 0 && e[c].nan == 0);
        assert_true(isnan(e[c].mean));
        assert_true(isnan(sl__colstats_std(&e[c])));
    }
}

/* Two-pass within a chunk keeps a large offset from eating the variance:
 * 1e9 + {1, 2, 3} has m2 exactly 2. */
static void test_large_offset(void **state)
{
    (void)state;
    const double x[] = {1e9 + 1, 1e9 + 2, 1e9 + 3};
    sl__colstats s;
    sl__colstats_chunk(x, SL_FLOAT64, 3, 1, &s);
    assert_true(s.mean == 1e9 + 2);
    assert_true(s.m2 == 2.0);
}

/* ---- merging ---------------------------------------------------------------- */

/* An "empty" accumulator, as describe starts one. */
static void acc_init(sl__colstats *acc, int64_t cols)
{
    for (int64_t c = 0; c < cols; c++)
        acc[c] = (sl__colstats){0, 0, NAN, 0, NAN, NAN};
}

static uint64_t rng = 0x243F6A8885A308D3ULL;
static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) * 0x1p-53;
}

/* Reference statistics of one column, in long double, two-pass. */
static void reference(const double *x, int64_t rows, int64_t cols, int64_t c, sl__colstats *r)
{
    long double sum = 0, n = 0, nan = 0, m2 = 0;
    double mn = INFINITY, mx = -INFINITY;
    for (int64_t i = 0; i < rows; i++) {
        double v = x[i * cols + c];
        if (isnan(v)) {
            nan += 1;
            continue;
        }
        n += 1;
        sum += v;
        if (v < mn)
            mn = v;
        if (v > mx)
            mx = v;
    }
    long double mean = n > 0 ? sum / n : 0;
    for (int64_t i = 0; i < rows; i++) {
        double v = x[i * cols + c];
        if (!isnan(v))
            m2 += ((long double)v - mean) * ((long double)v - mean);
    }
    r->n = (double)n;
    r->nan = (double)nan;
    r->mean = n > 0 ? (double)mean : NAN;
    r->m2 = (double)m2;
    r->min = n > 0 ? mn : NAN;
    r->max = n > 0 ? mx : NAN;
}

static void check_close(const sl__colstats *got, const sl__colstats *want, double tol, const char *what)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s n", what);
    near(got->n, want->n, 0, buf);
    snprintf(buf, sizeof buf, "%s nan", what);
    near(got->nan, want->nan, 0, buf);
    snprintf(buf, sizeof buf, "%s mean", what);
    near(got->mean, want->mean, tol, buf);
    snprintf(buf, sizeof buf, "%s m2", what);
    near(got->m2, want->m2, tol, buf);
    snprintf(buf, sizeof buf, "%s std", what);
    near(sl__colstats_std(got), sl__colstats_std(want), tol, buf);
    snprintf(buf, sizeof buf, "%s min", what);
    near(got->min, want->min, 0, buf);
    snprintf(buf, sizeof buf, "%s max", what);
    near(got->max, want->max, 0, buf);
}

/* Splits a rows x COLS block into parts at `cuts` and merges them in order. */
#define COLS 4
static void merge_parts(const double *x, const int64_t *cuts, size_t ncuts, int64_t rows, sl__colstats *acc)
{
    acc_init(acc, COLS);
    int64_t r0 = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        int64_t r1 = k < ncuts ? cuts[k] : rows;
        sl__colstats part[COLS];
        sl__colstats_chunk(x + r0 * COLS, SL_FLOAT64, r1 - r0, COLS, part);
        sl__colstats_merge(acc, part, COLS);
        r0 = r1;
    }
}

static void test_merge_equals_concatenation(void **state)
{
    (void)state;
    enum { ROWS = 1000 };
    static double x[ROWS * COLS];
    /* col 0: uniform in [0, 1); col 1: offset 10 with ~10% NaN; col 2: wide
     * range with ~50% NaN; col 3: NaN except in rows 500..509 */
    for (int i = 0; i < ROWS; i++) {
        x[i * COLS + 0] = urand();
        x[i * COLS + 1] = urand() < 0.1 ? NAN : 10 + 3 * urand();
        x[i * COLS + 2] = urand() < 0.5 ? NAN : (urand() - 0.5) * 1e4;
        x[i * COLS + 3] = (i >= 500 && i < 510) ? -urand() : NAN;
    }
    sl__colstats whole[COLS], ref[COLS];
    sl__colstats_chunk(x, SL_FLOAT64, ROWS, COLS, whole);
    for (int c = 0; c < COLS; c++) {
        reference(x, ROWS, COLS, c, &ref[c]);
        char what[32];
        snprintf(what, sizeof what, "whole col %d", c);
        check_close(&whole[c], &ref[c], 1e-13, what);
    }
    assert_true(ref[3].n == 10 && ref[3].nan == ROWS - 10);

    /* many ways to cut, including empty parts and parts that are all NaN in col 3 */
    const int64_t cuts_a[] = {1, 2, 3, 500, 999};
    const int64_t cuts_b[] = {0, 0, 250, 250, 500, 505, 510, 1000};
    int64_t cuts_c[99];
    for (int k = 0; k < 99; k++)
        cuts_c[k] = 10 * (k + 1);
    int64_t cuts_d[ROWS - 1];
    for (int k = 0; k < ROWS - 1; k++)
        cuts_d[k] = k + 1;
    const int64_t *cuts[] = {cuts_a, cuts_b, cuts_c, cuts_d, NULL};
    const size_t ncuts[] = {5, 8, 99, ROWS - 1, 0};
    for (size_t t = 0; t < 5; t++) {
        sl__colstats acc[COLS];
        merge_parts(x, cuts[t], ncuts[t], ROWS, acc);
        for (int c = 0; c < COLS; c++) {
            char what[48];
            snprintf(what, sizeof what, "cut %zu col %d vs whole", t, c);
            check_close(&acc[c], &whole[c], 1e-13, what);
            snprintf(what, sizeof what, "cut %zu col %d vs reference", t, c);
            check_close(&acc[c], &ref[c], 1e-13, what);
        }
    }
}

/* Data whose mean is 1e6 times its spread: each part's mean carries a few
 * ulps of 1e6 (1.2e-10), and Chan's update multiplies a difference of means
 * by up to n/4, so m2 of merged parts is only good to about 1e-10 relative
 * here, while the single two-pass chunk stays at 1e-13. This pins down that
 * conditioning, so a change that makes it worse shows. */
static void test_merge_large_offset(void **state)
{
    (void)state;
    enum { ROWS = 1000 };
    static double x[ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++)
        x[i] = 1e6 + 3 * urand();
    sl__colstats whole[COLS], ref[COLS], acc[COLS];
    sl__colstats_chunk(x, SL_FLOAT64, ROWS, COLS, whole);
    const int64_t cuts[] = {1, 2, 3, 500, 999};
    merge_parts(x, cuts, 5, ROWS, acc);
    for (int c = 0; c < COLS; c++) {
        reference(x, ROWS, COLS, c, &ref[c]);
        char what[48];
        snprintf(what, sizeof what, "whole col %d", c);
        check_close(&whole[c], &ref[c], 1e-13, what);
        snprintf(what, sizeof what, "merged col %d mean", c);
        near(acc[c].mean, ref[c].mean, 1e-15, what);
        snprintf(what, sizeof what, "merged col %d m2", c);
        near(acc[c].m2, ref[c].m2, 1e-9, what);
    }
}

/* Merge by hand: {1, 2} then {NaN, 4, 6}: n 4, nan 1, mean 13/4,
 * m2 = 2.25^2 + 1.25^2 + 0.75^2 + 2.75^2 = 14.75 */
static void test_merge_by_hand(void **state)
{
    (void)state;
    const double a[] = {1, 2}, b[] = {NAN, 4, 6};
    sl__colstats acc, part;
    acc_init(&acc, 1);
    sl__colstats_chunk(a, SL_FLOAT64, 2, 1, &part);
    sl__colstats_merge(&acc, &part, 1);
    check_stats(&acc, 2, 0, 1.5, 0.5, 1, 2, "after a");
    sl__colstats_chunk(b, SL_FLOAT64, 3, 1, &part);
    sl__colstats_merge(&acc, &part, 1);
    check_stats(&acc, 4, 1, 3.25, 14.75, 1, 6, "after b");
    near(sl__colstats_std(&acc), sqrt(14.75 / 4), 1e-15, "std");
}

static void test_all_nan_column(void **state)
{
    (void)state;
    const double x[] = {NAN, NAN, NAN, NAN, NAN};
    sl__colstats acc, part;
    acc_init(&acc, 1);
    sl__colstats_chunk(x, SL_FLOAT64, 2, 1, &part);
    sl__colstats_merge(&acc, &part, 1);
    sl__colstats_chunk(x + 2, SL_FLOAT64, 3, 1, &part);
    sl__colstats_merge(&acc, &part, 1);
    assert_true(acc.n == 0);
    assert_true(acc.nan == 5);
    assert_true(isnan(acc.mean));
    assert_true(isnan(acc.min) && isnan(acc.max));
    assert_true(isnan(sl__colstats_std(&acc)));

    /* float32 too */
    const float y[] = {NAN, NAN};
    sl__colstats_chunk(y, SL_FLOAT32, 2, 1, &part);
    assert_true(part.n == 0 && part.nan == 2 && isnan(part.mean));
}

/* Empty parts (zero rows, or only NaN) change nothing but the NaN count,
 * before, between and after real parts. */
static void test_merge_with_empty_parts(void **state)
{
    (void)state;
    const double v1[] = {3, 5}, v2[] = {10}, nan2[] = {NAN, NAN};
    sl__colstats acc, part;
    acc_init(&acc, 1);
    sl__colstats_chunk(v1, SL_FLOAT64, 0, 1, &part); /* zero rows */
    sl__colstats_merge(&acc, &part, 1);
    assert_true(acc.n == 0 && acc.nan == 0 && isnan(acc.mean));
    sl__colstats_chunk(nan2, SL_FLOAT64, 2, 1, &part); /* only NaN */
    sl__colstats_merge(&acc, &part, 1);
    assert_true(acc.n == 0 && acc.nan == 2);
    sl__colstats_chunk(v1, SL_FLOAT64, 2, 1, &part);
    sl__colstats_merge(&acc, &part, 1);
    check_stats(&acc, 2, 2, 4, 2, 3, 5, "after v1");
    sl__colstats_chunk(v1, SL_FLOAT64, 0, 1, &part);
    sl__colstats_merge(&acc, &part, 1);
    sl__colstats_chunk(nan2, SL_FLOAT64, 1, 1, &part);
    sl__colstats_merge(&acc, &part, 1);
    check_stats(&acc, 2, 3, 4, 2, 3, 5, "after empties");
    /* {3, 5, 10}: mean 6, m2 9 + 1 + 16 = 26 */
    sl__colstats_chunk(v2, SL_FLOAT64, 1, 1, &part);
    sl__colstats_merge(&acc, &part, 1);
    check_stats(&acc, 3, 3, 6, 26, 3, 10, "after v2");

    /* an accumulator that is itself a chunk result, merged with an empty part */
    sl__colstats a2;
    sl__colstats_chunk(v1, SL_FLOAT64, 2, 1, &a2);
    sl__colstats_chunk(v1, SL_FLOAT64, 0, 1, &part);
    sl__colstats_merge(&a2, &part, 1);
    check_stats(&a2, 2, 0, 4, 2, 3, 5, "chunk + empty");
}

/* Merging works column by column: each column's own parts, independently. */
static void test_merge_columns_independent(void **state)
{
    (void)state;
    /* 3 x 2, split after row 1: col 0 = 1 | 2, 3 ; col 1 = NaN | 8, NaN */
    const double x[] = {1, NAN, 2, 8, 3, NAN};
    sl__colstats acc[2], part[2];
    acc_init(acc, 2);
    sl__colstats_chunk(x, SL_FLOAT64, 1, 2, part);
    sl__colstats_merge(acc, part, 2);
    sl__colstats_chunk(x + 2, SL_FLOAT64, 2, 2, part);
    sl__colstats_merge(acc, part, 2);
    check_stats(&acc[0], 3, 0, 2, 2, 1, 3, "col0");
    check_stats(&acc[1], 1, 2, 8, 0, 8, 8, "col1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float64_block),
        cmocka_unit_test(test_float32_block),
        cmocka_unit_test(test_int_blocks),
        cmocka_unit_test(test_single_value_and_empty),
        cmocka_unit_test(test_large_offset),
        cmocka_unit_test(test_merge_equals_concatenation),
        cmocka_unit_test(test_merge_large_offset),
        cmocka_unit_test(test_merge_by_hand),
        cmocka_unit_test(test_all_nan_column),
        cmocka_unit_test(test_merge_with_empty_parts),
        cmocka_unit_test(test_merge_columns_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
