/* logreg's Newton solver: the classes of the target (one pass), then
 * Newton steps on the penalized mean log-loss, each costing one pass that
 * gathers the loss, the gradient and the Hessian chunk by chunk (kernels/
 * logistic.h, merged in chunk order), a Cholesky solve of the D x D system
 * and a backtracking line search (Armijo) that spends a pass only when the
 * full step is refused. Binary, softmax, and one-vs-rest (K binary problems
 * solved side by side in the same passes). See model_int.h. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "kernels/labels.h"
#include "kernels/linalg.h"
#include "kernels/logistic.h"
#include "ops/model_int.h"
#include "ops/ops_int.h"
#include "plan/exec_int.h"

/* ---- the classes of the target ---- */

/* Partial: [0] count, [1..] the distinct values seen (a label set). */
static size_t classes_doubles(void)
{
    return 1 + SL_CLASS_MAX;
}

static sl_status too_many_classes(const sl__newton *nt, sl_error *err)
{
    return sl_stage_error(nt->st, err, SL_ERR_DATA, "target",
                          "array '%s' holds more than %d distinct labels; logistic regression is for class "
                          "labels (a continuous target wants linreg)",
                          nt->train.names[1], SL_CLASS_MAX);
}

static sl_status classes_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)out;
    const sl__newton *nt = ctx;
    double *scratch = NULL;
    if (sl_frame_array(nt->train.in, (size_t)nt->train.yi)->dtype != SL_FLOAT64 &&
        !(scratch = malloc((size_t)in->rows * sizeof *scratch)))
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    const double *y = sl__chunk_f64(in, nt->train.yi, scratch);
    double *acc = partial;
    size_t k = (size_t)acc[0];
    sl_status s = sl__check_chunk_finite(nt->st, in, nt->train.yi, y, err);
    if (s == SL_OK && sl__labels_add(acc + 1, &k, SL_CLASS_MAX, y, in->rows) != 0)
        s = too_many_classes(nt, err);
    acc[0] = (double)k;
    free(scratch);
    return s;
}

static sl_status classes_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    const double *p = partial;
    double *a = acc;
    size_t k = (size_t)a[0];
    int over = sl__labels_union(a + 1, &k, SL_CLASS_MAX, p + 1, (size_t)p[0]);
    a[0] = (double)k;
    return over ? too_many_classes(ctx, err) : SL_OK;
}

static sl_status find_classes(sl__newton *nt, sl_exec *ex, sl_stage *st, sl_error *err)
{
    double *acc = calloc(classes_doubles(), sizeof *acc);
    if (!acc)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    const char *names[2] = {nt->train.names[1], NULL};
    sl_pass pass = {.name = "classes",
                    .input = nt->train.in,
                    .input_arrays = names,
                    .partial_size = classes_doubles() * sizeof(double),
                    .ctx = nt,
                    .chunk = classes_chunk,
                    .merge = classes_merge};
    sl_status s = sl_exec_pass(ex, st, &pass, acc, err);
    nt->K = (int64_t)acc[0];
    if (s == SL_OK && nt->K < 2)
        s = sl_stage_error(st, err, SL_ERR_DATA, "target",
                           "array '%s' holds one class only (%.17g); a classifier needs at least two", nt->train.names[1],
                           nt->K ? acc[1] : 0.0);
    if (s == SL_OK && !(nt->classes = malloc((size_t)nt->K * sizeof *nt->classes)))
        s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (s == SL_OK)
        memcpy(nt->classes, acc + 1, (size_t)nt->K * sizeof *nt->classes);
    nt->classes_are_codes = s == SL_OK;
    for (int64_t k = 0; s == SL_OK && k < nt->K; k++)
        nt->classes_are_codes &= nt->classes[k] == (double)k;
    nt->train_checked = nt->valid_checked = 0;
    nt->norm_max = 0;
    free(acc);
    return s;
}

/* ---- one pass: loss, gradient and Hessian of every problem ---- */

/* What one pass over a frame computes: every problem at theta, with or
 * without the Hessian. */
typedef struct pass_ctx {
    const sl__newton *nt;
    const sl__logit_data *data;
    const double *theta;
    int hessian;
    int norm_max; /* also max ‖x̃‖ (the first full pass over the training rows) */
} pass_ctx;

