/* What the model ops share: the model frame, inputs chunk by chunk, the
 * gradient-descent passes. See model_int.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "kernels/blas.h"
#include "kernels/cast.h"
#include "kernels/shuffle.h"
#include "kernels/standardize.h"
#include "ops/model_int.h"
#include "ops/ops_int.h"

/* ---- the model frame ---- */

sl_status sl__model_declare(sl_stage *st, const sl_frame *in, long xi, sl__model_kind kind, int64_t rows,
                            sl_error *err)
{
    sl_frame *out = sl_stage_output(st);
    const sl_array_info *x = sl_frame_array(in, (size_t)xi);
    sl_status s = sl_frame_add(out, SL__MODEL_COEF, SL_FLOAT64, x->cols, err);
    if (s == SL_OK)
        s = sl_frame_add(out, SL__MODEL_INTERCEPT, SL_FLOAT64, 1, err);
    if (s == SL_OK && kind == SL__MODEL_LOGISTIC)
        s = sl_frame_add(out, SL__MODEL_THRESHOLD, SL_FLOAT64, 1, err);
    if (s == SL_OK && sl_frame_column(in, (size_t)xi, 0)) {
        const char **names = malloc((size_t)x->cols * sizeof *names);
        if (!names)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (int64_t c = 0; c < x->cols; c++)
            names[c] = sl_frame_column(in, (size_t)xi, c);
        s = sl_frame_set_columns(out, SL__MODEL_COEF, names, err);
        free(names);
    }
    sl_frame_set_rows(out, rows);
    return s;
}

sl_status sl__model_store_linear(sl_stage *st, const double *w, double b, const double *loss, size_t n_loss,
                                 sl_error *err)
{
    sl_frame *out = sl_stage_output(st);
    double k = (double)SL__MODEL_LINEAR;
    sl_status s = sl_frame_set_data(out, SL__MODEL_COEF, w, err);
    if (s == SL_OK)
        s = sl_frame_set_data(out, SL__MODEL_INTERCEPT, &b, err);
    if (s == SL_OK)
        s = sl_frame_set_attr(out, SL__MODEL_COEF, "model_kind", &k, 1, err);
    if (s == SL_OK && loss)
        s = sl_frame_set_attr(out, SL__MODEL_COEF, "loss", loss, n_loss, err);
    return s;
}

sl_status sl__model_store_classifier(sl_stage *st, int kind_code, const double *theta, int64_t R, int64_t F,
                                     int intercept, const double *classes, int64_t K, const double *loss,
                                     size_t n_loss, double threshold, sl_error *err)
{
    sl_frame *out = sl_stage_output(st);
    double *w = malloc((size_t)(R * F + 2 * R) * sizeof *w), k = (double)kind_code;
    if (!w)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    double *b = w + R * F, *thr = b + R;
    int64_t P = F + (intercept ? 1 : 0);
    for (int64_t r = 0; r < R; r++) {
        memcpy(w + r * F, theta + r * P, (size_t)F * sizeof *w);
        b[r] = intercept ? theta[r * P + F] : 0.0;
        thr[r] = threshold;
    }
    sl_frame_set_rows(out, R);
    sl_status s = sl_frame_set_data(out, SL__MODEL_COEF, w, err);
    if (s == SL_OK)
        s = sl_frame_set_data(out, SL__MODEL_INTERCEPT, b, err);
    if (s == SL_OK)
        s = sl_frame_set_data(out, SL__MODEL_THRESHOLD, thr, err);
    if (s == SL_OK)
        s = sl_frame_set_attr(out, SL__MODEL_COEF, "model_kind", &k, 1, err);
    if (s == SL_OK)
        s = sl_frame_set_attr(out, SL__MODEL_COEF, "classes", classes, (size_t)K, err);
    if (s == SL_OK && loss)
        s = sl_frame_set_attr(out, SL__MODEL_COEF, "loss", loss, n_loss, err);
    free(w);
    return s;
}

