/* Unit tests of the cast kernel (src/kernels/cast.c): every float -> integer
 * target at and around its limits (truncation toward zero, as NumPy's astype),
 * NaN and infinities, integer -> integer range checks in both signednesses,
 * integer -> float, float64 <-> float32 rounding, same-type copies, the
 * counting of values that do not fit, and widening float32 in place. Expected values are written out by hand
 * or computed independently here (C's own conversions of in-range values). */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "kernels/cast.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* 2^k as a double, exactly. */
static double p2(int k)
{
    return ldexp(1.0, k);
}

/* ---- float64 -> every integer target --------------------------------------- */

/* One case: a source value, whether it fits, and the integer it becomes. */
typedef struct fcase {
    double v;
    int ok;
    long long s;          /* signed targets */
    unsigned long long u; /* unsigned targets */
} fcase;

/* Runs the cases one by one (so first_bad is 0 for a bad one) and then all
 * together (counting the bad ones, first_bad at the first of them). */
static void check_f64_to(sl_dtype t, const fcase *cs, size_t n)
{
    double src[64];
    unsigned char dst[64 * 8];
    assert_true(n <= 64);
    size_t want_bad = 0, want_first = 0;
    for (size_t k = 0; k < n; k++) {
        src[k] = cs[k].v;
        if (!cs[k].ok && want_bad++ == 0)
            want_first = k;
    }
    for (int pass = 0; pass < 2; pass++) {
        memset(dst, 0x5a, sizeof dst);
        size_t count = pass == 0 ? 1 : n;
        for (size_t k0 = 0; k0 < (pass == 0 ? n : 1); k0++) {
            const double *from = pass == 0 ? &src[k0] : src;
            sl__cast_result r = sl__cast(dst, t, from, SL_FLOAT64, count);
            if (pass == 0) {
                if (r.bad != (cs[k0].ok ? 0u : 1u))
                    fail_msg("%s <- %.17g: bad = %zu, expected %d", sl_dtype_name(t), cs[k0].v, r.bad,
                             cs[k0].ok ? 0 : 1);
                if (r.bad)
                    assert_int_equal(r.first_bad, 0);
            } else {
                assert_int_equal(r.bad, want_bad);
                if (want_bad)
                    assert_int_equal(r.first_bad, want_first);
            }
            for (size_t j = 0; j < count; j++) {
                const fcase *c = pass == 0 ? &cs[k0] : &cs[j];
                long long es = c->ok ? c->s : 0;
                unsigned long long eu = c->ok ? c->u : 0;
                long long gs = 0;
                unsigned long long gu = 0;
                switch (t) {
                case SL_INT8: gs = ((int8_t *)dst)[j]; break;
                case SL_INT16: gs = ((int16_t *)dst)[j]; break;
                case SL_INT32: gs = ((int32_t *)dst)[j]; break;
                case SL_INT64: gs = ((int64_t *)dst)[j]; break;
                case SL_UINT8: gu = ((uint8_t *)dst)[j]; break;
                case SL_UINT16: gu = ((uint16_t *)dst)[j]; break;
                case SL_UINT32: gu = ((uint32_t *)dst)[j]; break;
                case SL_UINT64: gu = ((uint64_t *)dst)[j]; break;
                default: fail();
                }
                int is_unsigned = t >= SL_UINT8;
                if (is_unsigned ? gu != eu : gs != es)
                    fail_msg("%s <- %.17g: got %lld/%llu, expected %lld/%llu", sl_dtype_name(t), c->v, gs, gu, es,
                             eu);
            }
        }
    }
}

static void test_f64_to_int8(void **state)
{
    (void)state;
    const fcase cs[] = {
        {0.0, 1, 0, 0},         {1.0, 1, 1, 0},           {-1.0, 1, -1, 0},      {2.5, 1, 2, 0},
        {-2.5, 1, -2, 0},       {0.999, 1, 0, 0},         {-0.999, 1, 0, 0},     {-0.0, 1, 0, 0},
        {127.0, 1, 127, 0},     {127.9, 1, 127, 0},       {127.99999999, 1, 127, 0},
        {128.0, 0, 0, 0},       {128.5, 0, 0, 0},         {-128.0, 1, -128, 0},  {-128.5, 1, -128, 0},
        {-128.9999, 1, -128, 0}, {-129.0, 0, 0, 0},       {1e10, 0, 0, 0},       {-1e300, 0, 0, 0},
        {NAN, 0, 0, 0},         {INFINITY, 0, 0, 0},      {-INFINITY, 0, 0, 0},  {DBL_MIN, 1, 0, 0},
        {-DBL_TRUE_MIN, 1, 0, 0},
    };
    check_f64_to(SL_INT8, cs, N_OF(cs));
}

