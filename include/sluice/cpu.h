/* sluice: BLIS kernels for this CPU.
 *
 * BLIS picks its kernels from the CPU model, once, at its first call. The BLIS
 * of Debian 12 (0.9) predates AMD's Zen 4 and Zen 5 and runs its portable
 * "generic" kernels there, which are 4 to 5 times slower for the Gram products
 * of least squares. */
#ifndef SLUICE_CPU_H
#define SLUICE_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

/* The library calls this itself when it is loaded (a constructor), before
 * anything can call BLIS through it; calling it again is harmless and gives
 * the same answer. When BLIS_ARCH_TYPE is not set and this CPU is newer
 * than what BLIS recognises but runs one of its optimised kernel sets (AVX2
 * and FMA: the "zen3" set), it sets BLIS_ARCH_TYPE for this process and
 * returns the set's name. Otherwise it changes nothing and returns NULL:
 * BLIS decides, and a user's BLIS_ARCH_TYPE always wins. A program that
 * called BLIS itself before libsluice was loaded (dlopen) keeps the kernels
 * BLIS chose then. */
const char *sl_blis_select_kernels(void);

/* The kernel set BLIS is using (initialises BLIS). */
const char *sl_blis_kernels(void);

#ifdef __cplusplus
}
#endif
#endif
