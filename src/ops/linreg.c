/* linreg: linear least squares with an intercept and optional L2 (ridge),
 * by the normal equations or by gradient descent on the mean squared error.
 *
 * Algebra before brute force: both the normal equations and full-batch
 * gradient descent need only the centered co-moments of (X, y) (n, x̄, ȳ,
 * C = XcᵀXc, c = Xcᵀyc, c_yy = ycᵀyc), which one reduce pass builds
 * (kernels/gram.h: per-chunk BLIS syrk/gemv on chunk-centered data, Chan
 * merges in chunk order). After that pass the data is not read again: the
 * solve is O(F³) and each epoch O(F²). Mini-batch descent streams the data
 * every epoch (model.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "kernels/gram.h"
#include "kernels/linalg.h"
#include "ops/model_int.h"
#include "ops/moments_int.h"
#include "ops/ops_int.h"
#include "plan/exec_int.h"

/* A pivot of the Cholesky factorization below this fraction of its diagonal
 * (1 - R² of a column on the earlier ones) means rank deficiency; pinv drops
 * eigenvalues below this fraction of the largest. */
#define RANK_RTOL 1e-12

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose output frame holds the training data"},
    {"features", SL_PARAM_STRING, 0, "X", NULL, 0, 0, "array of features (n x F)"},
    {"target", SL_PARAM_STRING, 0, "y", NULL, 0, 0, "array of targets (n x 1)"},
    {"solver", SL_PARAM_CHOICE, 0, "normal_equations", "normal_equations|gradient_descent", 0, 0,
     "normal_equations: exact solve by Cholesky; gradient_descent: epochs of (mini-)batch descent"},
    {"fit_intercept", SL_PARAM_BOOL, 0, "true", NULL, 0, 0, "fit a bias b (else b = 0)"},
    {"l2", SL_PARAM_NUMBER, 0, "0", NULL, 0, 0, "L2 penalty >= 0 (ridge alpha, as scikit-learn's Ridge)"},
    {"epochs", SL_PARAM_INT, 0, "100", NULL, 1, 1e7, "gradient descent: passes over the data"},
    {"learning_rate", SL_PARAM_NUMBER, 0, "0.1", NULL, 0, 0, "gradient descent: step size lr (> 0)"},
    {"batch_size", SL_PARAM_INT, 0, "0", NULL, 0, 0, "gradient descent: rows per update (>= 0); 0: full batch"},
    {"seed", SL_PARAM_INT, 0, "0", NULL, 0, 0, "mini-batch descent: seed of the row order"},
    {"init_weights", SL_PARAM_NUMBER_LIST, 0, NULL, NULL, 0, 0,
     "gradient descent: the weights to start from, one per feature (default: zeros)"},
    {"init_bias", SL_PARAM_NUMBER, 0, NULL, NULL, 0, 0, "gradient descent: the bias to start from (default 0)"},
    {"tol", SL_PARAM_NUMBER, 0, NULL, NULL, 0, 0,
     "gradient descent: stop at the first epoch whose max|∇f| <= tol (f: the mean squared error / 2 + the "
     "penalty); absent: run every epoch, and judge convergence at 1e-4"},
    {"on_no_convergence", SL_PARAM_CHOICE, 0, "warn", "warn|error", 0, 0,
     "gradient descent that did not converge: a warning (and result converged = 0), or an error"},
    {"rank_deficient", SL_PARAM_CHOICE, 0, "error", "error|pinv", 0, 0,
     "normal equations on collinear features: error, or the minimum-norm solution (pinv)"},
};

