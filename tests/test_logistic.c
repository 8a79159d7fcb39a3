/* The logistic kernels: exp, log1p and σ of kernels/vecmath.h against
 * glibc's, in ulps over the ranges they serve; the fused binary Newton
 * kernel against sums written here from the formulas (glibc's exp and
 * log1p, row by row); the bound on the gradient after a step against the
 * gradient computed there; and the label set's fast path. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kernels/labels.h"
#include "kernels/logistic.h"
#include "kernels/vecmath.h"

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double uniform(uint64_t *s)
{
    return (double)(next(s) >> 11) * 0x1.0p-53;
}

static double normal(uint64_t *s)
{
    double u = uniform(s) + 1e-300, v = uniform(s);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* |a - b| in units in the last place of b. */
static double ulps(double a, double b)
{
    if (a == b)
        return 0;
    double u = nextafter(fabs(b), INFINITY) - fabs(b);
    return fabs(a - b) / u;
}

static void test_exp_nonpos(void **state)
{
    (void)state;
    uint64_t s = 88172645463325252u;
    double worst = 0;
    for (int i = 0; i < 2000000; i++) {
        double x = -708.0 * uniform(&s);
        if (i % 4 == 0)
            x = -uniform(&s); /* near 0 */
        double u = ulps(sl__exp_nonpos(x), exp(x));
        worst = u > worst ? u : worst;
    }
    assert_true(worst <= 2.0);
    assert_true(sl__exp_nonpos(-0.0) == 1.0);
    assert_true(sl__exp_nonpos(-708.5) == 0.0);
    assert_true(sl__exp_nonpos(-1e300) == 0.0);
    assert_true(sl__exp_nonpos(-INFINITY) == 0.0);
    assert_true(ulps(sl__exp_nonpos(-708.0), exp(-708.0)) <= 2.0);
}

static void test_log1p_unit(void **state)
{
    (void)state;
    uint64_t s = 0x9e3779b97f4a7c15u;
    double worst = 0;
    for (int i = 0; i < 2000000; i++) {
        double e = uniform(&s);
        if (i % 3 == 0)
            e = exp(-745 * uniform(&s)); /* every scale e^-|z| takes */
        double u = ulps(sl__log1p_unit(e), log1p(e));
        worst = u > worst ? u : worst;
    }
    assert_true(worst <= 3.0);
    assert_true(sl__log1p_unit(0.0) == 0.0);
    assert_true(ulps(sl__log1p_unit(1.0), M_LN2) <= 1.0);
    assert_true(sl__log1p_unit(1e-300) == 1e-300);
}

