/* Sorted sets of class labels (labels.h). */
#include "kernels/labels.h"
#include <string.h>

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

int sl__labels_add(double *set, size_t *k, size_t cap, const double *x, int64_t n)
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
