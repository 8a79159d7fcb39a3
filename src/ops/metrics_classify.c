/* metrics, classification: the classes of the probability columns, the
 * confusion matrix over the labels the first pass found (a second pass), and
 * the ROC AUC, whose scores are gathered in order and sorted
 * (kernels/classify_metrics.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "ops/metrics_int.h"

/* The classes of the probability columns (`classes`, or the array's
 * attribute; `what` names which in messages) must be one per column,
 * finite and distinct. */
sl_status sl__metrics_check_classes(const sl__metrics *s, const double *v, size_t n, const char *param,
                                    const char *what, sl_error *err)
{
    size_t want = s->K == 1 ? 2 : (size_t)s->K;
    char prob[SL_NAME_MAX + 16];
    snprintf(prob, sizeof prob, "'%s'", s->qi >= 0 ? sl_frame_array(s->frame, (size_t)s->qi)->name : "");
    if (n != want)
        return sl_stage_error(s->st, err, param ? SL_ERR_CONFIG : SL_ERR_DATA, param,
                              "%s has %zu values, but %s has %lld probability column%s: give one class per "
                              "column%s",
                              what, n, s->qi >= 0 ? prob : "the model", (long long)s->K, s->K == 1 ? "" : "s",
                              s->K == 1 ? " (2 for a column of the second class's probability)" : "");
    for (size_t j = 0; j < n; j++) {
        int dup = 0;
        for (size_t i = 0; i < j; i++)
            dup |= v[i] == v[j];
        if (!isfinite(v[j]) || dup)
            return sl_stage_error(s->st, err, param ? SL_ERR_CONFIG : SL_ERR_DATA, param,
                                  "%s: value %zu is %.15g; the classes must be distinct finite numbers", what, j,
                                  v[j]);
    }
    return SL_OK;
}

/* "0, 1, 2" for the first labels of a set, for messages. */
static void labels_text(const double *v, size_t n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t j = 0; j < n && j < 8 && used < size; j++)
        used += (size_t)snprintf(buf + used, size - used, j == 0 ? "%.15g" : ", %.15g", v[j]);
    if (n > 8 && used < size)
        snprintf(buf + used, size - used, ", ...");
}

/* The classes of the probability columns, and a sorted copy to find them. */
sl_status sl__metrics_load_classes(sl__metrics *s, sl_error *err)
{
    const sl_params *p = sl_stage_params(s->st);
    s->n_cls = s->K == 1 ? 2 : (size_t)s->K;
    free(s->cls);
    free(s->cls_sorted);
    free(s->cls_col);
    s->cls = malloc(s->n_cls * sizeof *s->cls);
    s->cls_sorted = malloc(s->n_cls * sizeof *s->cls_sorted);
    s->cls_col = malloc(s->n_cls * sizeof *s->cls_col);
    if (!s->cls || !s->cls_sorted || !s->cls_col)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    size_t n = 0;
    const double *attr = s->qi >= 0 ? sl_frame_attr(s->frame, sl_frame_array(s->frame, (size_t)s->qi)->name,
                                                    "classes", &n)
                                    : NULL;
    s->only01 = 0;
    if (sl_params_has(p, "classes")) {
        for (size_t j = 0; j < s->n_cls; j++)
            s->cls[j] = sl_params_list_number(p, "classes", j);
    } else if (attr) {
        char what[SL_NAME_MAX + 40];
        snprintf(what, sizeof what, "the attribute 'classes' of '%s'", sl_frame_array(s->frame, (size_t)s->qi)->name);
        sl_status rc = sl__metrics_check_classes(s, attr, n, NULL, what, err);
        if (rc)
            return rc;
        memcpy(s->cls, attr, s->n_cls * sizeof *s->cls);
    } else {
        s->only01 = s->K == 1;
        for (size_t j = 0; j < s->n_cls; j++)
            s->cls[j] = (double)j;
    }
    labels_text(s->cls, s->n_cls, s->cls_text, sizeof s->cls_text);
    /* sorted by insertion: at most SL_CLASS_MAX classes, once per run */
    for (size_t j = 0; j < s->n_cls; j++) {
        double v = s->cls[j] + 0.0;
        size_t i = j;
        for (; i > 0 && s->cls_sorted[i - 1] > v; i--) {
            s->cls_sorted[i] = s->cls_sorted[i - 1];
            s->cls_col[i] = s->cls_col[i - 1];
        }
        s->cls_sorted[i] = v;
        s->cls_col[i] = (long)j;
    }
    return SL_OK;
}

/* "the truth 'y' and the predictions 'y_pred'" for messages. */
static void arrays_text(const sl__metrics *s, char *buf, size_t size)
{
    const char *y = sl_frame_array(s->frame, (size_t)s->ti)->name;
    if (s->pi >= 0)
        snprintf(buf, size, "the truth '%s' and the predictions '%s'", y,
                 sl_frame_array(s->frame, (size_t)s->pi)->name);
    else
        snprintf(buf, size, "the truth '%s' and the model's predictions", y);
}

