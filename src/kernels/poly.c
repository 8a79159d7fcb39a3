#include <stdlib.h>
#include <string.h>
#include "kernels/cast.h"
#include "kernels/poly.h"

static int64_t gcd(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int64_t sl__poly_count(int64_t n, int64_t degree, int interaction_only, int include_bias, int64_t cap)
{
    if (n > cap)
        return cap + 1;
    int64_t total = include_bias ? 1 : 0, term = 1;
    for (int64_t d = 1; d <= degree; d++) {
        /* C(n + d - 1, d) terms of degree d, or C(n, d) without powers:
         * C(m, d) = C(m - 1, d - 1) * m / d. Divided by d first (over the
         * gcd, so exactly), the product overflows only when it is above cap */
        int64_t m = interaction_only ? n - d + 1 : n + d - 1;
        if (m <= 0)
            break;
        int64_t g = gcd(m, d), mg = m / g, q = term / (d / g);
        if (q > cap / mg)
            return cap + 1;
        term = q * mg;
        total += term;
        if (total > cap)
            return cap + 1;
    }
    return total;
}

void sl__poly_free(sl__poly *p)
{
    free(p->src);
    free(p->feat);
    p->src = p->feat = NULL;
}

int sl__poly_plan(sl__poly *p, int64_t n, int64_t degree, int interaction_only, int include_bias)
{
    memset(p, 0, sizeof *p);
    int64_t cols = sl__poly_count(n, degree, interaction_only, include_bias, INT64_MAX / 4);
    p->n = n;
    p->bias = include_bias ? 1 : 0;
    p->first = p->bias + n;
    int64_t nterms = cols - p->first;
    p->src = malloc((size_t)(nterms > 0 ? nterms : 1) * sizeof *p->src);
    p->feat = malloc((size_t)(nterms > 0 ? nterms : 1) * sizeof *p->feat);
    int64_t *index = malloc((size_t)(n + 1) * sizeof *index), *next_index = malloc((size_t)(n + 1) * sizeof *index);
    if (!p->src || !p->feat || !index || !next_index) {
        free(index);
        free(next_index);
        sl__poly_free(p);
        return -1;
    }
    /* scikit-learn's dense transform, column numbers only: index[f] is where
     * the terms of the last degree whose first feature is f begin */
    int64_t len = n + 1, cur = p->first;
    for (int64_t f = 0; f <= n; f++)
        index[f] = p->bias + f;
    for (int64_t d = 2; d <= degree; d++) {
        int64_t end = index[len - 1], nl = 0;
        for (int64_t f = 0; f < n && f + 1 < len; f++) {
            int64_t start = index[f];
            next_index[nl++] = cur;
            if (interaction_only)
                start += index[f + 1] - index[f];
            int64_t next = cur + end - start;
            if (next <= cur)
                break;
            for (int64_t k = start; k < end; k++) {
                p->src[cur + (k - start) - p->first] = k;
                p->feat[cur + (k - start) - p->first] = f;
            }
            cur = next;
        }
        next_index[nl++] = cur;
        int64_t *t = index;
        index = next_index;
        next_index = t;
        len = nl;
    }
    free(index);
    free(next_index);
    p->cols = cur;
    return 0;
}

int64_t sl__poly_term(const sl__poly *p, int64_t c, int64_t *feats)
{
    if (c < p->bias)
        return 0;
    int64_t d = 0;
    while (c >= p->first) {
        feats[d++] = p->feat[c - p->first];
        c = p->src[c - p->first];
    }
    feats[d++] = c - p->bias;
    return d;
}

void sl__poly_rows(const sl__poly *p, double *out, const void *x, sl_dtype xt, int64_t rows)
{
    const int64_t n = p->n, cols = p->cols, first = p->first, nterms = cols - first;
    const size_t row_bytes = (size_t)n * sl_dtype_size(xt);
    const int64_t *src = p->src, *feat = p->feat;
    for (int64_t r = 0; r < rows; r++) {
        double *o = out + r * cols;
        const char *xr = (const char *)x + (size_t)r * row_bytes;
        if (p->bias)
            o[0] = 1.0;
        if (xt == SL_FLOAT64)
            memcpy(o + p->bias, xr, row_bytes);
        else
            sl__cast(o + p->bias, SL_FLOAT64, xr, xt, (size_t)n);
        const double *v = o + p->bias;
        for (int64_t k = 0; k < nterms; k++)
            o[first + k] = o[src[k]] * v[feat[k]];
    }
}
