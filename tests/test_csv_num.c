/* Unit tests of the CSV number parser (src/io/csv_num.c): hand-derived
 * bits for edge values (the largest double, the smallest subnormal, the
 * halfway cases between two doubles, -0, 2^53 + 1), the accepted and refused
 * spellings (inf/nan in any case, hex floats refused), and bit equality with
 * glibc's strtod on random doubles printed with 17, 15 and fewer digits, and
 * random digit strings with random exponents over the whole range. */
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
#include "io/csv_num.h"

static uint64_t bits_of(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static void expect_bits(const char *text, uint64_t want)
{
    double d = 0;
    if (!sl__csv_parse_double(text, strlen(text), &d))
        fail_msg("'%s' was refused", text);
    if (bits_of(d) != want)
        fail_msg("'%s': got %016llx (%.17g), expected %016llx", text, (unsigned long long)bits_of(d), d,
                 (unsigned long long)want);
}

static void same_as_strtod(const char *text)
{
    double d = 0, want = strtod(text, NULL);
    if (!sl__csv_parse_double(text, strlen(text), &d))
        fail_msg("'%s' was refused", text);
    if (bits_of(d) != bits_of(want))
        fail_msg("'%s': got %.17g (%016llx), strtod %.17g (%016llx)", text, d, (unsigned long long)bits_of(d), want,
                 (unsigned long long)bits_of(want));
}

static void test_edge_values(void **state)
{
    (void)state;
    expect_bits("0", 0);
    expect_bits("-0", 0x8000000000000000u);
    expect_bits("-0.0e10", 0x8000000000000000u);
    expect_bits("1", 0x3ff0000000000000u);
    expect_bits("0.1", 0x3fb999999999999au);           /* 0.1 rounds up */
    expect_bits("1.7976931348623157e308", 0x7fefffffffffffffu); /* DBL_MAX */
    expect_bits("2.2250738585072014e-308", 0x0010000000000000u); /* DBL_MIN */
    expect_bits("4.9406564584124654e-324", 1);                   /* smallest subnormal */
    expect_bits("5e-324", 1);
    expect_bits("2.4703282292062327e-324", 0); /* just under half the smallest subnormal: 0 */
    expect_bits("2.4703282292062328e-324", 1); /* just over: rounds up */
    expect_bits("9007199254740993", 0x4340000000000000u); /* 2^53 + 1: halfway, to even 2^53 */
    expect_bits("9007199254740995", 0x4340000000000002u); /* 2^53 + 3: halfway, to even 2^53 + 4 */
    expect_bits("1e308", 0x7fe1ccf385ebc8a0u);
    expect_bits("1e309", 0x7ff0000000000000u); /* overflow: inf, as strtod */
    expect_bits("1e-400", 0);
    expect_bits("  -1.5  ", 0xbff8000000000000u);
    expect_bits("+.5", 0x3fe0000000000000u);
    expect_bits("5.", 0x4014000000000000u);
    expect_bits("1E+2", 0x4059000000000000u);
    expect_bits("123456789012345678901234567890", bits_of(123456789012345678901234567890.0));
    expect_bits("inf", 0x7ff0000000000000u);
    expect_bits("-Infinity", 0xfff0000000000000u);
    expect_bits("+INF", 0x7ff0000000000000u);
    double d;
    assert_int_equal(sl__csv_parse_double("NaN", 3, &d), 1);
    assert_true(isnan(d));
    assert_int_equal(sl__csv_parse_double("-nan", 4, &d), 1);
    assert_true(isnan(d) && signbit(d));
}

static void test_refused(void **state)
{
    (void)state;
    const char *bad[] = {"", " ", "0x1p3", "0x10", "1e", "1e+", "--1", "1.2.3", "abc", "1,5", ".", "-", "e5",
                         "1 2", "nan(1)", "infinit", "1d5", "\"1\""};
    double d;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sl__csv_parse_double(bad[i], strlen(bad[i]), &d))
            fail_msg("'%s' was accepted as %.17g", bad[i], d);
}

static void test_not_nul_terminated(void **state)
{
    (void)state;
    const char text[] = "1.25,7";
    double d;
    assert_int_equal(sl__csv_parse_double(text, 4, &d), 1);
    assert_true(d == 1.25);
    /* the slow path copies: a long number in a longer buffer */
    const char longer[] = "1.00000000000000000000000000000000001e0,9";
    assert_int_equal(sl__csv_parse_double(longer, strlen(longer) - 2, &d), 1);
    assert_true(d == 1.0);
}

/* The digits are read eight bytes at a time (a mask of the bytes that are
 * no digit): every byte value after every digit count, in a buffer that
 * goes on past the number and in one that ends with it, must stop the
 * number exactly there, as strtod does. */
