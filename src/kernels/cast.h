/* Private kernel: element type conversion with checked integer targets. */
#ifndef SL_CAST_H
#define SL_CAST_H

#include <stddef.h>
#include "sluice/frame.h"

typedef struct sl__cast_result {
    size_t bad;       /* values that do not fit an integer target (NaN, Inf, out of range) */
    size_t first_bad; /* index of the first of them */
} sl__cast_result;

/* Converts n elements. Floats go to integers by truncation toward zero, as
 * NumPy's astype does; a value that does not fit is counted and stored as 0.
 * Float targets never fail (float64 -> float32 overflow gives +-Inf, as in
 * NumPy). dst and src must not overlap unless the types are equal. */
sl__cast_result sl__cast(void *dst, sl_dtype dst_t, const void *src, sl_dtype src_t, size_t n);

/* buf holds n float32 values in its back half (bytes 4n to 8n); makes them
 * the n float64 values of the whole buffer, value for value. For data
 * stored narrowed (io/checkpoint.c): read into the buffer the float64
 * values will fill, then widened in place. */
void sl__widen_f32_in_place(void *buf, size_t n);

#endif
