/* Private kernel: polynomial and interaction features of the columns of a
 * row-major block, as scikit-learn's PolynomialFeatures computes them on a
 * dense float64 array: the same columns, in the same order, and the same
 * products, so the values are its values to the bit.
 *
 * The columns are the bias (optional), the n inputs, then the terms of
 * degree 2, 3, ... Within a degree, the terms come in lexicographic order of
 * their features (itertools.combinations_with_replacement, or combinations
 * when interaction_only). scikit-learn makes a term of degree d from one of
 * degree d - 1 times one feature, (x_c * x_b) * x_a for the term a <= b <= c;
 * a plan records, for each column of degree >= 2, the column it multiplies
 * and the feature, so that a row is filled by one product per column in
 * that very order. */
#ifndef SL_POLY_H
#define SL_POLY_H

#include <stdint.h>
#include "sluice/frame.h"

typedef struct sl__poly {
    int64_t n;     /* input columns */
    int64_t cols;  /* output columns */
    int bias;      /* column 0 is 1 */
    int64_t first; /* the first column of degree >= 2 */
    int64_t *src;  /* per column c >= first, at c - first: out[c] = out[src] * x[feat] */
    int64_t *feat;
} sl__poly;

/* Output columns for n inputs, or cap + 1 when there would be more than
 * cap (the count is not computed further, so it cannot overflow). */
int64_t sl__poly_count(int64_t n, int64_t degree, int interaction_only, int include_bias, int64_t cap);

/* Builds the plan (sl__poly_count(...) columns, which the caller has
 * bounded). Returns 0, or -1 when out of memory. */
int sl__poly_plan(sl__poly *p, int64_t n, int64_t degree, int interaction_only, int include_bias);
void sl__poly_free(sl__poly *p);

/* The features of column c in ascending order (one per factor, repeated
 * for powers) into feats (room for the degree); returns the degree, 0 for
 * the bias. */
int64_t sl__poly_term(const sl__poly *p, int64_t c, int64_t *feats);

/* out (rows x p->cols) from x (rows x p->n of type xt, converted to
 * float64 first). */
void sl__poly_rows(const sl__poly *p, double *out, const void *x, sl_dtype xt, int64_t rows);

#endif