static sl_status newton_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)out;
    const pass_ctx *pc = ctx;
    const sl__newton *nt = pc->nt;
    const sl__logit_data *d = pc->data;
    int64_t rows = in->rows, F = nt->F, P = sl__logit_width(&nt->shape);
    /* the binary kernel reads X itself; softmax's BLIS products want X̃ */
    int fused = !nt->shape.softmax;
    size_t work_n = fused ? sl__logit_binary_work_doubles(&nt->shape) : sl__logit_work_doubles(&nt->shape, rows);
    int cx = sl_frame_array(d->in, (size_t)d->xi)->dtype != SL_FLOAT64;
    int cy = sl_frame_array(d->in, (size_t)d->yi)->dtype != SL_FLOAT64;
    double *xs = cx ? malloc((size_t)(rows * F) * sizeof *xs) : NULL;
    double *ys = cy ? malloc((size_t)rows * sizeof *ys) : NULL;
    double *Xt = fused ? NULL : malloc((size_t)(rows * P) * sizeof *Xt), *work = malloc(work_n * sizeof *work);
    int32_t *cls = malloc((size_t)rows * sizeof *cls);
    sl_status s = SL_OK;
    if ((cx && !xs) || (cy && !ys) || (!fused && !Xt) || !work || !cls)
        s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    const double *X = NULL, *y = NULL;
    /* the values were checked by the first pass over this frame: a frame
     * (stored or streamed) gives the same values on every pass */
    int check = d == &nt->train ? !nt->train_checked : !nt->valid_checked;
    if (s == SL_OK) {
        X = sl__chunk_f64(in, d->xi, xs);
        y = sl__chunk_f64(in, d->yi, ys);
        if (check)
            s = sl__check_chunk_finite(nt->st, in, d->xi, X, err);
    }
    if (s == SL_OK && check)
        s = sl__check_chunk_finite(nt->st, in, d->yi, y, err);
    for (int64_t i = 0; s == SL_OK && i < rows; i++) {
        /* classes 0..K-1 (encoded labels, 0/1): the label is its class */
        long k = nt->classes_are_codes && y[i] >= 0 && y[i] < (double)nt->K && y[i] == (double)(int32_t)y[i]
                     ? (long)y[i]
                     : sl__labels_find(nt->classes, (size_t)nt->K, y[i]);
        if (k >= 0)
            cls[i] = (int32_t)k;
        else if (d == &nt->train) /* the data changed under the run */
            s = sl_stage_error(nt->st, err, SL_ERR_DATA, "target",
                               "array '%s' row %lld holds %.17g, a label the classes pass did not see", d->names[1],
                               (long long)(in->row0 + i), y[i]);
        else
            s = sl_stage_error(nt->st, err, SL_ERR_DATA, "validation",
                               "the validation frame's array '%s' row %lld holds %.17g, a class the training data "
                               "does not have (it has %lld classes, from %.17g to %.17g)",
                               d->names[1], (long long)(in->row0 + i), y[i], (long long)nt->K, nt->classes[0],
                               nt->classes[nt->K - 1]);
    }
    if (s == SL_OK && !fused)
        sl__logit_design(&nt->shape, X, rows, Xt);
    size_t stride = sl__logit_partial_doubles(&nt->shape);
    if (s == SL_OK && pc->norm_max)
        ((double *)partial)[(size_t)nt->problems * stride] = sl__logit_norm_max(X, rows, F, nt->shape.intercept);
    for (int64_t q = 0; s == SL_OK && q < nt->problems; q++) {
        int32_t positive = nt->mode == SL__LOGIT_OVR ? (int32_t)q : 1;
        double *part = (double *)partial + q * stride;
        s = fused ? sl__logit_binary_chunk(&nt->shape, X, cls, positive, rows, pc->theta + q * nt->D, pc->hessian,
                                           part, work, err)
                  : sl__logit_softmax_chunk(&nt->shape, Xt, cls, rows, pc->theta + q * nt->D, pc->hessian, part,
                                            work, err);
    }
    free(xs);
    free(ys);
    free(Xt);
    free(work);
    free(cls);
    return s;
}

