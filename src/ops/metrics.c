/* metrics: regression and classification scores of predictions against the
 * truth, one reduce pass (per-chunk sums and a centered mean/M2 of the truth
 * for R², merged in chunk order). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/params_int.h"
#include "core/error_int.h"
#include "kernels/blas.h"
#include "ops/model_int.h"
#include "ops/ops_int.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 0, NULL, NULL, 0, 0,
     "stage whose frame holds the truth and the predictions (e.g. a predict stage); or give model and data"},
    {"model", SL_PARAM_INPUT, 0, NULL, NULL, 0, 0, "a model stage (linreg, logreg), to predict on 'data' on the fly"},
    {"data", SL_PARAM_INPUT, 0, NULL, NULL, 0, 0, "with 'model': stage whose frame holds the features and the truth"},
    {"features", SL_PARAM_STRING, 0, "X", NULL, 0, 0, "with 'model': array of features of 'data'"},
    {"truth", SL_PARAM_STRING, 0, "y", NULL, 0, 0, "array of true values (n x 1)"},
    {"prediction", SL_PARAM_STRING, 0, "y_pred", NULL, 0, 0, "with 'input': array of predictions (n x 1)"},
    {"probability", SL_PARAM_STRING, 0, "y_prob", NULL, 0, 0,
     "with 'input': array of predicted probabilities of class 1 (n x 1), for log_loss"},
    {"metrics", SL_PARAM_STRING_LIST, 0, NULL, NULL, 0, 0,
     "any of mse, rmse, mae, r2, accuracy, log_loss (default: [mse, rmse, mae, r2], or [accuracy, log_loss] "
     "for a logistic model or an input with probabilities)"},
};

enum { M_MSE, M_RMSE, M_MAE, M_R2, M_ACCURACY, M_LOG_LOSS, M_COUNT };
static const char *const metric_names[M_COUNT] = {"mse", "rmse", "mae", "r2", "accuracy", "log_loss"};

static const char doc[] =
    "Scores predictions against the truth, in one reduce pass over the rows:\n\n"
    "| metric | value | as scikit-learn |\n|---|---|---|\n"
    "| `mse` | Σ(y − ŷ)²/n | `mean_squared_error` |\n"
    "| `rmse` | √mse | `mean_squared_error(squared=False)` |\n"
    "| `mae` | Σ\\|y − ŷ\\|/n | `mean_absolute_error` |\n"
    "| `r2` | 1 − Σ(y − ŷ)²/Σ(y − ȳ)² (1 when both are 0, 0 when only the second is) | `r2_score` |\n"
    "| `accuracy` | fraction of rows with ŷ == y exactly | `accuracy_score` |\n"
    "| `log_loss` | −mean(y log p + (1 − y) log(1 − p)), p clipped to [ε, 1 − ε], ε = 2.2e-16 | `log_loss` |\n\n"
    "Two ways to give the predictions: `input`, a frame holding the truth (`truth`, default `y`), the "
    "predictions (`prediction`, default `y_pred`) and, for `log_loss`, the probabilities (`probability`, "
    "default `y_prob`) — e.g. the output of `predict`; or `model` and `data`, which predicts on the fly as "
    "`predict` would (`features` and `truth` of `data`), e.g. "
    "`{ op: metrics, model: train, data: normalize, metrics: [mse, rmse, mae, r2] }`. For a logistic model "
    "ŷ is the class (0/1) and p the probability.\n\n"
    "`metrics` defaults to `[mse, rmse, mae, r2]`, or `[accuracy, log_loss]` for a logistic model or an "
    "input that has the probability array. Σ(y − ȳ)² comes from per-chunk centered sums merged with Chan's "
    "formula, so R² keeps its precision for targets with a large mean.\n\n"
    "**Checks**: unknown metric names (with a did-you-mean suggestion) or repeated ones; `input` together "
    "with `model`/`data`, or `model` without `data`; missing arrays or arrays of more than 1 column; a "
    "feature count that does not match the model; `log_loss` without probabilities (a linear model). At "
    "run time: NaN or infinite values (with their row), labels other than 0/1 for `log_loss`, no rows.\n\n"
    "**Output**: one row; one 1 × 1 float64 array per metric, named as the metric, in the order asked. Each "
    "is also a result of the stage (printed in the run summary, stored as `result.<metric>` in the "
    "checkpoint). Chunking changes only the rounding of the sums.";

typedef struct metrics_state {
    const sl_stage *st;
    int want[M_COUNT];
    size_t order[M_COUNT], n_metrics;
    const sl_frame *frame;     /* the frame streamed */
    int from_model;
    sl__model_kind kind;
    int64_t F;
    long ti, pi, qi, xi;       /* truth, prediction, probability, features (-1: unused) */
    const char *names[4];      /* arrays read */
    double *w, b, cut;
} metrics_state;

/* Per-chunk partial, merged in order. */
typedef struct part {
    double n, mean, m2;   /* of the truth (Chan) */
    double sse, sae, correct, ll;
} part;

