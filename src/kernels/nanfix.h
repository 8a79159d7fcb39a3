/* Private kernel: missing-value repair for the clean op. Column statistics
 * over the rows a mask keeps, the rows holding a missing value, imputation,
 * clipping and row compaction, on row-major blocks of any element type.
 *
 * "Missing" is NaN, and +-Inf too when skip_inf is set. Integer types hold
 * no missing values: imputation leaves them alone; clipping applies.
 * A `drop` mask has one byte per row, non-zero for a row that is dropped
 * (NULL: every row is kept). */
#ifndef SL_NANFIX_H
#define SL_NANFIX_H

#include <stddef.h>
#include <stdint.h>
#include "sluice/frame.h"

/* Statistics of the non-missing values of one column over kept rows. */
typedef struct sl__mstats {
    double n;      /* values counted */
    double mean;   /* NaN when n == 0 */
    double m2;     /* sum of squared deviations from mean */
    double min, max; /* NaN when n == 0 */
    double missing;  /* missing values in kept rows */
    int64_t first_missing; /* row of the first of them (chunk row0 + offset), -1: none */
    double scratch;  /* used inside sl__mstats_chunk only */
} sl__mstats;

/* An empty accumulator for `cols` columns (merge parts into it). */
void sl__mstats_init(sl__mstats *s, int64_t cols);

/* Statistics of each column of a rows x cols block whose first row is row
 * row0 of the array. Within the block the mean is computed by the corrected
 * two-pass method (mean, then the mean of the deviations from it, added),
 * M2 as sum(d^2) - sum(d)^2 / n: both accurate to a few ulps. */
void sl__mstats_chunk(const void *data, sl_dtype t, int64_t rows, int64_t cols, int64_t row0,
                      const unsigned char *drop, int skip_inf, sl__mstats *out);

/* Folds part into acc column by column (Chan et al.). Call in row order:
 * first_missing keeps the earliest. */
void sl__mstats_merge(sl__mstats *acc, const sl__mstats *part, int64_t cols);

/* Population standard deviation (ddof 0); NaN when n == 0. */
double sl__mstats_std(const sl__mstats *s);

/* Adds the non-missing values of each column over kept rows to sum[c], in
 * float32 and in row order: NumPy's nanmean of a float32 array sums so. */
void sl__nansum_f32(const float *x, int64_t rows, int64_t cols, const unsigned char *drop, int skip_inf, float *sum);

/* Sets miss[r] = 1 for every row with a missing value in any of its cols
 * columns (rows without one keep their byte). */
void sl__rows_missing(const void *data, sl_dtype t, int64_t rows, int64_t cols, int skip_inf, unsigned char *miss);

/* Replaces each missing value of column c by fill[c] converted to t (for
 * float32, rounded once). Returns the number of values replaced. */
int64_t sl__impute(void *data, sl_dtype t, int64_t rows, int64_t cols, const double *fill, int skip_inf);

/* Clips column c to [lo[c], hi[c]]: float types compare with the bounds
 * rounded to t, as NumPy's clip does; integer types with [ceil(lo),
 * floor(hi)] limited to the type's range. Missing values are left alone,
 * and so are columns whose bounds are NaN. Returns the number of values
 * that changed. */
int64_t sl__clip(void *data, sl_dtype t, int64_t rows, int64_t cols, const double *lo, const double *hi,
                 int skip_inf);

/* Copies the rows that drop does not mark from src to dst (row_bytes each,
 * in order); drop NULL copies all. Returns the rows copied. */
int64_t sl__compact_rows(void *dst, const void *src, size_t row_bytes, int64_t rows, const unsigned char *drop);

/* The rows of src not dropped, in order, into dst, with each missing value
 * of column c replaced as sl__impute does: both in one pass. Returns the
 * rows kept; *imputed: the values replaced. */
int64_t sl__compact_impute(void *dst, const void *src, sl_dtype t, int64_t rows, int64_t cols,
                           const unsigned char *drop, const double *fill, int skip_inf, int64_t *imputed);

#endif
