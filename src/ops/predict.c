/* predict: ŷ = Xw + b from a trained model stage or from weights given in
 * the YAML, one map pass; every input array passes through. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "kernels/blas.h"
#include "ops/model_int.h"
#include "ops/ops_int.h"
#include "plan/pipeline_int.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose output frame holds the data to predict on"},
    {"model", SL_PARAM_INPUT, 0, NULL, NULL, 0, 0, "a model stage (linreg, logreg); or give 'weights'"},
    {"weights", SL_PARAM_NUMBER_LIST, 0, NULL, NULL, 0, 0, "the weights w of a linear model, one per feature"},
    {"bias", SL_PARAM_NUMBER, 0, NULL, NULL, 0, 0, "the bias b with 'weights' (default 0)"},
    {"features", SL_PARAM_STRING, 0, "X", NULL, 0, 0, "array of features (n x F)"},
    {"output", SL_PARAM_STRING, 0, "y_pred", NULL, 0, 0, "name of the prediction array"},
    {"probability", SL_PARAM_STRING, 0, "y_prob", NULL, 0, 0,
     "logistic models: name of the probability array"},
    {"decode", SL_PARAM_BOOL, 0, "false", NULL, 0, 0,
     "logistic models trained on labels encoded by `encode`: write the original labels (the model's `labels`) "
     "instead of the codes"},
    {"threshold", SL_PARAM_NUMBER, 0, NULL, NULL, 0, 0,
     "binary logistic models: the probability above which the second class is predicted (default: the "
     "model's, 0.5 unless logreg was given another)"},
};

static const char doc[] =
    "Computes the predictions of a linear model on the rows of `input`: ŷ = Xw + b (BLIS `gemv` per chunk, "
    "a map pass, so it streams data of any size). The model is either a stage given as `model` (the output "
    "of `linreg` or `logreg`, or any frame with the model arrays `coef` and `intercept`), or `weights` "
    "(a list of F numbers) and `bias` (default 0) written in the YAML, e.g. "
    "`{ op: predict, input: data, weights: [4, 3], bias: 10 }`. Exactly one of `model` and `weights`.\n\n"
    "For a binary logistic model (a model frame with a `threshold` array and one row, as `logreg` writes), "
    "the probability p = σ(Xw + b) of the second class goes to the array named by `probability` (default "
    "`y_prob`, n × 1) and the class to `output`: the model's second class (attribute `classes` of `coef`; "
    "1 for a model without it) when p > threshold (the model's, or this stage's `threshold`), else the first. "
    "For a multi-class model (K rows: `logreg` with 3 or more classes), `probability` is n × K, column k the "
    "probability of class k (named `p(<class>)`, and the array has the attribute `classes`): the softmax of "
    "the K scores x·w_k + b_k (multinomial), or the K sigmoids divided by their sum (one-vs-rest), and "
    "`output` is the class of the largest (the first on a tie, as NumPy's argmax). With `decode: true`, a "
    "model trained on a target encoded by `encode` (codes 0..K-1) predicts the original labels instead of the "
    "codes (the model's attribute `labels`), and the probability array's `classes` are those labels. The number of classes "
    "comes from the trained model, so such a stage is planned in the run once the model is computed, and "
    "the stages that read it after it.\n\n"
    "**Checks** (at plan time, so `sluice check` reports them): `features` exists and has as many columns as "
    "the model has weights; not both or neither of `model` and `weights`; `bias` only with `weights`; the "
    "output names are new in the frame. At run time: NaN or infinite features are an error with their row "
    "and column (clean first); any numeric type is read as float64.\n\n"
    "**Output**: every input array, unchanged, plus `output` (n × 1 float64) and, for a logistic model, "
    "`probability` (n × 1 or n × K float64). Each row's prediction depends on that row only (not on `chunk_rows` or "
    "threads).";

typedef struct predict_state {
    const sl_stage *st;
    sl__model_kind kind;
    int from_model;
    int64_t F;
    long xi;
    size_t n_in;          /* input arrays, copied to outputs 0..n_in-1 */
    double *w, b, cut;    /* cut: logit(threshold) */
    /* multi-class models (R > 1 rows of weights) */
    int64_t R;
    int ovr;              /* one-vs-rest: sigmoids normalized, else softmax */
    double *W, *bias, *classes;
} predict_state;

