/* metrics: regression and classification scores of predictions against the
 * truth. One reduce pass for the sums (a centered mean/M2 of the truth for
 * R², merged in chunk order), the log-loss and the label set; a second one
 * counts the confusion matrix over those labels; the ROC AUC gathers the
 * scores in sequential passes and sorts them (kernels/classify_metrics.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/params_int.h"
#include "core/error_int.h"
#include "kernels/blas.h"
#include "kernels/residual.h"
#include "kernels/standardize.h"
#include "ops/metrics_int.h"
#include "ops/ops_int.h"
#include "plan/exec_int.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 0, NULL, NULL, 0, 0,
     "stage whose frame holds the truth and the predictions (e.g. a predict stage); or give model and data"},
    {"model", SL_PARAM_INPUT, 0, NULL, NULL, 0, 0, "a model stage (linreg, logreg), to predict on 'data' on the fly"},
    {"data", SL_PARAM_INPUT, 0, NULL, NULL, 0, 0, "with 'model': stage whose frame holds the features and the truth"},
    {"features", SL_PARAM_STRING, 0, "X", NULL, 0, 0, "with 'model': array of features of 'data'"},
    {"truth", SL_PARAM_STRING, 0, "y", NULL, 0, 0, "array of true values (n x 1)"},
    {"prediction", SL_PARAM_STRING, 0, "y_pred", NULL, 0, 0, "with 'input': array of predictions (n x 1)"},
    {"probability", SL_PARAM_STRING, 0, "y_prob", NULL, 0, 0,
     "with 'input': array of predicted probabilities, for log_loss and roc_auc: n x 1 (of class 1) or n x K "
     "(column j: class j)"},
    {"classes", SL_PARAM_NUMBER_LIST, 0, NULL, NULL, 0, 0,
     "the class of each probability column (default: the array's attribute 'classes', else 0..K-1); for an n x 1 "
     "array the two classes, the second being the one whose probability it holds"},
    {"metrics", SL_PARAM_STRING_LIST, 0, NULL, NULL, 0, 0,
     "any of mse, rmse, mae, r2, accuracy, log_loss, precision, recall, f1, roc_auc, confusion (default: "
     "[mse, rmse, mae, r2], or the classification metrics for a logistic model or an input with probabilities)"},
    {"average", SL_PARAM_CHOICE, 0, NULL, "binary|macro|weighted", 0, 0,
     "how precision, recall and f1 treat the labels (default: binary, or macro when the probability array has "
     "more than 2 columns)"},
    {"pos_label", SL_PARAM_NUMBER, 0, "1", NULL, 0, 0,
     "with average binary: the label whose precision, recall and f1 are reported"},
};

static const char *const metric_names[M_COUNT] = {"mse",       "rmse",   "mae", "r2",      "accuracy", "log_loss",
                                                  "precision", "recall", "f1",  "roc_auc", "confusion"};
#define METRIC_LIST "mse, rmse, mae, r2, accuracy, log_loss, precision, recall, f1, roc_auc, confusion"

static const char doc[] =
    "Scores predictions against the truth:\n\n"
    "| metric | value | as scikit-learn |\n|---|---|---|\n"
    "| `mse` | Σ(y − ŷ)²/n | `mean_squared_error` |\n"
    "| `rmse` | √mse | `mean_squared_error(squared=False)` |\n"
    "| `mae` | Σ\\|y − ŷ\\|/n | `mean_absolute_error` |\n"
    "| `r2` | 1 − Σ(y − ŷ)²/Σ(y − ȳ)² (1 when both are 0, 0 when only the second is) | `r2_score` |\n"
    "| `accuracy` | fraction of rows with ŷ == y exactly | `accuracy_score` |\n"
    "| `precision` | tp/(tp + fp) | `precision_score(average=...)` |\n"
    "| `recall` | tp/(tp + fn) | `recall_score(average=...)` |\n"
    "| `f1` | 2·precision·recall/(precision + recall) | `f1_score(average=...)` |\n"
    "| `log_loss` | −mean(log of the true class's probability), each probability clipped to [ε, 1 − ε], "
    "ε = 2.2e-16, and each row normalized by its sum | `log_loss(labels=classes)` |\n"
    "| `roc_auc` | area under the ROC curve, exact (tied scores count one half) | `roc_auc_score` "
    "(`multi_class='ovr', average='macro'` for K > 2) |\n"
    "| `confusion` | counts of (true label, predicted label) | `confusion_matrix` |\n\n"
    "Two ways to give the predictions: `input`, a frame holding the truth (`truth`, default `y`), the "
    "predictions (`prediction`, default `y_pred`) and, for `log_loss` and `roc_auc`, the probabilities "
    "(`probability`, default `y_prob`) — e.g. the output of `predict`; or `model` and `data`, which predicts on "
    "the fly as `predict` would (`features` and `truth` of `data`), e.g. "
    "`{ op: metrics, model: train, data: normalize, metrics: [mse, rmse, mae, r2] }`. For a logistic model "
    "ŷ is the class (0/1) and p the probability of class 1.\n\n"
    "**Labels.** Labels are any finite numbers (2, 5, 9 or 0.5 alike; scikit-learn refuses labels that are not "
    "integers). `precision`, `recall`, `f1` and "
    "`confusion` use the sorted union of the labels of the truth and the prediction, at most 1024 of them. "
    "`average: binary` (the default) reports the label `pos_label` (default 1) and needs at most 2 labels; "
    "`macro` is the plain mean over the labels, `weighted` the mean weighted by each label's true count. A "
    "ratio whose denominator is 0 (a label never predicted, or never true) counts as 0, as scikit-learn's "
    "default `zero_division=\"warn\"` does (without the warning).\n\n"
    "**Probabilities.** An n × 1 array holds the probability of the positive class of a binary problem: "
    "labels 0 and 1, or the two values of `classes`, the second being the positive one. An n × K array "
    "(K ≥ 2) holds one column per class: the classes are `classes` when given, else the array's attribute "
    "`classes` (K values, as `predict` writes for a multi-class model), else 0..K-1. A truth label that is not "
    "a class is an error naming the row. The probabilities are read as float64, so ε is float64's (scikit-learn "
    "uses float32's, 1.2e-7, for a float32 array). `roc_auc` scores a binary problem by the probability of the "
    "positive class (an n × 1 array, or column 1 of an n × 2 one) and needs rows of both classes; for K > 2 "
    "it is the mean over the classes of the AUC of each column against the rest, and needs rows of every "
    "class. It holds the scores in memory, 16 bytes per row with the sort's scratch (one class at a time: one "
    "pass per class for K > 2), and sorts them; those passes compute one chunk at a time, in order. scikit-learn also insists "
    "that multi-class rows sum to 1; sluice does not check that.\n\n"
    "`metrics` defaults to `[mse, rmse, mae, r2]`; for a logistic model or an input that has the probability "
    "array, to `[accuracy, precision, recall, f1, log_loss, roc_auc]`, or for a probability array of more than "
    "2 columns to `[accuracy, precision, recall, f1, log_loss]` with `average` macro. Σ(y − ȳ)² comes from "
    "per-chunk centered sums merged with Chan's formula, so R² keeps its precision for targets with a large "
    "mean.\n\n"
    "**Without a pass.** `mse`, `rmse` and `r2` of a linear model (`model` and `data`) need no pass over the "
    "data when `data` is the top of a chain whose moments clean gathers (clean → convert → z-score normalize, "
    "as for linreg's fits by algebra): Σ(y − ŷ)² = C_yy − 2w·C_xy + wᵀC_xx w + n(ȳ − x̄·w − b)² from the "
    "centred co-moments of the features and the truth. The terms cancel as much as the model explains, so the "
    "pass is made instead when their size exceeds 4096 times the result (a model that fits almost exactly: "
    "R² above about 0.999 on data like the benchmark's, where the ratio is 1456 and the result agrees with "
    "the pass to 1e-13), and when the moments are missing or not finite. Any other metric in the list "
    "(`mae` among them) needs the pass; `SLUICE_ALGEBRA=off` forces it. run.log shows `\"passes\":0` for a "
    "stage scored by algebra.\n\n"
    "**Checks**: unknown metric names (with a did-you-mean suggestion) or repeated ones; `input` together "
    "with `model`/`data`, or `model` without `data`; missing arrays, or truth and prediction arrays of more "
    "than 1 column; more than 1024 probability columns; `classes` of the wrong length, repeated or not finite; "
    "a feature count that does not match the model; `log_loss` or `roc_auc` without probabilities (a linear "
    "model). At run time: NaN or infinite values (with their row); labels other than 0/1 for `log_loss` and "
    "`roc_auc` of an n × 1 array without `classes`, or truth labels that are not classes; more than 1024 "
    "labels; more than 2 labels, or 2 labels without `pos_label`, for `average: binary`; one class only for "
    "`roc_auc`; no rows.\n\n"
    "**Output**: one row; one 1 × 1 float64 array per metric, named as the metric, in the order asked. Each "
    "is also a result of the stage (printed in the run summary, stored as `result.<metric>` in the "
    "checkpoint), except `confusion`: its array holds K, the number of labels, and carries the attributes "
    "`labels` (the K labels, sorted) and `matrix` (K·K counts, row-major: row i is the true label i, column j "
    "the predicted label j), so `f['confusion'].attrs['matrix'].reshape(K, K)` is scikit-learn's "
    "`confusion_matrix`; `sluice run` prints it under the stage's line when K ≤ 12. Counts are exact and "
    "independent of threads and chunks; sums change only in their rounding with the chunk size.";

/* Per-chunk partial of the first pass, merged in order; followed by the
 * label set (SL_CLASS_MAX doubles) and the rows of each class (n_cls
 * int64) when asked for. */