sl_status sl__model_check(const sl_stage *st, const char *param, const sl_frame *m, sl__model_kind *kind, int64_t *F,
                          sl_error *err)
{
    long c = sl_frame_find(m, SL__MODEL_COEF), b = sl_frame_find(m, SL__MODEL_INTERCEPT);
    long t = sl_frame_find(m, SL__MODEL_THRESHOLD);
    char have[512];
    sl__describe_frame(m, have, sizeof have);
    if (c < 0 || b < 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, param,
                              "stage '%s' is not a model: a model frame has arrays 'coef' (1 x features) and "
                              "'intercept' (1 x 1), as linreg and logreg write; it has %s",
                              sl_params_string(sl_stage_params(st), param), have);
    if (sl_frame_array(m, (size_t)b)->cols != 1 || (t >= 0 && sl_frame_array(m, (size_t)t)->cols != 1))
        return sl_stage_error(st, err, SL_ERR_CONFIG, param,
                              "stage '%s' is not a model: its 'intercept' and 'threshold' must have 1 column; it has %s",
                              sl_params_string(sl_stage_params(st), param), have);
    if (sl_frame_rows(m) == 0 || (t < 0 && sl_frame_rows(m) != 1 && sl_frame_rows(m) != -1))
        return sl_stage_error(st, err, SL_ERR_CONFIG, param,
                              "stage '%s' is not a model: a model frame has 1 row; it has %lld",
                              sl_params_string(sl_stage_params(st), param), (long long)sl_frame_rows(m));
    *kind = t >= 0 ? SL__MODEL_LOGISTIC : SL__MODEL_LINEAR;
    *F = sl_frame_array(m, (size_t)c)->cols;
    return SL_OK;
}

sl_status sl__model_load(const sl_stage *st, const char *param, const sl_frame *m, int64_t F, double *w, double *b,
                         double *threshold, sl_error *err)
{
    if (sl_frame_rows(m) != 1 && sl_frame_find(m, SL__MODEL_THRESHOLD) >= 0)
        return sl_stage_error(st, err, SL_ERR_DATA, param,
                              "the model has %lld rows: a multi-class model; score it with predict, then "
                              "metrics on predict's output",
                              (long long)sl_frame_rows(m));
    if (sl_frame_rows(m) != 1)
        return sl_stage_error(st, err, SL_ERR_DATA, param, "the model has %lld rows; a model frame has 1 row",
                              (long long)sl_frame_rows(m));
    sl_status s = sl_frame_read_all(m, SL__MODEL_COEF, SL_FLOAT64, w, (size_t)F, err);
    if (s == SL_OK)
        s = sl_frame_read_all(m, SL__MODEL_INTERCEPT, SL_FLOAT64, b, 1, err);
    *threshold = 0.5;
    if (s == SL_OK && sl_frame_find(m, SL__MODEL_THRESHOLD) >= 0)
        s = sl_frame_read_all(m, SL__MODEL_THRESHOLD, SL_FLOAT64, threshold, 1, err);
    if (s)
        return s;
    for (int64_t j = 0; j < F; j++)
        if (!isfinite(w[j]))
            return sl_stage_error(st, err, SL_ERR_DATA, param,
                                  "the model's coef[%lld] is %g; a model needs finite weights (did training diverge? "
                                  "lower the learning rate)",
                                  (long long)j, w[j]);
    if (!isfinite(*b))
        return sl_stage_error(st, err, SL_ERR_DATA, param, "the model's intercept is %g; it must be finite", *b);
    if (!(*threshold > 0 && *threshold < 1))
        return sl_stage_error(st, err, SL_ERR_DATA, param, "the model's threshold is %g; it must be in (0, 1)",
                              *threshold);
    return SL_OK;
}

/* ---- inputs ---- */

sl_status sl__model_array(const sl_stage *st, const char *param, const sl_frame *in, int64_t cols, long *index,
                          sl_error *err)
{
    const char *name = sl_params_string(sl_stage_params(st), param);
    long i = sl_frame_find(in, name);
    char have[512];
    if (i < 0) {
        sl__describe_frame(in, have, sizeof have);
        return sl_stage_error(st, err, SL_ERR_CONFIG, param, "'%s' names array '%s', which the input lacks; it has %s",
                              param, name, have);
    }
    const sl_array_info *a = sl_frame_array(in, (size_t)i);
    if (cols > 0 && a->cols != cols)
        return sl_stage_error(st, err, SL_ERR_CONFIG, param,
                              "array '%s' has %lld columns; '%s' must name an array of %lld column%s", name,
                              (long long)a->cols, param, (long long)cols, cols == 1 ? "" : "s");
    *index = i;
    return SL_OK;
}