static void free_state(void *p)
{
    predict_state *s = p;
    if (s) {
        free(s->w);
        free(s->W);
        free(s->bias);
        free(s->classes);
        free(s);
    }
}

/* The model's class labels (attribute `classes` of coef): K values, or
 * [0, 1] for a binary model saved without them. */
static const double *model_classes(const sl_frame *m, size_t *K)
{
    static const double binary[2] = {0, 1};
    const double *c = sl_frame_attr(m, SL__MODEL_COEF, "classes", K);
    if (!c) {
        *K = 2;
        return binary;
    }
    return c;
}

/* y_prob of a multi-class model: K columns named p(<class>). */
static sl_status add_class_probabilities(sl_stage *st, const sl_frame *in, const sl_frame *m, sl_error *err)
{
    const char *name = sl_params_string(sl_stage_params(st), "probability");
    size_t K = 0, nl = 0;
    const double *c = model_classes(m, &K);
    const double *labels = sl_frame_attr(m, SL__MODEL_COEF, "labels", &nl);
    if (sl_params_bool(sl_stage_params(st), "decode") && labels && nl == K)
        c = labels; /* the columns are named by the labels predict writes */
    if (sl_frame_find(in, name) >= 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "probability",
                              "the input already has an array named '%s'; set 'probability' to another name", name);
    if ((int64_t)K != sl_frame_rows(m))
        return sl_stage_error(st, err, SL_ERR_DATA, "model",
                              "the model has %lld rows of weights but %zu classes; it is damaged",
                              (long long)sl_frame_rows(m), K);
    sl_frame *out = sl_stage_output(st);
    sl_status rc = sl_frame_add(out, name, SL_FLOAT64, (int64_t)K, err);
    char(*names)[40] = rc == SL_OK ? malloc(K * sizeof *names) : NULL;
    const char **ptrs = rc == SL_OK ? malloc(K * sizeof *ptrs) : NULL;
    if (rc == SL_OK && (!names || !ptrs))
        rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t k = 0; rc == SL_OK && k < K; k++) {
        snprintf(names[k], sizeof names[k], "p(%.17g)", c[k]);
        ptrs[k] = names[k];
    }
    if (rc == SL_OK)
        rc = sl_frame_set_columns(out, name, ptrs, err);
    free(names);
    free(ptrs);
    return rc;
}

