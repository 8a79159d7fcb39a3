/* Private: what the two files of the metrics op share. metrics.c holds the
 * parameters, plan, the first pass (sums, log-loss, labels, class counts)
 * and run; metrics_classify.c the classes of the probability columns, the
 * confusion-matrix pass and the ROC AUC passes. */
#ifndef SL_METRICS_INT_H
#define SL_METRICS_INT_H

#include <stdint.h>
#include "kernels/classify_metrics.h"
#include "ops/model_int.h"
#include "ops/moments_int.h"
#include "sluice/op.h"

enum { M_MSE, M_RMSE, M_MAE, M_R2, M_ACCURACY, M_LOG_LOSS, M_PRECISION, M_RECALL, M_F1, M_ROC_AUC, M_CONFUSION,
       M_COUNT };

typedef struct sl__metrics {
    const sl_stage *st;
    int want[M_COUNT];
    size_t order[M_COUNT], n_metrics;
    const sl_frame *frame;     /* the frame streamed */
    int from_model;
    sl__model_kind kind;
    int64_t F;
    long ti, pi, qi, xi;       /* truth, prediction, probability, features (-1: unused) */
    /* arrays read by the first pass, the confusion pass, the roc_auc passes */
    const char *names[5], *names_cm[5], *names_roc[5];
    double *w, b, cut;
    int w_nonzero; /* every weight finite and non-zero: a non-finite x shows in its prediction */
    /* mse, rmse and r2 of a linear model from the co-moments of a chain
     * below 'data' (moments_int.h), with no pass, when the values allow */
    sl__affine_chain chain;
    int algebra;
    int64_t K;                 /* probability columns (1 for a logistic model) */
    sl__average avg;
    double pos_label;
    int want_labels;           /* precision, recall, f1, confusion: the label set */
    int want_classes;          /* log_loss, roc_auc: each row's class */
    /* run time: the classes of the probability columns */
    size_t n_cls;              /* K, or 2 for one column */
    double *cls;               /* class of column j */
    double *cls_sorted;        /* the classes sorted, and their columns */
    long *cls_col;
    int only01;                /* one column, no classes given: labels must be 0/1 */
    char cls_text[160];        /* "2, 5, 9" for messages */
    size_t lab_off, cnt_off, part_size; /* layout of the first pass's partial */
    /* the confusion pass */
    const double *labels;
    size_t n_labels;
    /* a roc_auc pass: the score keys of class roc_cls's rows from buf[0], the
     * others' from buf[n1]; then the sort's scratch */
    size_t roc_col, roc_cls;
    uint64_t *buf;
    int64_t n1, n0, fill1, fill0;
} sl__metrics;

/* What sl__metrics_read_rows reads besides the truth. */
enum { SL__READ_PRED = 1, SL__READ_PROB = 2 };

/* A chunk's truth, predictions and probabilities as float64. */
typedef struct sl__rows {
    const double *y, *yp, *prob;
    double *buf; /* scratch, for free() */
} sl__rows;

/* Reads the truth and what asks for of chunk `in`, checked finite; with
 * 'model', computes the predictions and probabilities as predict does. */
sl_status sl__metrics_read_rows(const sl__metrics *s, const sl_chunk *in, unsigned what, sl__rows *v, sl_error *err);

/* Checks classes given by the parameter `param` (plan time) or by the
 * probability array's attribute (param NULL, run time); `what` names them. */
sl_status sl__metrics_check_classes(const sl__metrics *s, const double *v, size_t n, const char *param,
                                    const char *what, sl_error *err);

/* Run time: the classes of the probability columns (s->cls, n_cls, ...). */
sl_status sl__metrics_load_classes(sl__metrics *s, sl_error *err);

/* The probability column of each row's class, or an error naming the row. */
sl_status sl__metrics_row_classes(const sl__metrics *s, const sl_chunk *in, const double *y, long *col,
                                  sl_error *err);

/* After the first pass found the K labels (too_many: more than
 * SL_CLASS_MAX): checks them against `average` and pos_label (*pos: its
 * index, -1 when absent), then counts the K x K confusion matrix into *cm
 * (the caller frees it). */
sl_status sl__metrics_confusion(sl_stage *st, sl_exec *ex, sl__metrics *s, const double *labels, size_t K,
                                int too_many, int64_t **cm, long *pos, sl_error *err);

/* The ROC AUC (binary, or one-vs-rest macro for more than 2 classes) of
 * the n rows, count[j] of them of class column j. */
sl_status sl__metrics_roc_auc(sl_stage *st, sl_exec *ex, sl__metrics *s, const int64_t *count, int64_t n,
                              double *auc, sl_error *err);

#endif
