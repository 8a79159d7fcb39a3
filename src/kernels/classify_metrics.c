/* Classification metrics: precision/recall/f1 from a confusion matrix,
 * log-loss rows and the exact ROC AUC (classify_metrics.h). */
#include "kernels/classify_metrics.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One label's precision, recall and f1 from its counts; 0 for 0/0. */
static void label_prf(int64_t tp, int64_t pred, int64_t truth, double *p, double *r, double *f)
{
    *p = pred ? (double)tp / (double)pred : 0.0;
    *r = truth ? (double)tp / (double)truth : 0.0;
    /* sklearn's (1 + β²)·P·R / (β²·P + R) with β = 1, in its order */
    *f = *p + *r > 0 ? 2.0 * *p * *r / (*p + *r) : 0.0;
}

void sl__prf(const int64_t *cm, size_t K, sl__average avg, long pos, double out[3])
{
    out[0] = out[1] = out[2] = 0;
    double sum[3] = {0, 0, 0}, wsum = 0;
    for (size_t k = 0; k < K; k++) {
        if (avg == SL__AVG_BINARY && (long)k != pos)
            continue;
        int64_t pred = 0, truth = 0;
        for (size_t i = 0; i < K; i++) {
            pred += cm[i * K + k];
            truth += cm[k * K + i];
        }
        double v[3];
        label_prf(cm[k * K + k], pred, truth, &v[0], &v[1], &v[2]);
        double w = avg == SL__AVG_WEIGHTED ? (double)truth : 1.0;
        for (int m = 0; m < 3; m++)
            sum[m] += avg == SL__AVG_WEIGHTED ? v[m] * w : v[m];
        wsum += w;
    }
    if (wsum > 0)
        for (int m = 0; m < 3; m++)
            out[m] = sum[m] / wsum;
}

static double clip(double p)
{
    const double eps = DBL_EPSILON;
    return p < eps ? eps : p > 1 - eps ? 1 - eps : p;
}

double sl__log_loss_row(const double *p, size_t K, size_t t)
{
    double sum = 0;
    for (size_t j = 0; j < K; j++)
        sum += clip(p[j]);
    return -log(clip(p[t]) / sum);
}

double sl__log_loss_binary(double p, int positive)
{
    p = clip(p);
    double q = 1 - p, sum = q + p;
    return -log((positive ? p : q) / sum);
}

uint64_t sl__score_key(double v)
{
    v += 0.0; /* -0.0 becomes +0.0 */
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    /* positives above negatives, and the negatives' order reversed */
    return b >> 63 ? ~b : b | (UINT64_C(1) << 63);
}

/* LSD radix, a byte a pass, skipping a byte every key shares (the
 * exponent bytes of probabilities): several times faster than qsort, which
 * takes as much scratch (glibc's merge sort). */
static void sort_keys(uint64_t *x, uint64_t *scratch, size_t n)
{
    uint64_t *a = x, *b = scratch;
    size_t count[8][256];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < 8; d++)
            count[d][(x[i] >> (8 * d)) & 0xff]++;
    for (int d = 0; d < 8; d++) {
        if (n == 0 || count[d][(a[0] >> (8 * d)) & 0xff] == n)
            continue;
        size_t at = 0;
        for (int v = 0; v < 256; v++) {
            size_t c = count[d][v];
            count[d][v] = at;
            at += c;
        }
        for (size_t i = 0; i < n; i++)
            b[count[d][(a[i] >> (8 * d)) & 0xff]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    if (a != x)
        memcpy(x, a, n * sizeof *a);
}

double sl__roc_auc(uint64_t *pos, size_t n1, uint64_t *neg, size_t n0, uint64_t *scratch)
{
    sort_keys(pos, scratch, n1);
    sort_keys(neg, scratch, n0);
    /* 2U in integers: exact while n1·n0 < 2^63 (over 4e9 rows) */
    uint64_t u2 = 0;
    size_t j = 0;
    for (size_t i = 0; i < n1;) {
        uint64_t s = pos[i];
        size_t m = 1;
        while (i + m < n1 && pos[i + m] == s)
            m++;
        while (j < n0 && neg[j] < s)
            j++;
        size_t k = j;
        while (k < n0 && neg[k] == s)
            k++;
        u2 += (uint64_t)m * (2 * (uint64_t)j + (uint64_t)(k - j));
        j = k;
        i += m;
    }
    return (double)u2 / (2.0 * (double)n1 * (double)n0);
}
