/* Unit tests of the standardization kernel (src/kernels/standardize.c):
 * (x - shift) / scale on small hand-made blocks of every element type into
 * float64 and float32, the division (not a multiplication by 1/scale) that
 * makes results bitwise equal to NumPy's, and the NaN/infinity finder. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "kernels/standardize.h"

static void test_float64_hand(void **state)
{
    (void)state;
    /* 3 x 2; column 0: shift 2 scale 1; column 1: shift 4 scale 2 */
    const double x[] = {1, 2, 3, 6, 2.5, 5};
    const double shift[] = {2, 4}, scale[] = {1, 2};
    const double want[] = {-1, -1, 1, 1, 0.5, 0.5};
    double y[6];
    sl__standardize(y, SL_FLOAT64, x, SL_FLOAT64, 3, 2, shift, scale);
    for (int i = 0; i < 6; i++)
        assert_true(y[i] == want[i]);
}

static void test_in_place(void **state)
{
    (void)state;
    double x[] = {10, 20, 30};
    const double shift[] = {20}, scale[] = {10};
    sl__standardize(x, SL_FLOAT64, x, SL_FLOAT64, 3, 1, shift, scale);
    assert_true(x[0] == -1 && x[1] == 0 && x[2] == 1);
}

static void test_divides(void **state)
{
    (void)state;
    /* 82 / 94 = 0.8723404255319149 but 82 * (1 / 94) = 0.8723404255319148:
     * the kernel must divide, as NumPy's (X - m) / s does */
    const double x[] = {82};
    const double shift[] = {0}, scale[] = {94};
    double y;
    sl__standardize(&y, SL_FLOAT64, x, SL_FLOAT64, 1, 1, shift, scale);
    assert_true(y == 82.0 / 94.0);
    volatile double inv = 1.0 / 94.0;
    assert_true(y != 82.0 * inv);
}

/* Every integer type: 2 x 2 block {0, 10, 20, 30} with shift {10, 20},
 * scale {10, 5}: {-1, -2, 1, 2}. */
#define INT_CASE(T, DT)                                                                                     \
    do {                                                                                                   \
        const T x[] = {0, 10, 20, 30};                                                                     \
        double y[4];                                                                                       \
        sl__standardize(y, SL_FLOAT64, x, DT, 2, 2, shift, scale);                                         \
        for (int i = 0; i < 4; i++)                                                                        \
            assert_true(y[i] == want[i]);                                                                  \
    } while (0)

static void test_integer_inputs(void **state)
{
    (void)state;
    const double shift[] = {10, 20}, scale[] = {10, 5};
    const double want[] = {-1, -2, 1, 2};
    INT_CASE(int8_t, SL_INT8);
    INT_CASE(int16_t, SL_INT16);
    INT_CASE(int32_t, SL_INT32);
    INT_CASE(int64_t, SL_INT64);
    INT_CASE(uint8_t, SL_UINT8);
    INT_CASE(uint16_t, SL_UINT16);
    INT_CASE(uint32_t, SL_UINT32);
    INT_CASE(uint64_t, SL_UINT64);
    /* large unsigned values are converted exactly as doubles */
    const uint64_t big[] = {UINT64_C(1) << 63};
    const double s0[] = {0}, s1[] = {1};
    double y;
    sl__standardize(&y, SL_FLOAT64, big, SL_UINT64, 1, 1, s0, s1);
    assert_true(y == 9223372036854775808.0);
}

static void test_float32(void **state)
{
    (void)state;
    /* float32 in, float32 out: computed in double and rounded once */
    const float x[] = {1.0f, 0.1f};
    const double shift[] = {0.25}, scale[] = {3};
    float y[2];
    sl__standardize(y, SL_FLOAT32, x, SL_FLOAT32, 2, 1, shift, scale);
    assert_true(y[0] == (float)(0.75 / 3.0));
    assert_true(y[1] == (float)(((double)0.1f - 0.25) / 3.0));
    /* float64 in, float32 out */
    const double xd[] = {1.0 / 3.0};
    const double s0[] = {0}, s1[] = {1};
    sl__standardize(y, SL_FLOAT32, xd, SL_FLOAT64, 1, 1, s0, s1);
    assert_true(y[0] == (float)(1.0 / 3.0));
    /* float32 in, float64 out */
    double yd;
    sl__standardize(&yd, SL_FLOAT64, x + 1, SL_FLOAT32, 1, 1, s0, s1);
    assert_true(yd == (double)0.1f);
}

static void test_empty(void **state)
{
    (void)state;
    double y = 42;
    const double x = 1, s0 = 0, s1 = 1;
    sl__standardize(&y, SL_FLOAT64, &x, SL_FLOAT64, 0, 1, &s0, &s1);
    assert_true(y == 42);
}

static void test_nonfinite(void **state)
{
    (void)state;
    size_t first = 99;
    const double clean[] = {1, 2, 3};
    assert_int_equal(sl__count_nonfinite(clean, SL_FLOAT64, 3, &first), 0);
    assert_int_equal(first, 99);
    const double d[] = {1, NAN, 3, INFINITY, -INFINITY, NAN};
    assert_int_equal(sl__count_nonfinite(d, SL_FLOAT64, 6, &first), 4);
    assert_int_equal(first, 1);
    const float f[] = {1, 2, -INFINITY, NAN};
    assert_int_equal(sl__count_nonfinite(f, SL_FLOAT32, 4, &first), 2);
    assert_int_equal(first, 2);
    const int32_t i[] = {1, 2};
    assert_int_equal(sl__count_nonfinite(i, SL_INT32, 2, &first), 0);
    assert_int_equal(sl__count_nonfinite(d, SL_FLOAT64, 0, &first), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_float64_hand), cmocka_unit_test(test_in_place),  cmocka_unit_test(test_divides),
        cmocka_unit_test(test_integer_inputs), cmocka_unit_test(test_float32), cmocka_unit_test(test_empty),
        cmocka_unit_test(test_nonfinite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
