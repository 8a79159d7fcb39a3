/* Unit tests of the squared errors of a linear model from co-moments
 * (src/kernels/residual.c): a block worked out by hand; random data with
 * large column means against errors summed in long double; a model that fits
 * exactly, and an intercept far off at large means, whose cancellation the
 * ratio kappa must flag. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include "kernels/residual.h"

/* X = [[1,2],[3,4],[5,9]], y = [1,2,6]: means (3, 5, 3), co-moments of
 * (x1, x2, y) [[8,14,10],[14,26,19],[10,19,14]] (test_gram.c works them out). */
static const double MEAN3[3] = {3, 5, 3};
static const double C3[9] = {8, 14, 10, 14, 26, 19, 10, 19, 14};

static void test_by_hand(void **state)
{
    (void)state;
    double kappa = 0;
    /* w = (1, 0), b = 0: e = y - x1 = (0, -1, 1) */
    double w1[2] = {1, 0};
    assert_true(sl__residual_ss(MEAN3, C3, 2, 3, w1, 0, &kappa) == 2);
    /* (√14 + 1·√8)² over 2; the mean error is 0 */
    assert_true(fabs(kappa - (sqrt(14) + sqrt(8)) * (sqrt(14) + sqrt(8)) / 2) < 1e-14);
    /* w = (0.5, 0.25), b = 1: ŷ = (2, 3.5, 5.75), e = (-1, -1.5, 0.25), Σe² = 3.3125;
     * the mean error d = 3 - 1.5 - 1.25 - 1 = -0.75 */
    double w2[2] = {0.5, 0.25};
    double ss = sl__residual_ss(MEAN3, C3, 2, 3, w2, 1, &kappa);
    assert_true(fabs(ss - 3.3125) < 1e-14);
    double size = sqrt(14) + 0.5 * sqrt(8) + 0.25 * sqrt(26);
    /* the means' sizes: |ȳ| + |b| + |3·0.5| + |5·0.25| = 6.75 */
    assert_true(fabs(kappa - (size * size + 3 * 0.75 * (0.75 + 2 * 6.75)) / 3.3125) < 1e-13);
}

static double normal(unsigned *s)
{
    double u = 0;
    for (int k = 0; k < 12; k++) {
        *s = *s * 1103515245u + 12345u;
        u += (double)(*s >> 8) / 16777216.0;
    }
    return u - 6;
}

/* Means and centred co-moments of the n x (F+1) row-major block d, in long
 * double and two passes. */
static void moments(const double *d, int64_t n, int64_t Q, double *mean, double *C)
{
    for (int64_t a = 0; a < Q; a++) {
        long double s = 0;
        for (int64_t i = 0; i < n; i++)
            s += d[i * Q + a];
        mean[a] = (double)(s / n);
    }
    for (int64_t a = 0; a < Q; a++)
        for (int64_t b = 0; b < Q; b++) {
            long double s = 0;
            for (int64_t i = 0; i < n; i++)
                s += ((long double)d[i * Q + a] - mean[a]) * ((long double)d[i * Q + b] - mean[b]);
            C[a * Q + b] = (double)s;
        }
}

static void test_against_long_double(void **state)
{
    (void)state;
    enum { N = 2000, F = 5, Q = F + 1 };
    double *d = malloc(N * Q * sizeof *d), mean[Q], C[Q * Q];
    assert_non_null(d);
    double wt[F] = {0.7, -1.3, 2.0, 0.1, -0.4}, w[F] = {0.69, -1.31, 2.02, 0.1, -0.41};
    unsigned s = 7;
    for (int64_t i = 0; i < N; i++) {
        double y = 5;
        for (int64_t a = 0; a < F; a++) {
            d[i * Q + a] = 1e6 * (a + 1) + (a + 1) * normal(&s); /* far from 0, spread 1..5 */
            y += wt[a] * d[i * Q + a];
        }
        d[i * Q + F] = y + 0.8 * normal(&s);
    }
    moments(d, N, Q, mean, C);
    /* the intercept a fit of these weights would give: the mean error ~0 */
    double b = mean[F];
    for (int64_t a = 0; a < F; a++)
        b -= w[a] * mean[a];
    long double want = 0;
    for (int64_t i = 0; i < N; i++) {
        long double e = (long double)d[i * Q + F] - b;
        for (int64_t a = 0; a < F; a++)
            e -= (long double)w[a] * d[i * Q + a];
        want += e * e;
    }
    double kappa = 0, got = sl__residual_ss(mean, C, F, N, w, b, &kappa);
    if (!(fabs(got - (double)want) <= 1e-12 * (double)want))
        fail_msg("Σe² %.17g, long double %.17Lg", got, want);
    assert_true(kappa > 1 && kappa < SL__RESIDUAL_KAPPA_MAX);
    /* the intercept off by 0.05: n d² is then (0.05 - δd)², δd the rounding of
     * means of 1e6, which cost 3e-11 of Σe² here; kappa flags it */
    double ss = sl__residual_ss(mean, C, F, N, w, b - 0.05, &kappa);
    assert_true(fabs(ss - (double)want) > 0.05 * 0.05 * N * 0.5);
    assert_true(kappa > SL__RESIDUAL_KAPPA_MAX);
    free(d);
}

static void test_exact_fit_is_flagged(void **state)
{
    (void)state;
    enum { N = 500, F = 3, Q = F + 1 };
    double *d = malloc(N * Q * sizeof *d), mean[Q], C[Q * Q], w[F] = {3, -2, 0.5};
    assert_non_null(d);
    unsigned s = 11;
    for (int64_t i = 0; i < N; i++) {
        d[i * Q + F] = 4;
        for (int64_t a = 0; a < F; a++) {
            d[i * Q + a] = round(100 * normal(&s)); /* integers: y is exact */
            d[i * Q + F] += w[a] * d[i * Q + a];
        }
    }
    moments(d, N, Q, mean, C);
    double kappa = 0, ss = sl__residual_ss(mean, C, F, N, w, 4, &kappa);
    /* Σe² is 0; what the terms leave is their rounding */
    assert_true(fabs(ss) < 1e-9 * C[Q * Q - 1]);
    assert_true(kappa > SL__RESIDUAL_KAPPA_MAX);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_against_long_double),
        cmocka_unit_test(test_exact_fit_is_flagged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