static const char doc[] =
    "Fits ŷ = Xw + b to the target y by least squares: minimizes "
    "Σ (x_i·w + b − y_i)² + l2·|w|² (the objective of scikit-learn's `LinearRegression`, or `Ridge(alpha=l2)` "
    "when `l2` > 0). The output is a model frame (below), the input of `predict` and `metrics`.\n\n"
    "**Normal equations** (`solver: normal_equations`, the default). One reduce pass builds the centered "
    "co-moments of the data: per chunk, the chunk is centered by its own column means and "
    "C = XcᵀXc (BLIS `syrk`), c = Xcᵀyc (`gemv`) are formed; chunks merge in chunk order with Chan's formula "
    "C_ab = C_a + C_b + δδᵀ·n_a·n_b/n, so an intercept fit does not lose precision to large column means. "
    "Then (C + l2·I) w = c is solved by Cholesky and b = ȳ − x̄ᵀw (with `fit_intercept: false`, the "
    "uncentered XᵀX + l2·I and Xᵀy, and b = 0). The data is read once, whatever the solver does after.\n\n"
    "*Rank deficiency*: when a Cholesky pivot is ≤ 1e-12 times its diagonal entry (that feature column is, "
    "up to rounding, a linear combination of the earlier ones, or constant), `rank_deficient: error` (the "
    "default) stops with a message that names the column and the combination (e.g. "
    "`x2 ≈ 1·x0 + 1·x1 + const`) and suggests `l2` > 0, dropping a column, or `rank_deficient: pinv`. "
    "`pinv` returns the minimum-norm solution: the pseudo-inverse of C + l2·I (symmetric eigen-decomposition, "
    "eigenvalues below 1e-12 × the largest dropped, i.e. singular values of centered X below 1e-6 × the "
    "largest), as `numpy.linalg.lstsq` on centered data; the result `rank` gives the rank kept.\n\n"
    "**Gradient descent** (`solver: gradient_descent`), from w = `init_weights`, b = `init_bias` (default 0, 0), for `epochs` epochs with step "
    "`learning_rate` (lr). Full batch (`batch_size: 0`) follows exactly\n"
    "w ← w − lr·(Xᵀ(Xw + b − y) + l2·w)/n, b ← b − lr·mean(Xw + b − y)\n"
    "(b stays 0 with `fit_intercept: false`), computed from the co-moments of the single pass: "
    "Xᵀ(Xw + b − y) = C w − c + n·x̄·m with m = mean(Xw + b − y) = x̄ᵀw + b − ȳ, so each epoch costs O(F²), "
    "not O(n·F). Mini-batch (`batch_size` > 0) streams the data every epoch: epoch e visits the chunks in a "
    "seeded random order and the rows of each chunk in a seeded random order (splitmix64 streams of `seed`, "
    "see `src/kernels/shuffle.h`), and updates after each `batch_size` consecutive rows of that order "
    "(w ← w − lr·(Σ_batch x·err / B + l2·w/n), b ← b − lr·mean_batch(err); batches may span chunks, the "
    "epoch's last batch may be smaller). The order, hence the result, depends on the seed and on "
    "`chunk_rows`, never on the thread count.\n\n"
    "The attribute `loss` of `coef` holds one value per epoch: the mean squared error at the weights the "
    "epoch starts from (full batch: the MSE whose gradient the epoch's update uses; mini-batch: the mean over "
    "the epoch's rows of each row's squared error at the weights before its batch's update).\n\n"
    "**Checks**: `features` and `target` must exist (`target` with 1 column); any numeric type is read as "
    "float64. A NaN or infinite value stops the run with its array, row and column (clean the data first). "
    "No rows: an error. A loss that becomes infinite (divergence) is an error suggesting a smaller "
    "`learning_rate`.\n\n"
    "**Convergence** (gradient descent): with `tol`, descent stops at the first epoch whose starting weights "
    "have max|∇f| <= tol (f = MSE/2 + l2·|w|²/(2n)); the results `converged` (max|∇f| <= tol at the final "
    "weights, 1e-4 without `tol`) and `iterations` (epochs run) say how it ended, and a descent that did not "
    "converge prints a warning (run.log too) or, with `on_no_convergence: error`, fails the stage.\n\n"
    "**Output**: the model frame, 1 row: `coef` (1 × F float64, the features' column names), `intercept` "
    "(1 × 1). `coef` has the attributes `model_kind` = [0] (linear) and, for gradient descent, `loss`. "
    "Results: `rows` (training rows), `train_mse` (MSE of the fitted model on the training rows), `rank` "
    "(pinv only). Results depend on `chunk_rows` only through rounding (normal equations, full batch) or "
    "through the row order (mini-batch).";