static void test_digits_then_any_byte(void **state)
{
    (void)state;
    const char *digits = "31415926535897932384";
    for (int intd = 1; intd <= 12; intd++)
        for (int fracd = 0; fracd <= 12; fracd++)
            for (int c = 0; c < 256; c++) {
                if (c >= '0' && c <= '9')
                    continue;
                char buf[64];
                int n = snprintf(buf, sizeof buf, "%.*s", intd, digits);
                if (fracd)
                    n += snprintf(buf + n, sizeof buf - (size_t)n, ".%.*s", fracd, digits + intd);
                int len = n;
                buf[n++] = (char)c;
                memcpy(buf + n, "9999999999", 11); /* digits after the stop must not count */
                double want = strtod(buf, NULL), got = 0;
                const char *end = sl__csv_parse_double_prefix(buf, buf + n + 10, &got);
                if (c == '.' || c == 'e' || c == 'E') {
                    /* they continue the number: compare with strtod on it whole */
                    char *e2;
                    want = strtod(buf, &e2);
                    assert_ptr_equal(end, e2);
                } else {
                    assert_ptr_equal(end, buf + len);
                }
                assert_int_equal(bits_of(got), bits_of(want));
                /* the buffer ends with the number: no read past it (ASan) */
                char *tight = malloc((size_t)len);
                memcpy(tight, buf, (size_t)len);
                assert_int_equal(sl__csv_parse_double(tight, (size_t)len, &got), 1);
                buf[len] = '\0';
                assert_int_equal(bits_of(got), bits_of(strtod(buf, NULL)));
                free(tight);
            }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_random_doubles_round_trip(void **state)
{
    (void)state;
    char buf[64];
    for (int i = 0; i < 400000; i++) {
        uint64_t b = next();
        double x;
        memcpy(&x, &b, sizeof x);
        if (!isfinite(x))
            continue;
        static const char *const fmts[] = {"%.17g", "%.16g", "%.15g", "%.9g", "%.3g", "%.17e", "%.20e"};
        snprintf(buf, sizeof buf, fmts[i % 7], x);
        same_as_strtod(buf);
        float f = (float)(x * 1e-300); /* float32 values seen as doubles, as the reference data */
        snprintf(buf, sizeof buf, "%.17g", (double)f);
        same_as_strtod(buf);
        snprintf(buf, sizeof buf, "%.17g", (double)(next() % 100000) / 1000.0 - 50.0);
        same_as_strtod(buf);
    }
}

static void test_random_digit_strings(void **state)
{
    (void)state;
    char buf[96];
    for (int i = 0; i < 400000; i++) {
        int nd = 1 + (int)(next() % 25), e = (int)(next() % 700) - 350;
        int k = 0;
        if (next() & 1)
            buf[k++] = '-';
        for (int j = 0; j < nd; j++) {
            buf[k++] = (char)('0' + next() % 10);
            if (j == 0 && (next() & 1))
                buf[k++] = '.';
        }
        snprintf(buf + k, sizeof buf - (size_t)k, "e%d", e);
        same_as_strtod(buf);
    }
    /* halfway and near-halfway: 17-19 digit decimal expansions of doubles and midpoints */
    for (int i = 0; i < 100000; i++) {
        double x = (double)(next() >> 11) * 0x1p-53 * pow(10.0, (double)((int)(next() % 40) - 20));
        double y = nextafter(x, INFINITY);
        snprintf(buf, sizeof buf, "%.19g", x / 2 + y / 2);
        same_as_strtod(buf);
        snprintf(buf, sizeof buf, "%.25g", x);
        same_as_strtod(buf);
    }
}

static void test_int64(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(sl__csv_parse_int64("42", 2, &v), 1);
    assert_true(v == 42);
    assert_int_equal(sl__csv_parse_int64(" -17 ", 5, &v), 1);
    assert_true(v == -17);
    assert_int_equal(sl__csv_parse_int64("9223372036854775807", 19, &v), 1);
    assert_true(v == INT64_MAX);
    assert_int_equal(sl__csv_parse_int64("-9223372036854775808", 20, &v), 1);
    assert_true(v == INT64_MIN);
    assert_int_equal(sl__csv_parse_int64("9223372036854775808", 19, &v), -1);
    assert_int_equal(sl__csv_parse_int64("1.0", 3, &v), 0);
    assert_int_equal(sl__csv_parse_int64("", 0, &v), 0);
    assert_int_equal(sl__csv_parse_int64("-", 1, &v), 0);
    assert_int_equal(sl__csv_parse_int64("1e3", 3, &v), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_values),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_digits_then_any_byte),
        cmocka_unit_test(test_random_doubles_round_trip),
        cmocka_unit_test(test_random_digit_strings),
        cmocka_unit_test(test_int64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
