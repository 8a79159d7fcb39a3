/* Private kernel: the numerics of the classification metrics (ops/metrics.c),
 * with scikit-learn's definitions (sklearn.metrics 1.2).
 *
 * Labels are arbitrary finite doubles, gathered in label sets (labels.h).
 * Counts are integers, so they are exact in any order.
 *
 * The ROC AUC is exact: the scores of the positive and of the negative rows
 * are sorted (a radix sort), and a merge walk counts, for every positive, the negatives
 * below it plus half of those equal to it (the Mann-Whitney U with ties
 * averaged, which is the area under sklearn's ROC curve). */
#ifndef SL_CLASSIFY_METRICS_H
#define SL_CLASSIFY_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "kernels/labels.h"

/* How precision, recall and f1 are averaged over the labels (sklearn's
 * `average`): one label (pos), the plain mean, or the mean weighted by each
 * label's true count. */
typedef enum sl__average { SL__AVG_BINARY, SL__AVG_MACRO, SL__AVG_WEIGHTED } sl__average;

/* Precision, recall and f1 (out[0..2]) from a K x K confusion matrix (row:
 * true label, column: predicted label). pos: the label of SL__AVG_BINARY
 * (its index, or -1 when it does not occur: all three are then 0). A ratio
 * whose denominator is 0 counts as 0, as sklearn's zero_division="warn". */
void sl__prf(const int64_t *cm, size_t K, sl__average avg, long pos, double out[3]);

/* sklearn's log_loss of one row of K >= 2 class probabilities p, whose true
 * class is column t: every p clipped to [eps, 1 - eps] (eps = DBL_EPSILON),
 * the row normalized by its sum, minus the log of the true column's share. */
double sl__log_loss_row(const double *p, size_t K, size_t t);

/* The same for the probability p of the positive class of a binary problem
 * (the row (1 - p, p)); positive: whether the row's label is that class. */
double sl__log_loss_binary(double p, int positive);

/* The sort key of a score: keys compare (as unsigned integers) as the
 * scores do, -0.0 as +0.0; not for NaN. */
uint64_t sl__score_key(double v);

/* ROC AUC from the keys of the scores of n1 positive and n0 negative rows
 * (both > 0). Sorts pos and neg in place; scratch: max(n1, n0) keys. */
double sl__roc_auc(uint64_t *pos, size_t n1, uint64_t *neg, size_t n0, uint64_t *scratch);

#endif
