/* Unit tests of the row-key and k-smallest selection kernel
 * (src/kernels/keyselect.c): splitmix64 reference values, distinct keys,
 * exact selection by histogram narrowing against sorting (random keys, keys
 * crowded into a few bits, extremes of want), equal keys across the boundary,
 * and row histograms that do not depend on how the rows are chunked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kernels/keyselect.h"

static void test_splitmix_reference(void **state)
{
    (void)state;
    /* splitmix64 seeded with 0 (Vigna's reference): first three outputs */
    assert_true(sl__mix64(0) == 0);
    assert_true(sl__row_key(0, 0) == UINT64_C(0xe220a8397b1dcdaf));
    assert_true(sl__row_key(0, 1) == UINT64_C(0x6e789e6aa1b965f4));
    assert_true(sl__row_key(0, 2) == UINT64_C(0x06c45d188009454f));
    /* seed 42: state starts at mix64(42) = 0xa759ea27d4727622 */
    assert_true(sl__mix64(42) == UINT64_C(0xa759ea27d4727622));
    assert_true(sl__row_key(42, 0) == UINT64_C(0x989b3f130a063869));
    assert_true(sl__row_key(42, 1) == UINT64_C(0x290db4bf2570ded7));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_keys_distinct(void **state)
{
    (void)state;
    size_t n = 200000;
    uint64_t *k = malloc(n * sizeof *k);
    assert_non_null(k);
    for (uint64_t seed = 0; seed < 3; seed++) {
        for (size_t r = 0; r < n; r++)
            k[r] = sl__row_key(seed, r);
        qsort(k, n, sizeof *k, cmp_u64);
        for (size_t r = 1; r < n; r++)
            assert_true(k[r - 1] < k[r]);
    }
    free(k);
}

/* Runs a selection over keys to completion; returns the steps taken, or -1. */
static int select_keys(sl__kselect *ks, const uint64_t *keys, size_t n, uint64_t want)
{
    uint64_t hist[SL__KSELECT_BINS];
    sl__kselect_init(ks, want, n);
    int steps = 0;
    while (!ks->done) {
        memset(hist, 0, sizeof hist);
        sl__kselect_hist(ks, keys, n, hist);
        if (sl__kselect_step(ks, hist) != 0)
            return -1;
        if (++steps > 20)
            return -1;
    }
    return steps;
}

/* The selection holds exactly the `want` smallest keys. */
static void check_selection(const uint64_t *keys, size_t n, uint64_t want, const char *what)
{
    sl__kselect ks;
    int steps = select_keys(&ks, keys, n, want);
    if (steps < 0)
        fail_msg("%s: selection of %llu failed", what, (unsigned long long)want);
    if (steps > (64 + SL__KSELECT_BITS - 1) / SL__KSELECT_BITS)
        fail_msg("%s: %d steps", what, steps);
    uint64_t *sorted = malloc((n ? n : 1) * sizeof *sorted);
    assert_non_null(sorted);
    memcpy(sorted, keys, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_u64);
    uint64_t in = 0;
    for (size_t i = 0; i < n; i++) {
        int has = sl__kselect_has(&ks, keys[i]);
        in += (uint64_t)has;
    }
    uint64_t expect = want < n ? want : n;
    if (in != expect)
        fail_msg("%s: %llu keys selected, expected %llu", what, (unsigned long long)in, (unsigned long long)expect);
    for (size_t i = 0; i < n; i++)
        if (sl__kselect_has(&ks, sorted[i]) != (i < expect))
            fail_msg("%s: key of rank %zu wrongly %s", what, i, i < expect ? "left out" : "selected");
    free(sorted);
}

static void test_small_hand(void **state)
{
    (void)state;
    const uint64_t keys[] = {5, 1, 9, 3, 7};
    sl__kselect ks;
    /* want 2 -> {1, 3}: all five keys share their top 60 bits, so the
     * narrowing goes down to the last 4 bits, and there 3 is the last key of
     * its bin: last == 3 */
    assert_true(select_keys(&ks, keys, 5, 2) == 6);
    assert_true(ks.last == 3);
    assert_true(sl__kselect_has(&ks, 1) && sl__kselect_has(&ks, 3) && !sl__kselect_has(&ks, 5));
    for (uint64_t w = 0; w <= 6; w++)
        check_selection(keys, 5, w, "hand");
}

