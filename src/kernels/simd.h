/* Private: SL_HOT marks a streaming kernel (a loop over every value of a
 * chunk) to be compiled twice, for baseline x86-64 and for x86-64-v3 (AVX2,
 * 4 doubles per instruction); the dynamic loader picks the clone the CPU
 * runs. The clones give the same bits: no kernel relies on reassociated
 * sums, and contraction into FMA is off (meson.build). Put it on static
 * functions only: clang 14 names the dispatcher of a cloned function
 * otherwise than the function (f.ifunc), so a call from another file would
 * not link. */
#ifndef SL_SIMD_H
#define SL_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(SL_TARGET_CLONES) && defined(__x86_64__)
#define SL_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SL_HOT
#endif

/* Branch-free masks and selects, for the kernels' loops. Written as c ? a :
 * b on floating point values, a select that feeds an addition (sum += skip ?
 * -0.0 : v) ends up a branch: GCC, honouring floating-point traps
 * (-ftrapping-math, the default), moves the addition into the branches and
 * then cannot if-convert the loop, which stays scalar. On the bits it is a
 * blend, and the loop vectorizes.
 *
 * The masks (all ones or zero) come from the bits too, with nothing but
 * 64-bit (32-bit) subtractions, ands and shifts, which SSE2 has for vectors:
 * it has no 64-bit integer compares (SSE4.1/4.2), nor can it turn a double
 * compare into an integer, so masks made by comparisons would leave the
 * baseline clone scalar, and slower than branches. Tested as integers, a
 * widened float's mask also stays as wide as the double (v != v would be
 * narrowed to a float compare, its mask shuffled back to 64-bit lanes). */

/* NaN: |v|'s bits exceed those of Inf, so subtracting them from Inf's
 * borrows into the top bit. Inf: |v|'s bits xor Inf's are 0, and only 0
 * minus 1 sets the top bit (|v| < 2^63). */
static inline uint64_t sl_nan_mask64(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return -((UINT64_C(0x7ff0000000000000) - (b & INT64_MAX)) >> 63);
}

static inline uint64_t sl_inf_mask64(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return -((((b & INT64_MAX) ^ UINT64_C(0x7ff0000000000000)) - 1) >> 63);
}

static inline uint32_t sl_nan_mask32(float v)
{
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return -((UINT32_C(0x7f800000) - (b & INT32_MAX)) >> 31);
}

static inline uint32_t sl_inf_mask32(float v)
{
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return -((((b & INT32_MAX) ^ UINT32_C(0x7f800000)) - 1) >> 31);
}

/* A float32 that is NaN, or with inf = 1 NaN or ±Inf, as a mask: its
 * magnitude's bits exceed Inf's, or reach them. One 32-bit compare, which
 * SSE2 has (unlike the 64-bit ones above): a fifth of the operations of
 * sl_nan_mask32 | sl_inf_mask32. */
static inline uint32_t sl_missing_mask32(float v, uint32_t inf)
{
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return -(uint32_t)((int32_t)(b & INT32_MAX) > (int32_t)(UINT32_C(0x7f800000) - inf));
}

/* Four doubles (four 64-bit masks) as one value, for kernels written with
 * GCC's vector extensions: one AVX2 register in the x86-64-v3 clone, two
 * SSE2 halves in the other, with the same operations in the same order.
 * The helpers that take or return them are inlined, so no call passes one
 * whatever the clone's ISA: the compilers' note on that ABI does not
 * apply. */
typedef double sl_v4d __attribute__((vector_size(32)));
typedef int64_t sl_v4i __attribute__((vector_size(32)));
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

static inline __attribute__((always_inline)) sl_v4d sl_load4(const double *p)
{
    sl_v4d v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* a where m is all ones, b where it is zero, bit for bit */
static inline double sl_sel_f64(uint64_t m, double a, double b)
{
    uint64_t x, y;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    x = (x & m) | (y & ~m);
    memcpy(&a, &x, sizeof a);
    return a;
}

static inline float sl_sel_f32(uint32_t m, float a, float b)
{
    uint32_t x, y;
    memcpy(&x, &a, sizeof x);
    memcpy(&y, &b, sizeof y);
    x = (x & m) | (y & ~m);
    memcpy(&a, &x, sizeof a);
    return a;
}

#endif