typedef struct part {
    double n, mean, m2;   /* of the truth (Chan) */
    double sse, sae, correct, ll;
    int64_t n_labels, too_many;
} part;

static void free_state(void *p)
{
    sl__metrics *s = p;
    if (s) {
        free(s->w);
        free(s->cls);
        free(s->cls_sorted);
        free(s->cls_col);
        free(s->buf);
        free(s);
    }
}

static sl_status choose_metrics(sl_stage *st, sl__metrics *s, int classifier, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    if (!sl_params_has(p, "metrics")) {
        static const size_t reg[] = {M_MSE, M_RMSE, M_MAE, M_R2},
                            cls[] = {M_ACCURACY, M_PRECISION, M_RECALL, M_F1, M_LOG_LOSS, M_ROC_AUC};
        const size_t *d = classifier ? cls : reg;
        /* the one-vs-rest AUC needs every class present: not a default */
        s->n_metrics = classifier ? (s->K > 2 ? 5 : 6) : 4;
        for (size_t k = 0; k < s->n_metrics; k++) {
            s->order[k] = d[k];
            s->want[d[k]] = 1;
        }
        return SL_OK;
    }
    size_t n = sl_params_len(p, "metrics");
    if (n == 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "metrics", "'metrics' is empty; name at least one of "
                              METRIC_LIST);
    for (size_t k = 0; k < n; k++) {
        const char *m = sl_params_list_string(p, "metrics", k);
        size_t j = 0;
        while (j < M_COUNT && strcmp(m, metric_names[j]) != 0)
            j++;
        if (j == M_COUNT) {
            const char *hint = sl__suggest(m, metric_names, M_COUNT);
            sl_stage_error(st, err, SL_ERR_CONFIG, "metrics", "unknown metric '%s'; the metrics are " METRIC_LIST,
                           m);
            if (hint)
                sl__error_append(err, "; did you mean '%s'?", hint);
            return SL_ERR_CONFIG;
        }
        if (s->want[j])
            return sl_stage_error(st, err, SL_ERR_CONFIG, "metrics", "metric '%s' is listed twice", m);
        s->want[j] = 1;
        s->order[s->n_metrics++] = j;
    }
    return SL_OK;
}

