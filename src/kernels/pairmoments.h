/* Private kernel: pairwise-complete centred co-moments of the columns of a
 * block with missing values (NaN), merged chunk by chunk, and from them, in
 * O(P²), the exact centred co-moments of the same columns after every
 * missing value of column a is replaced by a value v_a (mean imputation):
 * the algebra that lets a chain impute → convert → z-score → least squares
 * gather its statistics in one pass over the source (issue 18).
 *
 * Nothing here sums raw squares: each chunk is centred on its own plain
 * observed means before its Gram product (BLIS), the centres then move to
 * the exact means (their rounding, by the algebra below), and parts merge
 * around the combined
 * means with the cross terms that move a centre (Chan et al., extended to
 * pairs, whose "both observed" rows differ from pair to pair). So a column
 * of mean 1e8 and standard deviation 1 keeps its digits, where the formula
 * Σx² − n·x̄² loses all of them.
 *
 * The state, for P columns, is a flat array of sl__pm_size(P) doubles:
 *   [0]        n, the rows
 *   m[P]       m_a, the mean of column a's observed values
 *   N[P x P]   N_ab, rows where a and b are both observed (N_aa = n_a)
 *   R[P x P]   R_ab = Σ_{a and b observed} (x_a − m_a)
 *   Q[P x P]   Q_ab = Σ_{a and b observed} (x_a − m_a)(x_b − m_b)
 * An all-zero array is the empty state. */
#ifndef SL_PAIRMOMENTS_H
#define SL_PAIRMOMENTS_H

#include <stddef.h>
#include <stdint.h>
#include "sluice/error.h"

size_t sl__pm_size(int64_t P);
/* Columns [off, off + w) of the rows x P block X from a (rows x w, row
 * major); skip_inf: ±Inf becomes NaN (missing). */
void sl__pm_gather(const double *a, int64_t rows, int64_t w, int skip_inf, double *X, int64_t P, int64_t off);
/* The same from a float32 array (each value converted exactly). */
void sl__pm_gather_f32(const float *a, int64_t rows, int64_t w, int skip_inf, double *X, int64_t P, int64_t off);
/* Doubles of scratch sl__pm_chunk needs for `rows` rows. */
size_t sl__pm_scratch_size(int64_t rows, int64_t P);

/* The state of a rows x P row-major block X (NaN: missing), into state
 * (fully overwritten). Rows whose drop byte is non-zero are left out (drop
 * may be NULL). */
sl_status sl__pm_chunk(const double *X, int64_t rows, int64_t P, const unsigned char *drop, double *state,
                       double *scratch, sl_error *err);

/* Folds part into acc. Call in chunk order; either may be empty. */
void sl__pm_merge(double *acc, const double *part, int64_t P);

/* The columns with column a's missing values replaced by v[a]: their means
 * (P) and centred co-moments C (P x P, C_ab = Σ_rows (x̃_a − mean_a)(x̃_b −
 * mean_b)). A column with no observed value takes v_a everywhere. */
void sl__pm_imputed(const double *state, int64_t P, const double *v, double *mean, double *C);

#endif
