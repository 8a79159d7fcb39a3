#include <string.h>
#include "kernels/blas.h"
#include "kernels/gram.h"

size_t sl__comoment_size(int64_t F)
{
    return (size_t)(SL__CM_XMEAN + 2 * F + F * F);
}

/* Column means of X and the mean of y, two-pass: the plain mean, then the
 * mean of the deviations from it added as a correction. */
static void means(const double *X, const double *y, int64_t rows, int64_t F, double *xm, double *ym)
{
    memset(xm, 0, (size_t)F * sizeof *xm);
    double sy = 0;
    for (int64_t i = 0; i < rows; i++) {
        const double *x = X + i * F;
        for (int64_t j = 0; j < F; j++)
            xm[j] += x[j];
        sy += y[i];
    }
    for (int64_t j = 0; j < F; j++)
        xm[j] /= (double)rows;
    sy /= (double)rows;
    /* correction pass (exact for data whose plain sum rounds) */
    double cy = 0;
    double corr[64];
    for (int64_t j0 = 0; j0 < F; j0 += 64) {
        int64_t j1 = j0 + 64 < F ? j0 + 64 : F;
        memset(corr, 0, sizeof corr);
        for (int64_t i = 0; i < rows; i++) {
            const double *x = X + i * F;
            for (int64_t j = j0; j < j1; j++)
                corr[j - j0] += x[j] - xm[j];
        }
        for (int64_t j = j0; j < j1; j++)
            xm[j] += corr[j - j0] / (double)rows;
    }
    for (int64_t i = 0; i < rows; i++)
        cy += y[i] - sy;
    *ym = sy + cy / (double)rows;
}

/* Rows per block of the centered copy: a block of [x - x̄, y - ȳ] rows stays
 * in the core's L2 cache between being written and being multiplied. */
#define CM_BLOCK_ROWS 2048

size_t sl__comoment_scratch_size(int64_t rows, int64_t F)
{
    int64_t b = rows < CM_BLOCK_ROWS ? rows : CM_BLOCK_ROWS;
    return (size_t)((b > 0 ? b : 1) * (F + 1) + (F + 1) * (F + 1));
}

sl_status sl__comoment_chunk(const double *X, const double *y, int64_t rows, int64_t F, double *cm, double *scratch,
                             sl_error *err)
{
    memset(cm, 0, sl__comoment_size(F) * sizeof *cm);
    if (rows <= 0)
        return SL_OK;
    double *xm = sl__cm_xmean(cm, F), *cxy = sl__cm_cxy(cm, F), *cxx = sl__cm_cxx(cm, F);
    means(X, y, rows, F, xm, &cm[SL__CM_YMEAN]);
    cm[SL__CM_N] = (double)rows;
    /* One Gram product of the augmented, centered rows [x - x̄, y - ȳ] gives
     * C, c and c_yy at once. */
    int64_t p = F + 1, block = rows < CM_BLOCK_ROWS ? rows : CM_BLOCK_ROWS;
    double *Z = scratch, *G = scratch + block * p;
    memset(G, 0, (size_t)(p * p) * sizeof *G);
    double ym = cm[SL__CM_YMEAN];
    sl_status s = SL_OK;
    for (int64_t r0 = 0; r0 < rows && s == SL_OK; r0 += block) {
        int64_t n = rows - r0 < block ? rows - r0 : block;
        for (int64_t i = 0; i < n; i++) {
            const double *x = X + (r0 + i) * F;
            double *z = Z + i * p;
            for (int64_t j = 0; j < F; j++)
                z[j] = x[j] - xm[j];
            z[F] = y[r0 + i] - ym;
        }
        s = sl__gram_add(Z, n, p, G, err);
    }
    for (int64_t a = 0; s == SL_OK && a < F; a++) {
        memcpy(cxx + a * F, G + a * p, (size_t)F * sizeof *G);
        cxy[a] = G[a * p + F];
    }
    cm[SL__CM_CYY] = G[F * p + F];
    return s;
}

void sl__comoment_chunk_ref(const double *X, const double *y, int64_t rows, int64_t F, double *cm)
{
    memset(cm, 0, sl__comoment_size(F) * sizeof *cm);
    if (rows <= 0)
        return;
    double *xm = sl__cm_xmean(cm, F), *cxy = sl__cm_cxy(cm, F), *cxx = sl__cm_cxx(cm, F);
    means(X, y, rows, F, xm, &cm[SL__CM_YMEAN]);
    cm[SL__CM_N] = (double)rows;
    double ym = cm[SL__CM_YMEAN];
    for (int64_t i = 0; i < rows; i++) {
        const double *x = X + i * F;
        double dy = y[i] - ym;
        cm[SL__CM_CYY] += dy * dy;
        for (int64_t a = 0; a < F; a++) {
            double da = x[a] - xm[a];
            cxy[a] += da * dy;
            for (int64_t b = 0; b < F; b++)
                cxx[a * F + b] += da * (x[b] - xm[b]);
        }
    }
}

void sl__comoment_merge(double *acc, const double *part, int64_t F)
{
    double nb = part[SL__CM_N], na = acc[SL__CM_N];
    if (nb == 0)
        return;
    if (na == 0) {
        memcpy(acc, part, sl__comoment_size(F) * sizeof *acc);
        return;
    }
    double n = na + nb, f = na * nb / n, wb = nb / n;
    double *xa = sl__cm_xmean(acc, F), *ca = sl__cm_cxy(acc, F), *Ca = sl__cm_cxx(acc, F);
    const double *xb = part + SL__CM_XMEAN, *cb = part + SL__CM_XMEAN + F, *Cb = part + SL__CM_XMEAN + 2 * F;
    double dy = part[SL__CM_YMEAN] - acc[SL__CM_YMEAN];
    for (int64_t a = 0; a < F; a++) {
        double da = xb[a] - xa[a];
        /* upper triangle, mirrored: the result stays exactly symmetric */
        for (int64_t b = a; b < F; b++) {
            Ca[a * F + b] += Cb[a * F + b] + f * da * (xb[b] - xa[b]);
            Ca[b * F + a] = Ca[a * F + b];
        }
        ca[a] += cb[a] + f * da * dy;
    }
    acc[SL__CM_CYY] += part[SL__CM_CYY] + f * dy * dy;
    for (int64_t a = 0; a < F; a++)
        xa[a] += (xb[a] - xa[a]) * wb;
    acc[SL__CM_YMEAN] += dy * wb;
    acc[SL__CM_N] = n;
}