static int needs_prediction(const sl__metrics *s)
{
    return s->want[M_MSE] || s->want[M_RMSE] || s->want[M_MAE] || s->want[M_R2] || s->want[M_ACCURACY] ||
           s->want_labels;
}

static sl_status plan_probability(sl_stage *st, sl__metrics *s, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    const char *metric = s->want[M_LOG_LOSS] ? "log_loss" : "roc_auc";
    if (s->from_model && s->kind != SL__MODEL_LOGISTIC)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "metrics",
                              "%s needs predicted probabilities, and the model is linear; use it with a logistic "
                              "model (logreg)",
                              metric);
    if (!s->from_model && sl_frame_find(s->frame, sl_params_string(p, "probability")) < 0) {
        char have[512];
        sl__describe_frame(s->frame, have, sizeof have);
        return sl_stage_error(st, err, SL_ERR_CONFIG, "metrics",
                              "%s needs predicted probabilities: the input has no array '%s' (set 'probability'); "
                              "it has %s",
                              metric, sl_params_string(p, "probability"), have);
    }
    if (s->from_model)
        return SL_OK;
    sl_status rc = sl__model_array(st, "probability", s->frame, 0, &s->qi, err);
    if (rc == SL_OK && s->K > SL_CLASS_MAX)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "probability",
                              "array '%s' has %lld columns; metrics takes at most %d classes (one probability "
                              "column each)",
                              sl_params_string(p, "probability"), (long long)s->K, SL_CLASS_MAX);
    return rc;
}