static void test_f64_to_uint8(void **state)
{
    (void)state;
    const fcase cs[] = {
        {0.0, 1, 0, 0},      {-0.0, 1, 0, 0},     {-0.5, 1, 0, 0},   {-0.999999, 1, 0, 0},
        {-1.0, 0, 0, 0},     {-1.5, 0, 0, 0},     {1.0, 1, 0, 1},    {254.5, 1, 0, 254},
        {255.0, 1, 0, 255},  {255.9, 1, 0, 255},  {256.0, 0, 0, 0},  {1000.0, 0, 0, 0},
        {NAN, 0, 0, 0},      {INFINITY, 0, 0, 0}, {-INFINITY, 0, 0, 0},
    };
    check_f64_to(SL_UINT8, cs, N_OF(cs));
}

static void test_f64_to_int16(void **state)
{
    (void)state;
    const fcase cs[] = {
        {32767.0, 1, 32767, 0},   {32767.99, 1, 32767, 0},   {32768.0, 0, 0, 0},
        {-32768.0, 1, -32768, 0}, {-32768.75, 1, -32768, 0}, {-32769.0, 0, 0, 0},
        {-12.7, 1, -12, 0},       {NAN, 0, 0, 0},            {-INFINITY, 0, 0, 0},
    };
    check_f64_to(SL_INT16, cs, N_OF(cs));
}

static void test_f64_to_uint16(void **state)
{
    (void)state;
    const fcase cs[] = {
        {65535.0, 1, 0, 65535}, {65535.5, 1, 0, 65535}, {65536.0, 0, 0, 0}, {-0.25, 1, 0, 0},
        {-1.0, 0, 0, 0},        {3.999, 1, 0, 3},        {NAN, 0, 0, 0},     {INFINITY, 0, 0, 0},
    };
    check_f64_to(SL_UINT16, cs, N_OF(cs));
}

static void test_f64_to_int32(void **state)
{
    (void)state;
    const fcase cs[] = {
        {2147483647.0, 1, 2147483647LL, 0},
        {2147483647.9, 1, 2147483647LL, 0},
        {2147483648.0, 0, 0, 0},
        {-2147483648.0, 1, -2147483648LL, 0},
        {-2147483648.9, 1, -2147483648LL, 0},
        {-2147483649.0, 0, 0, 0},
        {123456789.5, 1, 123456789, 0},
        {NAN, 0, 0, 0},
        {INFINITY, 0, 0, 0},
    };
    check_f64_to(SL_INT32, cs, N_OF(cs));
}

static void test_f64_to_uint32(void **state)
{
    (void)state;
    const fcase cs[] = {
        {4294967295.0, 1, 0, 4294967295ULL},
        {4294967295.5, 1, 0, 4294967295ULL},
        {4294967296.0, 0, 0, 0},
        {-0.75, 1, 0, 0},
        {-1.0, 0, 0, 0},
        {2147483648.0, 1, 0, 2147483648ULL},
        {NAN, 0, 0, 0},
        {-INFINITY, 0, 0, 0},
    };
    check_f64_to(SL_UINT32, cs, N_OF(cs));
}

static void test_f64_to_int64(void **state)
{
    (void)state;
    /* the largest double below 2^63 is 2^63 - 2^10; below -2^63 comes -2^63 - 2^11 */
    const fcase cs[] = {
        {p2(63) - p2(10), 1, 9223372036854774784LL, 0},
        {p2(63), 0, 0, 0},
        {-p2(63), 1, INT64_MIN, 0},
        {-p2(63) - p2(11), 0, 0, 0},
        {p2(53) + 2.0, 1, 9007199254740994LL, 0},
        {-1234567.875, 1, -1234567, 0},
        {1e19, 0, 0, 0},
        {NAN, 0, 0, 0},
        {INFINITY, 0, 0, 0},
        {-INFINITY, 0, 0, 0},
    };
    check_f64_to(SL_INT64, cs, N_OF(cs));
}