static sl_status newton_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)err;
    const pass_ctx *pc = ctx;
    size_t n = (size_t)pc->nt->problems * sl__logit_partial_doubles(&pc->nt->shape);
    double *a = acc;
    const double *p = partial;
    for (size_t k = 0; k < n; k++)
        a[k] += p[k];
    a[n] = p[n] > a[n] ? p[n] : a[n]; /* max ‖x̃‖ */
    return SL_OK;
}

/* One pass over d at theta into sums (per problem: rows, loss, rows apart,
 * gradient, Hessian when asked; then max ‖x̃‖ on the first full pass over
 * the training rows). */
static sl_status pass_over(sl__newton *nt, const sl__logit_data *d, const double *theta, int hessian, double *sums,
                           sl_exec *ex, sl_stage *st, sl_error *err)
{
    size_t n = (size_t)nt->problems * sl__logit_partial_doubles(&nt->shape) + 1;
    memset(sums, 0, n * sizeof *sums);
    int64_t stride = d == &nt->train ? nt->stride : 1;
    pass_ctx pc = {.nt = nt, .data = d, .theta = theta, .hessian = hessian,
                   .norm_max = d == &nt->train && stride == 1 && !nt->train_checked};
    sl_status s;
    sl_pass pass = {.name = d == &nt->train ? "newton" : "validation",
                    .input = d->in,
                    .input_arrays = d->names,
                    .partial_size = n * sizeof(double),
                    .ctx = &pc,
                    .chunk = newton_chunk,
                    .merge = newton_merge};
    sl__exec_sample_next(ex, stride);
    s = sl_exec_pass(ex, st, &pass, sums, err);
    if (s == SL_OK && pc.norm_max)
        nt->norm_max = sums[n - 1];
    if (s == SL_OK && stride == 1)
        *(d == &nt->train ? &nt->train_checked : &nt->valid_checked) = 1;
    return s;
}

/* One pass at nt->trial: fills nt->sums. */
static sl_status evaluate(sl__newton *nt, sl_exec *ex, sl_stage *st, sl_error *err)
{
    nt->passes++;
    return pass_over(nt, &nt->train, nt->trial, 1, nt->sums, ex, st, err);
}

sl_status sl__newton_valid_loss(sl__newton *nt, sl_exec *ex, sl_stage *st, const double *theta, double *loss,
                                sl_error *err)
{
    size_t stride = sl__logit_partial_doubles(&nt->shape), n = (size_t)nt->problems * stride + 1;
    double *sums = calloc(n, sizeof *sums);
    if (!sums)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status s = pass_over(nt, &nt->valid, theta, 0, sums, ex, st, err);
    *loss = 0;
    for (int64_t q = 0; s == SL_OK && q < nt->problems; q++)
        *loss += sums[(size_t)q * stride + 1];
    if (s == SL_OK)
        *loss = sums[0] > 0 ? *loss / sums[0] : NAN;
    free(sums);
    return s;
}

/* ---- the objective of problem q, from the sums of the last pass ---- */

static int is_bias(const sl__newton *nt, int64_t j)
{
    int64_t P = sl__logit_width(&nt->shape);
    return nt->shape.intercept && j % P == P - 1;
}

/* The penalty for the rows the last pass evaluated: l2, or on the warm
 * start's sample l2 scaled to its share of the rows, so that its objective
 * estimates the whole one. */
static double penalty(const sl__newton *nt, double rows)
{
    return nt->l2 * rows / (double)nt->n;
}

/* f = (Σ loss + l2/2 |w|²) / n at theta, over the n rows of the last pass;
 * gradient into g (D). */
static double objective(const sl__newton *nt, int64_t q, const double *theta, double *g)
{
    const double *sum = nt->sums + q * sl__logit_partial_doubles(&nt->shape);
    double n = sum[0], l2 = penalty(nt, n), pen = 0;
    for (int64_t j = 0; j < nt->D; j++) {
        double w = is_bias(nt, j) ? 0 : theta[j];
        pen += w * w;
        if (g)
            g[j] = (sum[3 + j] + l2 * w) / n;
    }
    return (sum[1] + 0.5 * l2 * pen) / n;
}