/* The truth, features and the given arrays, each once, NULL-terminated. */
static void array_names(const sl__metrics *s, const char **names, long pi, long qi)
{
    size_t k = 0;
    long idx[4] = {s->ti, pi, qi, s->xi};
    for (size_t i = 0; i < 4; i++) {
        if (idx[i] < 0)
            continue;
        int dup = 0;
        for (size_t j = 0; j < i; j++)
            dup |= idx[j] == idx[i];
        if (!dup)
            names[k++] = sl_frame_array(s->frame, (size_t)idx[i])->name;
    }
    names[k] = NULL;
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    sl__metrics *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    s->st = st;
    s->ti = s->pi = s->qi = s->xi = -1;
    s->K = 1;
    int has_in = sl_params_has(p, "input"), has_model = sl_params_has(p, "model"), has_data = sl_params_has(p, "data");
    if (has_in && (has_model || has_data))
        return sl_stage_error(st, err, SL_ERR_CONFIG, has_model ? "model" : "data",
                              "give either 'input' (a frame with truth and predictions) or 'model' and 'data', "
                              "not both");
    if (!has_in && !(has_model && has_data))
        return sl_stage_error(st, err, SL_ERR_CONFIG, has_model ? "model" : has_data ? "data" : NULL,
                              "metrics needs 'input' (a frame with truth and predictions, e.g. a predict stage), "
                              "or both 'model' (a model stage) and 'data' (the stage with its features and truth)");
    s->from_model = !has_in;
    sl_status rc = SL_OK;
    int classifier;
    if (s->from_model) {
        s->frame = sl_stage_input(st, "data");
        rc = sl__model_check(st, "model", sl_stage_input(st, "model"), &s->kind, &s->F, err);
        if (rc == SL_OK)
            rc = sl__model_array(st, "features", s->frame, 0, &s->xi, err);
        if (rc == SL_OK && sl_frame_array(s->frame, (size_t)s->xi)->cols != s->F)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "features",
                                  "array '%s' has %lld columns, but the model has %lld weights",
                                  sl_frame_array(s->frame, (size_t)s->xi)->name,
                                  (long long)sl_frame_array(s->frame, (size_t)s->xi)->cols, (long long)s->F);
        classifier = s->kind == SL__MODEL_LOGISTIC;
    } else {
        s->frame = sl_stage_input(st, "input");
        long q = sl_frame_find(s->frame, sl_params_string(p, "probability"));
        classifier = q >= 0;
        if (q >= 0)
            s->K = sl_frame_array(s->frame, (size_t)q)->cols;
    }
    if (rc == SL_OK)
        rc = choose_metrics(st, s, classifier, err);
    s->want_labels = s->want[M_PRECISION] || s->want[M_RECALL] || s->want[M_F1] || s->want[M_CONFUSION];
    s->want_classes = s->want[M_LOG_LOSS] || s->want[M_ROC_AUC];
    const char *avg = sl_params_string(p, "average");
    s->avg = !avg ? (s->K > 2 ? SL__AVG_MACRO : SL__AVG_BINARY)
             : strcmp(avg, "macro") == 0 ? SL__AVG_MACRO
             : strcmp(avg, "weighted") == 0 ? SL__AVG_WEIGHTED : SL__AVG_BINARY;
    s->pos_label = sl_params_number(p, "pos_label");
    if (rc == SL_OK && !isfinite(s->pos_label))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "pos_label", "'pos_label' is not a finite number");
    if (rc == SL_OK)
        rc = sl__model_array(st, "truth", s->frame, 1, &s->ti, err);
    if (rc == SL_OK && !s->from_model && needs_prediction(s))
        rc = sl__model_array(st, "prediction", s->frame, 1, &s->pi, err);
    if (rc == SL_OK && s->want_classes)
        rc = plan_probability(st, s, err);
    if (rc == SL_OK && s->want_classes && sl_params_has(p, "classes")) {
        size_t n = sl_params_len(p, "classes");
        double v[SL_CLASS_MAX];
        for (size_t j = 0; j < n && j < SL_CLASS_MAX; j++)
            v[j] = sl_params_list_number(p, "classes", j);
        rc = sl__metrics_check_classes(s, v, n, "classes", "'classes'", err);
    }
    if (rc == SL_OK) {
        array_names(s, s->names, s->pi, s->qi);
        array_names(s, s->names_cm, s->pi, -1);
        array_names(s, s->names_roc, -1, s->qi);
    }
    /* mse, rmse and r2 alone, of a linear model: from the co-moments of the
     * data when a chain below gathers them (run() decides, from the values) */
    int algebraic = s->from_model && s->kind == SL__MODEL_LINEAR;
    for (size_t m = 0; m < s->n_metrics; m++)
        algebraic &= s->order[m] == M_MSE || s->order[m] == M_RMSE || s->order[m] == M_R2;
    if (rc == SL_OK && algebraic)
        s->algebra = sl__affine_chain_find(sl__input_stage(st, "data"), 1, &s->chain);
    sl_frame *out = sl_stage_output(st);
    for (size_t m = 0; rc == SL_OK && m < s->n_metrics; m++)
        rc = sl_frame_add(out, metric_names[s->order[m]], SL_FLOAT64, 1, err);
    sl_frame_set_rows(out, 1);
    return rc;
}