static void test_f64_to_uint64(void **state)
{
    (void)state;
    /* the largest double below 2^64 is 2^64 - 2^11 */
    const fcase cs[] = {
        {p2(64) - p2(11), 1, 0, 18446744073709549568ULL},
        {p2(64), 0, 0, 0},
        {p2(63), 1, 0, 9223372036854775808ULL},
        {-0.9, 1, 0, 0},
        {-1.0, 0, 0, 0},
        {-p2(63), 0, 0, 0},
        {42.42, 1, 0, 42},
        {NAN, 0, 0, 0},
        {INFINITY, 0, 0, 0},
    };
    check_f64_to(SL_UINT64, cs, N_OF(cs));
}

/* float32 sources take the same path through a widening to double. */
static void test_f32_to_int(void **state)
{
    (void)state;
    const float src[] = {127.9f, -128.5f, 128.0f, NAN, 2147483520.0f /* largest float < 2^31 */, 2147483648.0f,
                         -0.5f, 255.75f, -INFINITY};
    int8_t i8[N_OF(src)];
    sl__cast_result r = sl__cast(i8, SL_INT8, src, SL_FLOAT32, 4);
    assert_int_equal(r.bad, 2);
    assert_int_equal(r.first_bad, 2);
    assert_int_equal(i8[0], 127);
    assert_int_equal(i8[1], -128);
    assert_int_equal(i8[2], 0);
    assert_int_equal(i8[3], 0);

    int32_t i32[2];
    r = sl__cast(i32, SL_INT32, src + 4, SL_FLOAT32, 2);
    assert_int_equal(r.bad, 1);
    assert_int_equal(r.first_bad, 1);
    assert_int_equal(i32[0], 2147483520);
    assert_int_equal(i32[1], 0);

    uint8_t u8[3];
    r = sl__cast(u8, SL_UINT8, src + 6, SL_FLOAT32, 3);
    assert_int_equal(r.bad, 1);
    assert_int_equal(r.first_bad, 2);
    assert_int_equal(u8[0], 0);
    assert_int_equal(u8[1], 255);
    assert_int_equal(u8[2], 0);
}

/* ---- integer -> integer ---------------------------------------------------- */

static void test_int64_to_uint64(void **state)
{
    (void)state;
    const int64_t src[] = {0, 1, INT64_MAX, -1, INT64_MIN, 5, -7};
    uint64_t dst[N_OF(src)];
    memset(dst, 0xff, sizeof dst);
    sl__cast_result r = sl__cast(dst, SL_UINT64, src, SL_INT64, N_OF(src));
    assert_int_equal(r.bad, 3);
    assert_int_equal(r.first_bad, 3);
    const uint64_t want[] = {0, 1, 9223372036854775807ULL, 0, 0, 5, 0};
    for (size_t k = 0; k < N_OF(src); k++)
        assert_true(dst[k] == want[k]);
}

static void test_uint64_to_int64(void **state)
{
    (void)state;
    const uint64_t src[] = {0, 9223372036854775807ULL, 9223372036854775808ULL, UINT64_MAX, 77};
    int64_t dst[N_OF(src)];
    sl__cast_result r = sl__cast(dst, SL_INT64, src, SL_UINT64, N_OF(src));
    assert_int_equal(r.bad, 2);
    assert_int_equal(r.first_bad, 2);
    assert_true(dst[0] == 0);
    assert_true(dst[1] == INT64_MAX);
    assert_true(dst[2] == 0);
    assert_true(dst[3] == 0);
    assert_true(dst[4] == 77);
}

