/* Private kernel: sets of class labels, for the classifiers and the
 * classification metrics. Labels are arbitrary finite doubles. A label set is
 * a sorted array of distinct values (-0.0 is taken as +0.0, as NumPy's unique
 * does); sets merge by union, so the set of a frame depends on neither the
 * thread count nor the chunk size. */
#ifndef SL_LABELS_H
#define SL_LABELS_H

#include <stddef.h>
#include <stdint.h>

/* Distinct labels a classifier, a confusion matrix (and precision, recall,
 * f1) may have, and classes a probability array may have. */
#define SL_CLASS_MAX 1024

/* Adds the n values of x to the sorted set (*k values, room for cap).
 * Returns 0, or 1 when a value did not fit (the set then holds cap values
 * and is not the whole set). */
int sl__labels_add(double *set, size_t *k, size_t cap, const double *x, int64_t n);

/* Adds the sorted set b (kb values) to the sorted set a (*ka, room for cap).
 * Returns 0, or 1 when the union has more than cap values. */
int sl__labels_union(double *a, size_t *ka, size_t cap, const double *b, size_t kb);

/* Index of v in the sorted set (k values), or -1. */
long sl__labels_find(const double *set, size_t k, double v);

#endif