/* ---- reading a chunk ------------------------------------------------------ */

static int converted(const sl_chunk *in, long i)
{
    return i >= 0 && in->arrays[i].info->dtype != SL_FLOAT64;
}

sl_status sl__metrics_read_rows(const sl__metrics *s, const sl_chunk *in, unsigned what, sl__rows *v, sl_error *err)
{
    int64_t rows = in->rows;
    int model = s->from_model;
    /* scratch only for what is not float64 already (or is computed) */
    int64_t nt = converted(in, s->ti) ? rows : 0,
            np = model || ((what & SL__READ_PRED) && converted(in, s->pi)) ? rows : 0,
            nq = model || ((what & SL__READ_PROB) && converted(in, s->qi)) ? rows * s->K : 0,
            nx = model && converted(in, s->xi) ? rows * s->F : 0;
    v->y = v->yp = v->prob = NULL;
    v->buf = malloc((size_t)(nt + np + nq + nx + 1) * sizeof *v->buf);
    if (!v->buf)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    double *ts = v->buf, *ps = ts + nt, *qs = ps + np, *xs = qs + nq;
    v->y = sl__chunk_f64(in, s->ti, ts);
    sl_status rc = sl__check_chunk_finite(s->st, in, s->ti, v->y, err);
    if (rc == SL_OK && model) {
        const double *X = sl__chunk_f64(in, s->xi, xs);
        for (int64_t i = 0; i < rows; i++)
            ps[i] = s->b;
        rc = sl__gemv_n(1.0, X, rows, s->F, s->w, 1.0, ps, err);
        /* With every weight finite and non-zero, a NaN or ±Inf in a row of
         * X makes its prediction NaN or ±Inf: X itself is searched only when
         * a prediction is (for the error's row and column), not every time. */
        size_t first = 0;
        if (rc == SL_OK && (!s->w_nonzero || sl__count_nonfinite(ps, SL_FLOAT64, (size_t)rows, &first) > 0))
            rc = sl__check_chunk_finite(s->st, in, s->xi, X, err);
        /* the probabilities only for the metrics that read them (log_loss,
         * roc_auc): σ costs more than the rest of an accuracy pass */
        int probs = s->kind == SL__MODEL_LOGISTIC && (what & SL__READ_PROB) && s->want_classes;
        if (rc == SL_OK && probs)
            for (int64_t i = 0; i < rows; i++)
                qs[i] = sl__sigmoid(ps[i]);
        if (rc == SL_OK && s->kind == SL__MODEL_LOGISTIC)
            for (int64_t i = 0; i < rows; i++)
                ps[i] = ps[i] > s->cut ? 1.0 : 0.0;
        v->yp = ps;
        v->prob = probs ? qs : NULL;
        return rc;
    }
    if (rc == SL_OK && (what & SL__READ_PRED) && s->pi >= 0) {
        v->yp = sl__chunk_f64(in, s->pi, ps);
        rc = sl__check_chunk_finite(s->st, in, s->pi, v->yp, err);
    }
    if (rc == SL_OK && (what & SL__READ_PROB) && s->qi >= 0) {
        v->prob = sl__chunk_f64(in, s->qi, qs);
        rc = sl__check_chunk_finite(s->st, in, s->qi, v->prob, err);
    }
    return rc;
}