static sl_status add_output(sl_stage *st, const char *param, const sl_frame *in, sl_error *err)
{
    const char *name = sl_params_string(sl_stage_params(st), param);
    if (sl_frame_find(in, name) >= 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, param,
                              "the input already has an array named '%s'; set '%s' to another name", name, param);
    sl_status s = sl_frame_add(sl_stage_output(st), name, SL_FLOAT64, 1, err);
    if (s)
        sl__stage_locate(st, err, param);
    return s;
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    const sl_frame *in = sl_stage_input(st, "input");
    predict_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    s->st = st;
    int has_model = sl_params_has(p, "model"), has_w = sl_params_has(p, "weights");
    if (has_model && has_w)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "weights",
                              "give either 'model' (a trained model stage) or 'weights' (and 'bias'), not both");
    if (!has_model && !has_w)
        return sl_stage_error(st, err, SL_ERR_CONFIG, NULL,
                              "predict needs a model: 'model: <stage>' (a linreg or logreg stage), or "
                              "'weights: [...]' and 'bias'");
    if (has_model && sl_params_has(p, "bias"))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "bias", "'bias' goes with 'weights'; the model has its own");
    s->from_model = has_model;
    sl_status rc = SL_OK;
    if (has_model) {
        rc = sl__model_check(st, "model", sl_stage_input(st, "model"), &s->kind, &s->F, err);
    } else {
        s->kind = SL__MODEL_LINEAR;
        s->F = (int64_t)sl_params_len(p, "weights");
        if (s->F == 0)
            rc = sl_stage_error(st, err, SL_ERR_CONFIG, "weights", "'weights' is empty; give one weight per feature");
        for (int64_t j = 0; rc == SL_OK && j < s->F; j++)
            if (!isfinite(sl_params_list_number(p, "weights", (size_t)j)))
                rc = sl_stage_error(st, err, SL_ERR_CONFIG, "weights", "weight %lld is not a finite number",
                                    (long long)j);
        if (rc == SL_OK && !isfinite(sl_params_number(p, "bias")))
            rc = sl_stage_error(st, err, SL_ERR_CONFIG, "bias", "'bias' is not a finite number");
    }
    if (rc == SL_OK)
        rc = sl__model_array(st, "features", in, 0, &s->xi, err);
    if (rc == SL_OK && sl_frame_array(in, (size_t)s->xi)->cols != s->F)
        rc = sl_stage_error(st, err, SL_ERR_CONFIG, "features",
                            "array '%s' has %lld columns, but the %s has %lld weight%s: the features must match "
                            "the ones the model was trained on",
                            sl_frame_array(in, (size_t)s->xi)->name, (long long)sl_frame_array(in, (size_t)s->xi)->cols,
                            has_model ? "model" : "'weights' list", (long long)s->F, s->F == 1 ? "" : "s");
    const sl_frame *model = has_model ? sl_stage_input(st, "model") : NULL;
    if (rc == SL_OK && sl_params_bool(p, "decode") && s->kind != SL__MODEL_LOGISTIC)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "decode",
                              "'decode' turns a classifier's class codes into labels; this model is linear");
    if (rc == SL_OK && sl_params_has(p, "threshold")) {
        double thr = sl_params_number(p, "threshold");
        if (s->kind != SL__MODEL_LOGISTIC)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "threshold",
                                  "'threshold' is for logistic models; this model is linear");
        if (!(thr > 0 && thr < 1))
            return sl_stage_error(st, err, SL_ERR_CONFIG, "threshold", "'threshold' is %g; it must be in (0, 1)", thr);
    }
    /* a classifier's classes come from its training data: plan once it ran */
    if (rc == SL_OK && s->kind == SL__MODEL_LOGISTIC && sl_frame_rows(model) < 0 && sl_stage_plan_later(st))
        return SL_OK;
    s->R = model ? sl_frame_rows(model) : 1;
    if (rc == SL_OK && s->R > 1 && sl_params_has(p, "threshold"))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "threshold",
                              "'threshold' is for binary models; this model has %lld classes", (long long)s->R);
    s->n_in = sl_frame_count(in);
    for (size_t i = 0; rc == SL_OK && i < s->n_in; i++)
        rc = sl_frame_add_like(sl_stage_output(st), in, i, SL_DTYPE_NONE, err);
    if (rc == SL_OK)
        rc = add_output(st, "output", in, err);
    if (rc == SL_OK && s->kind == SL__MODEL_LOGISTIC) {
        if (strcmp(sl_params_string(p, "probability"), sl_params_string(p, "output")) == 0)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "probability", "'probability' and 'output' are both '%s'",
                                  sl_params_string(p, "output"));
        rc = s->R > 1 ? add_class_probabilities(st, in, model, err) : add_output(st, "probability", in, err);
    }
    sl_frame_set_rows(sl_stage_output(st), sl_frame_rows(in));
    return rc;
}

/* A multi-class model's rows: the K scores of each row (one gemv per
 * class into the probability array's columns), their probabilities, and
 * the class of the largest. */
