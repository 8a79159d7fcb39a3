/* Unit tests of the encoding kernels (src/kernels/encode.c): distinct-value
 * sets built over chunks of many sizes and merged in chunk order, against a
 * sort of the whole column (few and many values, NaN, -0, runs, the cap met
 * exactly and passed by one, the NaNs' count and first row, the row where the
 * cap is passed); codes of every value of a table, of values between and of
 * NaN, with and without NaN in the table; one-hot columns with and without a
 * dropped category; integers beyond 2^53 found; a column converted into
 * another with its bad values. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kernels/encode.h"

static uint64_t rng_state = 42;

static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int cmp_ref(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x))
        return isnan(y) ? 0 : 1;
    if (isnan(y))
        return -1;
    return x < y ? -1 : x > y;
}

/* numpy.unique of x: sorted, NaN last once, -0 as 0. */
static int64_t reference(const double *x, int64_t n, double *out)
{
    memcpy(out, x, (size_t)n * sizeof *out);
    for (int64_t i = 0; i < n; i++)
        out[i] += 0.0;
    qsort(out, (size_t)n, sizeof *out, cmp_ref);
    int64_t u = 0;
    for (int64_t i = 0; i < n; i++)
        if (u == 0 || cmp_ref(&out[u - 1], &out[i]) != 0)
            out[u++] = out[i];
    return u;
}

/* The set of x, made chunk by chunk (chunk rows each) and merged in order. */
static sl__distinct *collect(const double *x, int64_t n, int64_t chunk, int64_t cap)
{
    size_t size = sl__distinct_size(cap);
    sl__distinct *acc = calloc(1, size), *part = malloc(size);
    double *scratch = malloc((size_t)n * sizeof *scratch);
    assert_non_null(acc);
    assert_non_null(part);
    assert_non_null(scratch);
    for (int64_t r0 = 0; r0 < n; r0 += chunk) {
        memset(part, 0, size);
        int64_t m = n - r0 < chunk ? n - r0 : chunk;
        memcpy(scratch, x + r0, (size_t)m * sizeof *scratch);
        sl__distinct_add(part, cap, scratch, m, r0);
        sl__distinct_merge(acc, part, cap);
    }
    free(part);
    free(scratch);
    return acc;
}

/* The numbers of the set are the reference's (its NaN, if any, is last). */
static void same_table(const sl__distinct *d, const double *want, int64_t numbers)
{
    assert_int_equal(d->over, 0);
    assert_int_equal(d->n, numbers);
    for (int64_t j = 0; j < numbers; j++) {
        assert_true(d->v[j] == want[j]);
        assert_false(d->v[j] == 0 && signbit(d->v[j])); /* 0, never -0 */
    }
}

static void test_sets_against_sort(void **state)
{
    (void)state;
    const int64_t n = 5000, chunks[] = {1, 7, 256, 257, 1000, 5000, 65536};
    const int64_t kinds[] = {1, 3, 40, 700, 5000};
    double *x = malloc((size_t)n * sizeof *x), *want = malloc((size_t)n * sizeof *want);
    for (size_t kk = 0; kk < sizeof kinds / sizeof kinds[0]; kk++) {
        for (int64_t i = 0; i < n; i++) {
            int64_t v = (int64_t)(next_u64() % (uint64_t)kinds[kk]);
            x[i] = v == 0 ? -0.0 : v == 1 && kinds[kk] > 2 ? NAN : (double)(v - kinds[kk] / 2) * 0.5;
            if (i % 100 < 30 && i) /* runs of one value */
                x[i] = x[i - 1];
        }
        int64_t k = reference(x, n, want), first_nan = -1, nans = 0;
        for (int64_t i = 0; i < n; i++)
            if (isnan(x[i]) && nans++ == 0)
                first_nan = i;
        int64_t numbers = k - (nans > 0);
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            sl__distinct *d = collect(x, n, chunks[c], numbers);
            same_table(d, want, numbers);
            assert_int_equal(d->nan_count, nans);
            if (nans)
                assert_int_equal(d->nan_row, first_nan);
            assert_int_equal(d->end_row, n);
            free(d);
            if (numbers > 1) { /* one slot short: refused, and where */
                d = collect(x, n, chunks[c], numbers - 1);
                assert_int_equal(d->over, 1);
                assert_true(d->over_row > 0 && d->over_row <= n);
                /* the rows before over_row already hold more numbers than the cap */
                double *seen = malloc((size_t)n * sizeof *seen);
                int64_t u = reference(x, d->over_row, seen);
                assert_true(u - (u > 0 && isnan(seen[u - 1])) > numbers - 1);
                free(seen);
                assert_int_equal(d->nan_count, nans);
                free(d);
            }
        }
    }
    free(x);
    free(want);
}