/* ---- pass 1: sums, log-loss, labels, class counts -------------------------- */

/* Rows of the blocks metrics_chunk works in: each block's sums are folded
 * into the partial in row order, so that a chunk handed over in runs of
 * whole blocks gives the partial of one call on the whole chunk (the
 * executor then streams the input in blocks: sl__exec_blocks_next). */
#define METRICS_BLOCK_ROWS 512

/* The block's sums run in LANES interleaved partial sums, added in a fixed
 * tree at the end: a chain of dependent adds, one per row, becomes LANES
 * independent ones that vectorize; the same bits for a block wherever it
 * is computed. */
#define LANES 8

static double lanes_total(const double *a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* Σ (y_i − c), or with square set Σ (y_i − c)². */
static double lane_sum(const double *y, int64_t n, double c, int square)
{
    double a[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            double d = y[i + k] - c;
            a[k] += square ? d * d : d;
        }
    for (int k = 0; i < n; i++, k++) {
        double d = y[i] - c;
        a[k] += square ? d * d : d;
    }
    return lanes_total(a);
}

/* Σ e² and Σ |e| of the errors e = y − ŷ. */
static void errors(const double *y, const double *yp, int64_t n, double *sse, double *sae)
{
    double q[LANES] = {0}, a[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            double e = y[i + k] - yp[i + k];
            q[k] += e * e;
            a[k] += fabs(e);
        }
    for (int k = 0; i < n; i++, k++) {
        double e = y[i] - yp[i];
        q[k] += e * e;
        a[k] += fabs(e);
    }
    *sse = lanes_total(q);
    *sae = lanes_total(a);
}

/* One block's sums, folded into pt. */
static sl_status metrics_block(const sl__metrics *s, const sl_chunk *in, void *partial, long *col, sl_error *err)
{
    part *pt = partial;
    int64_t rows = in->rows;
    sl__rows v = {0};
    sl_status rc = sl__metrics_read_rows(s, in, SL__READ_PRED | SL__READ_PROB, &v, err);
    const double *y = v.y, *yp = v.yp, *prob = v.prob;
    if (rc == SL_OK && s->want_classes)
        rc = sl__metrics_row_classes(s, in, y, col, err);
    if (rc == SL_OK && rows > 0) {
        double m2 = 0, sse = 0, sae = 0, correct = 0, ll = 0, mean = 0;
        if (s->want[M_R2]) { /* the truth's spread: r2 alone reads it */
            mean = lane_sum(y, rows, 0, 0) / (double)rows;
            mean += lane_sum(y, rows, mean, 0) / (double)rows;
            m2 = lane_sum(y, rows, mean, 1);
        }
        if (yp) {
            errors(y, yp, rows, &sse, &sae);
            if (s->want[M_ACCURACY])
                for (int64_t i = 0; i < rows; i++)
                    correct += y[i] == yp[i];
        }
        if (s->want[M_LOG_LOSS])
            for (int64_t i = 0; i < rows; i++)
                ll += s->K == 1 ? sl__log_loss_binary(prob[i], col[i] == 1)
                                : sl__log_loss_row(prob + i * s->K, (size_t)s->K, (size_t)col[i]);
        double n = pt->n + (double)rows, d = mean - pt->mean;
        if (pt->n == 0) {
            pt->mean = mean;
            pt->m2 = m2;
        } else {
            pt->m2 += m2 + d * d * pt->n * (double)rows / n;
            pt->mean += d * (double)rows / n;
        }
        pt->n = n;
        pt->sse += sse;
        pt->sae += sae;
        pt->correct += correct;
        pt->ll += ll;
        if (s->want_labels && !pt->too_many) {
            double *set = (double *)((char *)partial + s->lab_off);
            size_t k = (size_t)pt->n_labels;
            pt->too_many = sl__labels_add(set, &k, SL_CLASS_MAX, y, rows) ||
                           sl__labels_add(set, &k, SL_CLASS_MAX, yp, rows);
            pt->n_labels = (int64_t)k;
        }
        if (s->want[M_ROC_AUC]) {
            int64_t *count = (int64_t *)((char *)partial + s->cnt_off);
            for (int64_t i = 0; i < rows; i++)
                count[col[i]]++;
        }
    }
    free(v.buf);
    return rc;
}

static sl_status metrics_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)out;
    const sl__metrics *s = ctx;
    int64_t B = METRICS_BLOCK_ROWS;
    sl_chunk b = {0};
    b.n_arrays = in->n_arrays;
    b.arrays = malloc((in->n_arrays ? in->n_arrays : 1) * sizeof *b.arrays);
    long *col = s->want_classes ? malloc((size_t)(B + 1) * sizeof *col) : NULL;
    sl_status rc = !b.arrays || (s->want_classes && !col) ? sl__error_set(err, SL_ERR_NOMEM, "out of memory") : SL_OK;
    for (int64_t r0 = 0; rc == SL_OK && r0 < in->rows; r0 += B) {
        sl__chunk_view(in, r0, in->rows - r0 < B ? in->rows - r0 : B, &b);
        rc = metrics_block(s, &b, partial, col, err);
    }
    free(b.arrays);
    free(col);
    return rc;
}