static sl_status predict_classes(const predict_state *s, const double *X, int64_t rows, double *pred, double *prob,
                                 sl_error *err)
{
    int64_t K = s->R;
    sl_status rc = SL_OK;
    for (int64_t k = 0; k < K && rc == SL_OK; k++) {
        for (int64_t i = 0; i < rows; i++)
            pred[i] = s->bias[k];
        rc = sl__gemv_n(1.0, X, rows, s->F, s->W + k * s->F, 1.0, pred, err);
        for (int64_t i = 0; i < rows; i++)
            prob[i * K + k] = pred[i];
    }
    if (rc)
        return rc;
    if (s->ovr) {
        for (int64_t i = 0; i < rows * K; i++)
            prob[i] = sl__sigmoid(prob[i]);
        for (int64_t i = 0; i < rows; i++) {
            double sum = 0;
            for (int64_t k = 0; k < K; k++)
                sum += prob[i * K + k];
            for (int64_t k = 0; k < K; k++)
                prob[i * K + k] /= sum;
        }
    } else {
        sl__logit_shape sh = {.F = s->F, .K = K, .softmax = 1};
        sl__logit_probabilities(&sh, prob, rows, prob);
    }
    for (int64_t i = 0; i < rows; i++) {
        int64_t best = 0;
        for (int64_t k = 1; k < K; k++)
            if (prob[i * K + k] > prob[i * K + best])
                best = k;
        pred[i] = s->classes[best];
    }
    return SL_OK;
}

static sl_status predict_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)partial;
    const predict_state *s = ctx;
    int64_t rows = in->rows;
    for (size_t i = 0; i < s->n_in; i++) {
        const sl_array_info *a = in->arrays[i].info;
        memcpy(out->arrays[i].data, in->arrays[i].data, (size_t)(rows * a->cols) * sl_dtype_size(a->dtype));
    }
    const sl_array_info *xa = in->arrays[s->xi].info;
    double *xs = xa->dtype != SL_FLOAT64 ? malloc((size_t)(rows * s->F) * sizeof *xs) : NULL;
    if (xa->dtype != SL_FLOAT64 && !xs)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    const double *X = sl__chunk_f64(in, s->xi, xs);
    double *z = out->arrays[s->n_in].data;
    sl_status rc = sl__check_chunk_finite(s->st, in, s->xi, X, err);
    if (rc == SL_OK && s->R > 1) {
        rc = predict_classes(s, X, rows, z, out->arrays[s->n_in + 1].data, err);
    } else if (rc == SL_OK) {
        for (int64_t i = 0; i < rows; i++)
            z[i] = s->b;
        rc = sl__gemv_n(1.0, X, rows, s->F, s->w, 1.0, z, err);
    }
    if (rc == SL_OK && s->kind == SL__MODEL_LOGISTIC && s->R == 1) {
        double *prob = out->arrays[s->n_in + 1].data;
        for (int64_t i = 0; i < rows; i++) {
            prob[i] = sl__sigmoid(z[i]);
            z[i] = z[i] > s->cut ? s->classes[1] : s->classes[0];
        }
    }
    free(xs);
    out->rows = rows;
    return rc;
}

/* Weights, biases and classes of a multi-class model (R rows). */
static sl_status load_classifier(sl_stage *st, predict_state *s, sl_error *err)
{
    const sl_frame *m = sl_stage_input(st, "model");
    int64_t K = s->R, F = s->F;
    size_t nk = 0;
    const double *kind = sl_frame_attr(m, SL__MODEL_COEF, "model_kind", &nk);
    const double *c = model_classes(m, &nk);
    if ((int64_t)nk != K || sl_frame_rows(m) != K)
        return sl_stage_error(st, err, SL_ERR_DATA, "model", "the model has %lld rows of weights but %zu classes",
                              (long long)sl_frame_rows(m), nk);
    s->ovr = kind && kind[0] == 3;
    free(s->W);
    free(s->bias);
    free(s->classes);
    s->W = malloc((size_t)(K * F) * sizeof *s->W);
    s->bias = malloc((size_t)K * sizeof *s->bias);
    s->classes = malloc((size_t)K * sizeof *s->classes);
    if (!s->W || !s->bias || !s->classes)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    memcpy(s->classes, c, (size_t)K * sizeof *s->classes);
    sl_status rc = sl_frame_read_all(m, SL__MODEL_COEF, SL_FLOAT64, s->W, (size_t)(K * F), err);
    if (rc == SL_OK)
        rc = sl_frame_read_all(m, SL__MODEL_INTERCEPT, SL_FLOAT64, s->bias, (size_t)K, err);
    for (int64_t j = 0; rc == SL_OK && j < K * F + K; j++) {
        double v = j < K * F ? s->W[j] : s->bias[j - K * F];
        if (!isfinite(v))
            rc = sl_stage_error(st, err, SL_ERR_DATA, "model", "the model's %s is %g; a model needs finite weights",
                                j < K * F ? "coef" : "intercept", v);
    }
    if (rc == SL_OK)
        rc = sl_frame_set_attr(sl_stage_output(st), sl_params_string(sl_stage_params(st), "probability"), "classes",
                               s->classes, (size_t)K, err);
    return rc;
}