/* average: binary needs at most 2 labels, pos_label among them when 2. */
static sl_status check_binary_average(const sl__metrics *s, const double *labels, size_t K, long *pos,
                                      sl_error *err)
{
    char text[200], arrays[2 * SL_NAME_MAX + 64];
    arrays_text(s, arrays, sizeof arrays);
    labels_text(labels, K, text, sizeof text);
    if (K > 2)
        return sl_stage_error(s->st, err, SL_ERR_DATA, "average",
                              "average is binary, but %s hold %zu labels (%s); set average: macro or weighted to "
                              "average precision, recall and f1 over more than 2 labels",
                              arrays, K, text);
    *pos = sl__labels_find(labels, K, s->pos_label);
    if (*pos < 0 && K == 2)
        return sl_stage_error(s->st, err, SL_ERR_DATA, "pos_label",
                              "pos_label is %.15g, which is not one of the labels (%s) of %s; set pos_label to "
                              "the label whose precision, recall and f1 you want",
                              s->pos_label, text, arrays);
    return SL_OK;
}

/* The probability column of each row's class, or an error naming the row. */
sl_status sl__metrics_row_classes(const sl__metrics *s, const sl_chunk *in, const double *y, long *col,
                                  sl_error *err)
{
    const char *truth = in->arrays[s->ti].info->name;
    if (s->only01) {
        sl_status rc = sl__check_binary(s->st, truth, y, in->rows, in->row0,
                                        s->want[M_LOG_LOSS] ? "log_loss" : "roc_auc", err);
        for (int64_t i = 0; rc == SL_OK && i < in->rows; i++)
            col[i] = y[i] == 1;
        return rc;
    }
    for (int64_t i = 0; i < in->rows; i++) {
        long j = sl__labels_find(s->cls_sorted, s->n_cls, y[i]);
        if (j < 0)
            return sl_stage_error(s->st, err, SL_ERR_DATA, NULL,
                                  "array '%s' row %lld holds %.15g, which is not one of the classes of the "
                                  "probabilities (%s); set 'classes' to the class of each probability column, or "
                                  "leave out the rows of other classes",
                                  truth, (long long)(in->row0 + i), y[i], s->cls_text);
        col[i] = s->cls_col[j];
    }
    return SL_OK;
}

static sl_status changed(const sl__metrics *s, const char *what, sl_error *err)
{
    return sl_stage_error(s->st, err, SL_ERR_DATA, NULL,
                          "array '%s': the input changed between two passes over it (%s)",
                          sl_frame_array(s->frame, (size_t)s->ti)->name, what);
}

/* ---- pass 2: the confusion matrix ------------------------------------------ */

/* Partial: the chunk's rows, then each row's cell (true label x K + predicted
 * label), added to the K x K counts in merge: K² counts per chunk would cost
 * more than the rows for many labels. */
static sl_status confusion_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)out;
    const sl__metrics *s = ctx;
    sl__rows v = {0};
    sl_status rc = sl__metrics_read_rows(s, in, SL__READ_PRED, &v, err);
    int64_t *rows = partial;
    uint32_t *cell = (uint32_t *)(rows + 1);
    for (int64_t i = 0; rc == SL_OK && i < in->rows; i++) {
        long a = sl__labels_find(s->labels, s->n_labels, v.y[i]), b = sl__labels_find(s->labels, s->n_labels, v.yp[i]);
        if (a < 0 || b < 0)
            rc = changed(s, "a label the first pass did not see", err);
        else
            cell[i] = (uint32_t)((size_t)a * s->n_labels + (size_t)b);
    }
    if (rc == SL_OK)
        *rows = in->rows;
    free(v.buf);
    return rc;
}

static sl_status confusion_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)ctx;
    (void)err;
    int64_t *cm = acc;
    const int64_t *rows = partial;
    const uint32_t *cell = (const uint32_t *)(rows + 1);
    for (int64_t i = 0; i < *rows; i++)
        cm[cell[i]]++;
    return SL_OK;
}

sl_status sl__metrics_confusion(sl_stage *st, sl_exec *ex, sl__metrics *s, const double *labels, size_t K,
                                int too_many, int64_t **cm, long *pos, sl_error *err)
{
    char arrays[2 * SL_NAME_MAX + 64];
    arrays_text(s, arrays, sizeof arrays);
    *cm = NULL;
    *pos = -1;
    if (too_many)
        return sl_stage_error(st, err, SL_ERR_DATA, "metrics",
                              "%s hold more than %d distinct labels; precision, recall, f1 and confusion count at "
                              "most %d (are these continuous values? mse, mae and r2 score a regression)",
                              arrays, SL_CLASS_MAX, SL_CLASS_MAX);
    int binary = s->avg == SL__AVG_BINARY && (s->want[M_PRECISION] || s->want[M_RECALL] || s->want[M_F1]);
    sl_status rc = binary ? check_binary_average(s, labels, K, pos, err) : SL_OK;
    if (rc == SL_OK && !(*cm = calloc(K * K, sizeof **cm)))
        rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    s->labels = labels;
    s->n_labels = K;
    sl_pass pass = {.name = "confusion",
                    .input = s->frame,
                    .input_arrays = s->names_cm,
                    .partial_size = sizeof(int64_t) + (size_t)sl_stage_chunk_rows(st) * sizeof(uint32_t),
                    .acc_size = K * K * sizeof **cm,
                    .ctx = s,
                    .chunk = confusion_chunk,
                    .merge = confusion_merge};
    return rc == SL_OK ? sl_exec_pass(ex, st, &pass, *cm, err) : rc;
}