static sl_status metrics_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)err;
    const sl__metrics *s = ctx;
    part *a = acc;
    const part *b = partial;
    if (b->n == 0)
        return SL_OK;
    if (a->n == 0) {
        memcpy(a, b, s->part_size);
        return SL_OK;
    }
    double n = a->n + b->n, d = b->mean - a->mean;
    a->m2 += b->m2 + d * d * a->n * b->n / n;
    a->mean += d * b->n / n;
    a->n = n;
    a->sse += b->sse;
    a->sae += b->sae;
    a->correct += b->correct;
    a->ll += b->ll;
    if (s->want_labels && !a->too_many) {
        size_t k = (size_t)a->n_labels;
        a->too_many = b->too_many || sl__labels_union((double *)((char *)a + s->lab_off), &k, SL_CLASS_MAX,
                                                      (const double *)((const char *)b + s->lab_off),
                                                      (size_t)b->n_labels);
        a->n_labels = (int64_t)k;
    }
    if (s->want[M_ROC_AUC]) {
        int64_t *ca = (int64_t *)((char *)a + s->cnt_off);
        const int64_t *cb = (const int64_t *)((const char *)b + s->cnt_off);
        for (size_t j = 0; j < s->n_cls; j++)
            ca[j] += cb[j];
    }
    return SL_OK;
}

/* ---- by algebra -------------------------------------------------------------- */

/* Σ e², Σ(y − ȳ)² and n of a linear model's errors on the data from the
 * co-moments of its chain (kernels/residual.h), into the first pass's
 * partial; 0 when they do not apply (no moments, a non-finite value, no
 * rows, a constant truth) or would lose more than log2 SL__RESIDUAL_KAPPA_MAX
 * bits to cancellation: the pass computes them then. */
static int sums_by_algebra(const sl__metrics *s, part *acc)
{
    const char *x = sl_frame_array(s->frame, (size_t)s->xi)->name, *y = sl_frame_array(s->frame, (size_t)s->ti)->name;
    double n = 0, *mean = NULL, *C = NULL, kappa = INFINITY, sse = 0;
    int64_t Q = 0;
    int ok = sl__affine_chain_moments(&s->chain, x, y, &n, &mean, &C, &Q) && Q == s->F + 1 && n > 0;
    if (ok) {
        sse = sl__residual_ss(mean, C, s->F, n, s->w, s->b, &kappa);
        ok = isfinite(sse) && kappa <= SL__RESIDUAL_KAPPA_MAX && C[Q * Q - 1] > 0;
    }
    if (ok) {
        acc->n = n;
        acc->mean = mean[s->F];
        acc->m2 = C[Q * Q - 1];
        acc->sse = sse;
    }
    free(mean);
    free(C);
    return ok;
}