static void test_int_narrowing(void **state)
{
    (void)state;
    /* int32 -> int8 */
    const int32_t a[] = {-128, 127, 128, -129, 0, 300, -1};
    int8_t a8[N_OF(a)];
    sl__cast_result r = sl__cast(a8, SL_INT8, a, SL_INT32, N_OF(a));
    assert_int_equal(r.bad, 3);
    assert_int_equal(r.first_bad, 2);
    const int8_t a8_want[] = {-128, 127, 0, 0, 0, 0, -1};
    assert_memory_equal(a8, a8_want, sizeof a8_want);

    /* uint8 -> int8: 128..255 do not fit */
    const uint8_t b[] = {0, 127, 128, 255};
    int8_t b8[4];
    r = sl__cast(b8, SL_INT8, b, SL_UINT8, 4);
    assert_int_equal(r.bad, 2);
    assert_int_equal(r.first_bad, 2);
    assert_int_equal(b8[0], 0);
    assert_int_equal(b8[1], 127);

    /* int8 -> uint8: negatives do not fit */
    const int8_t c[] = {5, -1, -128, 127};
    uint8_t cu[4];
    r = sl__cast(cu, SL_UINT8, c, SL_INT8, 4);
    assert_int_equal(r.bad, 2);
    assert_int_equal(r.first_bad, 1);
    assert_int_equal(cu[0], 5);
    assert_int_equal(cu[1], 0);
    assert_int_equal(cu[2], 0);
    assert_int_equal(cu[3], 127);

    /* int64 -> int16 / uint16 / uint32 */
    const int64_t d[] = {32767, 32768, -32768, -32769, 65535, 65536, 4294967295LL, 4294967296LL};
    int16_t d16[N_OF(d)];
    r = sl__cast(d16, SL_INT16, d, SL_INT64, N_OF(d));
    assert_int_equal(r.bad, 6);
    assert_int_equal(r.first_bad, 1);
    assert_int_equal(d16[0], 32767);
    assert_int_equal(d16[2], -32768);
    uint16_t du16[N_OF(d)];
    r = sl__cast(du16, SL_UINT16, d, SL_INT64, N_OF(d));
    assert_int_equal(r.bad, 5); /* 32767, 32768, 65535 fit */
    assert_int_equal(r.first_bad, 2);
    assert_int_equal(du16[0], 32767);
    assert_int_equal(du16[1], 32768);
    assert_int_equal(du16[4], 65535);
    uint32_t du32[N_OF(d)];
    r = sl__cast(du32, SL_UINT32, d, SL_INT64, N_OF(d));
    assert_int_equal(r.bad, 3); /* the two negatives and 2^32 */
    assert_int_equal(r.first_bad, 2);
    assert_true(du32[6] == 4294967295u);
    assert_true(du32[7] == 0);

    /* uint32 -> int32 */
    const uint32_t e[] = {2147483647u, 2147483648u, 4294967295u};
    int32_t e32[3];
    r = sl__cast(e32, SL_INT32, e, SL_UINT32, 3);
    assert_int_equal(r.bad, 2);
    assert_int_equal(r.first_bad, 1);
    assert_int_equal(e32[0], 2147483647);

    /* widening never fails */
    const int8_t f[] = {-128, 127, -1};
    int64_t f64[3];
    r = sl__cast(f64, SL_INT64, f, SL_INT8, 3);
    assert_int_equal(r.bad, 0);
    assert_true(f64[0] == -128 && f64[1] == 127 && f64[2] == -1);
    const uint16_t g[] = {65535, 0};
    int32_t g32[2];
    r = sl__cast(g32, SL_INT32, g, SL_UINT16, 2);
    assert_int_equal(r.bad, 0);
    assert_int_equal(g32[0], 65535);
    uint64_t g64[2];
    r = sl__cast(g64, SL_UINT64, g, SL_UINT16, 2);
    assert_int_equal(r.bad, 0);
    assert_true(g64[0] == 65535);
}

/* ---- integer -> float ------------------------------------------------------ */

