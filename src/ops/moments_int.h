/* Private: fits by algebra (issue 18). A chain of stages that change each
 * column by a per-column affine map or by filling its missing values —
 * clean (drop_row, impute_*, no clipping) → convert (to a float type that
 * holds the values exactly, same columns) → normalize (z-score) — needs one
 * pass over its source, not one a stage: clean's statistics pass also
 * gathers the pairwise moments of every column (kernels/pairmoments.h), and
 * the moments of each later stage's output follow exactly, in O(P²):
 *
 *   clean:     the moments after each column's missing values become its
 *              fill value (sl__pm_imputed);
 *   convert:   the same values;
 *   normalize: mean' = (mean − shift) / scale, C'_ab = C_ab / (scale_a scale_b).
 *
 * normalize fits its z-score from them (no fit pass), and linreg its
 * co-moments (no Gram pass). The rule depends on the pipeline, not on where
 * stages are stored, so stored and streamed runs compute the same bits.
 * Where it does not apply (clipping, a column selection, a missing value
 * left in place, a non-finite moment), the stages make their passes. */
#ifndef SL_MOMENTS_INT_H
#define SL_MOMENTS_INT_H

#include <stdint.h>
#include "sluice/op.h"

/* The attribute of clean's output (on its first array) holding the pairwise
 * moments of all its columns, in frame order. */
#define SL__PAIR_MOMENTS "pair_moments"
/* Columns beyond which the moments are not gathered (P² state). */
#define SL__PAIR_MOMENTS_MAX_COLS 256

/* The stages of such a chain ending at stage `top` (plan time). */
typedef struct sl__affine_chain {
    sl_stage *clean;           /* where the moments come from */
    const sl_stage *normalize; /* a z-score on top, or NULL */
} sl__affine_chain;

/* Plan time: 1 when `top` (with_normalize: optionally a z-scoring normalize
 * on top) is such a chain, and asks its clean stage to gather the moments;
 * 0 otherwise. */
int sl__affine_chain_find(sl_stage *top, int with_normalize, sl__affine_chain *ch);

/* Called by sl__affine_chain_find: 1 when the clean stage qualifies (no
 * clipping, at most SL__PAIR_MOMENTS_MAX_COLS columns), and then it gathers
 * the moments in its statistics pass. */
int sl__clean_offer_moments(sl_stage *st);

/* Run time, once the chain's stages have run: the rows n, and the means (F)
 * and centred co-moments (F x F) of the columns of array `x` (and, when y
 * is not NULL, of `y`, appended: F + 1 columns) at the top of the chain.
 * Returns 1 and mallocs *mean and *C, or 0 when the algebra does not apply
 * (a missing value left in place, no moments stored, a non-finite result):
 * the caller then makes its pass. */
int sl__affine_chain_moments(const sl__affine_chain *ch, const char *x, const char *y, double *n, double **mean,
                             double **C, int64_t *cols);

#endif
