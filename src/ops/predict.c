/* predict: ŷ = Xw + b from a trained model stage or from weights given in
 * the YAML, one map pass; every input array passes through. */
#include <math.h>
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
};

static const char doc[] =
    "Computes the predictions of a linear model on the rows of `input`: ŷ = Xw + b (BLIS `gemv` per chunk, "
    "a map pass, so it streams data of any size). The model is either a stage given as `model` (the output "
    "of `linreg` or `logreg`, or any frame with the model arrays `coef` and `intercept`), or `weights` "
    "(a list of F numbers) and `bias` (default 0) written in the YAML, e.g. "
    "`{ op: predict, input: data, weights: [4, 3], bias: 10 }`. Exactly one of `model` and `weights`.\n\n"
    "For a logistic model (a model frame with a `threshold` array, as `logreg` writes), the probability "
    "p = σ(Xw + b) goes to the array named by `probability` (default `y_prob`) and the class "
    "(1 when p > threshold, i.e. Xw + b > 0 for 0.5; else 0) to `output`.\n\n"
    "**Checks** (at plan time, so `sluice check` reports them): `features` exists and has as many columns as "
    "the model has weights; not both or neither of `model` and `weights`; `bias` only with `weights`; the "
    "output names are new in the frame. At run time: NaN or infinite features are an error with their row "
    "and column (clean first); any numeric type is read as float64.\n\n"
    "**Output**: every input array, unchanged, plus `output` (n × 1 float64) and, for a logistic model, "
    "`probability` (n × 1 float64). Each row's prediction depends on that row only (not on `chunk_rows` or "
    "threads).";

typedef struct predict_state {
    const sl_stage *st;
    sl__model_kind kind;
    int from_model;
    int64_t F;
    long xi;
    size_t n_in;          /* input arrays, copied to outputs 0..n_in-1 */
    double *w, b, cut;    /* cut: logit(threshold) */
} predict_state;

static void free_state(void *p)
{
    predict_state *s = p;
    if (s) {
        free(s->w);
        free(s);
    }
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
    s->n_in = sl_frame_count(in);
    for (size_t i = 0; rc == SL_OK && i < s->n_in; i++)
        rc = sl_frame_add_like(sl_stage_output(st), in, i, SL_DTYPE_NONE, err);
    if (rc == SL_OK)
        rc = add_output(st, "output", in, err);
    if (rc == SL_OK && s->kind == SL__MODEL_LOGISTIC) {
        if (strcmp(sl_params_string(p, "probability"), sl_params_string(p, "output")) == 0)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "probability", "'probability' and 'output' are both '%s'",
                                  sl_params_string(p, "output"));
        rc = add_output(st, "probability", in, err);
    }
    sl_frame_set_rows(sl_stage_output(st), sl_frame_rows(in));
    return rc;
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
    sl_status rc = sl__check_finite(s->st, xa->name, X, rows, s->F, in->row0, err);
    if (rc == SL_OK) {
        for (int64_t i = 0; i < rows; i++)
            z[i] = s->b;
        rc = sl__gemv_n(1.0, X, rows, s->F, s->w, 1.0, z, err);
    }
    if (rc == SL_OK && s->kind == SL__MODEL_LOGISTIC) {
        double *prob = out->arrays[s->n_in + 1].data;
        for (int64_t i = 0; i < rows; i++) {
            prob[i] = sl__sigmoid(z[i]);
            z[i] = z[i] > s->cut ? 1.0 : 0.0;
        }
    }
    free(xs);
    out->rows = rows;
    return rc;
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
    if (s->from_model) {
        sl_status rc = sl__model_load(st, "model", sl_stage_input(st, "model"), s->F, s->w, &s->b, &thr, err);
        if (rc)
            return rc;
    } else {
        for (int64_t j = 0; j < s->F; j++)
            s->w[j] = sl_params_list_number(p, "weights", (size_t)j);
        s->b = sl_params_number(p, "bias");
    }
    s->cut = log(thr / (1 - thr));
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
