/* Private kernel: centered co-moments of a block of rows (X, y) for least
 * squares and for gradient descent on the mean squared error, computed chunk
 * by chunk and merged in chunk order with Chan's pairwise formulas:
 *
 *   n, x̄ (F), ȳ, C = Σ (x - x̄)(x - x̄)ᵀ (F x F), c = Σ (x - x̄)(y - ȳ) (F),
 *   c_yy = Σ (y - ȳ)²
 *
 * Each chunk is centered by its own means before the BLIS syrk / gemv (so an
 * intercept fit keeps its precision when the columns have large means), and
 * merging two parts a, b with δ = mean_b - mean_a adds the cross term
 * δδᵀ·n_a·n_b/n. Everything least squares and full-batch gradient descent
 * need follows from these sums: XᵀX = C + n x̄x̄ᵀ, Xᵀy = c + n x̄ ȳ.
 *
 * A co-moment state is a flat array of sl__comoment_size(F) doubles:
 *   [0] n   [1] ȳ   [2] c_yy   [3 .. 3+F) x̄   [3+F .. 3+2F) c   [3+2F ..) C
 * An all-zero array is the empty state (n = 0). */
#ifndef SL_GRAM_H
#define SL_GRAM_H

#include <stddef.h>
#include <stdint.h>
#include "sluice/error.h"

#define SL__CM_N 0
#define SL__CM_YMEAN 1
#define SL__CM_CYY 2
#define SL__CM_XMEAN 3

/* Doubles in a co-moment state for F features. */
size_t sl__comoment_size(int64_t F);
static inline double *sl__cm_xmean(double *cm, int64_t F)
{
    (void)F;
    return cm + SL__CM_XMEAN;
}
static inline double *sl__cm_cxy(double *cm, int64_t F)
{
    return cm + SL__CM_XMEAN + F;
}
static inline double *sl__cm_cxx(double *cm, int64_t F)
{
    return cm + SL__CM_XMEAN + 2 * F;
}

/* Doubles of scratch sl__comoment_chunk needs for a block of rows. */
size_t sl__comoment_scratch_size(int64_t rows, int64_t F);

/* Co-moments of rows x F block X (row-major) and y (rows), into cm (fully
 * overwritten). scratch holds sl__comoment_scratch_size(rows, F) doubles.
 * Uses BLIS (sl__gram_add). */
sl_status sl__comoment_chunk(const double *X, const double *y, int64_t rows, int64_t F, double *cm, double *scratch,
                             sl_error *err);

/* The same sums with plain loops (the reference the tests compare with). */
void sl__comoment_chunk_ref(const double *X, const double *y, int64_t rows, int64_t F, double *cm);

/* Folds part into acc (Chan). Call in chunk order; either may be empty. */
void sl__comoment_merge(double *acc, const double *part, int64_t F);

#endif
