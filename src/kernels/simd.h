/* Private: SL_HOT marks a streaming kernel (a loop over every value of a
 * chunk) to be compiled twice, for baseline x86-64 and for x86-64-v3 (AVX2,
 * 4 doubles per instruction); the dynamic loader picks the clone the CPU
 * runs. The clones give the same bits: no kernel relies on reassociated
 * sums, and contraction into FMA is off (meson.build). */
#ifndef SL_SIMD_H
#define SL_SIMD_H

#if defined(SL_TARGET_CLONES) && defined(__x86_64__)
#define SL_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SL_HOT
#endif

#endif