/* decode: the model's classes (codes of `encode`) become their labels. */
static sl_status decode_classes(sl_stage *st, predict_state *s, sl_error *err)
{
    const sl_frame *m = sl_stage_input(st, "model");
    size_t nl = 0, K = s->R > 1 ? (size_t)s->R : 2;
    const double *labels = sl_frame_attr(m, SL__MODEL_COEF, "labels", &nl);
    if (!labels || nl != K)
        return sl_stage_error(st, err, SL_ERR_DATA, "decode",
                              "'decode' needs a model trained on labels encoded by an encode stage (its coef's "
                              "attribute 'labels'); stage '%s' has none: its target was not encoded, so its "
                              "predictions are the labels already",
                              sl_params_string(sl_stage_params(st), "model"));
    memcpy(s->classes, labels, K * sizeof *labels);
    if (s->R > 1)
        return sl_frame_set_attr(sl_stage_output(st), sl_params_string(sl_stage_params(st), "probability"), "classes",
                                 s->classes, K, err);
    return SL_OK;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    predict_state *s = sl_stage_state(st);
    const sl_params *p = sl_stage_params(st);
    free(s->w);
    s->w = malloc((size_t)s->F * sizeof *s->w);
    if (!s->w)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    double thr = 0.5;
    if (s->from_model && s->R > 1) {
        sl_status rc = load_classifier(st, s, err);
        if (rc)
            return rc;
    } else if (s->from_model) {
        sl_status rc = sl__model_load(st, "model", sl_stage_input(st, "model"), s->F, s->w, &s->b, &thr, err);
        if (rc)
            return rc;
        size_t K = 0;
        const double *c = model_classes(sl_stage_input(st, "model"), &K);
        free(s->classes);
        if (!(s->classes = malloc(2 * sizeof *s->classes)))
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        s->classes[0] = K == 2 ? c[0] : 0;
        s->classes[1] = K == 2 ? c[1] : 1;
        if (sl_params_has(p, "threshold"))
            thr = sl_params_number(p, "threshold");
    } else {
        for (int64_t j = 0; j < s->F; j++)
            s->w[j] = sl_params_list_number(p, "weights", (size_t)j);
        s->b = sl_params_number(p, "bias");
    }
    s->cut = log(thr / (1 - thr));
    if (s->from_model && s->kind == SL__MODEL_LOGISTIC && sl_params_bool(p, "decode")) {
        sl_status rc = decode_classes(st, s, err);
        if (rc)
            return rc;
    }
    sl_pass pass = {.name = "predict",
                    .input = sl_stage_input(st, "input"),
                    .output = sl_stage_output(st),
                    .ctx = s,
                    .chunk = predict_chunk};
    return sl_exec_pass(ex, st, &pass, NULL, err);
}

const sl_op sl__op_predict = {
    .abi = SL_ABI_VERSION,
    .name = "predict",
    .summary = "predictions Xw + b of a linear or logistic model (from a model stage or YAML weights)",
    .doc = doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .flags = SL_OP_STREAMABLE,
    .run = run,
    .free_state = free_state,
};
