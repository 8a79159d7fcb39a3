/* Private kernel: per-column statistics of a chunk (count, NaN count, mean,
 * sum of squared deviations, min, max), merged across chunks with Chan's
 * formula. NaNs are skipped, as NumPy's nan* functions do. */
#ifndef SL_COLSTATS_H
#define SL_COLSTATS_H

#include <stdint.h>
#include "sluice/frame.h"

typedef struct sl__colstats {
    double n;    /* non-NaN values */
    double nan;  /* NaN values */
    double mean; /* of the non-NaN values; NaN when n == 0 */
    double m2;   /* sum of squared deviations from mean */
    double min, max;
} sl__colstats;

/* Statistics of each of `cols` columns of a rows x cols row-major block.
 * Exact two-pass within the chunk: mean first, then deviations. */
void sl__colstats_chunk(const void *data, sl_dtype t, int64_t rows, int64_t cols, sl__colstats *out);

/* Folds part into acc, column by column. Call in chunk order: the result
 * depends on the order, never on the thread that computed a part. */
void sl__colstats_merge(sl__colstats *acc, const sl__colstats *part, int64_t cols);

/* Population standard deviation (ddof 0, NumPy's default); NaN when n == 0. */
double sl__colstats_std(const sl__colstats *s);

#endif
