/* Private kernel: per-column affine standardization, out = (x - shift) / scale,
 * as z-score and min-max scaling apply it, and a finder of the first NaN or
 * infinity of a block (for error messages that give a position). */
#ifndef SL_STANDARDIZE_H
#define SL_STANDARDIZE_H

#include <stddef.h>
#include <stdint.h>
#include "sluice/frame.h"

/* out[r, c] = ((double)in[r, c] - shift[c]) / scale[c] for a rows x cols
 * row-major block of any element type; the subtraction and the division are
 * done in double precision (a division, not a multiplication by 1/scale, as
 * NumPy's `(X - m) / s` does, so results agree to the last bit for float64)
 * and the quotient is stored as out_t, which must be SL_FLOAT32 or
 * SL_FLOAT64 (float32: rounded once, from the double quotient). in and out
 * may be the same buffer only when in_t == out_t. */
void sl__standardize(void *out, sl_dtype out_t, const void *in, sl_dtype in_t, int64_t rows, int64_t cols,
                     const double *shift, const double *scale);

/* Counts the NaNs and infinities among the n elements of data (always 0 for
 * integer types); when there are any, *first is the index of the first. */
size_t sl__count_nonfinite(const void *data, sl_dtype t, size_t n, size_t *first);

#endif