const double *sl__chunk_f64(const sl_chunk *c, long i, double *scratch)
{
    const sl_chunk_array *a = &c->arrays[i];
    if (a->info->dtype == SL_FLOAT64)
        return a->data;
    sl__cast(scratch, SL_FLOAT64, a->data, a->info->dtype, (size_t)(c->rows * a->info->cols));
    return scratch;
}

sl_status sl__check_finite(const sl_stage *st, const char *array, const double *x, int64_t rows, int64_t cols,
                           int64_t row0, sl_error *err)
{
    size_t first = 0, bad = sl__count_nonfinite(x, SL_FLOAT64, (size_t)(rows * cols), &first);
    if (bad == 0)
        return SL_OK;
    return sl_stage_error(st, err, SL_ERR_DATA, NULL,
                          "array '%s' row %lld column %lld is %g (%zu non-finite value%s in rows %lld..%lld); "
                          "remove or impute them first (op clean)",
                          array, (long long)(row0 + (int64_t)(first / (size_t)cols)),
                          (long long)(first % (size_t)cols), x[first], bad, bad == 1 ? "" : "s", (long long)row0,
                          (long long)(row0 + rows - 1));
}

sl_status sl__check_chunk_finite(const sl_stage *st, const sl_chunk *c, long i, const double *x, sl_error *err)
{
    const sl_array_info *a = c->arrays[i].info;
    return sl_dtype_is_float(a->dtype) ? sl__check_finite(st, a->name, x, c->rows, a->cols, c->row0, err) : SL_OK;
}

sl_status sl__check_binary(const sl_stage *st, const char *array, const double *y, int64_t rows, int64_t row0,
                           const char *why, sl_error *err)
{
    size_t bad = 0;
    int64_t first = 0;
    for (int64_t i = 0; i < rows; i++)
        if (y[i] != 0 && y[i] != 1 && bad++ == 0)
            first = i;
    if (bad == 0)
        return SL_OK;
    return sl_stage_error(st, err, SL_ERR_DATA, NULL,
                          "array '%s' row %lld holds %.17g, but %s needs labels 0 or 1 (%zu other value%s in rows "
                          "%lld..%lld); map the classes to 0/1 first",
                          array, (long long)(row0 + first), y[first], why, bad, bad == 1 ? "" : "s", (long long)row0,
                          (long long)(row0 + rows - 1));
}

/* ---- numerics ---- */


double sl__logloss_z(double z, double y)
{
    /* log(1 + e^z) = max(z, 0) + log1p(e^-|z|) */
    double sp = (z > 0 ? z : 0) + log1p(exp(-fabs(z)));
    return sp - y * z;
}

/* ---- gradient descent ---- */

static const sl_frame *train_input(const sl_stage *st)
{
    return sl_stage_input(st, "input");
}

/* init_weights / init_bias: where gradient descent starts (the lesson's
 * "one step from w = [4, 3], b = 10"). */
static sl_status plan_init(sl_stage *st, sl__train *t, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    int gd = !sl_params_has(p, "solver") || strcmp(sl_params_string(p, "solver"), "gradient_descent") == 0;
    const char *given = sl_params_has(p, "init_weights") ? "init_weights"
                        : sl_params_has(p, "init_bias")  ? "init_bias"
                                                         : NULL;
    if (given && !gd)
        return sl_stage_error(st, err, SL_ERR_CONFIG, given,
                              "'%s' is where gradient descent starts; the normal equations need no start "
                              "(use solver: gradient_descent or remove it)",
                              given);
    if (sl_params_has(p, "init_bias")) {
        if (!t->fit_intercept)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "init_bias",
                                  "'init_bias' needs fit_intercept: true (without an intercept b stays 0)");
        t->init_b = sl_params_number(p, "init_bias");
    }
    if (!sl_params_has(p, "init_weights"))
        return SL_OK;
    size_t n = sl_params_len(p, "init_weights");
    if ((int64_t)n != t->F)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "init_weights",
                              "'init_weights' has %zu values; the features '%s' have %lld columns", n, t->names[0],
                              (long long)t->F);
    free(t->init_w);
    t->init_w = malloc(n * sizeof *t->init_w);
    if (!t->init_w)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        t->init_w[i] = sl_params_list_number(p, "init_weights", i);
    return SL_OK;
}