static void test_int_to_float_exact(void **state)
{
    (void)state;
    const int8_t a[] = {-128, 127, 0, -1};
    double ad[4];
    float af[4];
    assert_int_equal(sl__cast(ad, SL_FLOAT64, a, SL_INT8, 4).bad, 0);
    assert_int_equal(sl__cast(af, SL_FLOAT32, a, SL_INT8, 4).bad, 0);
    const double a_want[] = {-128.0, 127.0, 0.0, -1.0};
    for (int k = 0; k < 4; k++) {
        assert_true(ad[k] == a_want[k]);
        assert_true(af[k] == (float)a_want[k]);
    }

    const uint32_t b[] = {4294967295u, 16777216u, 16777217u};
    double bd[3];
    float bf[3];
    assert_int_equal(sl__cast(bd, SL_FLOAT64, b, SL_UINT32, 3).bad, 0);
    assert_int_equal(sl__cast(bf, SL_FLOAT32, b, SL_UINT32, 3).bad, 0);
    assert_true(bd[0] == 4294967295.0);
    assert_true(bd[2] == 16777217.0);
    assert_true(bf[0] == 4294967296.0f); /* nearest float to 2^32 - 1 */
    assert_true(bf[1] == 16777216.0f);
    assert_true(bf[2] == 16777216.0f); /* 2^24 + 1 ties to even */

    /* 64-bit integers: exact up to 2^53, then rounded to nearest, ties to even */
    const int64_t c[] = {INT64_MIN, 9007199254740992LL, -9007199254740992LL, 9007199254740993LL, INT64_MAX};
    double cd[5];
    assert_int_equal(sl__cast(cd, SL_FLOAT64, c, SL_INT64, 5).bad, 0);
    assert_true(cd[0] == -p2(63));
    assert_true(cd[1] == p2(53));
    assert_true(cd[2] == -p2(53));
    assert_true(cd[3] == p2(53)); /* 2^53 + 1 ties to even */
    assert_true(cd[4] == p2(63));

    const uint64_t d[] = {UINT64_MAX, 0, 1ULL << 63};
    double dd[3];
    assert_int_equal(sl__cast(dd, SL_FLOAT64, d, SL_UINT64, 3).bad, 0);
    assert_true(dd[0] == p2(64));
    assert_true(dd[1] == 0.0);
    assert_true(dd[2] == p2(63));
}

/* A 64-bit integer goes to float32 in one correct rounding, as C's (float)
 * conversion and NumPy's astype do: rounding to double first and then to
 * float can land on the other side of a tie. */
static void test_int64_to_float32_single_rounding(void **state)
{
    (void)state;
    /* 2^60 + 2^36 + 1: float32's ulp at 2^60 is 2^37, so this is just above
     * the halfway point 2^60 + 2^36 and rounds up to 2^60 + 2^37. Through
     * double (ulp 2^8) it first becomes 2^60 + 2^36, an exact tie, which
     * rounds to even: 2^60. */
    const int64_t a[] = {(1LL << 60) + (1LL << 36) + 1, -((1LL << 60) + (1LL << 36) + 1)};
    const uint64_t b[] = {(1ULL << 63) + (1ULL << 39) + 1};
    float af[2], bf[1];
    assert_int_equal(sl__cast(af, SL_FLOAT32, a, SL_INT64, 2).bad, 0);
    assert_int_equal(sl__cast(bf, SL_FLOAT32, b, SL_UINT64, 1).bad, 0);
    const float want_a = (float)(p2(60) + p2(37)), want_b = (float)(p2(63) + p2(40));
    if (af[0] != want_a || af[1] != -want_a || bf[0] != want_b)
        fail_msg("int64 -> float32 rounded twice: got %.9g, %.9g, %.9g; expected %.9g, %.9g, %.9g", (double)af[0],
                 (double)af[1], (double)bf[0], (double)want_a, (double)-want_a, (double)want_b);
}

/* ---- float <-> float ------------------------------------------------------- */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static void test_f64_to_f32_rounding(void **state)
{
    (void)state;
    const double src[] = {
        0.1,                    /* -> 0x3DCCCCCD (13421773 * 2^-27) */
        1.0 + p2(-24),          /* halfway between 1 and 1 + 2^-23: ties to even, 1 */
        1.0 + 3 * p2(-24),      /* halfway between 1 + 2^-23 and 1 + 2^-22: to even, 1 + 2^-22 */
        1.0 + p2(-24) + p2(-40), /* just above halfway: 1 + 2^-23 */
        1e39,                   /* beyond FLT_MAX: +Inf */
        -1e39,                  /* -Inf */
        p2(-150),               /* half the smallest subnormal: ties to even, +0 */
        p2(-149) * 1.5,         /* 1.5 x smallest subnormal: rounds to 2 x */
        -0.0,
        NAN,
        INFINITY,
        (double)FLT_MAX,        /* stays FLT_MAX */
    };
    const uint32_t want[] = {
        0x3DCCCCCDu, 0x3F800000u, 0x3F800002u, 0x3F800001u, 0x7F800000u, 0xFF800000u,
        0x00000000u, 0x00000002u, 0x80000000u, 0,           0x7F800000u, 0x7F7FFFFFu,
    };
    float dst[N_OF(src)];
    sl__cast_result r = sl__cast(dst, SL_FLOAT32, src, SL_FLOAT64, N_OF(src));
    assert_int_equal(r.bad, 0);
    for (size_t k = 0; k < N_OF(src); k++) {
        if (k == 9) {
            assert_true(isnan(dst[k]));
            continue;
        }
        if (f32_bits(dst[k]) != want[k])
            fail_msg("float64 %.17g -> float32 bits %08x, expected %08x", src[k], f32_bits(dst[k]), want[k]);
    }
}

