/* Unit tests of the pairwise-complete co-moments with missing values and
 * the imputed co-moments derived from them (src/kernels/pairmoments.c),
 * against an independent reference: the imputed matrix built explicitly and
 * its means and co-moments taken by the two-pass method in long double. A
 * column of mean 1e8 and standard deviation 1 with 30 % missing shows why
 * the kernel centres: the raw-sum formula Σx² − n·x̄² loses its digits. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kernels/pairmoments.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static double normal(void)
{
    double u = uniform() + 1e-300, v = uniform();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* X (rows x P) with cells missing at the given rate; column a has mean
 * means[a] and spread scales[a]. */
static double *make(int64_t rows, int64_t P, const double *means, const double *scales, double rate)
{
    double *X = malloc((size_t)(rows * P) * sizeof *X);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t a = 0; a < P; a++)
            X[i * P + a] = uniform() < rate ? NAN : means[a] + scales[a] * normal();
    return X;
}

/* How moments() computes a chunk: block by block (sl__pm_chunk), or in one
 * pass around the centres of its first rows (sl__pm_pass_*, as clean's
 * statistics pass does: in blocks of PASS_BLOCK rows, the columns split
 * into two arrays, the chunk taken block by block when the pass refuses
 * it). */
static int use_pass;
static int refused; /* chunks the pass refused */
#define PASS_BLOCK 64

static void pass_chunk(const double *X, int64_t n, int64_t P, const unsigned char *drop, double *part)
{
    sl__pm_pass pass;
    sl_error err;
    assert_int_equal(sl__pm_pass_init(&pass, P, PASS_BLOCK, &err), SL_OK);
    int64_t w1 = P / 2, w2 = P - w1;
    double *left = malloc((size_t)(PASS_BLOCK * (w1 + 1)) * sizeof *left);
    double *right = malloc((size_t)(PASS_BLOCK * w2) * sizeof *right);
    for (int64_t r0 = 0; r0 < n; r0 += PASS_BLOCK) {
        int64_t nb = n - r0 < PASS_BLOCK ? n - r0 : PASS_BLOCK;
        for (int64_t i = 0; i < nb; i++) {
            memcpy(left + i * w1, X + (r0 + i) * P, (size_t)w1 * sizeof *left);
            memcpy(right + i * w2, X + (r0 + i) * P + w1, (size_t)w2 * sizeof *right);
        }
        const unsigned char *d = drop ? drop + r0 : NULL;
        if (w1 > 0)
            sl__pm_pass_gather(&pass, left, nb, w1, 1, d, 0);
        sl__pm_pass_gather(&pass, right, nb, w2, 1, d, w1);
        assert_int_equal(sl__pm_pass_block(&pass, d, &err), SL_OK);
    }
    if (!sl__pm_pass_state(&pass, part)) {
        refused++;
        double *scratch = malloc(sl__pm_scratch_size(n, P) * sizeof *scratch);
        assert_int_equal(sl__pm_chunk(X, n, P, drop, part, scratch, &err), SL_OK);
        free(scratch);
    }
    sl__pm_pass_free(&pass);
    free(left);
    free(right);
}

/* The kernel over chunks of the given sizes, merged in order. */
static double *moments(const double *X, int64_t rows, int64_t P, const unsigned char *drop, const int64_t *sizes,
                       size_t n_sizes)
{
    double *acc = calloc(sl__pm_size(P), sizeof *acc), *part = malloc(sl__pm_size(P) * sizeof *part);
    int64_t r0 = 0;
    for (size_t k = 0; r0 < rows; k++) {
        int64_t n = n_sizes ? sizes[k % n_sizes] : rows;
        if (n > rows - r0)
            n = rows - r0;
        if (use_pass) {
            pass_chunk(X + r0 * P, n, P, drop ? drop + r0 : NULL, part);
        } else {
            double *scratch = malloc(sl__pm_scratch_size(n, P) * sizeof *scratch);
            sl_error err;
            assert_int_equal(sl__pm_chunk(X + r0 * P, n, P, drop ? drop + r0 : NULL, part, scratch, &err), SL_OK);
            free(scratch);
        }
        sl__pm_merge(acc, part, P);
        r0 += n;
    }
    free(part);
    return acc;
}

