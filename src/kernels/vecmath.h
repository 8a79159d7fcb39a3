/* Private: exp and log1p for the loops of the logistic kernels, written so
 * that a loop calling them vectorizes (no calls, no branches, no integer
 * conversions AVX2 lacks) and gives the same bits in every clone (SL_HOT):
 * plain additions and multiplications in a fixed order, and with
 * contraction into FMA off (meson.build) none is fused.
 *
 * glibc's exp and log1p are scalar calls of 40-60 cycles each here; the
 * binary Newton pass called one of each a row and spent half its CPU time
 * in them. These cover only the ranges the kernels need, to about 1 ulp
 * (tests/test_vecmath.c measures them against glibc over those ranges). */
#ifndef SL_VECMATH_H
#define SL_VECMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "kernels/simd.h"

static inline double sl__vm_from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static inline uint64_t sl__vm_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

/* e^x for x <= -0 (a sign bit set: -fabs(z) is). Below -708, where e^x would be
 * subnormal, it gives 0: every caller adds it to 1 or multiplies it into a
 * value it then adds to an O(1) one.
 *
 * x = k ln 2 + r with k = round(x / ln 2) and |r| <= ln 2 / 2, ln 2 split in
 * two parts so that k ln2_hi is exact (Cody and Waite); e^r by its Taylor
 * series to r^13 (the remainder is below 2^-60 of e^r); 2^k built in the
 * exponent bits. k is rounded by adding and subtracting 1.5·2^52, whose
 * low bits then hold k as an integer. The clamp is a select on the bits:
 * for x <= -0 a larger magnitude has larger bits, and a comparison of
 * doubles would leave a branch in the loop (simd.h). */
static inline double sl__exp_nonpos(double x)
{
    const double log2e = 1.4426950408889634074, ln2_hi = 6.93147180369123816490e-01,
                 ln2_lo = 1.90821492927058770002e-10, shift = 6755399441055744.0; /* 1.5 * 2^52 */
    const uint64_t floor_bits = 0xc086200000000000u; /* -708.0 */
    uint64_t below = -((floor_bits - sl__vm_bits(x)) >> 63); /* all ones when x < -708 */
    double lo_clamp = sl_sel_f64(below, -708.0, x);
    double t = lo_clamp * log2e + shift;
    double k = t - shift;
    double r = (lo_clamp - k * ln2_hi) - k * ln2_lo;
    double p = 1.0 / 6227020800.0;   /* 1/13! */
    p = p * r + 1.0 / 479001600.0;   /* 1/12! */
    p = p * r + 1.0 / 39916800.0;    /* 1/11! */
    p = p * r + 1.0 / 3628800.0;     /* 1/10! */
    p = p * r + 1.0 / 362880.0;      /* 1/9! */
    p = p * r + 1.0 / 40320.0;       /* 1/8! */
    p = p * r + 1.0 / 5040.0;        /* 1/7! */
    p = p * r + 1.0 / 720.0;         /* 1/6! */
    p = p * r + 1.0 / 120.0;         /* 1/5! */
    p = p * r + 1.0 / 24.0;          /* 1/4! */
    p = p * r + 1.0 / 6.0;           /* 1/3! */
    p = p * r + 0.5;                 /* 1/2! */
    p = p * r;                       /* e^r - 1 - r, over r */
    double er = 1.0 + (r + r * p);   /* e^r: its small part first, then 1 */
    /* k (-1022 <= k <= 0) sits in t's low bits as a two's complement */
    uint64_t scale = (sl__vm_bits(t) + 1023u) << 52;
    return sl_sel_f64(below, 0.0, er * sl__vm_from_bits(scale));
}

/* log(1 + e) for 0 <= e <= 1: with s = e / (2 + e) (0 <= s <= 1/3),
 * log(1 + e) = 2 atanh(s) = 2s (1 + s²/3 + s⁴/5 + ...), every term
 * positive: no cancellation. Sixteen terms leave a remainder below 2^-55 of
 * the sum at s = 1/3. */
static inline double sl__log1p_unit(double e)
{
    double s = e / (2.0 + e), q = s * s;
    double p = 1.0 / 31.0;
    p = p * q + 1.0 / 29.0;
    p = p * q + 1.0 / 27.0;
    p = p * q + 1.0 / 25.0;
    p = p * q + 1.0 / 23.0;
    p = p * q + 1.0 / 21.0;
    p = p * q + 1.0 / 19.0;
    p = p * q + 1.0 / 17.0;
    p = p * q + 1.0 / 15.0;
    p = p * q + 1.0 / 13.0;
    p = p * q + 1.0 / 11.0;
    p = p * q + 1.0 / 9.0;
    p = p * q + 1.0 / 7.0;
    p = p * q + 1.0 / 5.0;
    p = p * q + 1.0 / 3.0;
    p = p * q; /* the series less its first term, over 1 */
    return 2.0 * s + 2.0 * s * p;
}

/* σ(z) from e = e^-|z| and iu = 1/(1 + e): iu for z >= 0, else e·iu, so
 * that neither overflows. */
static inline double sl__sigmoid_of(double z, double e, double iu)
{
    uint64_t neg = -(sl__vm_bits(z) >> 63); /* all ones when z < 0 */
    return sl_sel_f64(neg, e * iu, iu);
}

/* σ(z) = 1 / (1 + e^-z); NaN stays NaN. */
static inline double sl__sigmoid(double z)
{
    double e = sl__exp_nonpos(-fabs(z)), iu = 1.0 / (1.0 + e);
    return sl_sel_f64(sl_nan_mask64(z), z, sl__sigmoid_of(z, e, iu));
}

#endif