sl_status sl__train_plan(sl_stage *st, sl__model_kind kind, sl__train *t, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    t->kind = kind;
    t->st = st;
    t->in = train_input(st);
    sl_status s = sl__model_array(st, "features", t->in, 0, &t->xi, err);
    if (s == SL_OK)
        s = sl__model_array(st, "target", t->in, 1, &t->yi, err);
    if (s)
        return s;
    if (t->xi == t->yi)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "target", "'target' and 'features' both name array '%s'",
                              sl_params_string(p, "target"));
    t->names[0] = sl_frame_array(t->in, (size_t)t->xi)->name;
    t->names[1] = sl_frame_array(t->in, (size_t)t->yi)->name;
    t->names[2] = NULL;
    t->F = sl_frame_array(t->in, (size_t)t->xi)->cols;
    t->fit_intercept = sl_params_bool(p, "fit_intercept");
    t->l2 = sl_params_number(p, "l2");
    t->lr = sl_params_number(p, "learning_rate");
    t->epochs = sl_params_int(p, "epochs");
    t->batch_size = sl_params_int(p, "batch_size");
    t->seed = (uint64_t)sl_params_int(p, "seed");
    sl_status s0 = plan_init(st, t, err);
    if (s0)
        return s0;
    if (!(t->l2 >= 0) || !isfinite(t->l2))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "l2", "'l2' is %g; it must be a finite number >= 0", t->l2);
    if (t->batch_size < 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "batch_size",
                              "'batch_size' is %lld; it must be 0 (full batch) or a number of rows",
                              (long long)t->batch_size);
    if (!(t->lr > 0) || !isfinite(t->lr))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "learning_rate",
                              "'learning_rate' is %g; it must be a finite number > 0", t->lr);
    return sl__model_declare(st, t->in, t->xi, kind, 1, err);
}

sl_status sl__train_start(sl__train *t, sl_stage *st, sl_error *err)
{
    (void)st;
    sl__train_free(t); /* a stage may run more than once */
    t->n = sl_frame_rows(t->in);
    if (t->n <= 0)
        return sl_stage_error(t->st, err, SL_ERR_DATA, "input", "the input has no rows to train on");
    size_t F = (size_t)t->F;
    t->w = calloc(F, sizeof *t->w);
    t->g = calloc(F, sizeof *t->g);
    t->loss = calloc((size_t)t->epochs, sizeof *t->loss);
    t->b = t->init_b;
    if (!t->w || !t->g || !t->loss)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (t->init_w)
        memcpy(t->w, t->init_w, F * sizeof *t->w);
    return SL_OK;
}

void sl__train_destroy(sl__train *t)
{
    sl__train_free(t);
    free(t->init_w);
    t->init_w = NULL;
}

void sl__train_free(sl__train *t)
{
    free(t->w);
    free(t->g);
    free(t->loss);
    free(t->perm);
    free(t->xbuf);
    free(t->ybuf);
    t->w = t->g = t->loss = t->xbuf = t->ybuf = NULL;
    t->perm = NULL;
}

/* The features and target of a chunk as float64 (converted into xs, ys when
 * they are not), checked: finite, and 0/1 labels for a logistic model. */