/* The reference: the imputed matrix itself, two-pass in long double. */
static void reference(const double *X, int64_t rows, int64_t P, const unsigned char *drop, const double *v,
                      long double *mean, long double *C)
{
    long double n = 0;
    for (int64_t a = 0; a < P; a++)
        mean[a] = 0;
    for (int64_t i = 0; i < rows; i++) {
        if (drop && drop[i])
            continue;
        n += 1;
        for (int64_t a = 0; a < P; a++)
            mean[a] += isnan(X[i * P + a]) ? v[a] : X[i * P + a];
    }
    for (int64_t a = 0; a < P; a++)
        mean[a] /= n;
    for (int64_t k = 0; k < P * P; k++)
        C[k] = 0;
    for (int64_t i = 0; i < rows; i++) {
        if (drop && drop[i])
            continue;
        for (int64_t a = 0; a < P; a++)
            for (int64_t b = 0; b < P; b++) {
                long double xa = isnan(X[i * P + a]) ? v[a] : X[i * P + a];
                long double xb = isnan(X[i * P + b]) ? v[b] : X[i * P + b];
                C[a * P + b] += (xa - mean[a]) * (xb - mean[b]);
            }
    }
}

/* Observed means (what mean imputation fills in), in long double. */
static void observed_means(const double *X, int64_t rows, int64_t P, const unsigned char *drop, double *v)
{
    for (int64_t a = 0; a < P; a++) {
        long double s = 0, c = 0;
        for (int64_t i = 0; i < rows; i++)
            if (!(drop && drop[i]) && !isnan(X[i * P + a])) {
                s += X[i * P + a];
                c += 1;
            }
        v[a] = c > 0 ? (double)(s / c) : 0;
    }
}

/* Largest error of the kernel's imputed means and co-moments, relative to
 * each mean's spread and to sqrt(C_aa C_bb). */
static double worst_error(const double *X, int64_t rows, int64_t P, const unsigned char *drop, const double *v,
                          const int64_t *sizes, size_t n_sizes)
{
    double *st = moments(X, rows, P, drop, sizes, n_sizes);
    double *mean = malloc((size_t)P * sizeof *mean), *C = malloc((size_t)(P * P) * sizeof *C);
    long double *rm = malloc((size_t)P * sizeof *rm), *rC = malloc((size_t)(P * P) * sizeof *rC);
    sl__pm_imputed(st, P, v, mean, C);
    reference(X, rows, P, drop, v, rm, rC);
    double worst = 0;
    for (int64_t a = 0; a < P; a++) {
        /* a mean is good to its own ulp (1.5e-8 at 1e8), or to its spread when that is larger */
        double sd = sqrtl(rC[a * P + a] / (long double)rows), scale = fabs((double)rm[a]);
        double e = fabs((double)(mean[a] - rm[a])) / ((sd > scale ? sd : scale) + 1e-300);
        worst = e > worst ? e : worst;
        for (int64_t b = 0; b < P; b++) {
            double scale = sqrtl(rC[a * P + a] * rC[b * P + b]) + 1e-300;
            e = fabs((double)(C[a * P + b] - rC[a * P + b])) / scale;
            worst = e > worst ? e : worst;
        }
    }
    free(st);
    free(mean);
    free(C);
    free(rm);
    free(rC);
    return worst;
}

static void test_imputed_equals_reference(void **state)
{
    (void)state;
    const int64_t rows = 3000, P = 5;
    const double means[] = {0, 3, -7, 1000, 0.5}, scales[] = {1, 2, 0.1, 30, 5};
    double *X = make(rows, P, means, scales, 0.2);
    double v[5];
    observed_means(X, rows, P, NULL, v);
    const int64_t sizes[] = {1, 7, 333, 1000, 64};
    double one = worst_error(X, rows, P, NULL, v, NULL, 0), chunks = worst_error(X, rows, P, NULL, v, sizes, 5);
    printf("imputed by the observed means: error %.3g in one chunk, %.3g over uneven chunks\n", one, chunks);
    assert_true(one < 1e-13);
    assert_true(chunks < 1e-13);
    /* another fill value (a float32-rounded mean, a constant) */
    for (int64_t a = 0; a < P; a++)
        v[a] = (double)(float)v[a] + 0.25;
    assert_true(worst_error(X, rows, P, NULL, v, sizes, 5) < 1e-13);
    free(X);
}

