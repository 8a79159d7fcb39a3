/* Unit tests of the exact streaming selection kernel (src/kernels/quantile.c):
 * the order-preserving keys (hand-picked values across the whole double range,
 * -0.0 and +0.0), exact k-th selection on small hand-made and adversarial
 * arrays, and the whole histogram/collect protocol driven over chunks with a
 * drop mask, NaN and +-Inf skipping, heavy ties, values spanning 600 orders
 * of magnitude and float32 data, against sorting; a histogram that does not
 * add up is refused. */
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
#include "kernels/quantile.h"

static void test_keys_order(void **state)
{
    (void)state;
    const double v[] = {-INFINITY, -DBL_MAX, -1e100, -2.5, -1, -DBL_MIN, -4.9e-324, -0.0,
                        0.0,       4.9e-324, DBL_MIN, 1,  1.0000000000000002, 2.5, 1e100, DBL_MAX, INFINITY};
    size_t n = sizeof v / sizeof v[0];
    for (size_t i = 0; i + 1 < n; i++) {
        uint64_t a = sl__qsel_key(v[i]), b = sl__qsel_key(v[i + 1]);
        if (v[i] == v[i + 1])
            assert_true(a == b); /* -0.0 and 0.0 */
        else
            assert_true(a < b);
    }
    for (size_t i = 0; i < n; i++) {
        double back = sl__qsel_unkey(sl__qsel_key(v[i]));
        assert_true(back == v[i]);
        assert_true(signbit(back) == (v[i] < 0)); /* -0.0 comes back as +0.0 */
    }
    /* adjacent doubles have adjacent keys */
    assert_true(sl__qsel_key(1.0000000000000002) == sl__qsel_key(1.0) + 1);
    assert_true(sl__qsel_key(-1.0) == sl__qsel_key(-1.0000000000000002) + 1);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_select_kth_small(void **state)
{
    (void)state;
    const double base[] = {5, 1, 4, 2, 3};
    for (int k = 0; k < 5; k++) {
        double v[5];
        memcpy(v, base, sizeof v);
        assert_true(sl__select_kth(v, 5, k) == k + 1);
    }
    double dup[] = {2, 2, 1, 2, 3, 2, 1};
    const double want[] = {1, 1, 2, 2, 2, 2, 3};
    for (int k = 0; k < 7; k++) {
        double v[7];
        memcpy(v, dup, sizeof v);
        assert_true(sl__select_kth(v, 7, k) == want[k]);
    }
    double one = 42;
    assert_true(sl__select_kth(&one, 1, 0) == 42);
}

static void test_select_kth_adversarial(void **state)
{
    (void)state;
    enum { N = 3001 };
    double *v = malloc(N * sizeof *v), *s = malloc(N * sizeof *s);
    for (int pattern = 0; pattern < 5; pattern++) {
        for (int i = 0; i < N; i++) {
            switch (pattern) {
            case 0: s[i] = i; break;                       /* sorted */
            case 1: s[i] = N - i; break;                   /* reversed */
            case 2: s[i] = 7; break;                       /* all equal */
            case 3: s[i] = i % 2 ? i : N - i; break;       /* organ pipe-ish */
            default: s[i] = (double)((i * 7919) % 101); break; /* many ties */
            }
        }
        double *sorted = malloc(N * sizeof *sorted);
        memcpy(sorted, s, N * sizeof *s);
        qsort(sorted, N, sizeof *sorted, cmp);
        const int ks[] = {0, 1, N / 2, N - 2, N - 1};
        for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
            memcpy(v, s, N * sizeof *s);
            assert_true(sl__select_kth(v, N, ks[j]) == sorted[ks[j]]);
        }
        free(sorted);
    }
    free(v);
    free(s);
}

/* ---- the streaming protocol ------------------------------------------------------ */

static uint64_t rng_state = 88172645463325252ull;
static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Runs the selection the way the clean op does: chunks of `chunk` rows of
 * column `col` (of `cols`), histograms merged, then a collect. Returns the
 * value; *passes counts the histogram and collect passes. */
