/* Private kernel: pairwise-complete centred co-moments of the columns of a
 * block with missing values (NaN), merged chunk by chunk, and from them, in
 * O(P²), the exact centred co-moments of the same columns after every
 * missing value of column a is replaced by a value v_a (mean imputation):
 * the algebra that lets a chain impute → convert → z-score → least squares
 * gather its statistics in one pass over the source (issue 18).
 *
 * Nothing here sums raw squares: each block is centred before its Gram
 * product (kernels/gram_small.c), on its own plain observed means
 * (sl__pm_chunk) or on centres fixed for its chunk (sl__pm_pass_*, below),
 * the centres then move to the exact means (by the algebra below), and
 * parts merge around the combined means with the cross terms that move a
 * centre (Chan et al., extended to pairs, whose "both observed" rows differ
 * from pair to pair). So a column of mean 1e8 and standard deviation 1
 * keeps its digits, where the formula Σx² − n·x̄² loses all of them.
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

/* A chunk's state gathered in one read of its cells: each block's columns
 * are centred as they are gathered from the source arrays, on centres fixed
 * for the whole chunk (the plain observed means of its first 128 rows),
 * and the Gram products of all its blocks add up around them. Sums around a
 * centre c are exact algebra away from sums around the mean (shift_sums),
 * and lose log2(1 + n δ²/M2) bits of a column's M2 (δ = c − mean), at most
 * log2(1 + n/n1) for n1 observed cells among the first rows: next to
 * nothing when they look like the rest of the chunk, and
 * sl__pm_pass_state refuses the chunk (the caller computes it block by
 * block with sl__pm_chunk instead) when the loss would exceed 4 bits.
 *
 * Per chunk: sl__pm_pass_init; per block of at most `block` rows, every
 * array's columns through sl__pm_pass_gather(_f32), then
 * sl__pm_pass_block; then sl__pm_pass_state and sl__pm_pass_free. */
typedef struct sl__pm_pass {
    int64_t P, block, rows; /* rows: of the block being gathered */
    int centred;            /* the chunk's centres are set (from its first block) */
    double *centre, *miss, *D, *Rm, *Mm, *Q;
    int64_t *list; /* the block's rows with a missing cell */
} sl__pm_pass;

sl_status sl__pm_pass_init(sl__pm_pass *p, int64_t P, int64_t block, sl_error *err);
void sl__pm_pass_free(sl__pm_pass *p);
/* Columns [off, off + w) of the block's rows (rows x w, row major); rows of
 * the block whose drop byte is non-zero are left out (drop may be NULL);
 * skip_inf: ±Inf is missing. Every array of a block takes the same rows and
 * drop. */
void sl__pm_pass_gather(sl__pm_pass *p, const double *a, int64_t rows, int64_t w, int skip_inf,
                        const unsigned char *drop, int64_t off);
void sl__pm_pass_gather_f32(sl__pm_pass *p, const float *a, int64_t rows, int64_t w, int skip_inf,
                            const unsigned char *drop, int64_t off);
/* Adds the gathered block to the chunk's sums. */
sl_status sl__pm_pass_block(sl__pm_pass *p, const unsigned char *drop, sl_error *err);
/* The chunk's state (as sl__pm_chunk's, fully overwritten); 0 when a
 * column's centre was too far from its mean (the state is then not to be
 * used), 1 otherwise. */
int sl__pm_pass_state(const sl__pm_pass *p, double *state);

/* Folds part into acc. Call in chunk order; either may be empty. */
void sl__pm_merge(double *acc, const double *part, int64_t P);

/* The columns with column a's missing values replaced by v[a]: their means
 * (P) and centred co-moments C (P x P, C_ab = Σ_rows (x̃_a − mean_a)(x̃_b −
 * mean_b)). A column with no observed value takes v_a everywhere. */
void sl__pm_imputed(const double *state, int64_t P, const double *v, double *mean, double *C);

#endif