static void test_dropped_rows_and_empty_columns(void **state)
{
    (void)state;
    const int64_t rows = 500, P = 3;
    const double means[] = {1, 2, 3}, scales[] = {1, 1, 1};
    double *X = make(rows, P, means, scales, 0.3);
    unsigned char *drop = calloc((size_t)rows, 1);
    for (int64_t i = 0; i < rows; i++) {
        drop[i] = i % 5 == 0;
        X[i * P + 2] = NAN; /* column 2 has no observed value: it is its fill value everywhere */
    }
    double v[3];
    observed_means(X, rows, P, drop, v);
    v[2] = 4.5;
    const int64_t sizes[] = {13, 50};
    double *st = moments(X, rows, P, drop, sizes, 2);
    assert_true(st[0] == 400); /* kept rows */
    double mean[3], C[9];
    sl__pm_imputed(st, P, v, mean, C);
    assert_true(mean[2] == 4.5 && C[8] == 0 && C[2] == 0 && C[6] == 0);
    long double rm[3], rC[9];
    reference(X, rows, P, drop, v, rm, rC);
    for (int k = 0; k < 2; k++)
        assert_true(fabs(mean[k] - (double)rm[k]) < 1e-13);
    for (int k = 0; k < 9; k++)
        assert_true(fabs(C[k] - (double)rC[k]) < 1e-11 * (1 + fabs((double)rC[k])));
    free(st);
    free(X);
    free(drop);
}

/* A column of mean 1e8 and standard deviation 1, 30 % missing, imputed by
 * its mean: its variance (about 0.7) keeps its digits here; the raw sums
 * Σx and Σx² of the observed values (Σx² is about 1.4e20) do not. */
static void test_large_mean_column(void **state)
{
    (void)state;
    const int64_t rows = 20000, P = 2;
    const double means[] = {1e8, 5}, scales[] = {1, 2};
    double *X = make(rows, P, means, scales, 0.3);
    double v[2];
    observed_means(X, rows, P, NULL, v);
    const int64_t sizes[] = {4096, 1000, 77};
    double ours = worst_error(X, rows, P, NULL, v, sizes, 3);
    /* the naive formula for the same variance: (Σx² − (Σx)²/n_obs) over the
     * observed values; imputing the mean adds nothing to it */
    double s = 0, s2 = 0, n = 0;
    for (int64_t i = 0; i < rows; i++)
        if (!isnan(X[i * P])) {
            s += X[i * P];
            s2 += X[i * P] * X[i * P];
            n += 1;
        }
    double naive = s2 - s * s / n;
    long double rm[2], rC[4];
    reference(X, rows, P, NULL, v, rm, rC);
    double naive_err = fabs(naive - (double)rC[0]) / (double)rC[0];
    printf("column of mean 1e8: relative error %.3g centred, %.3g by raw sums\n", ours, naive_err);
    assert_true(ours < 1e-12);
    assert_true(naive_err > 1e-3);
    free(X);
}

/* The one pass centres a chunk on the means of its first rows (here the
 * first block, 64 rows, is all of them): since those rows are part of the
 * chunk, M2 >= n1·δ² (n1: their observed cells, δ: their mean less the
 * chunk's), so the centring costs at most log2(1 + n/n1) bits, and only
 * first rows with few observed cells of a column cost many. Such a chunk is
 * refused (here: column 0 observed once in each chunk's first 64 rows, at
 * 1e8, and near 0 after them: a cost of ~9 bits) and taken block by block,
 * which keeps the digits; chunks whose first rows look like the rest are
 * not refused, and agree with the block by block moments to the last
 * digits. */
static void test_pass_refuses_far_centres(void **state)
{
    (void)state;
    const int64_t rows = 2000, P = 3;
    const double means[] = {0, 5, -2}, scales[] = {1, 2, 0.5};
    double *X = make(rows, P, means, scales, 0.1), v[3];
    observed_means(X, rows, P, NULL, v);
    const int64_t sizes[] = {500};
    use_pass = 1;
    refused = 0;
    double alike = worst_error(X, rows, P, NULL, v, sizes, 1);
    assert_int_equal(refused, 0);
    assert_true(alike < 1e-13);
    for (int64_t i = 0; i < rows; i++)
        if (i % 500 < PASS_BLOCK)
            X[i * P] = i % 500 == 0 ? 1e8 : NAN;
    observed_means(X, rows, P, NULL, v);
    double far = worst_error(X, rows, P, NULL, v, sizes, 1);
    printf("one cell at 1e8 in each first block: %d of 4 chunks refused, error %.3g\n", refused, far);
    assert_true(far < 2e-15); /* 9.7e-15 without the refusal */
    assert_int_equal(refused, 4);
    free(X);
    use_pass = 0;
}