typedef struct linreg_state {
    sl__train t;
    int gd;   /* solver: gradient descent */
    int pinv; /* rank_deficient: pinv */
    int has_tol, error_if_not_converged;
    double tol;
    int64_t epochs_run;
    sl__affine_chain chain; /* algebra: co-moments from the moments of a chain below (moments_int.h) */
    int algebra;
} linreg_state;

static void free_state(void *p)
{
    linreg_state *s = p;
    if (s) {
        sl__train_destroy(&s->t);
        free(s);
    }
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    linreg_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    const sl_params *p = sl_stage_params(st);
    s->gd = strcmp(sl_params_string(p, "solver"), "gradient_descent") == 0;
    s->pinv = strcmp(sl_params_string(p, "rank_deficient"), "pinv") == 0;
    s->has_tol = sl_params_has(p, "tol");
    s->tol = s->has_tol ? sl_params_number(p, "tol") : 1e-4;
    s->error_if_not_converged = strcmp(sl_params_string(p, "on_no_convergence"), "error") == 0;
    if (s->has_tol && !s->gd)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "tol",
                              "'tol' is for gradient descent; the normal equations are solved exactly");
    if (!(s->tol > 0) || !isfinite(s->tol))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "tol", "'tol' is %g; it must be a finite number > 0", s->tol);
    sl_status rc = sl__train_plan(st, SL__MODEL_LINEAR, &s->t, err);
    if (rc == SL_OK && (!s->gd || s->t.batch_size == 0))
        s->algebra = sl__affine_chain_find(sl__input_stage(st, "input"), 1, &s->chain);
    return rc;
}

/* The co-moment state (kernels/gram.h) from the moments the chain below
 * gathered, with no pass; 0 when they do not apply. */
static int comoments_by_algebra(const linreg_state *s, double *cm)
{
    const sl__train *t = &s->t;
    double n = 0, *mean = NULL, *C = NULL;
    int64_t Q = 0, F = t->F;
    if (!sl__affine_chain_moments(&s->chain, t->names[0], t->names[1], &n, &mean, &C, &Q) || Q != F + 1) {
        free(mean);
        free(C);
        return 0;
    }
    memset(cm, 0, sl__comoment_size(F) * sizeof *cm);
    cm[SL__CM_N] = n;
    cm[SL__CM_YMEAN] = mean[F];
    cm[SL__CM_CYY] = C[F * Q + F];
    double *xm = sl__cm_xmean(cm, F), *cxy = sl__cm_cxy(cm, F), *cxx = sl__cm_cxx(cm, F);
    for (int64_t a = 0; a < F; a++) {
        xm[a] = mean[a];
        cxy[a] = C[a * Q + F];
        for (int64_t b = 0; b < F; b++)
            cxx[a * F + b] = C[a * Q + b];
    }
    free(mean);
    free(C);
    return 1;
}

/* ---- the co-moment pass ---- */

static sl_status cm_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)out;
    const sl__train *t = ctx;
    int64_t rows = in->rows, F = t->F;
    int cx = sl_frame_array(t->in, (size_t)t->xi)->dtype != SL_FLOAT64;
    int cy = sl_frame_array(t->in, (size_t)t->yi)->dtype != SL_FLOAT64;
    /* one block: the co-moment kernel's scratch, then conversions */
    size_t cms = sl__comoment_scratch_size(rows, F);
    size_t need = cms + (cx ? (size_t)(rows * F) : 0) + (cy ? (size_t)rows : 0);
    double *scratch = malloc(need * sizeof *scratch);
    if (!scratch)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory for a %lld-row chunk", (long long)rows);
    double *xs = scratch + cms, *ys = xs + (cx ? rows * F : 0);
    const double *X = sl__chunk_f64(in, t->xi, xs), *y = sl__chunk_f64(in, t->yi, ys);
    sl_status s = sl__check_chunk_finite(t->st, in, t->xi, X, err);
    if (s == SL_OK)
        s = sl__check_chunk_finite(t->st, in, t->yi, y, err);
    if (s == SL_OK)
        s = sl__comoment_chunk(X, y, rows, F, partial, scratch, err);
    free(scratch);
    return s;
}

static sl_status cm_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)err;
    const sl__train *t = ctx;
    sl__comoment_merge(acc, partial, t->F);
    return SL_OK;
}

/* ---- normal equations ---- */

