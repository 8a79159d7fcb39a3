/* Private kernel: the tables of label and one-hot encoding, on the label
 * sets of kernels/labels.c. A column's distinct values, collected chunk by
 * chunk up to a cap and merged in chunk order, and the lookups that turn a
 * value into its index in such a table. A table is numpy.unique's: its
 * numbers ascending (-0 is 0), then NaN when the column has any (one value,
 * as in scikit-learn's encoders); the set holds the numbers and counts the
 * NaNs. */
#ifndef SL_ENCODE_H
#define SL_ENCODE_H

#include <stddef.h>
#include <stdint.h>
#include "kernels/cast.h"
#include "sluice/frame.h"

/* The distinct numbers of a column, as many as `cap`: a partial of a pass
 * (zero bytes are an empty set), sl__distinct_size(cap) bytes. */
typedef struct sl__distinct {
    size_t n;          /* numbers in v, ascending */
    int64_t over;      /* 1: more than cap distinct numbers were met, and v holds only some */
    int64_t over_row;  /* when over: the rows before this one held more than cap */
    int64_t end_row;   /* the row after the last one added */
    int64_t nan_count; /* NaNs met */
    int64_t nan_row;   /* the first NaN's row, when nan_count > 0 */
    double v[];        /* cap slots */
} sl__distinct;

size_t sl__distinct_size(int64_t cap);

/* Adds n values, x[i] being row row0 + i of the column. x is used as
 * scratch: its NaNs are taken out. */
void sl__distinct_add(sl__distinct *d, int64_t cap, double *x, int64_t n, int64_t row0);

/* Folds b, whose rows come after a's, into a. Call in chunk order: over_row
 * and nan_row are then the same for any thread count. */
void sl__distinct_merge(sl__distinct *a, const sl__distinct *b, int64_t cap);

/* codes[i] = the index of x[i] in the table t[0..k) (numbers ascending, then
 * NaN if it has one), or -1 when t lacks it. Returns how many lack one;
 * *first is the index of the first of them. */
int64_t sl__encode_codes(int64_t *codes, const double *x, int64_t n, const double *t, int64_t k, int64_t *first);

/* out[r] = column col of a rows x cols row-major block of type t, as double.
 * Returns how many integers a double cannot hold exactly (beyond 2^53); *first
 * is the row of the first. */
int64_t sl__column_f64(double *out, const void *x, sl_dtype t, int64_t rows, int64_t cols, int64_t col,
                       int64_t *first);

/* One-hot columns of one encoded column: in a rows x out_cols row-major block
 * of type t, already zeroed, sets to 1 the column off + codes[r], less one
 * when a category before it is dropped (drop >= 0: the index of the category
 * that gets no column). A code of -1 (unknown) or of the dropped category
 * sets nothing. */
void sl__onehot_set(void *out, sl_dtype t, int64_t rows, int64_t out_cols, int64_t off, const int64_t *codes,
                    int64_t drop);

/* Column icol of a rows x in_cols row-major block of type it into column ocol
 * of a rows x out_cols block of type ot, converted as sl__cast converts
 * (first_bad: a row). */
sl__cast_result sl__cast_column(void *out, sl_dtype ot, int64_t out_cols, int64_t ocol, const void *in, sl_dtype it,
                                int64_t in_cols, int64_t icol, int64_t rows);

#endif