static double max_abs(const double *v, int64_t n)
{
    double m = 0;
    for (int64_t j = 0; j < n; j++)
        m = fabs(v[j]) > m ? fabs(v[j]) : m;
    return m;
}

/* The Newton direction d = −H⁻¹ g of problem q. For softmax the loss does
 * not change when one vector is added to every class's row of θ, so H is
 * singular along those directions; H + h·(11ᵀ/K ⊗ I) is not, and gives the
 * same step for a gradient orthogonal to them (which it always is), so the
 * iterates stay where scikit-learn's do: Σ_k θ_k = 0. */
static sl_status direction(sl__newton *nt, int64_t q, const double *g, double *d, int *solved, sl_error *err)
{
    int64_t D = nt->D, P = sl__logit_width(&nt->shape);
    const double *sum = nt->sums + q * sl__logit_partial_doubles(&nt->shape);
    double n = sum[0], *A = nt->hess;
    for (int64_t i = 0; i < D * D; i++)
        A[i] = sum[3 + D + i] / n;
    for (int64_t j = 0; j < D; j++)
        if (!is_bias(nt, j))
            A[j * D + j] += penalty(nt, n) / n;
    if (nt->shape.softmax) {
        double h = 0;
        for (int64_t j = 0; j < D; j++)
            h += A[j * D + j];
        h /= (double)D;
        int64_t K = nt->shape.K;
        for (int64_t k = 0; k < K; k++)
            for (int64_t l = 0; l < K; l++)
                for (int64_t a = 0; a < P; a++)
                    A[(k * P + a) * D + l * P + a] += h / (double)K;
    }
    for (int64_t j = 0; j < D; j++)
        d[j] = -g[j];
    memcpy(nt->hess_copy, A, (size_t)(D * D) * sizeof *A);
    if (sl__cholesky(A, (size_t)D) < 0) {
        sl__cholesky_solve(A, (size_t)D, d);
        *solved = 1;
        return SL_OK;
    }
    /* singular (e.g. collinear features without l2): the least-norm step */
    size_t rank = 0;
    for (int64_t j = 0; j < D; j++)
        A[j] = -g[j];
    if (sl__pinv_solve(nt->hess_copy, (size_t)D, A, 1e-12, d, &rank) != 0)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory solving the Newton step");
    return SL_OK;
}

/* ---- the solver ---- */

sl_status sl__newton_start(sl__newton *nt, sl_exec *ex, sl_stage *st, sl_error *err)
{
    nt->n = sl_frame_rows(nt->train.in);
    if (nt->n <= 0)
        return sl_stage_error(st, err, SL_ERR_DATA, "input", "the input has no rows to train on");
    sl_status s = find_classes(nt, ex, st, err);
    if (s)
        return s;
    if (nt->mode == SL__LOGIT_AUTO)
        nt->mode = nt->K == 2 ? SL__LOGIT_BINARY : SL__LOGIT_SOFTMAX;
    if (nt->mode == SL__LOGIT_BINARY && nt->K > 2)
        return sl_stage_error(st, err, SL_ERR_DATA, "multi_class",
                              "array '%s' holds %lld classes, but multi_class is binary; use multinomial or ovr",
                              nt->train.names[1], (long long)nt->K);
    nt->shape = (sl__logit_shape){.F = nt->F, .K = nt->K, .softmax = nt->mode == SL__LOGIT_SOFTMAX,
                                  .intercept = nt->fit_intercept};
    nt->problems = nt->mode == SL__LOGIT_OVR ? nt->K : 1;
    nt->D = sl__logit_rows(&nt->shape) * sl__logit_width(&nt->shape);
    size_t D = (size_t)nt->D, Q = (size_t)nt->problems;
    nt->theta = calloc(Q * D, sizeof *nt->theta);
    nt->trial = calloc(Q * D, sizeof *nt->trial);
    nt->sums = calloc(Q * sl__logit_partial_doubles(&nt->shape) + 1, sizeof *nt->sums);
    nt->hess = malloc(D * D * sizeof *nt->hess);
    nt->hess_copy = malloc(D * D * sizeof *nt->hess_copy);
    nt->loss = calloc((size_t)nt->max_iter + 1, sizeof *nt->loss);
    nt->valid_loss = calloc((size_t)nt->max_iter + 1, sizeof *nt->valid_loss);
    if (!nt->theta || !nt->trial || !nt->sums || !nt->hess || !nt->hess_copy || !nt->loss || !nt->valid_loss)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    return SL_OK;
}