static void test_codes(void **state)
{
    (void)state;
    const double t[] = {-7, -1, 0, 2.5, 1e300, INFINITY, NAN};
    const int64_t k = 7;
    int64_t code, first = -1;
    for (int64_t j = 0; j < k; j++) {
        assert_int_equal(sl__encode_codes(&code, &t[j], 1, t, k, &first), 0);
        assert_int_equal(code, j);
    }
    const double zero = -0.0;
    sl__encode_codes(&code, &zero, 1, t, k, &first);
    assert_int_equal(code, 2);
    const double absent[] = {-8, -3, -0.5, 1, 3, -INFINITY};
    for (size_t j = 0; j < sizeof absent / sizeof absent[0]; j++) {
        assert_int_equal(sl__encode_codes(&code, &absent[j], 1, t, k, &first), 1);
        assert_int_equal(code, -1);
    }
    const double nan = NAN;
    assert_int_equal(sl__encode_codes(&code, &nan, 1, t, 6, &first), 1); /* a table without NaN */
    assert_int_equal(sl__encode_codes(&code, &absent[3], 1, t, 0, &first), 1);
    const double x[] = {2.5, 2.5, 3, NAN, -7, 3, 0};
    int64_t codes[7];
    assert_int_equal(sl__encode_codes(codes, x, 7, t, k, &first), 2);
    assert_int_equal(first, 2);
    const int64_t want[] = {3, 3, -1, 6, 0, -1, 2};
    for (int j = 0; j < 7; j++)
        assert_int_equal(codes[j], want[j]);
}

static void test_onehot_set(void **state)
{
    (void)state;
    const int64_t codes[] = {0, 2, -1, 1};
    double y[4 * 5];
    memset(y, 0, sizeof y);
    sl__onehot_set(y, SL_FLOAT64, 4, 5, 1, codes, -1);
    const double want[4 * 5] = {0, 1, 0, 0, 0, /**/ 0, 0, 0, 1, 0, /**/ 0, 0, 0, 0, 0, /**/ 0, 0, 1, 0, 0};
    assert_memory_equal(y, want, sizeof y);
    int8_t z[4 * 3];
    memset(z, 0, sizeof z);
    sl__onehot_set(z, SL_INT8, 4, 3, 1, codes, 0); /* category 0 gets no column */
    const int8_t wz[4 * 3] = {0, 0, 0, /**/ 0, 0, 1, /**/ 0, 0, 0, /**/ 0, 1, 0};
    assert_memory_equal(z, wz, sizeof z);
}

static void test_integers_beyond_2_53(void **state)
{
    (void)state;
    const int64_t a[] = {1, 2, (int64_t)1 << 53, -((int64_t)1 << 53), ((int64_t)1 << 53) + 1, 5,
                         -((int64_t)1 << 53) - 1, 0};
    double out[4];
    int64_t first = -1;
    /* column 0 of a 4 x 2 block: 1, 2^53, 2^53 + 1, -2^53 - 1 */
    assert_int_equal(sl__column_f64(out, a, SL_INT64, 4, 2, 0, &first), 2);
    assert_int_equal(first, 2);
    assert_int_equal(sl__column_f64(out, a, SL_INT64, 4, 2, 1, &first), 0);
    assert_true(out[0] == 2 && out[1] == -9007199254740992.0 && out[2] == 5 && out[3] == 0);
    const uint64_t u[] = {UINT64_MAX, 3, ((uint64_t)1 << 53) + 2};
    first = -1;
    assert_int_equal(sl__column_f64(out, u, SL_UINT64, 3, 1, 0, &first), 2);
    assert_int_equal(first, 0);
    const float f[] = {0.5f, -0.0f};
    assert_int_equal(sl__column_f64(out, f, SL_FLOAT32, 2, 1, 0, &first), 0);
    assert_true(out[0] == 0.5);
}

static void test_cast_column(void **state)
{
    (void)state;
    enum { R = 600 }; /* more than one block */
    double in[R * 3];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < 3; c++)
            in[r * 3 + c] = r * 10 + c + 0.75;
    in[517 * 3 + 1] = NAN;
    in[530 * 3 + 1] = 1e30;
    int32_t out[R * 2];
    memset(out, 0x55, sizeof out);
    sl__cast_result res = sl__cast_column(out, SL_INT32, 2, 1, in, SL_FLOAT64, 3, 1, R);
    assert_int_equal(res.bad, 2);
    assert_int_equal(res.first_bad, 517);
    for (int r = 0; r < R; r++) {
        if (r != 517 && r != 530)
            assert_int_equal(out[r * 2 + 1], r * 10 + 1); /* truncated toward zero */
        assert_int_equal(out[r * 2], 0x55555555);     /* the other column untouched */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sets_against_sort),
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_onehot_set),
        cmocka_unit_test(test_integers_beyond_2_53),
        cmocka_unit_test(test_cast_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
