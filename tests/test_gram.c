/* Unit tests of the co-moment kernel (src/kernels/gram.c) and of the
 * relative-pivot Cholesky (sl__cholesky_rel in src/kernels/linalg.c): a
 * small block worked out by hand; chunk partials merged in order against the
 * whole block; the BLIS version against the plain-loop reference on data with
 * large column means; empty parts; pivots of SPD, singular and nearly
 * singular matrices; the small Gram kernel (src/kernels/gram_small.c) against
 * products summed in long double, at every width it takes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kernels/blas.h"
#include "kernels/gram.h"
#include "kernels/gram_small.h"
#include "kernels/linalg.h"

static void near(double got, double want, double tol, const char *what)
{
    double scale = fabs(want) > 1 ? fabs(want) : 1;
    if (!(fabs(got - want) <= tol * scale))
        fail_msg("%s: got %.17g, expected %.17g (diff %.3g)", what, got, want, got - want);
}

static void near_cm(const double *got, const double *want, int64_t F, double tol)
{
    char what[64];
    for (size_t k = 0; k < sl__comoment_size(F); k++) {
        snprintf(what, sizeof what, "co-moment entry %zu", k);
        near(got[k], want[k], tol, what);
    }
}

/* X = [[1,2],[3,4],[5,9]], y = [1,2,6]: x̄ = (3,5), ȳ = 3,
 * Xc = [[-2,-3],[0,-1],[2,4]], yc = [-2,-1,3],
 * C = [[8,14],[14,26]], c = (10,19), c_yy = 14. */
static const double X3[] = {1, 2, 3, 4, 5, 9}, y3[] = {1, 2, 6};
static const double want3[] = {3, 3, 14, 3, 5, 10, 19, 8, 14, 14, 26};

static void test_hand(void **state)
{
    (void)state;
    double cm[11], ref[11], scratch[3 * 3 + 3 * 3]; /* sl__comoment_scratch_size(3, 2) */
    sl_error err;
    assert_int_equal(sl__comoment_size(2), 11);
    assert_true(sl__comoment_scratch_size(3, 2) <= sizeof scratch / sizeof *scratch);
    assert_int_equal(sl__comoment_chunk(X3, y3, 3, 2, cm, scratch, &err), SL_OK);
    near_cm(cm, want3, 2, 1e-15);
    sl__comoment_chunk_ref(X3, y3, 3, 2, ref);
    near_cm(ref, want3, 2, 1e-15);
}

static void test_merge_hand(void **state)
{
    (void)state;
    double acc[11] = {0}, part[11], scratch[3 * 3 + 3 * 3];
    sl_error err;
    /* rows {0}, {1, 2}, and an empty part in between */
    assert_int_equal(sl__comoment_chunk(X3, y3, 1, 2, part, scratch, &err), SL_OK);
    sl__comoment_merge(acc, part, 2);
    memset(part, 0, sizeof part);
    sl__comoment_merge(acc, part, 2);
    assert_int_equal(sl__comoment_chunk(X3 + 2, y3 + 1, 2, 2, part, scratch, &err), SL_OK);
    sl__comoment_merge(acc, part, 2);
    near_cm(acc, want3, 2, 1e-14);
    /* a single row has zero co-moments */
    sl__comoment_chunk_ref(X3, y3, 1, 2, part);
    near(part[SL__CM_CYY], 0, 0, "c_yy of one row");
    near(sl__cm_cxx(part, 2)[1], 0, 0, "C of one row");
    /* zero rows: the empty state */
    sl__comoment_chunk_ref(X3, y3, 0, 2, part);
    near(part[SL__CM_N], 0, 0, "n of no rows");
}

static double urand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

/* Fast (BLIS) against the reference, and chunked merges against the whole,
 * on columns with means 1e6 and unit spread. Chunk means carry a rounding
 * error of about ulp(1e6) ~ 1e-10, which the merge's cross term multiplies
 * by n_a·n_b/n ~ 100s: sums agree to ~1e-8 absolute (1e-10 relative to C's
 * diagonal), where raw sums of squares (1e15) would lose every digit. */
