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

/* Branch-free selects, for the kernels' loops: a where the mask m is all
 * ones, b where it is zero, bit for bit. Written as c ? a : b on floating
 * point values, a select that feeds an addition (sum += skip ? -0.0 : v)
 * or keeps a minimum ends up a branch: GCC, honouring floating-point traps
 * (-ftrapping-math, the default), moves the operation into the branches
 * and then cannot if-convert the loop, which stays scalar. On the bits it
 * is a blend, and the loop vectorizes. */
/* All ones where v is NaN (resp. +-Inf), from the bits: tested as 64-bit
 * integers, a mask stays as wide as the doubles it selects, where v != v on
 * a widened float would be narrowed to a float compare, and its mask
 * shuffled back to 64-bit lanes. */
static inline uint64_t sl_nan_mask64(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return -(uint64_t)((int64_t)(b & INT64_MAX) > (int64_t)0x7ff0000000000000);
}

static inline uint64_t sl_inf_mask64(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return -(uint64_t)((b & INT64_MAX) == 0x7ff0000000000000);
}

static inline uint64_t sl_mask64(int cond)
{
    return -(uint64_t)(cond != 0);
}

static inline uint32_t sl_mask32(int cond)
{
    return -(uint32_t)(cond != 0);
}

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
