#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/dispatch.h"
#include "kernels/quantile.h"

uint64_t sl__qsel_key(double v)
{
    v += 0.0; /* -0.0 -> +0.0 */
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return (b >> 63) ? ~b : b | (UINT64_C(1) << 63);
}

double sl__qsel_unkey(uint64_t key)
{
    uint64_t b = (key >> 63) ? key & ~(UINT64_C(1) << 63) : ~key;
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* The smallest shift with (hi - lo) >> shift < SL_QSEL_BINS. */
static unsigned shift_for(uint64_t lo, uint64_t hi)
{
    uint64_t span = hi - lo;
    unsigned s = 0;
    while ((span >> s) >= SL_QSEL_BINS)
        s++;
    return s;
}

static void settle(sl__qsel *q)
{
    if (q->lo == q->hi) {
        q->done = 1;
        q->value = sl__qsel_unkey(q->lo);
    } else {
        q->shift = shift_for(q->lo, q->hi);
    }
}

void sl__qsel_init(sl__qsel *q, int64_t n, int64_t k, double min, double max)
{
    memset(q, 0, sizeof *q);
    q->k = k;
    q->count = n;
    q->lo = sl__qsel_key(min);
    q->hi = sl__qsel_key(max);
    settle(q);
}

sl__qsel_step sl__qsel_next(const sl__qsel *q)
{
    if (q->done)
        return SL_QSEL_STEP_DONE;
    return q->count <= SL_QSEL_COLLECT ? SL_QSEL_STEP_COLLECT : SL_QSEL_STEP_HIST;
}

#define QSEL_SKIP(v) ((v) != (v) || (skip_inf && ((v) == INFINITY || (v) == -INFINITY)))

#define QSEL_HIST(T)                                                                                        \
    do {                                                                                                   \
        const T *x = data;                                                                                 \
        for (int64_t r = 0; r < rows; r++) {                                                               \
            double v = (double)x[r * stride];                                                              \
            if ((drop && drop[r]) || QSEL_SKIP(v))                                                         \
                continue;                                                                                  \
            uint64_t key = sl__qsel_key(v);                                                                \
            if (key < lo || key > hi)                                                                      \
                continue;                                                                                  \
            hist[(key - lo) >> shift]++;                                                                   \
        }                                                                                                  \
    } while (0)

#define QSEL_COLLECT(T)                                                                                     \
    do {                                                                                                   \
        const T *x = data;                                                                                 \
        for (int64_t r = 0; r < rows; r++) {                                                               \
            double v = (double)x[r * stride];                                                              \
            if ((drop && drop[r]) || QSEL_SKIP(v))                                                         \
                continue;                                                                                  \
            uint64_t key = sl__qsel_key(v);                                                                \
            if (key < lo || key > hi)                                                                      \
                continue;                                                                                  \
            if (got < cap)                                                                                 \
                out[got] = v;                                                                              \
            got++;                                                                                         \
        }                                                                                                  \
    } while (0)


void sl__qsel_hist(const sl__qsel *q, const void *data, sl_dtype t, int64_t rows, int64_t stride,
                   const unsigned char *drop, int skip_inf, int64_t *hist)
{
    const uint64_t lo = q->lo, hi = q->hi;
    const unsigned shift = q->shift;
    SL_DISPATCH_DTYPE(t, QSEL_HIST)
}

int64_t sl__qsel_collect(const sl__qsel *q, const void *data, sl_dtype t, int64_t rows, int64_t stride,
                         const unsigned char *drop, int skip_inf, double *out, int64_t cap)
{
    const uint64_t lo = q->lo, hi = q->hi;
    int64_t got = 0;
    SL_DISPATCH_DTYPE(t, QSEL_COLLECT)
    return got;
}

int sl__qsel_narrow(sl__qsel *q, const int64_t *hist)
{
    int64_t total = 0;
    uint64_t nbins = ((q->hi - q->lo) >> q->shift) + 1;
    for (uint64_t b = 0; b < nbins; b++)
        total += hist[b];
    if (total != q->count)
        return -1;
    int64_t below = 0;
    for (uint64_t b = 0; b < nbins; b++) {
        if (q->k < below + hist[b]) {
            uint64_t lo = q->lo + (b << q->shift);
            uint64_t width = (UINT64_C(1) << q->shift) - 1, rest = q->hi - lo;
            q->lo = lo;
            q->hi = lo + (rest < width ? rest : width);
            q->k -= below;
            q->count = hist[b];
            settle(q);
            return 0;
        }
        below += hist[b];
    }
    return -1; /* unreachable when total == count and k < count */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void swap(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

double sl__select_kth(double *v, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    /* Quickselect with a median-of-three pivot; after too many rounds (an
     * adversarial order), sort what is left. */
    for (int round = 0; lo < hi; round++) {
        if (round > 64) {
            qsort(v + lo, (size_t)(hi - lo + 1), sizeof *v, cmp_double);
            return v[k];
        }
        int64_t mid = lo + (hi - lo) / 2;
        if (v[mid] < v[lo])
            swap(&v[mid], &v[lo]);
        if (v[hi] < v[lo])
            swap(&v[hi], &v[lo]);
        if (v[hi] < v[mid])
            swap(&v[hi], &v[mid]);
        double pivot = v[mid];
        /* Hoare partition: [lo, j] <= pivot <= [i, hi] */
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                swap(&v[i], &v[j]);
                i++;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return v[k];
    }
    return v[k];
}

int sl__qsel_finish(sl__qsel *q, double *values, int64_t n)
{
    if (n != q->count || q->k < 0 || q->k >= n)
        return -1;
    q->value = sl__select_kth(values, n, q->k);
    q->done = 1;
    return 0;
}