static void column_label(const sl__train *t, int64_t j, char *buf, size_t size)
{
    const char *name = sl_frame_column(t->in, (size_t)t->xi, j);
    if (name && name[0])
        snprintf(buf, size, "%s", name);
    else
        snprintf(buf, size, "%s[%lld]", t->names[0], (long long)j);
}

/* The error for a singular system: column j is (nearly) a combination of
 * columns 0..j-1, whose coefficients solve A[0:j,0:j] a = A[0:j, j] with the
 * partial factor L in the lower triangle of Lf (the upper triangle of A is
 * intact). */
static sl_status singular_error(const sl__train *t, const double *A, const double *Lf, long jl, double min_rel,
                                sl_error *err)
{
    int64_t F = t->F, j = jl;
    char cj[96], buf[640];
    column_label(t, j, cj, sizeof cj);
    size_t used = 0;
    buf[0] = '\0';
    if (j == 0 || A[j * F + j] == 0) {
        snprintf(buf, sizeof buf, "column %lld (%s) is %s", (long long)j, cj,
                 t->fit_intercept ? "constant (zero variance), which the intercept already models" : "all zeros");
    } else {
        double *a = malloc((size_t)j * sizeof *a);
        if (!a)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (int64_t k = 0; k < j; k++) {
            double v = A[k * F + j];
            for (int64_t i = 0; i < k; i++)
                v -= Lf[k * F + i] * a[i];
            a[k] = v / Lf[k * F + k];
        }
        for (int64_t k = j; k-- > 0;) {
            double v = a[k];
            for (int64_t i = k + 1; i < j; i++)
                v -= Lf[i * F + k] * a[i];
            a[k] = v / Lf[k * F + k];
        }
        double amax = 0;
        for (int64_t k = 0; k < j; k++)
            amax = fabs(a[k]) > amax ? fabs(a[k]) : amax;
        int w = snprintf(buf, sizeof buf, "column %lld is (nearly) a linear combination of earlier columns: %s ≈",
                         (long long)j, cj);
        used = w > 0 ? (size_t)w : 0;
        int terms = 0;
        for (int64_t k = 0; k < j && used < sizeof buf - 64; k++) {
            if (!(fabs(a[k]) > 1e-6 * amax))
                continue;
            if (terms == 6) {
                w = snprintf(buf + used, sizeof buf - used, " + ...");
                used += w > 0 ? (size_t)w : 0;
                break;
            }
            char ck[96];
            column_label(t, k, ck, sizeof ck);
            w = snprintf(buf + used, sizeof buf - used, "%s %.6g·%s", terms ? (a[k] < 0 ? " -" : " +") : "",
                         terms && a[k] < 0 ? -a[k] : a[k], ck);
            used += w > 0 ? (size_t)w : 0;
            terms++;
        }
        if (t->fit_intercept && used < sizeof buf - 16)
            snprintf(buf + used, sizeof buf - used, " + const");
        free(a);
    }
    if (t->l2 > 0) {
        /* A ridge too small to matter. Column j's pivot is then about l2, and
         * it must exceed RANK_RTOL of its diagonal entry, the column's sum of
         * squares: 100 times that bound leaves room for rounding. */
        double enough = 100 * RANK_RTOL * (A[j * F + j] - t->l2);
        return sl_stage_error(t->st, err, SL_ERR_DATA, "l2",
                              "the features are collinear, so least squares has no unique solution: %s (relative "
                              "pivot %.3g), and l2 = %g is too small to change that; raise l2 (to %.2g or more for "
                              "that column), drop that column, or set 'rank_deficient: pinv' for the minimum-norm "
                              "solution",
                              buf, min_rel > 0 ? min_rel : 0.0, t->l2, enough > t->l2 ? enough : 10 * t->l2);
    }
    return sl_stage_error(t->st, err, SL_ERR_DATA, "rank_deficient",
                          "the features are collinear, so least squares has no unique solution: %s (relative "
                          "pivot %.3g). Set l2 > 0 (ridge), drop that column, or set 'rank_deficient: pinv' for the "
                          "minimum-norm solution",
                          buf, min_rel > 0 ? min_rel : 0.0);
}