/* Takes the last Newton step without a pass: every active problem's bound
 * (bound[q], for the others their max|∇f|) is within tol. f after it is
 * f + slope/2 (the quadratic model at a Newton step: Δᵀ H Δ = −gᵀΔ), off
 * by a third order term (the bound's ρ times ‖Δ‖), far below what float64
 * resolves of f where the bound is within tol.
 * Returns the new f summed over the problems; sets the log-loss without
 * the penalty (train_loss) and max|∇f| (its bound). */
static double certify_last_step(sl__newton *nt, const unsigned char *active, const double *dir, const double *f,
                                const double *slope, const double *bound)
{
    size_t D = (size_t)nt->D;
    double total = 0, loss = 0;
    nt->gradient_norm = 0;
    for (size_t q = 0; q < (size_t)nt->problems; q++) {
        double fq = f[q], pen = 0;
        if (active[q]) {
            fq += 0.5 * slope[q];
            for (size_t j = 0; j < D; j++)
                nt->theta[q * D + j] += dir[q * D + j];
        }
        for (size_t j = 0; j < D; j++) {
            double w = is_bias(nt, (int64_t)j) ? 0 : nt->theta[q * D + j];
            pen += w * w;
        }
        total += fq;
        loss += fq - 0.5 * nt->l2 * pen / (double)nt->n;
        nt->gradient_norm = bound[q] > nt->gradient_norm ? bound[q] : nt->gradient_norm;
    }
    nt->train_loss = loss;
    nt->converged = nt->certified = 1;
    return total;
}

/* Newton iterations from nt->theta until max|∇f| <= tol or max_iter steps.
 * record: the run's own iterations (the loss trace, the validation loss,
 * progress events, it); 0 for the warm start. */