/* ---- roc_auc: the scores of one column, gathered in order ------------------ */

static sl_status roc_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)out;
    (void)partial;
    sl__metrics *s = ctx;
    sl__rows v = {0};
    long *col = malloc((size_t)(in->rows + 1) * sizeof *col);
    sl_status rc = col ? sl__metrics_read_rows(s, in, SL__READ_PROB, &v, err)
                       : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (rc == SL_OK)
        rc = sl__metrics_row_classes(s, in, v.y, col, err);
    for (int64_t i = 0; rc == SL_OK && i < in->rows; i++) {
        double score = s->K == 1 ? v.prob[i] : v.prob[i * s->K + (int64_t)s->roc_col];
        if ((size_t)col[i] == s->roc_cls && s->fill1 < s->n1)
            s->buf[s->fill1++] = sl__score_key(score);
        else if ((size_t)col[i] != s->roc_cls && s->fill0 < s->n0)
            s->buf[s->n1 + s->fill0++] = sl__score_key(score);
        else
            rc = changed(s, "class counts differ", err);
    }
    free(v.buf);
    free(col);
    return rc;
}

/* AUC of probability column c against the rows of class column k. */
static sl_status roc_auc(sl_stage *st, sl_exec *ex, sl__metrics *s, size_t c, size_t k, int64_t n1, int64_t n0,
                         double *auc, sl_error *err)
{
    s->roc_col = c;
    s->roc_cls = k;
    s->n1 = n1;
    s->n0 = n0;
    s->fill1 = s->fill0 = 0;
    /* sequential: the scores go to the state in chunk order, which neither a
     * resumed pass nor other ranks could rebuild from an accumulator */
    sl_pass pass = {.name = "roc_auc", .input = s->frame, .input_arrays = s->names_roc, .ctx = s,
                    .chunk = roc_chunk, .sequential = 1};
    sl_status rc = sl_exec_pass(ex, st, &pass, NULL, err);
    if (rc == SL_OK && (s->fill1 != n1 || s->fill0 != n0))
        rc = changed(s, "class counts differ", err);
    if (rc == SL_OK)
        *auc = sl__roc_auc(s->buf, (size_t)n1, s->buf + n1, (size_t)n0, s->buf + n1 + n0);
    return rc;
}

sl_status sl__metrics_roc_auc(sl_stage *st, sl_exec *ex, sl__metrics *s, const int64_t *count, int64_t n,
                              double *auc, sl_error *err)
{
    const char *truth = sl_frame_array(s->frame, (size_t)s->ti)->name;
    for (size_t j = 0; j < s->n_cls; j++)
        if (count[j] == 0 && s->n_cls == 2)
            return sl_stage_error(st, err, SL_ERR_DATA, "metrics",
                                  "roc_auc needs rows of both classes, but every row of '%s' is %.15g, and the ROC "
                                  "AUC is not defined for one class; score data that holds both classes, or leave "
                                  "out roc_auc",
                                  truth, s->cls[1 - j]);
        else if (count[j] == 0)
            return sl_stage_error(st, err, SL_ERR_DATA, "metrics",
                                  "roc_auc (one-vs-rest) needs rows of every class, but no row of '%s' is %.15g "
                                  "(column %zu of '%s'), so its ROC AUC is not defined; score data that holds "
                                  "every class, or leave out roc_auc",
                                  truth, s->cls[j], j, sl_frame_array(s->frame, (size_t)s->qi)->name);
    /* the scores, then the sort's scratch: n at most */
    s->buf = malloc((size_t)(2 * n + 1) * sizeof *s->buf);
    if (!s->buf)
        return sl_stage_error(st, err, SL_ERR_NOMEM, NULL,
                              "out of memory for the %lld scores roc_auc sorts (16 bytes per row)", (long long)n);
    sl_status rc = SL_OK;
    if (s->n_cls == 2)
        rc = roc_auc(st, ex, s, s->K == 1 ? 0 : 1, 1, count[1], count[0], auc, err);
    double sum = 0;
    for (size_t j = 0; rc == SL_OK && s->n_cls > 2 && j < s->n_cls; j++) {
        double a = 0;
        rc = roc_auc(st, ex, s, j, j, count[j], n - count[j], &a, err);
        sum += a;
    }
    if (s->n_cls > 2)
        *auc = sum / (double)s->n_cls;
    free(s->buf);
    s->buf = NULL;
    return rc;
}