static sl_status solve_normal(linreg_state *s, sl_stage *st, double *cm, double *w, double *b, sl_error *err)
{
    const sl__train *t = &s->t;
    int64_t F = t->F;
    size_t FF = (size_t)(F * F);
    double n = cm[SL__CM_N], ym = cm[SL__CM_YMEAN];
    const double *xm = sl__cm_xmean(cm, F), *c = sl__cm_cxy(cm, F), *C = sl__cm_cxx(cm, F);
    double *A = malloc(FF * sizeof *A), *L = malloc(FF * sizeof *L), *r = malloc((size_t)F * sizeof *r);
    sl_status rc = SL_OK;
    if (!A || !L || !r) {
        rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory for a %lld x %lld system", (long long)F, (long long)F);
        goto done;
    }
    /* centered system, or the raw XᵀX = C + n x̄x̄ᵀ, Xᵀy = c + n x̄ȳ */
    for (int64_t a = 0; a < F; a++) {
        for (int64_t k = 0; k < F; k++)
            A[a * F + k] = t->fit_intercept ? C[a * F + k] : C[a * F + k] + n * xm[a] * xm[k];
        r[a] = t->fit_intercept ? c[a] : c[a] + n * xm[a] * ym;
        A[a * F + a] += t->l2;
    }
    memcpy(L, A, FF * sizeof *L);
    double min_rel = 1;
    long j = sl__cholesky_rel(L, (size_t)F, RANK_RTOL, &min_rel);
    if (j < 0) {
        memcpy(w, r, (size_t)F * sizeof *w);
        sl__cholesky_solve(L, (size_t)F, w);
    } else if (s->pinv) {
        size_t rank = 0;
        if (sl__pinv_solve(A, (size_t)F, r, RANK_RTOL, w, &rank) != 0) {
            rc = sl__error_set(err, SL_ERR_NOMEM, "the pseudo-inverse of the %lld x %lld system failed",
                               (long long)F, (long long)F);
            goto done;
        }
        rc = sl_stage_set_result(st, "rank", (double)rank, err);
    } else {
        rc = singular_error(t, A, L, j, min_rel, err);
        goto done;
    }
    *b = 0;
    if (t->fit_intercept) {
        *b = ym;
        for (int64_t a = 0; a < F; a++)
            *b -= xm[a] * w[a];
    }
done:
    free(A);
    free(L);
    free(r);
    return rc;
}

/* ---- full-batch gradient descent from the co-moments ---- */

/* At t->w, t->b: the mean squared error, g = C w − c + l2 w (the gradient
 * is g/n + x̄·m), m = mean(err); returns max|∇f|. */
static double cm_state(const sl__train *t, const double *cm, double *g, double *m_out, double *loss)
{
    int64_t F = t->F;
    double n = cm[SL__CM_N], ym = cm[SL__CM_YMEAN], cyy = cm[SL__CM_CYY];
    const double *xm = cm + SL__CM_XMEAN, *c = xm + F, *C = c + F, *w = t->w;
    /* m = mean(err); q = Σ (err - m)² */
    double m = t->b - ym, q = cyy;
    for (int64_t a = 0; a < F; a++) {
        double cw = 0;
        for (int64_t k = 0; k < F; k++)
            cw += C[a * F + k] * w[k];
        m += xm[a] * w[a];
        q += w[a] * cw - 2 * w[a] * c[a];
        g[a] = cw - c[a] + t->l2 * w[a]; /* + n x̄ m below */
    }
    *loss = m * m + (q > 0 ? q : 0) / n;
    *m_out = m;
    double gn = t->fit_intercept ? fabs(m) : 0;
    for (int64_t a = 0; a < F; a++) {
        double v = fabs(g[a] / n + xm[a] * m);
        gn = v > gn ? v : gn;
    }
    return gn;
}

/* Epochs until `epochs`, or (with tol) the first whose starting weights
 * have max|∇f| <= tol; *gnorm gets max|∇f| at the final weights. */
