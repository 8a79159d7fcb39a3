/* Sorted sets of class labels (labels.h). */
#include "kernels/labels.h"
#include <string.h>
#include "kernels/simd.h"

/* First index whose value is >= v. */
static size_t lower_bound(const double *s, size_t k, double v)
{
    size_t lo = 0, hi = k;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (s[m] < v)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

/* Values of x[0..n) equal to none of s[0..3]: a loop without branches,
 * which vectorizes (a NaN equals nothing: it counts). */
SL_HOT static int64_t misses4(const double *restrict x, int64_t n, const double *restrict s)
{
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        m += !((x[i] == s[0]) | (x[i] == s[1]) | (x[i] == s[2]) | (x[i] == s[3]));
    return m;
}

/* Rows a block of the fast test covers. */
#define LABEL_BLOCK 256

/* Adds the new values of x[0..n) one by one (a binary search each). */
static int add_slow(double *set, size_t *k, size_t cap, const double *x, int64_t n)
{
    size_t K = *k;
    double last = 0;
    int have_last = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i] + 0.0; /* -0.0 becomes +0.0 */
        /* labels come in runs: most rows repeat the one before */
        if (have_last && v == last)
            continue;
        size_t j = lower_bound(set, K, v);
        if (j == K || set[j] != v) {
            if (K == cap) {
                *k = K;
                return 1;
            }
            memmove(set + j + 1, set + j, (K - j) * sizeof *set);
            set[j] = v;
            K++;
        }
        last = v;
        have_last = 1;
    }
    *k = K;
    return 0;
}

int sl__labels_add(double *set, size_t *k, size_t cap, const double *x, int64_t n)
{
    for (int64_t i0 = 0; i0 < n; i0 += LABEL_BLOCK) {
        int64_t m = n - i0 < LABEL_BLOCK ? n - i0 : LABEL_BLOCK;
        /* a few classes seen already (after the first rows of a chunk): a
         * block of labels that are all known adds nothing */
        if (*k >= 1 && *k <= 4) {
            const double s4[4] = {set[0], set[*k > 1], set[*k > 2 ? 2 : 0], set[*k > 3 ? 3 : 0]};
            if (misses4(x + i0, m, s4) == 0)
                continue;
        }
        if (add_slow(set, k, cap, x + i0, m) != 0)
            return 1;
    }
    return 0;
}

int sl__labels_union(double *a, size_t *ka, size_t cap, const double *b, size_t kb)
{
    size_t na = *ka, i = 0, j = 0, u = 0;
    while (i < na || j < kb) {
        if (j == kb || (i < na && a[i] < b[j]))
            i++;
        else if (i == na || b[j] < a[i])
            j++;
        else
            i++, j++;
        u++;
    }
    if (u > cap)
        return 1;
    /* merged from the back, in place: the union fits in a's room */
    size_t w = u, ia = na, jb = kb;
    while (jb > 0) {
        if (ia > 0 && a[ia - 1] > b[jb - 1]) {
            a[--w] = a[--ia];
        } else if (ia > 0 && a[ia - 1] == b[jb - 1]) {
            a[--w] = a[--ia];
            jb--;
        } else {
            a[--w] = b[--jb];
        }
    }
    *ka = u;
    return 0;
}

long sl__labels_find(const double *set, size_t k, double v)
{
    v += 0.0;
    size_t j = lower_bound(set, k, v);
    return j < k && set[j] == v ? (long)j : -1;
}