static void free_state(void *p)
{
    metrics_state *s = p;
    if (s) {
        free(s->w);
        free(s);
    }
}

static sl_status choose_metrics(sl_stage *st, metrics_state *s, int classifier, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    if (!sl_params_has(p, "metrics")) {
        static const size_t reg[] = {M_MSE, M_RMSE, M_MAE, M_R2}, cls[] = {M_ACCURACY, M_LOG_LOSS};
        const size_t *d = classifier ? cls : reg;
        s->n_metrics = classifier ? 2 : 4;
        for (size_t k = 0; k < s->n_metrics; k++) {
            s->order[k] = d[k];
            s->want[d[k]] = 1;
        }
        return SL_OK;
    }
    size_t n = sl_params_len(p, "metrics");
    if (n == 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "metrics", "'metrics' is empty; name at least one of mse, rmse, "
                              "mae, r2, accuracy, log_loss");
    for (size_t k = 0; k < n; k++) {
        const char *m = sl_params_list_string(p, "metrics", k);
        size_t j = 0;
        while (j < M_COUNT && strcmp(m, metric_names[j]) != 0)
            j++;
        if (j == M_COUNT) {
            const char *hint = sl__suggest(m, metric_names, M_COUNT);
            sl_stage_error(st, err, SL_ERR_CONFIG, "metrics", "unknown metric '%s'; the metrics are mse, rmse, mae, "
                           "r2, accuracy, log_loss", m);
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

static int needs_prediction(const metrics_state *s)
{
    return s->want[M_MSE] || s->want[M_RMSE] || s->want[M_MAE] || s->want[M_R2] || s->want[M_ACCURACY];
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    metrics_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    s->st = st;
    s->ti = s->pi = s->qi = s->xi = -1;
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
        classifier = sl_frame_find(s->frame, sl_params_string(p, "probability")) >= 0;
    }
    if (rc == SL_OK)
        rc = choose_metrics(st, s, classifier, err);
    if (rc == SL_OK)
        rc = sl__model_array(st, "truth", s->frame, 1, &s->ti, err);
    if (rc == SL_OK && !s->from_model && needs_prediction(s))
        rc = sl__model_array(st, "prediction", s->frame, 1, &s->pi, err);
    if (rc == SL_OK && s->want[M_LOG_LOSS]) {
        if (s->from_model && s->kind != SL__MODEL_LOGISTIC)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "metrics",
                                  "log_loss needs predicted probabilities, and the model is linear; use it with a "
                                  "logistic model (logreg)");
        if (!s->from_model && sl_frame_find(s->frame, sl_params_string(p, "probability")) < 0) {
            char have[512];
            sl__describe_frame(s->frame, have, sizeof have);
            return sl_stage_error(st, err, SL_ERR_CONFIG, "metrics",
                                  "log_loss needs predicted probabilities: the input has no array '%s' (set "
                                  "'probability'); it has %s",
                                  sl_params_string(p, "probability"), have);
        }
        if (!s->from_model)
            rc = sl__model_array(st, "probability", s->frame, 1, &s->qi, err);
    }
    size_t k = 0;
    long idx[4] = {s->ti, s->pi, s->qi, s->xi};
    for (size_t i = 0; rc == SL_OK && i < 4; i++) {
        if (idx[i] < 0)
            continue;
        int dup = 0;
        for (size_t j = 0; j < i; j++)
            dup |= idx[j] == idx[i];
        if (!dup)
            s->names[k++] = sl_frame_array(s->frame, (size_t)idx[i])->name;
    }
    s->names[k] = NULL;
    sl_frame *out = sl_stage_output(st);
    for (size_t m = 0; rc == SL_OK && m < s->n_metrics; m++)
        rc = sl_frame_add(out, metric_names[s->order[m]], SL_FLOAT64, 1, err);
    sl_frame_set_rows(out, 1);
    return rc;
}

/* sklearn's log_loss for one row: p clipped to [eps, 1 - eps], the pair
 * (1 - p, p) normalized by its sum, minus the log of the true class's share. */
static double row_log_loss(double y, double p)
{
    const double eps = DBL_EPSILON;
    p = p < eps ? eps : p > 1 - eps ? 1 - eps : p;
    double q = 1 - p, sum = q + p;
    return -log((y == 1 ? p : q) / sum);
}

static sl_status metrics_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)out;
    const metrics_state *s = ctx;
    int64_t rows = in->rows;
    part *pt = partial;
    /* scratch: truth, prediction, probability (rows each), features */
    int64_t xcols = s->xi >= 0 ? s->F : 0;
    double *buf = malloc((size_t)(3 * rows + rows * xcols) * sizeof *buf);
    if (!buf)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    double *ts = buf, *ps = buf + rows, *qs = buf + 2 * rows, *xs = buf + 3 * rows;
    const double *y = sl__chunk_f64(in, s->ti, ts), *yp = NULL, *prob = NULL;
    sl_status rc = sl__check_finite(s->st, in->arrays[s->ti].info->name, y, rows, 1, in->row0, err);
    if (rc == SL_OK && s->from_model) {
        const double *X = sl__chunk_f64(in, s->xi, xs);
        rc = sl__check_finite(s->st, in->arrays[s->xi].info->name, X, rows, s->F, in->row0, err);
        for (int64_t i = 0; rc == SL_OK && i < rows; i++)
            ps[i] = s->b;
        if (rc == SL_OK)
            rc = sl__gemv_n(1.0, X, rows, s->F, s->w, 1.0, ps, err);
        if (rc == SL_OK && s->kind == SL__MODEL_LOGISTIC)
            for (int64_t i = 0; i < rows; i++) {
                qs[i] = sl__sigmoid(ps[i]);
                ps[i] = ps[i] > s->cut ? 1.0 : 0.0;
            }
        yp = ps;
        prob = s->kind == SL__MODEL_LOGISTIC ? qs : NULL;
    } else if (rc == SL_OK) {
        if (s->pi >= 0) {
            yp = sl__chunk_f64(in, s->pi, ps);
            rc = sl__check_finite(s->st, in->arrays[s->pi].info->name, yp, rows, 1, in->row0, err);
        }
        if (rc == SL_OK && s->qi >= 0) {
            prob = sl__chunk_f64(in, s->qi, qs);
            rc = sl__check_finite(s->st, in->arrays[s->qi].info->name, prob, rows, 1, in->row0, err);
        }
    }
    if (rc == SL_OK && s->want[M_LOG_LOSS])
        rc = sl__check_binary(s->st, in->arrays[s->ti].info->name, y, rows, in->row0, "log_loss", err);
    if (rc == SL_OK && rows > 0) {
        double sum = 0, m2 = 0, sse = 0, sae = 0, correct = 0, ll = 0;
        for (int64_t i = 0; i < rows; i++)
            sum += y[i];
        double mean = sum / (double)rows, c = 0;
        for (int64_t i = 0; i < rows; i++)
            c += y[i] - mean;
        mean += c / (double)rows;
        for (int64_t i = 0; i < rows; i++) {
            double d = y[i] - mean;
            m2 += d * d;
        }
        if (yp)
            for (int64_t i = 0; i < rows; i++) {
                double e = y[i] - yp[i];
                sse += e * e;
                sae += fabs(e);
                correct += y[i] == yp[i];
            }
        if (prob && s->want[M_LOG_LOSS])
            for (int64_t i = 0; i < rows; i++)
                ll += row_log_loss(y[i], prob[i]);
        *pt = (part){(double)rows, mean, m2, sse, sae, correct, ll};
    }
    free(buf);
    return rc;
}