static double sigmoid_ref(double z)
{
    return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

static void test_sigmoid(void **state)
{
    (void)state;
    uint64_t s = 12345;
    double worst = 0;
    for (int i = 0; i < 1000000; i++) {
        double z = 80 * (uniform(&s) - 0.5);
        double u = ulps(sl__sigmoid(z), sigmoid_ref(z));
        worst = u > worst ? u : worst;
    }
    assert_true(worst <= 4.0);
    assert_true(sl__sigmoid(0.0) == 0.5);
    assert_true(sl__sigmoid(-0.0) == 0.5);
    assert_true(sl__sigmoid(INFINITY) == 1.0);
    assert_true(sl__sigmoid(-INFINITY) == 0.0);
    assert_true(sl__sigmoid(1000) == 1.0);
    assert_true(isnan(sl__sigmoid(NAN)));
    assert_true(isnan(sl__sigmoid(-NAN)));
}

/* ---- the fused binary kernel ---- */

typedef struct sums {
    double n, loss, apart, *g, *H;
} sums;

/* The partial of sl__logit_binary_chunk, from the formulas, row by row. */
static void reference(const double *X, const int32_t *cls, int32_t positive, int64_t rows, int64_t F, int icpt,
                      const double *theta, double *out)
{
    int64_t P = F + icpt;
    double *g = out + 3, *H = out + 3 + P;
    for (int64_t i = 0; i < rows; i++) {
        double xt[64], z = 0;
        for (int64_t a = 0; a < F; a++)
            xt[a] = X[i * F + a];
        if (icpt)
            xt[F] = 1;
        for (int64_t a = 0; a < P; a++)
            z += xt[a] * theta[a];
        /* the weight p(1 - p) as e/(1 + e)², e = e^-|z|: 1 - p cancels */
        double y = cls[i] == positive, p = sigmoid_ref(z), e = exp(-fabs(z)), v = e / ((1 + e) * (1 + e));
        double l = (z > 0 ? z : 0) + log1p(e) - y * z;
        out[0] += 1;
        out[1] += l;
        out[2] += l >= M_LN2;
        for (int64_t a = 0; a < P; a++) {
            g[a] += (p - y) * xt[a];
            for (int64_t b = 0; b < P; b++)
                H[a * P + b] += v * xt[a] * xt[b];
        }
    }
}

static double rel_err(const double *got, const double *want, size_t n)
{
    double scale = 0, worst = 0;
    for (size_t k = 0; k < n; k++)
        scale = fabs(want[k]) > scale ? fabs(want[k]) : scale;
    for (size_t k = 0; k < n; k++)
        worst = fabs(got[k] - want[k]) > worst ? fabs(got[k] - want[k]) : worst;
    return scale > 0 ? worst / scale : worst;
}

static void check_binary(int64_t rows, int64_t F, int icpt, int32_t positive, uint64_t seed)
{
    uint64_t s = seed;
    sl__logit_shape sh = {.F = F, .K = 2, .softmax = 0, .intercept = icpt};
    int64_t P = sl__logit_width(&sh);
    size_t np = sl__logit_partial_doubles(&sh);
    double *X = malloc((size_t)(rows * F + 1) * sizeof *X), *theta = malloc((size_t)P * sizeof *theta);
    int32_t *cls = malloc((size_t)(rows + 1) * sizeof *cls);
    double *got = calloc(np, sizeof *got), *want = calloc(np, sizeof *want), *old = calloc(np, sizeof *old);
    double *work = malloc(sl__logit_binary_work_doubles(&sh) * sizeof *work);
    double *Xt = malloc((size_t)(rows * P + 1) * sizeof *Xt);
    double *owork = malloc(sl__logit_work_doubles(&sh, rows) * sizeof *owork);
    assert_non_null(X && theta && cls && got && want && old && work && Xt && owork);
    for (int64_t i = 0; i < rows * F; i++)
        X[i] = 3 * normal(&s);
    for (int64_t a = 0; a < P; a++)
        theta[a] = normal(&s);
    for (int64_t i = 0; i < rows; i++)
        cls[i] = (int32_t)(next(&s) % 3); /* a third class: one-vs-rest's "rest" */
    sl_error err;
    assert_int_equal(sl__logit_binary_chunk(&sh, X, cls, positive, rows, theta, 1, got, work, &err), SL_OK);
    reference(X, cls, positive, rows, F, icpt, theta, want);
    assert_true(got[0] == want[0]);
    assert_true(got[2] == want[2]);
    assert_true(fabs(got[1] - want[1]) <= 1e-12 * fabs(want[1]));
    assert_true(rel_err(got + 3, want + 3, (size_t)P) <= 1e-12);
    assert_true(rel_err(got + 3 + P, want + 3 + P, (size_t)(P * P)) <= 1e-12);
    /* the softmax kernel refuses it */
    assert_int_equal(sl__logit_softmax_chunk(&sh, Xt, cls, rows, theta, 1, old, owork, &err), SL_ERR_INTERNAL);
    /* without the Hessian: the same loss and gradient, no Hessian */
    memset(old, 0, np * sizeof *old);
    assert_int_equal(sl__logit_binary_chunk(&sh, X, cls, positive, rows, theta, 0, old, work, &err), SL_OK);
    assert_memory_equal(old, got, (size_t)(3 + P) * sizeof *old);
    for (int64_t k = 0; k < P * P; k++)
        assert_true(old[3 + P + k] == 0);
    free(X);
    free(theta);
    free(cls);
    free(got);
    free(want);
    free(old);
    free(work);
    free(Xt);
    free(owork);
}

static void test_binary_kernel(void **state)
{
    (void)state;
    /* blocks of 1024 rows: fewer, exactly, and one more; widths below and
     * above a vector */
    const int64_t rows[] = {1, 7, 1024, 1025, 5000};
    const int64_t widths[] = {1, 3, 16, 17};
    uint64_t seed = 7;
    for (size_t r = 0; r < sizeof rows / sizeof *rows; r++)
        for (size_t w = 0; w < sizeof widths / sizeof *widths; w++)
            for (int icpt = 0; icpt <= 1; icpt++, seed++)
                check_binary(rows[r], widths[w], icpt, (int32_t)(seed % 2), seed);
}

/* ---- the bound on the gradient after a step ---- */

/* The gradient and Hessian of the penalized mean log-loss at theta. */
static void objective_at(const double *X, const double *y, int64_t n, int64_t F, double l2, const double *theta,
                         double *g, double *H)
{
    int64_t P = F + 1;
    memset(g, 0, (size_t)P * sizeof *g);
    if (H)
        memset(H, 0, (size_t)(P * P) * sizeof *H);
    for (int64_t i = 0; i < n; i++) {
        double xt[17], z = 0;
        for (int64_t a = 0; a < F; a++)
            xt[a] = X[i * F + a];
        xt[F] = 1;
        for (int64_t a = 0; a < P; a++)
            z += xt[a] * theta[a];
        double p = sigmoid_ref(z);
        for (int64_t a = 0; a < P; a++) {
            g[a] += (p - y[i]) * xt[a] / (double)n;
            for (int64_t b = 0; H && b < P; b++)
                H[a * P + b] += p * (1 - p) * xt[a] * xt[b] / (double)n;
        }
    }
    for (int64_t a = 0; a < F; a++) {
        g[a] += l2 * theta[a] / (double)n;
        if (H)
            H[a * P + a] += l2 / (double)n;
    }
}

static void test_step_bound(void **state)
{
    (void)state;
    enum { N = 4000, F = 4, P = F + 1 };
    uint64_t s = 99;
    static double X[N * F], y[N];
    const double w[F] = {2, -1, 0.5, 3};
    double R = 0;
    for (int64_t i = 0; i < N; i++) {
        double z = 0.3, q = 1;
        for (int a = 0; a < F; a++) {
            X[i * F + a] = normal(&s);
            z += w[a] * X[i * F + a];
            q += X[i * F + a] * X[i * F + a];
        }
        y[i] = uniform(&s) < sigmoid_ref(z);
        R = sqrt(q) > R ? sqrt(q) : R;
    }
    double norm_max = sl__logit_norm_max(X, N, F, 1);
    assert_true(norm_max >= R && norm_max <= R * (1 + 2e-14)); /* a bound, above by a hair */
    /* Newton steps from 0 with the bound checked against the gradient
     * reached: it always bounds it, and near the optimum within a few
     * times */
    double theta[P] = {0}, g[P], H[P * P], A[P * P], step[P], g2[P];
    for (int it = 0; it < 8; it++) {
        objective_at(X, y, N, F, 1.0, theta, g, H);
        /* the step: H step = -g, by Gaussian elimination (small, dense) */
        memcpy(A, H, sizeof A);
        for (int a = 0; a < P; a++)
            step[a] = -g[a];
        for (int c = 0; c < P; c++)
            for (int r = c + 1; r < P; r++) {
                double f = A[r * P + c] / A[c * P + c];
                for (int k = c; k < P; k++)
                    A[r * P + k] -= f * A[c * P + k];
                step[r] -= f * step[c];
            }
        for (int c = P - 1; c >= 0; c--) {
            for (int k = c + 1; k < P; k++)
                step[c] -= A[c * P + k] * step[k];
            step[c] /= A[c * P + c];
        }
        double bound = sl__logit_step_bound(g, H, step, P, R);
        for (int a = 0; a < P; a++)
            theta[a] += step[a];
        objective_at(X, y, N, F, 1.0, theta, g2, NULL);
        double gmax = 0;
        for (int a = 0; a < P; a++)
            gmax = fabs(g2[a]) > gmax ? fabs(g2[a]) : gmax;
        /* the bound is on the exact gradient; g2 carries rounding of about
         * ε times its terms (here below 1e-15) */
        assert_true(gmax <= bound + 1e-15);
        if (it >= 4 && gmax > 1e-15)
            assert_true(bound <= 1e3 * gmax + 1e-15); /* useful, not only true */
    }
}

/* ---- the label set ---- */

static void test_labels_fast_path(void **state)
{
    (void)state;
    enum { N = 20000 };
    static double x[N];
    for (int i = 0; i < N; i++)
        x[i] = i % 3 == 0 ? 1.0 : 0.0;
    double set[8];
    size_t k = 0;
    assert_int_equal(sl__labels_add(set, &k, 8, x, 10), 0);
    assert_int_equal(k, 2);
    /* known labels only, then a new one deep in the data, then -0.0 and a
     * NaN-free late third class */
    x[N - 3] = 7.5;
    x[5000] = -0.0;
    assert_int_equal(sl__labels_add(set, &k, 8, x, N), 0);
    assert_int_equal(k, 3);
    assert_true(set[0] == 0.0 && set[1] == 1.0 && set[2] == 7.5);
    assert_false(signbit(set[0]));
    x[12345] = -2;
    assert_int_equal(sl__labels_add(set, &k, 8, x, N), 0);
    assert_int_equal(k, 4);
    assert_true(set[0] == -2.0);
    /* a cap reached in the fast path's break block */
    x[19000] = 9;
    assert_int_equal(sl__labels_add(set, &k, 4, x, N), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_nonpos),     cmocka_unit_test(test_log1p_unit),
        cmocka_unit_test(test_sigmoid),        cmocka_unit_test(test_binary_kernel),
        cmocka_unit_test(test_step_bound),     cmocka_unit_test(test_labels_fast_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