static double stream_select(const void *data, sl_dtype t, int64_t rows, int64_t cols, int64_t col, int64_t chunk,
                            const unsigned char *drop, int skip_inf, int64_t k, int *passes)
{
    size_t es = t == SL_FLOAT32 ? 4 : 8;
    /* count, min, max of the values taken */
    int64_t n = 0;
    double mn = INFINITY, mx = -INFINITY;
    for (int64_t r = 0; r < rows; r++) {
        double v = t == SL_FLOAT32 ? ((const float *)data)[r * cols + col] : ((const double *)data)[r * cols + col];
        if ((drop && drop[r]) || isnan(v) || (skip_inf && isinf(v)))
            continue;
        n++;
        if (v < mn)
            mn = v;
        if (v > mx)
            mx = v;
    }
    sl__qsel q;
    sl__qsel_init(&q, n, k, mn, mx);
    *passes = 0;
    int64_t *hist = malloc(SL_QSEL_BINS * sizeof *hist);
    for (;;) {
        sl__qsel_step step = sl__qsel_next(&q);
        if (step == SL_QSEL_STEP_DONE)
            break;
        ++*passes;
        assert_true(*passes <= 8);
        if (step == SL_QSEL_STEP_HIST) {
            memset(hist, 0, SL_QSEL_BINS * sizeof *hist);
            for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
                int64_t m = rows - r0 < chunk ? rows - r0 : chunk;
                int64_t part[SL_QSEL_BINS];
                memset(part, 0, sizeof part);
                sl__qsel_hist(&q, (const char *)data + (size_t)(r0 * cols + col) * es, t, m, cols,
                              drop ? drop + r0 : NULL, skip_inf, part);
                for (int b = 0; b < SL_QSEL_BINS; b++)
                    hist[b] += part[b];
            }
            assert_int_equal(sl__qsel_narrow(&q, hist), 0);
        } else {
            double *all = malloc((size_t)q.count * sizeof *all);
            double *part = malloc((size_t)q.count * sizeof *part);
            int64_t got = 0;
            for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
                int64_t m = rows - r0 < chunk ? rows - r0 : chunk;
                int64_t c = sl__qsel_collect(&q, (const char *)data + (size_t)(r0 * cols + col) * es, t, m, cols,
                                             drop ? drop + r0 : NULL, skip_inf, part, q.count);
                assert_true(got + c <= q.count);
                memcpy(all + got, part, (size_t)c * sizeof *part);
                got += c;
            }
            assert_int_equal(sl__qsel_finish(&q, all, got), 0);
            free(all);
            free(part);
        }
    }
    free(hist);
    return q.value;
}

/* The k-th smallest by sorting the values taken. */
static double by_sorting(const void *data, sl_dtype t, int64_t rows, int64_t cols, int64_t col,
                         const unsigned char *drop, int skip_inf, int64_t k)
{
    double *v = malloc((size_t)rows * sizeof *v);
    int64_t n = 0;
    for (int64_t r = 0; r < rows; r++) {
        double x = t == SL_FLOAT32 ? ((const float *)data)[r * cols + col] : ((const double *)data)[r * cols + col];
        if ((drop && drop[r]) || isnan(x) || (skip_inf && isinf(x)))
            continue;
        v[n++] = x;
    }
    qsort(v, (size_t)n, sizeof *v, cmp);
    double r = v[k];
    free(v);
    return r;
}

static int64_t count_taken(const double *x, int64_t rows, int64_t cols, int64_t col, const unsigned char *drop,
                           int skip_inf)
{
    int64_t n = 0;
    for (int64_t r = 0; r < rows; r++) {
        double v = x[r * cols + col];
        n += !((drop && drop[r]) || isnan(v) || (skip_inf && isinf(v)));
    }
    return n;
}