static sl_status metrics_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)ctx;
    (void)err;
    part *a = acc;
    const part *b = partial;
    if (b->n == 0)
        return SL_OK;
    if (a->n == 0) {
        *a = *b;
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
    return SL_OK;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    metrics_state *s = sl_stage_state(st);
    if (s->from_model) {
        free(s->w);
        s->w = malloc((size_t)s->F * sizeof *s->w);
        if (!s->w)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        double thr;
        sl_status rc = sl__model_load(st, "model", sl_stage_input(st, "model"), s->F, s->w, &s->b, &thr, err);
        if (rc)
            return rc;
        s->cut = log(thr / (1 - thr));
    }
    part acc = {0, 0, 0, 0, 0, 0, 0};
    sl_pass pass = {.name = "metrics",
                    .input = s->frame,
                    .input_arrays = s->names,
                    .partial_size = sizeof(part),
                    .ctx = s,
                    .chunk = metrics_chunk,
                    .merge = metrics_merge};
    sl_status rc = sl_exec_pass(ex, st, &pass, &acc, err);
    if (rc)
        return rc;
    if (acc.n == 0)
        return sl_stage_error(st, err, SL_ERR_DATA, NULL, "there are no rows to score");
    double n = acc.n, mse = acc.sse / n, v[M_COUNT];
    v[M_MSE] = mse;
    v[M_RMSE] = sqrt(mse);
    v[M_MAE] = acc.sae / n;
    v[M_R2] = acc.m2 == 0 ? (acc.sse == 0 ? 1.0 : 0.0) : 1 - acc.sse / acc.m2;
    v[M_ACCURACY] = acc.correct / n;
    v[M_LOG_LOSS] = acc.ll / n;
    sl_frame *out = sl_stage_output(st);
    for (size_t k = 0; rc == SL_OK && k < s->n_metrics; k++) {
        size_t m = s->order[k];
        rc = sl_frame_set_data(out, metric_names[m], &v[m], err);
        if (rc == SL_OK)
            rc = sl_stage_set_result(st, metric_names[m], v[m], err);
    }
    return rc;
}

const sl_op sl__op_metrics = {
    .abi = SL_ABI_VERSION,
    .name = "metrics",
    .summary = "mse, rmse, mae, r2, accuracy, log_loss of predictions (or of a model on data)",
    .doc = doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .run = run,
    .free_state = free_state,
};