static sl_status chunk_xy(const sl__train *t, const sl_chunk *in, double *xs, double *ys, const double **X,
                          const double **y, sl_error *err)
{
    *X = sl__chunk_f64(in, t->xi, xs);
    *y = sl__chunk_f64(in, t->yi, ys);
    sl_status s = sl__check_chunk_finite(t->st, in, t->xi, *X, err);
    if (s == SL_OK)
        s = sl__check_chunk_finite(t->st, in, t->yi, *y, err);
    if (s == SL_OK && t->kind == SL__MODEL_LOGISTIC)
        s = sl__check_binary(t->st, t->names[1], *y, in->rows, in->row0, "logistic regression", err);
    return s;
}

static int needs_scratch(const sl__train *t, long i)
{
    return sl_frame_array(t->in, (size_t)i)->dtype != SL_FLOAT64;
}

/* Full pass partial: [0] rows, [1] Σ err, [2] Σ loss, [3..3+F) Xᵀ err. */
static sl_status full_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)out;
    const sl__train *t = ctx;
    int64_t rows = in->rows, F = t->F;
    double *acc = partial;
    double *xs = needs_scratch(t, t->xi) ? malloc((size_t)(rows * F) * sizeof *xs) : NULL;
    double *ys = needs_scratch(t, t->yi) ? malloc((size_t)rows * sizeof *ys) : NULL;
    double *e = malloc((size_t)rows * sizeof *e);
    sl_status s = SL_OK;
    const double *X, *y;
    if (!e || (needs_scratch(t, t->xi) && !xs) || (needs_scratch(t, t->yi) && !ys))
        s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (s == SL_OK)
        s = chunk_xy(t, in, xs, ys, &X, &y, err);
    if (s == SL_OK) {
        for (int64_t i = 0; i < rows; i++)
            e[i] = t->b;
        s = sl__gemv_n(1.0, X, rows, F, t->w, 1.0, e, err); /* z = Xw + b */
    }
    if (s == SL_OK) {
        double se = 0, sl = 0;
        for (int64_t i = 0; i < rows; i++) {
            double z = e[i], r;
            if (t->kind == SL__MODEL_LOGISTIC) {
                sl += sl__logloss_z(z, y[i]);
                r = sl__sigmoid(z) - y[i];
            } else {
                r = z - y[i];
                sl += r * r;
            }
            e[i] = r;
            se += r;
        }
        acc[0] = (double)rows;
        acc[1] = se;
        acc[2] = sl;
        s = sl__gemv_t(1.0, X, rows, F, e, 0.0, acc + 3, err);
    }
    free(xs);
    free(ys);
    free(e);
    return s;
}

static sl_status full_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)err;
    const sl__train *t = ctx;
    double *a = acc;
    const double *p = partial;
    for (int64_t k = 0; k < 3 + t->F; k++)
        a[k] += p[k];
    return SL_OK;
}

sl_status sl__train_full_pass(sl__train *t, sl_exec *ex, sl_stage *st, double *g, double *gb, double *loss_sum,
                              sl_error *err)
{
    size_t size = (size_t)(3 + t->F);
    double *acc = calloc(size, sizeof *acc);
    if (!acc)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_pass pass = {.name = t->kind == SL__MODEL_LOGISTIC ? "gradient" : "loss",
                    .input = t->in,
                    .input_arrays = t->names,
                    .partial_size = size * sizeof(double),
                    .ctx = t,
                    .chunk = full_chunk,
                    .merge = full_merge};
    sl_status s = sl_exec_pass(ex, st, &pass, acc, err);
    if (s == SL_OK) {
        *gb = acc[1];
        *loss_sum = acc[2];
        if (g)
            memcpy(g, acc + 3, (size_t)t->F * sizeof *g);
    }
    free(acc);
    return s;
}

double sl__train_gradient_norm(const sl__train *t, const double *g, double gb)
{
    double n = (double)t->n, m = t->fit_intercept ? fabs(gb / n) : 0;
    for (int64_t j = 0; j < t->F; j++) {
        double v = fabs((g[j] + t->l2 * t->w[j]) / n);
        m = v > m ? v : m;
    }
    return m;
}

sl_status sl__not_converged(sl_stage *st, int as_error, const char *why, sl_error *err)
{
    if (as_error)
        return sl_stage_error(st, err, SL_ERR_DATA, "on_no_convergence", "the model did not converge: %s", why);
    sl_stage_warn(st, "the model did not converge: %s", why);
    return SL_OK;
}

