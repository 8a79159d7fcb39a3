/* Private kernel: the columns of several row-major blocks side by side in
 * one block (join), in the types' common type. */
#ifndef SL_CONCAT_H
#define SL_CONCAT_H

#include <stdint.h>
#include "sluice/frame.h"

/* The type of np.concatenate / np.hstack over arrays of types a and b, as
 * np.result_type(a, b) gives it: the larger of the same kind; a float with
 * an integer: float32 for integers of up to 16 bits, otherwise float64;
 * signed with unsigned: the signed type that holds both (int16 for int8 and
 * uint8, ...), float64 for uint64 with any signed type. */
sl_dtype sl__dtype_common(sl_dtype a, sl_dtype b);

/* Copies the rows x src_cols block src (type src_t) into columns
 * [col0, col0 + src_cols) of dst, a rows x dst_cols block of type dst_t.
 * Values are converted as sl__cast converts them; dst_t should be the
 * common type of both, which holds every value of src_t (integers above
 * 2^53 in float64 are rounded, as NumPy rounds them). */
void sl__concat_cols(void *dst, sl_dtype dst_t, int64_t dst_cols, int64_t col0, const void *src, sl_dtype src_t,
                     int64_t src_cols, int64_t rows);

#endif