/* The pass takes float32 arrays as the float64 values they convert to. */
static void test_pass_float32(void **state)
{
    (void)state;
    const int64_t rows = 300, P = 4;
    const double means[] = {1, -3, 100, 0}, scales[] = {1, 2, 3, 0.1};
    double *X = make(rows, P, means, scales, 0.15);
    float *F = malloc((size_t)(rows * P) * sizeof *F);
    for (int64_t k = 0; k < rows * P; k++) {
        F[k] = (float)X[k];
        X[k] = (double)F[k];
    }
    X[5] = INFINITY;
    F[5] = INFINITY;
    unsigned char drop[300] = {0};
    drop[3] = drop[64] = drop[299] = 1;
    double *a = malloc(sl__pm_size(P) * sizeof *a), *b = malloc(sl__pm_size(P) * sizeof *b);
    sl__pm_pass p32, p64;
    sl_error err;
    assert_int_equal(sl__pm_pass_init(&p32, P, 128, &err), SL_OK);
    assert_int_equal(sl__pm_pass_init(&p64, P, 128, &err), SL_OK);
    for (int64_t r0 = 0; r0 < rows; r0 += 128) {
        int64_t nb = rows - r0 < 128 ? rows - r0 : 128;
        sl__pm_pass_gather_f32(&p32, F + r0 * P, nb, P, 1, drop + r0, 0);
        sl__pm_pass_gather(&p64, X + r0 * P, nb, P, 1, drop + r0, 0);
        assert_int_equal(sl__pm_pass_block(&p32, drop + r0, &err), SL_OK);
        assert_int_equal(sl__pm_pass_block(&p64, drop + r0, &err), SL_OK);
    }
    assert_int_equal(sl__pm_pass_state(&p32, a), 1);
    assert_int_equal(sl__pm_pass_state(&p64, b), 1);
    assert_memory_equal(a, b, sl__pm_size(P) * sizeof *a);
    assert_true(a[0] == 297);
    sl__pm_pass_free(&p32);
    sl__pm_pass_free(&p64);
    free(a);
    free(b);
    free(F);
    free(X);
}

/* The pass at the widths its kernels take apart: 17 columns (four vectors
 * and one over the last four), 36 (nine, found at run time), 65 (past the
 * 64 columns of a row's bit mask), with missing cells and dropped rows. */
static void test_pass_widths(void **state)
{
    (void)state;
    const int64_t widths[] = {17, 36, 65}, rows = 700;
    use_pass = 1;
    refused = 0;
    for (size_t k = 0; k < sizeof widths / sizeof *widths; k++) {
        int64_t P = widths[k];
        double *means = malloc((size_t)P * sizeof *means), *scales = malloc((size_t)P * sizeof *scales);
        double *v = malloc((size_t)P * sizeof *v);
        for (int64_t a = 0; a < P; a++) {
            means[a] = (double)(a % 7) * 10 - 20;
            scales[a] = 1 + (double)(a % 3);
        }
        double *X = make(rows, P, means, scales, 0.05);
        unsigned char *drop = calloc((size_t)rows, 1);
        for (int64_t i = 0; i < rows; i += 13)
            drop[i] = 1;
        observed_means(X, rows, P, drop, v);
        const int64_t sizes[] = {300, 400};
        double e = worst_error(X, rows, P, drop, v, sizes, 2);
        printf("%lld columns: error %.3g\n", (long long)P, e);
        assert_true(e < 1e-13);
        free(means);
        free(scales);
        free(v);
        free(X);
        free(drop);
    }
    assert_int_equal(refused, 0);
    use_pass = 0;
}

/* The tests above again, the chunks computed by the one pass. */
static void test_pass_imputed(void **state)
{
    use_pass = 1;
    refused = 0;
    test_imputed_equals_reference(state);
    test_dropped_rows_and_empty_columns(state);
    test_large_mean_column(state);
    assert_int_equal(refused, 0);
    use_pass = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imputed_equals_reference),
        cmocka_unit_test(test_dropped_rows_and_empty_columns),
        cmocka_unit_test(test_large_mean_column),
        cmocka_unit_test(test_pass_imputed),
        cmocka_unit_test(test_pass_refuses_far_centres),
        cmocka_unit_test(test_pass_float32),
        cmocka_unit_test(test_pass_widths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