sl_status sl__train_check_loss(const sl__train *t, int64_t epoch, double loss, sl_error *err)
{
    if (isfinite(loss))
        return SL_OK;
    return sl_stage_error(t->st, err, SL_ERR_DATA, "learning_rate",
                          "gradient descent diverged: the loss is %g at epoch %lld (learning_rate %g); lower "
                          "learning_rate, or standardize the features (op normalize)",
                          loss, (long long)epoch, t->lr);
}

/* Applies the batch gathered in t->g, t->gb (t->in_batch rows). */
static void apply_batch(sl__train *t)
{
    double B = (double)t->in_batch, n = (double)t->n;
    if (t->in_batch == 0)
        return;
    for (int64_t j = 0; j < t->F; j++) {
        t->w[j] -= t->lr * (t->g[j] / B + t->l2 * t->w[j] / n);
        t->g[j] = 0;
    }
    if (t->fit_intercept)
        t->b -= t->lr * (t->gb / B);
    t->gb = 0;
    t->in_batch = 0;
}

static sl_status minibatch_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)out;
    (void)partial;
    sl__train *t = ctx;
    const double *X, *y;
    sl_status s = chunk_xy(t, in, t->xbuf, t->ybuf, &X, &y, err);
    if (s)
        return s;
    int64_t F = t->F;
    sl__permutation(t->perm, in->rows, sl__stream(t->seed, (uint64_t)t->epoch, (uint64_t)in->index));
    for (int64_t k = 0; k < in->rows; k++) {
        int64_t i = t->perm[k];
        const double *x = X + i * F;
        double z = t->b, r;
        for (int64_t j = 0; j < F; j++)
            z += x[j] * t->w[j];
        if (t->kind == SL__MODEL_LOGISTIC) {
            t->loss_sum += sl__logloss_z(z, y[i]);
            r = sl__sigmoid(z) - y[i];
        } else {
            r = z - y[i];
            t->loss_sum += r * r;
        }
        for (int64_t j = 0; j < F; j++)
            t->g[j] += r * x[j];
        t->gb += r;
        if (++t->in_batch == t->batch_size)
            apply_batch(t);
    }
    return SL_OK;
}

sl_status sl__train_minibatch(sl__train *t, sl_exec *ex, sl_stage *st, sl_error *err)
{
    int64_t cr = sl_stage_chunk_rows(st), nchunks = sl_stage_input_chunks(st, t->in);
    if (cr > t->n)
        cr = t->n; /* the largest chunk this pass sees */
    size_t F = (size_t)t->F;
    t->perm = malloc((size_t)cr * sizeof *t->perm);
    int64_t *order = malloc((size_t)nchunks * sizeof *order);
    if (needs_scratch(t, t->xi))
        t->xbuf = malloc((size_t)cr * F * sizeof *t->xbuf);
    if (needs_scratch(t, t->yi))
        t->ybuf = malloc((size_t)cr * sizeof *t->ybuf);
    sl_status s = SL_OK;
    if (!t->perm || !order || (needs_scratch(t, t->xi) && !t->xbuf) || (needs_scratch(t, t->yi) && !t->ybuf))
        s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (t->epoch = 0; s == SL_OK && t->epoch < t->epochs; t->epoch++) {
        sl__permutation(order, nchunks, sl__stream(t->seed, (uint64_t)t->epoch, UINT64_MAX));
        t->loss_sum = 0;
        sl_pass pass = {.name = "epoch",
                        .input = t->in,
                        .input_arrays = t->names,
                        .ctx = t,
                        .chunk = minibatch_chunk,
                        .sequential = 1,
                        .chunk_order = order};
        s = sl_exec_pass(ex, st, &pass, NULL, err);
        if (s == SL_OK) {
            apply_batch(t);
            t->loss[t->epoch] = t->loss_sum / (double)t->n;
            s = sl__train_check_loss(t, t->epoch, t->loss[t->epoch], err);
            sl_exec_epoch(ex, t->epoch + 1, t->epochs, t->loss[t->epoch]);
        }
    }
    free(order);
    return s;
}
