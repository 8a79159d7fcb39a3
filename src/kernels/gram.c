#include <string.h>
#include "kernels/blas.h"
#include "kernels/gram.h"
#include "kernels/simd.h"

size_t sl__comoment_size(int64_t F)
{
    return (size_t)(SL__CM_XMEAN + 2 * F + F * F);
}

/* Column means of X and the mean of y, two-pass: the plain mean, then the
 * mean of the deviations from it added as a correction. Columns go in tiles
 * whose sums live in local arrays, which nothing else can alias, so that the
 * loop over a row's columns vectorizes; each column's sums still run over
 * the rows in order. A tile of the full, constant width keeps its sums in
 * registers for the whole pass (sums in memory would put a store and a load
 * on the chain of additions of every row). y's plain sum, a chain no vector
 * can shorten, runs alongside the first tile's (with_y, a constant). */
#define MEAN_TILE 16

static inline __attribute__((always_inline)) void mean_tile(const double *restrict X, const double *restrict y,
                                                            int with_y, int64_t rows, int64_t F, int64_t j0,
                                                            int64_t w, double *restrict xm, double *restrict ym)
{
    double m[MEAN_TILE] = {0}, corr[MEAN_TILE] = {0}, sy = 0;
    for (int64_t i = 0; i < rows; i++) {
        const double *x = X + i * F + j0;
        for (int64_t j = 0; j < w; j++)
            m[j] += x[j];
        if (with_y)
            sy += y[i];
    }
    for (int64_t j = 0; j < w; j++)
        m[j] /= (double)rows;
    sy /= (double)rows;
    /* correction pass (exact for data whose plain sum rounds) */
    for (int64_t i = 0; i < rows; i++) {
        const double *x = X + i * F + j0;
        for (int64_t j = 0; j < w; j++)
            corr[j] += x[j] - m[j];
    }
    for (int64_t j = 0; j < w; j++)
        xm[j0 + j] = m[j] + corr[j] / (double)rows;
    if (with_y) {
        /* not alongside the tile's corrections: GCC then vectorizes those
         * worse */
        double cy = 0;
        for (int64_t i = 0; i < rows; i++)
            cy += y[i] - sy;
        *ym = sy + cy / (double)rows;
    }
}

SL_HOT static void means(const double *restrict X, const double *restrict y, int64_t rows, int64_t F,
                         double *restrict xm, double *restrict ym)
{
    int64_t j0 = F < MEAN_TILE ? F : MEAN_TILE;
    if (j0 == MEAN_TILE)
        mean_tile(X, y, 1, rows, F, 0, MEAN_TILE, xm, ym);
    else
        mean_tile(X, y, 1, rows, F, 0, j0, xm, ym);
    for (; j0 + MEAN_TILE <= F; j0 += MEAN_TILE)
        mean_tile(X, y, 0, rows, F, j0, MEAN_TILE, xm, ym);
    if (j0 < F)
        mean_tile(X, y, 0, rows, F, j0, F - j0, xm, ym);
}

/* Rows per block of the centered copy [x - x̄, y - ȳ]. Each block is one BLIS
 * call, whose fixed cost (objects, packing buffers from a locked pool) is
 * several microseconds: measured in run.log's blas_seconds on the benchmark's
 * 17 columns (as gemm + gemv then), 512 rows ran at 17-19 GFLOP/s a thread,
 * 2048 at 24-25, 4096 at 27-31, 8192 (past the L2 cache) at 25-28. */
#define CM_BLOCK_ROWS 4096

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