/* ---- run ------------------------------------------------------------------- */

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    sl__metrics *s = sl_stage_state(st);
    sl_status rc = SL_OK;
    if (s->from_model) {
        free(s->w);
        s->w = malloc((size_t)s->F * sizeof *s->w);
        if (!s->w)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        double thr;
        rc = sl__model_load(st, "model", sl_stage_input(st, "model"), s->F, s->w, &s->b, &thr, err);
        if (rc)
            return rc;
        s->w_nonzero = 1;
        for (int64_t j = 0; j < s->F; j++)
            s->w_nonzero &= isfinite(s->w[j]) && s->w[j] != 0;
        s->cut = log(thr / (1 - thr));
    }
    if (s->want_classes && (rc = sl__metrics_load_classes(s, err)) != SL_OK)
        return rc;
    s->lab_off = sizeof(part);
    s->cnt_off = s->lab_off + (s->want_labels ? SL_CLASS_MAX * sizeof(double) : 0);
    s->part_size = s->cnt_off + (s->want[M_ROC_AUC] ? s->n_cls * sizeof(int64_t) : 0);
    part *acc = calloc(1, s->part_size);
    if (!acc)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (!(s->algebra && sums_by_algebra(s, acc))) {
        sl__exec_blocks_next(ex, METRICS_BLOCK_ROWS);
        sl_pass pass = {.name = "metrics",
                        .input = s->frame,
                        .input_arrays = s->names,
                        .partial_size = s->part_size,
                        .ctx = s,
                        .chunk = metrics_chunk,
                        .merge = metrics_merge};
        rc = sl_exec_pass(ex, st, &pass, acc, err);
    }
    if (rc == SL_OK && acc->n == 0)
        rc = sl_stage_error(st, err, SL_ERR_DATA, NULL, "there are no rows to score");
    const double *labels = (const double *)((const char *)acc + s->lab_off);
    size_t K = s->want_labels ? (size_t)acc->n_labels : 0;
    long pos = -1;
    int64_t *cm = NULL;
    if (rc == SL_OK && s->want_labels)
        rc = sl__metrics_confusion(st, ex, s, labels, K, (int)acc->too_many, &cm, &pos, err);
    double v[M_COUNT] = {0}, prf[3] = {0, 0, 0};
    if (rc == SL_OK && s->want[M_ROC_AUC])
        rc = sl__metrics_roc_auc(st, ex, s, (const int64_t *)((const char *)acc + s->cnt_off), (int64_t)acc->n,
                                 &v[M_ROC_AUC], err);
    if (rc == SL_OK && s->want_labels)
        sl__prf(cm, K, s->avg, pos, prf);
    double n = acc->n, mse = acc->sse / n;
    v[M_MSE] = mse;
    v[M_RMSE] = sqrt(mse);
    v[M_MAE] = acc->sae / n;
    v[M_R2] = acc->m2 == 0 ? (acc->sse == 0 ? 1.0 : 0.0) : 1 - acc->sse / acc->m2;
    v[M_ACCURACY] = acc->correct / n;
    v[M_LOG_LOSS] = acc->ll / n;
    v[M_PRECISION] = prf[0];
    v[M_RECALL] = prf[1];
    v[M_F1] = prf[2];
    v[M_CONFUSION] = (double)K;
    sl_frame *out = sl_stage_output(st);
    for (size_t k = 0; rc == SL_OK && k < s->n_metrics; k++) {
        size_t m = s->order[k];
        rc = sl_frame_set_data(out, metric_names[m], &v[m], err);
        if (rc == SL_OK && m != M_CONFUSION)
            rc = sl_stage_set_result(st, metric_names[m], v[m], err);
    }
    if (rc == SL_OK && s->want[M_CONFUSION]) {
        double *counts = malloc((K * K + 1) * sizeof *counts);
        if (!counts)
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (size_t c = 0; rc == SL_OK && c < K * K; c++)
            counts[c] = (double)cm[c];
        if (rc == SL_OK)
            rc = sl_frame_set_attr(out, "confusion", "labels", labels, K, err);
        if (rc == SL_OK)
            rc = sl_frame_set_attr(out, "confusion", "matrix", counts, K * K, err);
        free(counts);
    }
    free(cm);
    free(acc);
    return rc;
}

const sl_op sl__op_metrics = {
    .abi = SL_ABI_VERSION,
    .name = "metrics",
    .summary = "regression and classification scores of predictions (or of a model on data): mse, r2, accuracy, "
               "precision, recall, f1, log_loss, roc_auc, confusion matrix",
    .doc = doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .run = run,
    .free_state = free_state,
};
