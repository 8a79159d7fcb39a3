/* Unit tests of the mini-batch shuffles (src/kernels/shuffle.c): the
 * splitmix64 reference outputs, stream starts, permutations worked out by
 * hand, and permutation properties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kernels/shuffle.h"

static void test_splitmix_reference(void **state)
{
    (void)state;
    /* the published first outputs of splitmix64 from state 0 */
    uint64_t s = 0;
    assert_true(sl__splitmix64(&s) == UINT64_C(0xE220A8397B1DCDAF));
    assert_true(sl__splitmix64(&s) == UINT64_C(0x6E789E6AA1B965F4));
    assert_true(sl__splitmix64(&s) == UINT64_C(0x06C45D188009454F));
    assert_true(s == UINT64_C(3) * UINT64_C(0x9E3779B97F4A7C15));
}

static void test_stream(void **state)
{
    (void)state;
    /* stream(seed, a, b) = next(next(seed) ^ a) ^ b, values from the Python
     * reimplementation in tests/fixtures/make_models.py */
    assert_true(sl__stream(7, 0, UINT64_MAX) == UINT64_C(0x474b3d68815431ba));
    assert_true(sl__stream(7, 1, 2) == UINT64_C(0x3d41bf495cd3075d));
    uint64_t t = 0;
    uint64_t first = sl__splitmix64(&t) ^ 5;
    t = first;
    assert_true(sl__stream(0, 5, 9) == (sl__splitmix64(&t) ^ 9));
    assert_true(sl__stream(1, 0, 0) != sl__stream(0, 0, 0));
    assert_true(sl__stream(0, 1, 0) != sl__stream(0, 0, 1));
}

static void test_permutation_hand(void **state)
{
    (void)state;
    int64_t p[3];
    /* n = 3 from state 0: i = 2, j = 0xE220A8397B1DCDAF % 3 = 1 -> [0,2,1];
     * i = 1, j = 0x6E789E6AA1B965F4 % 2 = 0 -> [2,0,1] */
    sl__permutation(p, 3, 0);
    assert_int_equal(p[0], 2);
    assert_int_equal(p[1], 0);
    assert_int_equal(p[2], 1);
    /* n = 2: 0xE220A8397B1DCDAF is odd, j = 1: no swap */
    sl__permutation(p, 2, 0);
    assert_int_equal(p[0], 0);
    assert_int_equal(p[1], 1);
    sl__permutation(p, 1, 123);
    assert_int_equal(p[0], 0);
    sl__permutation(p, 0, 123); /* nothing to do */
}

static void test_permutation_properties(void **state)
{
    (void)state;
    enum { N = 1000 };
    int64_t *p = malloc(N * sizeof *p), *q = malloc(N * sizeof *q);
    unsigned char seen[N];
    sl__permutation(p, N, sl__stream(42, 3, 4));
    memset(seen, 0, sizeof seen);
    int fixed = 0;
    for (int i = 0; i < N; i++) {
        assert_true(p[i] >= 0 && p[i] < N);
        assert_int_equal(seen[p[i]], 0);
        seen[p[i]] = 1;
        fixed += p[i] == i;
    }
    assert_true(fixed < 10); /* a shuffle, not the identity (expected ~1) */
    sl__permutation(q, N, sl__stream(42, 3, 4));
    assert_memory_equal(p, q, N * sizeof *p);
    sl__permutation(q, N, sl__stream(42, 3, 5));
    assert_true(memcmp(p, q, N * sizeof *p) != 0);
    free(p);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splitmix_reference),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_permutation_hand),
        cmocka_unit_test(test_permutation_properties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