static sl_status descend(linreg_state *s, const double *cm, double *gnorm)
{
    sl__train *t = &s->t;
    int64_t F = t->F;
    double n = cm[SL__CM_N], m = 0;
    const double *xm = cm + SL__CM_XMEAN;
    double *w = t->w, *g = t->g;
    s->epochs_run = t->epochs;
    for (int64_t e = 0; e < t->epochs; e++) {
        double gn = cm_state(t, cm, g, &m, &t->loss[e]);
        if (!isfinite(t->loss[e]))
            return SL_ERR_DATA;
        if (s->has_tol && gn <= s->tol) {
            s->epochs_run = e;
            break;
        }
        for (int64_t a = 0; a < F; a++)
            w[a] -= t->lr * (g[a] / n + xm[a] * m);
        if (t->fit_intercept)
            t->b -= t->lr * m;
    }
    double last;
    *gnorm = cm_state(t, cm, g, &m, &last);
    return isfinite(last) ? SL_OK : SL_ERR_DATA;
}

/* Gradient descent's verdict: the results converged and iterations, and a
 * warning (or error) when max|∇f| stayed above tol. */
static sl_status report_descent(sl_stage *st, linreg_state *s, double gnorm, sl_error *err)
{
    int converged = gnorm <= s->tol;
    char why[256];
    snprintf(why, sizeof why,
             "max|∇f| = %.3g after %lld epoch%s, above %g%s; raise epochs or learning_rate, scale the features "
             "(op normalize), or use solver: normal_equations",
             gnorm, (long long)s->epochs_run, s->epochs_run == 1 ? "" : "s", s->tol, s->has_tol ? " (tol)" : "");
    sl_status rc = converged ? SL_OK : sl__not_converged(st, s->error_if_not_converged, why, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "converged", converged, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "iterations", (double)s->epochs_run, err);
    return rc;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    linreg_state *s = sl_stage_state(st);
    sl__train *t = &s->t;
    sl_status rc = sl__train_start(t, st, err);
    if (rc)
        return rc;
    double mse = 0, gnorm = 0;
    s->epochs_run = t->epochs;
    if (s->gd && t->batch_size > 0) {
        rc = sl__train_minibatch(t, ex, st, err);
        double gb = 0, loss_sum = 0;
        if (rc == SL_OK)
            rc = sl__train_full_pass(t, ex, st, t->g, &gb, &loss_sum, err);
        if (rc == SL_OK) {
            mse = loss_sum / (double)t->n;
            gnorm = sl__train_gradient_norm(t, t->g, gb);
        }
    } else {
        size_t size = sl__comoment_size(t->F);
        double *cm = calloc(size, sizeof *cm);
        if (!cm)
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        sl_pass pass = {.name = "gram",
                        .input = t->in,
                        .input_arrays = t->names,
                        .partial_size = size * sizeof(double),
                        .ctx = t,
                        .chunk = cm_chunk,
                        .merge = cm_merge};
        /* lstsq and gd on the same data share this pass */
        char what[2 * SL_NAME_MAX + 64];
        snprintf(what, sizeof what, "linreg co-moments of %s, %s, %lld-row chunks", t->names[0], t->names[1],
                 (long long)sl_stage_chunk_rows(st));
        if (!(s->algebra && comoments_by_algebra(s, cm)))
            rc = sl__exec_pass_memo(ex, st, &pass, cm, what, err);
        if (rc == SL_OK && s->gd) {
            if (descend(s, cm, &gnorm) != SL_OK) {
                int64_t e = 0;
                while (isfinite(t->loss[e]))
                    e++;
                rc = sl__train_check_loss(t, e, t->loss[e], err);
            }
        } else if (rc == SL_OK) {
            rc = solve_normal(s, st, cm, t->w, &t->b, err);
        }
        if (rc == SL_OK)
        {
            double m;
            cm_state(t, cm, t->g, &m, &mse); /* the MSE of (w, b), from the co-moments */
        }
        free(cm);
    }
    if (rc == SL_OK)
        rc = sl__model_store_linear(st, t->w, t->b, s->gd ? t->loss : NULL, (size_t)s->epochs_run, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "rows", (double)t->n, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "train_mse", mse, err);
    if (rc == SL_OK && s->gd)
        rc = report_descent(st, s, gnorm, err);
    return rc;
}

const sl_op sl__op_linreg = {
    .abi = SL_ABI_VERSION,
    .name = "linreg",
    .summary = "linear least squares (+ ridge) by the normal equations or gradient descent",
    .doc = doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .run = run,
    .free_state = free_state,
};