static void test_extremes_of_want(void **state)
{
    (void)state;
    const uint64_t keys[] = {UINT64_MAX, 0, UINT64_C(1) << 63};
    sl__kselect ks;
    assert_true(select_keys(&ks, keys, 3, 0) == 0);
    assert_true(ks.done && !sl__kselect_has(&ks, 0));
    assert_true(select_keys(&ks, keys, 3, 3) == 0);
    assert_true(sl__kselect_has(&ks, UINT64_MAX));
    assert_true(select_keys(&ks, keys, 3, 7) == 0);
    /* want 1: {0}; the top 12 bits separate 0 from the others in one step */
    assert_true(select_keys(&ks, keys, 3, 1) == 1);
    assert_true(ks.last == (UINT64_C(1) << 52) - 1);
    check_selection(keys, 3, 2, "extremes");
    check_selection(keys, 0, 0, "empty");
}

static void test_random_keys(void **state)
{
    (void)state;
    size_t n = 50000;
    uint64_t *k = malloc(n * sizeof *k);
    assert_non_null(k);
    for (size_t r = 0; r < n; r++)
        k[r] = sl__row_key(7, r);
    const uint64_t wants[] = {1, 2, 17, 4096, 12500, 25000, 49999, 50000};
    for (size_t w = 0; w < sizeof wants / sizeof wants[0]; w++)
        check_selection(k, n, wants[w], "random");
    free(k);
}

static void test_crowded_keys(void **state)
{
    (void)state;
    /* keys differing only in a few low or middle bits force deep narrowing */
    size_t n = 3000;
    uint64_t *k = malloc(n * sizeof *k);
    assert_non_null(k);
    for (size_t r = 0; r < n; r++)
        k[r] = UINT64_C(0xabcdef0000000000) + ((sl__row_key(1, r) & 0xffff) << 3) + (r & 7);
    /* remove duplicates: keep them distinct by construction check */
    uint64_t *s = malloc(n * sizeof *s);
    memcpy(s, k, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_u64);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || s[i] != s[i - 1])
            s[m++] = s[i];
    for (uint64_t w = 1; w < m; w += 97)
        check_selection(s, m, w, "crowded");
    /* consecutive integers */
    for (size_t i = 0; i < n; i++)
        s[i] = 1000 + (uint64_t)(n - i);
    for (uint64_t w = 0; w <= n; w += 101)
        check_selection(s, n, w, "consecutive");
    free(s);
    free(k);
}

static void test_equal_keys(void **state)
{
    (void)state;
    /* three equal keys: selecting one of them cannot be done by value */
    const uint64_t keys[] = {2, 2, 2, 9};
    sl__kselect ks;
    assert_true(select_keys(&ks, keys, 4, 1) == -1);
    /* selecting all three equal keys can */
    check_selection(keys, 4, 3, "equal");
}

static void test_hist_rows_chunking(void **state)
{
    (void)state;
    /* the histogram of rows [0, 10000) is the same whether counted at once
     * or in chunks of 1, 333 or 4096 rows */
    uint64_t n = 10000;
    sl__kselect ks;
    sl__kselect_init(&ks, 2500, n);
    static uint64_t whole[SL__KSELECT_BINS], part[SL__KSELECT_BINS];
    uint64_t *keys = malloc(n * sizeof *keys);
    assert_non_null(keys);
    for (uint64_t r = 0; r < n; r++)
        keys[r] = sl__row_key(3, r);
    memset(whole, 0, sizeof whole);
    sl__kselect_hist(&ks, keys, n, whole);
    const uint64_t sizes[] = {1, 333, 4096, 10000};
    for (size_t s = 0; s < 4; s++) {
        memset(part, 0, sizeof part);
        for (uint64_t r0 = 0; r0 < n; r0 += sizes[s])
            sl__kselect_hist_rows(&ks, 3, r0, r0 + sizes[s] <= n ? sizes[s] : n - r0, part);
        assert_memory_equal(whole, part, sizeof whole);
    }
    /* and after one narrowing step as well */
    assert_int_equal(sl__kselect_step(&ks, whole), 0);
    if (!ks.done) {
        memset(whole, 0, sizeof whole);
        sl__kselect_hist(&ks, keys, n, whole);
        memset(part, 0, sizeof part);
        for (uint64_t r0 = 0; r0 < n; r0 += 777)
            sl__kselect_hist_rows(&ks, 3, r0, r0 + 777 <= n ? 777 : n - r0, part);
        assert_memory_equal(whole, part, sizeof whole);
    }
    free(keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splitmix_reference), cmocka_unit_test(test_keys_distinct),
        cmocka_unit_test(test_small_hand),         cmocka_unit_test(test_extremes_of_want),
        cmocka_unit_test(test_random_keys),        cmocka_unit_test(test_crowded_keys),
        cmocka_unit_test(test_equal_keys),         cmocka_unit_test(test_hist_rows_chunking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
