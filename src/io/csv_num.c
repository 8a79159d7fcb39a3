/* Decimal text -> double, correctly rounded. Three steps, each exact:
 * Clinger's fast path (mantissa < 2^53 and |exponent| <= 22: one IEEE
 * multiplication or division of two exact values), else the Eisel-Lemire
 * step for mantissas of up to 19 digits (a 128-bit product with a table of
 * powers of five; it gives up on the rare inputs it cannot decide), else
 * strtod_l in the C locale (never the process's locale, which could make ','
 * the decimal point). A CSV file and an HDF5 file of the same doubles
 * written with 17 significant digits therefore give the same bits. */
#define _GNU_SOURCE /* strtod_l, newlocale */
#include "io/csv_num.h"
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "io/csv_pow5.h"

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Drops the spaces and tabs around s[0..n). */
static void trim(const char **s, size_t *n)
{
    while (*n && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_space((*s)[*n - 1]))
        (*n)--;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int lower_eq(const char *s, size_t n, const char *word)
{
    size_t k = strlen(word);
    if (n != k)
        return 0;
    for (size_t i = 0; i < k; i++)
        if ((s[i] | 0x20) != word[i])
            return 0;
    return 1;
}

/* 10^0 .. 10^22 are exact doubles */
static const double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Eisel-Lemire (Lemire, "Number Parsing at a Gigabyte per Second", 2021, as
 * in fast_float): w * 10^q for w != 0 of at most 19 digits. 1 with the
 * double's bits in *bits, 0 when undecided (the caller asks strtod_l). */
static int eisel_lemire(uint64_t w, int64_t q, uint64_t *bits)
{
    if (q < SL__POW5_MIN || q > SL__POW5_MAX)
        return 0;
    int lz = __builtin_clzll(w);
    w <<= lz;
    const uint64_t *p5 = sl__pow5_128[q - SL__POW5_MIN];
    unsigned __int128 first = (unsigned __int128)w * p5[0];
    uint64_t hi = (uint64_t)(first >> 64), lo = (uint64_t)first;
    if ((hi & 0x1FF) == 0x1FF) { /* the truncated bits might matter: add the next word */
        unsigned __int128 second = (unsigned __int128)w * p5[1];
        uint64_t shi = (uint64_t)(second >> 64);
        lo += shi;
        if (shi > lo)
            hi++;
        if ((hi & 0x1FF) == 0x1FF && lo == UINT64_MAX)
            return 0; /* still ambiguous: never seen with <= 19 digits, but safe */
    }
    int upper = (int)(hi >> 63);
    int shift = upper + 64 - 52 - 3;
    uint64_t mant = hi >> shift;
    /* floor(q * log2(10)) + 63, as fast_float computes it */
    int64_t power2 = ((((int64_t)152170 + 65536) * q) >> 16) + 63 + upper - lz + 1023;
    if (power2 <= 0) { /* subnormal */
        if (-power2 + 1 >= 64)
            return 0;
        mant >>= -power2 + 1;
        mant += mant & 1;
        mant >>= 1;
        power2 = mant < ((uint64_t)1 << 52) ? 0 : 1;
        *bits = mant | ((uint64_t)power2 << 52);
        return 1;
    }
    /* exactly halfway between two doubles: only possible for small q; round to even */
    if (lo <= 1 && q >= -4 && q <= 23 && (mant & 3) == 1 && (mant << shift) == hi)
        mant &= ~(uint64_t)1;
    mant += mant & 1;
    mant >>= 1;
    if (mant >= ((uint64_t)2 << 52)) {
        mant = (uint64_t)1 << 52;
        power2++;
    }
    mant &= ~((uint64_t)1 << 52);
    if (power2 >= 0x7FF)
        return 0; /* overflow: strtod_l says inf */
    *bits = mant | ((uint64_t)power2 << 52);
    return 1;
}

static int slow_path(const char *s, size_t n, double *out)
{
    pthread_once(&c_locale_once, make_c_locale);
    if (!c_locale)
        return 0;
    char small[128];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    *out = strtod_l(buf, &end, c_locale);
    int ok = end == buf + n;
    if (buf != small)
        free(buf);
    return ok;
}

/* The decimal number that starts at s and ends at the first byte that
 * cannot continue it (or at end): the pointer past it, NULL when s starts
 * no number. inf and nan are not read here. */
static const uint64_t pow10_u64[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The digits (up to 8) that start the 8 bytes at s: their count in *n and
 * their value. One load, a mask of the bytes that are no digit (its lowest
 * set bit is the first such byte: borrows and carries only reach bytes
 * above it), the digits shifted to the top so that the bytes below read as
 * leading zeros, and the usual three multiplications of 8-digit SWAR
 * parsing; the per-digit loop it replaces is a chain of dependent
 * multiply-adds. */
static inline uint64_t leading_digits(const char *s, int *n)
{
    uint64_t x;
    memcpy(&x, s, 8);
    uint64_t nd = ((x + 0x4646464646464646u) | (x - 0x3030303030303030u) | x) & 0x8080808080808080u;
    int k = nd ? __builtin_ctzll(nd) >> 3 : 8;
    *n = k;
    if (k == 0)
        return 0;
    uint64_t d = (x - 0x3030303030303030u) << (8 * (8 - k));
    d = d * 10 + (d >> 8);
    d = (((d & 0x000000FF000000FFu) * (100 + (1000000ull << 32))) +
         (((d >> 16) & 0x000000FF000000FFu) * (1 + (10000ull << 32)))) >> 32;
    return (uint32_t)d;
}
#endif

/* Accumulates the digits at s into *m (it may wrap past 19 digits: those
 * numbers take the slow path). */
static inline const char *digit_run(const char *s, const char *end, uint64_t *m)
{
    uint64_t v = *m;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (end - s >= 8) {
        int n;
        uint64_t d = leading_digits(s, &n);
        v = v * pow10_u64[n] + d;
        s += n;
        if (n < 8) {
            *m = v;
            return s;
        }
    }
#endif
    while (s < end && is_digit(*s))
        v = v * 10 + (uint64_t)(*s++ - '0');
    *m = v;
    return s;
}

static const char *parse_prefix(const char *s, const char *end, double *out)
{
    const char *start = s;
    int neg = 0;
    if (s < end && (*s == '+' || *s == '-'))
        neg = *s++ == '-';
    /* the digits: straight loops (m overflows past 19 significant digits,
     * which then go to the slow path); leading zeros are not significant */
    const char *digits0 = s;
    while (s < end && *s == '0')
        s++;
    const char *sig = s;
    uint64_t m = 0;
    s = digit_run(s, end, &m);
    int64_t digits = s - sig, exp10 = 0;
    int any = s > digits0;
    if (s < end && *s == '.') {
        const char *frac = ++s;
        if (digits == 0) /* 0.000ddd: the zeros only scale */
            while (s < end && *s == '0')
                s++;
        const char *fsig = s;
        s = digit_run(s, end, &m);
        digits += s - fsig;
        exp10 = -(s - frac);
        any |= s > frac;
    }
    if (!any)
        return NULL;
    const char *e0 = s;
    if (s < end && (*s == 'e' || *s == 'E')) { /* an exponent, when digits follow */
        s++;
        int eneg = 0;
        if (s < end && (*s == '+' || *s == '-'))
            eneg = *s++ == '-';
        if (s < end && is_digit(*s)) {
            int64_t e = 0;
            for (; s < end && is_digit(*s); s++)
                if (e < 100000000)
                    e = e * 10 + (*s - '0');
            exp10 += eneg ? -e : e;
        } else {
            s = e0;
        }
    }
    end = s;
    if (m == 0 && digits <= 19) {
        *out = neg ? -0.0 : 0.0;
        return end;
    }
    if (digits <= 19) {
        if (m <= ((uint64_t)1 << 53) && exp10 >= -22 && exp10 <= 22) {
            double d = (double)m;
            d = exp10 < 0 ? d / exact_pow10[-exp10] : d * exact_pow10[exp10];
            *out = neg ? -d : d;
            return end;
        }
        uint64_t bits;
        if (eisel_lemire(m, exp10, &bits)) {
            bits |= (uint64_t)neg << 63;
            memcpy(out, &bits, sizeof bits);
            return end;
        }
    }
    /* more than 19 significant digits, or undecided: the C library decides */
    return slow_path(start, (size_t)(end - start), out) ? end : NULL;
}

const char *sl__csv_parse_double_prefix(const char *s, const char *end, double *out)
{
    return parse_prefix(s, end, out);
}

int sl__csv_parse_double(const char *s, size_t n, double *out)
{
    trim(&s, &n);
    const char *end = s + n, *p = s + (n && (*s == '+' || *s == '-'));
    if (p < end && !is_digit(*p) && *p != '.') {
        size_t k = (size_t)(end - p);
        int neg = *s == '-';
        if (lower_eq(p, k, "inf") || lower_eq(p, k, "infinity")) {
            *out = neg ? -HUGE_VAL : HUGE_VAL;
            return 1;
        }
        if (lower_eq(p, k, "nan")) {
            *out = neg ? -NAN : NAN;
            return 1;
        }
        return 0;
    }
    return parse_prefix(s, end, out) == end;
}

int sl__csv_parse_int64(const char *s, size_t n, int64_t *out)
{
    trim(&s, &n);
    const char *end = s + n;
    int neg = 0;
    if (s < end && (*s == '+' || *s == '-'))
        neg = *s++ == '-';
    if (s >= end)
        return 0;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    int over = 0;
    for (; s < end; s++) {
        if (!is_digit(*s))
            return 0;
        unsigned d = (unsigned)(*s - '0');
        if (v > (lim - d) / 10)
            over = 1;
        else
            v = v * 10 + d;
    }
    if (over)
        return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}