static void test_chunks_large_means(void **state)
{
    (void)state;
    enum { N = 1000, F = 5 };
    double *X = malloc(N * F * sizeof *X), y[N];
    uint64_t s = 42;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < F; j++)
            X[i * F + j] = 1e6 * (j + 1) + urand(&s) - 0.5;
        y[i] = 3e6 + X[i * F] - 1e6 + 2 * urand(&s);
    }
    size_t sz = sl__comoment_size(F);
    double *whole = calloc(sz, sizeof *whole), *ref = calloc(sz, sizeof *ref), *acc = calloc(sz, sizeof *acc);
    double *part = calloc(sz, sizeof *part), *scratch = malloc(sl__comoment_scratch_size(N, F) * sizeof *scratch);
    sl_error err;
    assert_int_equal(sl__comoment_chunk(X, y, N, F, whole, scratch, &err), SL_OK);
    sl__comoment_chunk_ref(X, y, N, F, ref);
    near_cm(whole, ref, F, 1e-8);
    /* an independent long double reference for the centered sums */
    long double xm[F] = {0}, ym = 0;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < F; j++)
            xm[j] += X[i * F + j];
        ym += y[i];
    }
    for (int j = 0; j < F; j++)
        xm[j] /= N;
    ym /= N;
    long double c01 = 0, cyy = 0, c0y = 0;
    for (int i = 0; i < N; i++) {
        c01 += (X[i * F] - xm[0]) * (X[i * F + 1] - xm[1]);
        c0y += (X[i * F] - xm[0]) * (y[i] - ym);
        cyy += (y[i] - ym) * (y[i] - ym);
    }
    near(sl__cm_cxx(whole, F)[1], (double)c01, 1e-8, "C[0][1] vs long double");
    near(sl__cm_cxy(whole, F)[0], (double)c0y, 1e-8, "c[0] vs long double");
    near(whole[SL__CM_CYY], (double)cyy, 1e-8, "c_yy vs long double");
    near(sl__cm_xmean(whole, F)[2], (double)xm[2], 1e-15, "mean of column 2");
    /* uneven chunks merged in order */
    const int cuts[] = {0, 1, 7, 300, 301, 777, N};
    for (size_t k = 0; k + 1 < sizeof cuts / sizeof cuts[0]; k++) {
        int r0 = cuts[k], r1 = cuts[k + 1];
        assert_int_equal(sl__comoment_chunk(X + r0 * F, y + r0, r1 - r0, F, part, scratch, &err), SL_OK);
        sl__comoment_merge(acc, part, F);
    }
    near_cm(acc, whole, F, 1e-8);
    /* merged C stays exactly symmetric */
    const double *C = sl__cm_cxx(acc, F);
    for (int a = 0; a < F; a++)
        for (int b = 0; b < F; b++)
            assert_true(C[a * F + b] == C[b * F + a]);
    free(X);
    free(whole);
    free(ref);
    free(acc);
    free(part);
    free(scratch);
}