static void test_f32_to_f64_exact(void **state)
{
    (void)state;
    const float src[] = {0.1f, -FLT_MAX, FLT_TRUE_MIN, 16777215.0f, NAN, -INFINITY};
    double dst[N_OF(src)];
    assert_int_equal(sl__cast(dst, SL_FLOAT64, src, SL_FLOAT32, N_OF(src)).bad, 0);
    assert_true(dst[0] == 13421773.0 * p2(-27)); /* 0.1f exactly */
    assert_true(dst[1] == -(p2(128) - p2(104)));
    assert_true(dst[2] == p2(-149));
    assert_true(dst[3] == 16777215.0);
    assert_true(isnan(dst[4]));
    assert_true(isinf(dst[5]) && dst[5] < 0);
}

/* Float -> float never fails, whatever the values. */
/* Widening in place, from the back half of the buffer: every length around
 * the kernel's block of 2048 and the values that could go wrong (NaN,
 * infinities, signed zeros, subnormals, the extremes), against C's own
 * conversion of the same float32 values. */
static void test_widen_f32_in_place(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 2, 3, 2047, 2048, 2049, 4096, 6001};
    const float special[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, FLT_MIN, -FLT_MIN, FLT_TRUE_MIN, FLT_MAX,
                             -FLT_MAX, 1.0f / 3.0f, 16777217.0f};
    static double buf[6001];
    static float want[6001];
    for (size_t li = 0; li < N_OF(lens); li++) {
        size_t n = lens[li];
        uint32_t r = 12345u + (uint32_t)n;
        for (size_t i = 0; i < n; i++) {
            r = r * 1664525u + 1013904223u;
            float v;
            uint32_t bits = r;
            memcpy(&v, &bits, sizeof v); /* any bit pattern */
            want[i] = i % 7 == 0 ? special[(i / 7) % N_OF(special)] : v;
        }
        memcpy((char *)buf + n * sizeof(float), want, n * sizeof(float));
        sl__widen_f32_in_place(buf, n);
        for (size_t i = 0; i < n; i++) {
            double w = (double)want[i];
            if (isnan(w))
                assert_true(isnan(buf[i]));
            else if (memcmp(&buf[i], &w, sizeof w) != 0)
                fail_msg("n %zu, value %zu: %.9g widened to %.17g", n, i, (double)want[i], buf[i]);
        }
    }
}

static void test_float_targets_never_bad(void **state)
{
    (void)state;
    const double src[] = {NAN, INFINITY, -INFINITY, DBL_MAX, -DBL_MAX, DBL_TRUE_MIN};
    float f[N_OF(src)];
    double d[N_OF(src)];
    sl__cast_result r = sl__cast(f, SL_FLOAT32, src, SL_FLOAT64, N_OF(src));
    assert_int_equal(r.bad, 0);
    assert_true(isinf(f[3]) && f[3] > 0);
    assert_true(isinf(f[4]) && f[4] < 0);
    assert_true(f[5] == 0.0f);
    r = sl__cast(d, SL_FLOAT64, f, SL_FLOAT32, N_OF(src));
    assert_int_equal(r.bad, 0);
    assert_true(isnan(d[0]));
}

/* ---- same type, counts, empty ---------------------------------------------- */

static void test_same_type_copy(void **state)
{
    (void)state;
    /* a NaN with a payload and -0.0 keep their exact bits */
    uint64_t bits[] = {0x7FF8000000012345ULL, 0x8000000000000000ULL, 0x3FF0000000000001ULL};
    double src[3], dst[3];
    memcpy(src, bits, sizeof src);
    memset(dst, 0, sizeof dst);
    sl__cast_result r = sl__cast(dst, SL_FLOAT64, src, SL_FLOAT64, 3);
    assert_int_equal(r.bad, 0);
    assert_memory_equal(dst, bits, sizeof bits);

    /* integers are copied, even values other types would reject */
    const int8_t i8[] = {-128, 127, 0, -1, 55};
    int8_t o8[5] = {0};
    assert_int_equal(sl__cast(o8, SL_INT8, i8, SL_INT8, 5).bad, 0);
    assert_memory_equal(o8, i8, sizeof i8);
    const uint64_t u64[] = {UINT64_MAX, 0};
    uint64_t o64[2] = {1, 1};
    assert_int_equal(sl__cast(o64, SL_UINT64, u64, SL_UINT64, 2).bad, 0);
    assert_memory_equal(o64, u64, sizeof u64);

    /* in place is allowed for equal types */
    int32_t inplace[] = {1, -2, 3};
    assert_int_equal(sl__cast(inplace, SL_INT32, inplace, SL_INT32, 3).bad, 0);
    assert_int_equal(inplace[1], -2);
}