static void test_stream_against_sort(void **state)
{
    (void)state;
    enum { ROWS = 20011, COLS = 4 };
    double *x = malloc(ROWS * COLS * sizeof *x);
    unsigned char *drop = malloc(ROWS);
    for (int64_t r = 0; r < ROWS; r++) {
        drop[r] = urand() < 0.1;
        x[r * COLS + 0] = urand() * 100 - 50;                             /* smooth */
        x[r * COLS + 1] = floor(urand() * 3);                             /* 3 values: ties */
        x[r * COLS + 2] = (urand() < 0.5 ? -1 : 1) * pow(10, urand() * 600 - 300); /* wide */
        x[r * COLS + 3] = urand() < 0.3 ? NAN : urand() < 0.1 ? (urand() < 0.5 ? INFINITY : -INFINITY) : urand();
    }
    const int64_t chunks[] = {7, 1000, ROWS};
    for (int64_t col = 0; col < COLS; col++)
        for (int skip_inf = 0; skip_inf < 2; skip_inf++)
            for (int d = 0; d < 2; d++) {
                const unsigned char *dm = d ? drop : NULL;
                int64_t n = count_taken(x, ROWS, COLS, col, dm, skip_inf);
                const int64_t ks[] = {0, n / 2 - 1, n / 2, (n - 1) / 2, n - 1};
                for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++)
                    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
                        int passes;
                        double got = stream_select(x, SL_FLOAT64, ROWS, COLS, col, chunks[c], dm, skip_inf, ks[j],
                                                   &passes);
                        double want = by_sorting(x, SL_FLOAT64, ROWS, COLS, col, dm, skip_inf, ks[j]);
                        if (!(got == want))
                            fail_msg("col %lld k %lld chunk %lld: %.17g, expected %.17g", (long long)col,
                                     (long long)ks[j], (long long)chunks[c], got, want);
                        assert_true(passes <= 7);
                    }
            }
    free(x);
    free(drop);
}

static void test_stream_float32_and_ties(void **state)
{
    (void)state;
    enum { ROWS = 9000 };
    float *f = malloc(ROWS * sizeof *f);
    for (int r = 0; r < ROWS; r++)
        f[r] = r % 3 ? (float)(urand() * 10) : 2.5f; /* one third equal: the median bin is one key */
    for (int64_t k = 0; k < ROWS; k += 997) {
        int passes;
        double got = stream_select(f, SL_FLOAT32, ROWS, 1, 0, 333, NULL, 1, k, &passes);
        assert_true(got == by_sorting(f, SL_FLOAT32, ROWS, 1, 0, NULL, 1, k));
    }
    /* all equal: known from min == max without a pass */
    for (int r = 0; r < ROWS; r++)
        f[r] = -0.0f;
    int passes;
    assert_true(stream_select(f, SL_FLOAT32, ROWS, 1, 0, 100, NULL, 1, ROWS / 2, &passes) == 0.0);
    assert_int_equal(passes, 0);
    free(f);
}

static void test_narrow_refuses_bad_counts(void **state)
{
    (void)state;
    sl__qsel q;
    sl__qsel_init(&q, 10000, 5000, 0.0, 1.0);
    assert_int_equal(sl__qsel_next(&q), SL_QSEL_STEP_HIST);
    int64_t hist[SL_QSEL_BINS];
    memset(hist, 0, sizeof hist);
    hist[0] = 9999; /* one value missing */
    assert_int_equal(sl__qsel_narrow(&q, hist), -1);
    sl__qsel_init(&q, 3, 1, 0.0, 1.0);
    assert_int_equal(sl__qsel_next(&q), SL_QSEL_STEP_COLLECT);
    double v[2] = {0, 1};
    assert_int_equal(sl__qsel_finish(&q, v, 2), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_order),
        cmocka_unit_test(test_select_kth_small),
        cmocka_unit_test(test_select_kth_adversarial),
        cmocka_unit_test(test_stream_against_sort),
        cmocka_unit_test(test_stream_float32_and_ties),
        cmocka_unit_test(test_narrow_refuses_bad_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