static void test_cholesky_rel(void **state)
{
    (void)state;
    double rel;
    /* [[4,2],[2,3]] = L Lᵀ with L = [[2,0],[1,√2]]; pivots 4 and 2 (2/3 of 3) */
    double A[] = {4, 2, 2, 3};
    assert_int_equal(sl__cholesky_rel(A, 2, 1e-12, &rel), -1);
    near(A[0], 2, 1e-15, "L00");
    near(A[2], 1, 1e-15, "L10");
    near(A[3], sqrt(2.0), 1e-15, "L11");
    near(A[1], 2, 0, "upper triangle kept");
    near(rel, 2.0 / 3.0, 1e-15, "min relative pivot");
    double b[] = {8, 7}; /* A x = b for x = (1.25, 1.5) */
    sl__cholesky_solve(A, 2, b);
    near(b[0], 1.25, 1e-15, "x0");
    near(b[1], 1.5, 1e-15, "x1");
    /* exactly singular: pivot 4 - 2·2 = 0 at column 1 */
    double S[] = {1, 2, 2, 4};
    assert_int_equal(sl__cholesky_rel(S, 2, 1e-12, &rel), 1);
    near(rel, 0, 0, "singular pivot");
    /* nearly singular: relative pivot 1e-14 */
    double T[] = {1, 1, 1, 1 + 1e-14};
    assert_int_equal(sl__cholesky_rel(T, 2, 1e-12, &rel), 1);
    double U[] = {1, 1, 1, 1 + 1e-14};
    assert_int_equal(sl__cholesky_rel(U, 2, 1e-16, &rel), -1);
    /* a zero diagonal stops at once; so does an indefinite matrix */
    double Z[] = {0, 0, 0, 1};
    assert_int_equal(sl__cholesky_rel(Z, 2, 1e-12, NULL), 0);
    double I[] = {1, 2, 2, 1};
    assert_int_equal(sl__cholesky_rel(I, 2, 0, NULL), 1);
}

/* sl__gram_add's own kernel for narrow blocks: every width from 1 to
 * SL__GRAM_SMALL_MAX and one past it (BLIS), row counts around its 128-row
 * slices, added onto a C that already holds a sum (both triangles), against
 * the products summed in long double, within 1e-14 of the sum of their
 * magnitudes; and the result symmetric to the bit. */
static void test_gram_small(void **state)
{
    (void)state;
    const int64_t rows_list[] = {1, 3, 127, 128, 129, 300, 1024};
    unsigned seed = 7;
    for (int64_t n = 1; n <= SL__GRAM_SMALL_MAX + 1; n++)
        for (size_t ri = 0; ri < sizeof rows_list / sizeof *rows_list; ri++) {
            int64_t rows = rows_list[ri];
            double *A = malloc((size_t)(rows * n) * sizeof *A), *C = malloc((size_t)(n * n) * sizeof *C);
            long double *want = malloc((size_t)(n * n) * sizeof *want), *mag = malloc((size_t)(n * n) * sizeof *mag);
            assert_non_null(mag);
            assert_non_null(A);
            assert_non_null(C);
            assert_non_null(want);
            for (int64_t k = 0; k < rows * n; k++) {
                seed = seed * 1103515245u + 12345u;
                A[k] = ((double)(seed >> 8) / 16777216.0 - 0.5) * (1 + (double)(k % n));
            }
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < n; j++) {
                    C[i * n + j] = (double)(i + j + 1);
                    want[i * n + j] = (long double)(i + j + 1);
                    mag[i * n + j] = want[i * n + j];
                    for (int64_t k = 0; k < rows; k++) {
                        want[i * n + j] += (long double)A[k * n + i] * A[k * n + j];
                        mag[i * n + j] += fabsl((long double)A[k * n + i] * A[k * n + j]);
                    }
                }
            sl_error err;
            assert_int_equal(sl__gram_add(A, rows, n, C, &err), SL_OK);
            char what[96];
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < n; j++) {
                    snprintf(what, sizeof what, "n %lld rows %lld C[%lld][%lld]", (long long)n, (long long)rows,
                             (long long)i, (long long)j);
                    /* the rounding of a sum is bounded by its terms' magnitudes */
                    double diff = fabs(C[i * n + j] - (double)want[i * n + j]);
                    if (!(diff <= 1e-14 * (double)mag[i * n + j]))
                        fail_msg("%s: got %.17g, expected %.17g", what, C[i * n + j], (double)want[i * n + j]);
                    assert_memory_equal(&C[i * n + j], &C[j * n + i], sizeof *C);
                }
            free(A);
            free(C);
            free(want);
            free(mag);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand),
        cmocka_unit_test(test_merge_hand),
        cmocka_unit_test(test_chunks_large_means),
        cmocka_unit_test(test_cholesky_rel),
        cmocka_unit_test(test_gram_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