static void test_bad_counts(void **state)
{
    (void)state;
    /* 4 bad among 9 (NaN, 1e6, -40000, Inf), the first at index 2; the rest are converted */
    const double src[] = {1.5, -2.5, NAN, 100.0, 1e6, -40000.0, INFINITY, 32767.5, -32768.5};
    int16_t dst[N_OF(src)];
    memset(dst, 0x7f, sizeof dst);
    sl__cast_result r = sl__cast(dst, SL_INT16, src, SL_FLOAT64, N_OF(src));
    assert_int_equal(r.bad, 4);
    assert_int_equal(r.first_bad, 2);
    const int16_t want[] = {1, -2, 0, 100, 0, 0, 0, 32767, -32768};
    assert_memory_equal(dst, want, sizeof want);

    /* all bad */
    const double all[] = {NAN, NAN, NAN};
    uint32_t u[3] = {9, 9, 9};
    r = sl__cast(u, SL_UINT32, all, SL_FLOAT64, 3);
    assert_int_equal(r.bad, 3);
    assert_int_equal(r.first_bad, 0);
    assert_true(u[0] == 0 && u[1] == 0 && u[2] == 0);

    /* the last one bad */
    const float last[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 300};
    uint8_t o[16];
    r = sl__cast(o, SL_UINT8, last, SL_FLOAT32, 16);
    assert_int_equal(r.bad, 1);
    assert_int_equal(r.first_bad, 15);
    assert_int_equal(o[14], 14);
    assert_int_equal(o[15], 0);

    /* nothing to do */
    r = sl__cast(o, SL_UINT8, last, SL_FLOAT32, 0);
    assert_int_equal(r.bad, 0);
    assert_int_equal(r.first_bad, 0);
}

/* A longer run of random in-range values against C's own truncating conversion. */
static void test_random_against_c(void **state)
{
    (void)state;
    enum { N = 4096 };
    static double src[N];
    static int16_t got[N];
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int k = 0; k < N; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        src[k] = ((double)(x >> 11) * p2(-53)) * 65535.0 - 32767.5; /* in (-32768, 32768) */
    }
    sl__cast_result r = sl__cast(got, SL_INT16, src, SL_FLOAT64, N);
    assert_int_equal(r.bad, 0);
    for (int k = 0; k < N; k++)
        if (got[k] != (int16_t)src[k])
            fail_msg("%.17g -> %d, C gives %d", src[k], got[k], (int16_t)src[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f64_to_int8),
        cmocka_unit_test(test_f64_to_uint8),
        cmocka_unit_test(test_f64_to_int16),
        cmocka_unit_test(test_f64_to_uint16),
        cmocka_unit_test(test_f64_to_int32),
        cmocka_unit_test(test_f64_to_uint32),
        cmocka_unit_test(test_f64_to_int64),
        cmocka_unit_test(test_f64_to_uint64),
        cmocka_unit_test(test_f32_to_int),
        cmocka_unit_test(test_int64_to_uint64),
        cmocka_unit_test(test_uint64_to_int64),
        cmocka_unit_test(test_int_narrowing),
        cmocka_unit_test(test_int_to_float_exact),
        cmocka_unit_test(test_int64_to_float32_single_rounding),
        cmocka_unit_test(test_f64_to_f32_rounding),
        cmocka_unit_test(test_f32_to_f64_exact),
        cmocka_unit_test(test_widen_f32_in_place),
        cmocka_unit_test(test_float_targets_never_bad),
        cmocka_unit_test(test_same_type_copy),
        cmocka_unit_test(test_bad_counts),
        cmocka_unit_test(test_random_against_c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