static sl_status newton_loop(sl__newton *nt, sl_exec *ex, sl_stage *st, int record, double tol, int64_t max_iter,
                             sl_error *err)
{
    int64_t it = 0;
    size_t D = (size_t)nt->D, Q = (size_t)nt->problems;
    double *f = calloc(Q, sizeof *f), *slope = calloc(Q, sizeof *slope), *step = calloc(Q, sizeof *step);
    double *g = malloc(D * sizeof *g), *dir = calloc(Q * D, sizeof *dir);
    unsigned char *active = malloc(Q), *pending = malloc(Q), *stalled = calloc(Q, 1), *fine = calloc(Q, 1);
    double *last_gn = calloc(Q, sizeof *last_gn), *bound = calloc(Q, sizeof *bound);
    sl_status s = f && slope && step && g && dir && active && pending && stalled && fine && last_gn && bound
                      ? SL_OK
                      : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (s == SL_OK) {
        memset(active, 1, Q);
        memcpy(nt->trial, nt->theta, Q * D * sizeof *nt->trial);
        s = evaluate(nt, ex, st, err);
    }
    nt->converged = 0;
    nt->stalled = 0;
    nt->certified = 0;
    /* The last step may be taken without the pass that would check it: for
     * sigmoid models, when the bound on max|∇f| after it (kernels/
     * logistic.h) is within tol. It needs max ‖x̃‖ of the rows (the first
     * full pass), the Hessian the step was solved with, and no validation
     * frame (whose loss is recorded at every iterate). */
    int can_certify = record && nt->stride == 1 && !nt->shape.softmax && nt->norm_max > 0 && !nt->valid.in;
    while (s == SL_OK) {
        /* converged problems stop; the others take a Newton step */
        size_t left = 0;
        double total = 0;
        int certified = can_certify && nt->stalled == 0;
        nt->gradient_norm = 0;
        for (size_t q = 0; q < Q; q++) {
            f[q] = objective(nt, (int64_t)q, nt->theta + q * D, g);
            total += f[q];
            double gn = max_abs(g, nt->D);
            nt->gradient_norm = gn > nt->gradient_norm ? gn : nt->gradient_norm;
            if (!isfinite(f[q]) || !isfinite(gn)) {
                s = sl_stage_error(st, err, SL_ERR_DATA, NULL,
                                   "Newton's method met a non-finite loss or gradient at iteration %lld; check the "
                                   "features' scale (op normalize) or set l2 > 0",
                                   (long long)it);
                break;
            }
            if (active[q] && gn <= tol)
                active[q] = 0;
            bound[q] = gn;
            if (!active[q])
                continue;
            left++;
            int solved = 0;
            s = direction(nt, (int64_t)q, g, dir + q * D, &solved, err);
            slope[q] = 0;
            for (size_t j = 0; j < D; j++)
                slope[q] += g[j] * dir[q * D + j];
            bound[q] = solved && certified ? sl__logit_step_bound(g, nt->hess_copy, dir + q * D, nt->D, nt->norm_max) : INFINITY;
            certified &= bound[q] <= tol;
            step[q] = 1;
            /* The step would lower f by about −slope/2. Below what float64
             * resolves of f the line search cannot judge it, but the step
             * still gains digits of θ: take it whole, as long as it keeps
             * shrinking the gradient (features of a large scale leave a
             * floor of rounding in max|∇f| that may lie above tol). */
            int was_fine = fine[q];
            fine[q] = !(-slope[q] > 64 * DBL_EPSILON * fabs(f[q]));
            if (was_fine && fine[q] && !(gn < 0.5 * last_gn[q])) {
                active[q] = 0;
                left--;
            }
            last_gn[q] = gn;
        }
        if (s)
            break;
        if (record)
            nt->loss[it] = total;
        if (record && nt->valid.in &&
            (s = sl__newton_valid_loss(nt, ex, st, nt->theta, &nt->valid_loss[it], err)) != SL_OK)
            break;
        if (record && it > 0)
            sl_exec_epoch(ex, it, max_iter, total);
        if (left == 0) {
            nt->converged = nt->stalled == 0;
            break;
        }
        if (it == max_iter)
            break;
        it++;
        if (certified) {
            nt->loss[it] = certify_last_step(nt, active, dir, f, slope, bound);
            sl_exec_epoch(ex, it, max_iter, nt->loss[it]);
            break;
        }
        memcpy(pending, active, Q);
        int stalled_now = 0;
        /* backtracking: a problem whose loss did not fall enough halves its step */
        for (;;) {
            for (size_t q = 0; q < Q; q++)
                for (size_t j = 0; j < D; j++)
                    nt->trial[q * D + j] = nt->theta[q * D + j] + (pending[q] ? step[q] : 0) * dir[q * D + j];
            if ((s = evaluate(nt, ex, st, err)) != SL_OK)
                break;
            size_t refused = 0;
            for (size_t q = 0; q < Q; q++) {
                if (!pending[q])
                    continue;
                double fn = objective(nt, (int64_t)q, nt->trial + q * D, NULL);
                if (isfinite(fn) && (fine[q] || fn <= f[q] + 1e-4 * step[q] * slope[q])) {
                    pending[q] = 0;
                } else if (step[q] < 1e-10) {
                    /* no step lowers the loss: as far as float64 goes */
                    pending[q] = active[q] = 0;
                    stalled[q] = 1;
                    stalled_now = 1;
                    nt->stalled++;
                } else {
                    step[q] *= 0.5;
                    refused++;
                }
            }
            if (!refused)
                break;
        }
        if (s)
            break;
        /* the last pass evaluated every problem at the accepted point */
        for (size_t q = 0; q < Q; q++)
            if (!stalled[q])
                memcpy(nt->theta + q * D, nt->trial + q * D, D * sizeof *nt->theta);
        if (stalled_now) { /* the stalled problem's sums must be at its kept point */
            memcpy(nt->trial, nt->theta, Q * D * sizeof *nt->trial);
            if ((s = evaluate(nt, ex, st, err)) != SL_OK)
                break;
        }
    }
    if (s == SL_OK) {
        double loss = 0;
        nt->separated = 1;
        for (size_t q = 0; q < Q; q++) {
            loss += nt->sums[q * sl__logit_partial_doubles(&nt->shape) + 1];
            nt->separated &= nt->sums[q * sl__logit_partial_doubles(&nt->shape) + 2] == 0;
        }
        if (!nt->certified) /* else certify_last_step's */
            nt->train_loss = loss / (double)nt->n;
    }
    free(f);
    free(slope);
    free(step);
    free(g);
    free(dir);
    free(active);
    free(pending);
    free(stalled);
    free(fine);
    free(last_gn);
    free(bound);
    if (record)
        nt->iterations = it;
    return s;
}

