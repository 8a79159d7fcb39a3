#include <blis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "sluice/cpu.h"
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

/* 1 for an AMD CPU of a family BLIS 0.9's cpuid check does not know (it
 * knows up to 0x19, Zen 3) that has AVX2 and FMA, which the zen3 kernels
 * need. Intel CPUs are recognised by their features, not their family, so
 * BLIS handles them itself. */
static int newer_amd_with_avx2(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return 0;
    /* "AuthenticAMD" in ebx, edx, ecx */
    if (b != 0x68747541u || d != 0x69746e65u || c != 0x444d4163u || a < 7)
        return 0;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    unsigned family = (a >> 8) & 0xf;
    if (family == 0xf)
        family += (a >> 20) & 0xff;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (family <= 0x19 || !fma || !osxsave || !avx)
        return 0;
    /* the OS must save the YMM registers */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6) != 6)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 5) & 1; /* AVX2 */
#else
    return 0;
#endif
}

static const char *chosen;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static void choose(void)
{
    if (getenv("BLIS_ARCH_TYPE") || !newer_amd_with_avx2())
        return;
    /* BLIS 0.9 reads BLIS_ARCH_TYPE as the number of an arch_t */
    char id[16];
    snprintf(id, sizeof id, "%d", (int)BLIS_ARCH_ZEN3);
    if (setenv("BLIS_ARCH_TYPE", id, 0) == 0)
        chosen = "zen3";
}

/* When the library is loaded, before the program can call BLIS through it:
 * BLIS reads BLIS_ARCH_TYPE once, at its first call, and a program linked
 * with libsluice should not need to know that (issue 15). */
__attribute__((constructor)) static void choose_at_load(void)
{
    pthread_once(&choose_once, choose);
}

const char *sl_blis_select_kernels(void)
{
    pthread_once(&choose_once, choose);
    return chosen;
}

const char *sl_blis_kernels(void)
{
    bli_init();
    return bli_arch_string(bli_arch_query_id());
}