/* The warm start: Newton on every 256th chunk, then on every 16th (the only
 * chunks their passes read), each to a loose tolerance, then the steps on
 * all rows from there: from a point that close, Newton's quadratic
 * convergence needs two full passes (the last step certified) where it
 * took seven or eight from zero, and the coarse sample's steps cost a
 * sixteenth of the finer one's. The result is the full objective's
 * optimum to tol either way. A level runs only when its sample has at
 * least SL__WARM_MIN_CHUNKS chunks and 100 rows an unknown (else its
 * optimum is no nearer than its start); a level that does not converge
 * (a sample whose classes separate, with l2 = 0) is dropped: the next
 * starts where the last good one ended. */
#define SL__WARM_MIN_CHUNKS 3
static const int64_t warm_strides[] = {256, 16};

/* The sample's optimum differs from the whole one by its sampling error:
 * on all rows max|∇f| there is about √(D/m) times the spread of a row's
 * gradient (m sample rows; 8M x 16 rows, every 16th chunk: 6e-4).
 * Polishing the sample's solution below a tenth of √(D/m) buys no full
 * pass. */
static double warm_tol(const sl__newton *nt, int64_t stride)
{
    double m = (double)(nt->n / stride), t = 0.1 * sqrt((double)(nt->D * nt->problems) / m);
    return t > nt->tol ? t : nt->tol;
}

sl_status sl__newton_solve(sl__newton *nt, sl_exec *ex, sl_stage *st, sl_error *err)
{
    sl_status s = SL_OK;
    size_t size = (size_t)(nt->problems * nt->D) * sizeof *nt->theta;
    double *kept = malloc(size);
    if (!kept)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    nt->iterations = 0;
    int64_t chunks = sl_stage_input_chunks(st, nt->train.in);
    for (size_t k = 0; s == SL_OK && k < sizeof warm_strides / sizeof *warm_strides; k++) {
        int64_t w = warm_strides[k];
        if (chunks / w < SL__WARM_MIN_CHUNKS || nt->n / w < 100 * nt->D * nt->problems)
            continue;
        memcpy(kept, nt->theta, size);
        nt->stride = w;
        s = newton_loop(nt, ex, st, 0, warm_tol(nt, w), 30, err);
        if (s == SL_OK && !nt->converged)
            memcpy(nt->theta, kept, size);
    }
    free(kept);
    nt->stride = 1;
    if (s == SL_OK)
        s = newton_loop(nt, ex, st, 1, nt->tol, nt->max_iter, err);
    return s;
}

void sl__newton_free(sl__newton *nt)
{
    free(nt->classes);
    free(nt->theta);
    free(nt->trial);
    free(nt->sums);
    free(nt->hess);
    free(nt->hess_copy);
    free(nt->loss);
    free(nt->valid_loss);
    nt->classes = nt->theta = nt->trial = nt->sums = nt->hess = nt->hess_copy = nt->loss = nt->valid_loss = NULL;
}

sl_status sl__newton_binary01(sl__newton *nt, sl_error *err)
{
    sl__newton_free(nt);
    nt->classes_are_codes = 1;
    nt->valid_checked = 0;
    nt->K = 2;
    nt->mode = SL__LOGIT_BINARY;
    nt->shape = (sl__logit_shape){.F = nt->F, .K = 2, .softmax = 0, .intercept = 1};
    nt->problems = 1;
    nt->D = sl__logit_width(&nt->shape);
    if (!(nt->classes = malloc(2 * sizeof *nt->classes)))
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    nt->classes[0] = 0;
    nt->classes[1] = 1;
    return SL_OK;
}
