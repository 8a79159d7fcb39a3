/* logreg: binary logistic regression by gradient descent on the mean
 * log-loss. A second model on the same op interface as linreg: full batch is
 * one parallel reduce pass per epoch (gradient and loss per chunk, merged in
 * chunk order), mini-batch the sequential pass of model.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "ops/model_int.h"
#include "ops/ops_int.h"
#include "config/params_int.h"
#include "kernels/labels.h"
#include "plan/pipeline_int.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose output frame holds the training data"},
    {"features", SL_PARAM_STRING, 0, "X", NULL, 0, 0, "array of features (n x F)"},
    {"target", SL_PARAM_STRING, 0, "y", NULL, 0, 0, "array of class labels (n x 1)"},
    {"solver", SL_PARAM_CHOICE, 0, "auto", "auto|newton|gradient_descent", 0, 0,
     "newton (converges in a few passes), gradient_descent, or auto: gradient_descent when epochs, "
     "learning_rate, batch_size, init_weights or init_bias is given, else newton"},
    {"multi_class", SL_PARAM_CHOICE, 0, "auto", "auto|binary|multinomial|ovr", 0, 0,
     "newton: binary (2 classes), multinomial (softmax), ovr (one-vs-rest); auto: binary for 2 classes, "
     "else multinomial"},
    {"fit_intercept", SL_PARAM_BOOL, 0, "true", NULL, 0, 0, "fit a bias b (else b = 0)"},
    {"l2", SL_PARAM_NUMBER, 0, "0", NULL, 0, 0, "L2 penalty >= 0: the objective's l2·|w|²/(2n) term (1/C of scikit-learn)"},
    {"tol", SL_PARAM_NUMBER, 0, NULL, NULL, 0, 0,
     "converged when max|∇f| <= tol (f: the penalized mean log-loss); newton default 1e-8; gradient descent: "
     "stop early there (absent: run every epoch, and judge convergence at 1e-4)"},
    {"max_iter", SL_PARAM_INT, 0, "100", NULL, 1, 1e6, "newton: at most this many Newton steps"},
    {"on_no_convergence", SL_PARAM_CHOICE, 0, "warn", "warn|error", 0, 0,
     "a model that did not converge: a warning (and result converged = 0), or an error"},
    {"threshold", SL_PARAM_NUMBER, 0, "0.5", NULL, 0, 0,
     "binary models: predict says the second class when its probability is above this (0 < threshold < 1)"},
    {"validation", SL_PARAM_INPUT, 0, NULL, NULL, 0, 0,
     "a stage whose frame (same features and target arrays) is scored at every iteration: its log-loss goes "
     "beside the training loss"},
    {"epochs", SL_PARAM_INT, 0, "100", NULL, 1, 1e7, "gradient descent: passes over the data"},
    {"learning_rate", SL_PARAM_NUMBER, 0, "0.1", NULL, 0, 0, "gradient descent: step size lr (> 0)"},
    {"batch_size", SL_PARAM_INT, 0, "0", NULL, 0, 0, "gradient descent: rows per update (>= 0); 0: full batch"},
    {"seed", SL_PARAM_INT, 0, "0", NULL, 0, 0, "mini-batch descent: seed of the row order"},
    {"init_weights", SL_PARAM_NUMBER_LIST, 0, NULL, NULL, 0, 0,
     "gradient descent: the weights to start from, one per feature (default: zeros)"},
    {"init_bias", SL_PARAM_NUMBER, 0, NULL, NULL, 0, 0, "gradient descent: the bias to start from (default 0)"},
};

static const char doc[] =
    "Logistic regression: P(class | x) from the features, fitted by minimizing the mean log-loss plus "
    "l2·|w|²/(2n) (w: the weights, not the intercepts). With `l2` = 0 this is scikit-learn's "
    "`LogisticRegression(penalty=None)` objective, with `l2` > 0 that of `LogisticRegression(C=1/l2)`.\n\n"
    "**Newton's method** (`solver: newton`, the default unless a gradient-descent parameter is given). A first "
    "pass finds the classes: the sorted distinct values of the target (at most 1024, at least 2; any finite "
    "numbers). Then each iteration is one pass over the data that sums, chunk by chunk and merged in chunk "
    "order, the log-loss, its gradient and its Hessian X̃ᵀWX̃ (BLIS `gemm`; X̃ is X with a column of ones for "
    "the intercept), a Cholesky solve of the (F + 1)-square system (K(F + 1) for softmax; the least-norm solve "
    "when it is singular) and a backtracking line search (Armijo, halving the step; a refused step costs one "
    "more pass). It has converged when max|∇f| <= `tol` (default 1e-8), or at float64's floor: once a step's "
    "predicted decrease of f is below 64 ε·|f|, what float64 resolves of f, the step is taken whole (a line "
    "search cannot judge it) while it keeps halving max|∇f|, and the first that does not ends the fit "
    "(unscaled features leave a floor of rounding in max|∇f| that may lie above a small `tol`). Else it stops "
    "after `max_iter` steps. **Warm start**: Newton first runs on every 256th chunk, then on every 16th (their "
    "passes read only those chunks; a level runs when its sample has at least 3 chunks and 100 rows an "
    "unknown), each until max|∇f| is below a tenth of √(D/m) (m: the sample's rows, D: the unknowns; a "
    "sample's optimum is no nearer the whole one than its sampling error; a level that does not converge is "
    "dropped), then takes its steps on all rows from there; the result is the same optimum to `tol`, in two "
    "or three full passes where it takes seven to nine from zero. **The last step is certified** "
    "(binary and one-vs-rest, without `validation`): when a bound on max|∇f| after the step, from the gradient "
    "and Hessian it was solved with and the largest row norm R = max‖x̃‖, is within `tol`, the step is taken "
    "without a pass to check it. With ρ the change of the gradient beyond its linear part, "
    "‖∇f(θ + Δ)‖ <= ‖g + HΔ‖ + ‖ρ‖ and ‖ρ‖ <= ½ R e^{R‖Δ‖} ΔᵀHΔ, since |σ''| <= σ' and |(log σ')'| <= 1; "
    "ΔᵀHΔ is the squared Newton decrement, so the bound falls quadratically near the optimum. "
    "The reported `train_log_loss` after such a step is the quadratic model's, f + gᵀΔ/2 (off by a third-order "
    "term). `iterations` and `loss` count the full steps only. Three models "
    "(`multi_class`):\n"
    "- `binary` (2 classes): P(second class) = σ(x·w + b), as scikit-learn's binary model;\n"
    "- `multinomial`: softmax over K classes, one row of weights per class, as scikit-learn's "
    "`multi_class='multinomial'`. The loss does not change when one vector is added to every class's weights, "
    "so the Hessian is singular in those directions; the step is taken orthogonal to them, which keeps "
    "Σ_k w_k = 0 and Σ_k b_k = 0, the solution scikit-learn's lbfgs reaches from zeros;\n"
    "- `ovr`: K binary problems (class k against the rest) solved side by side in the same passes; "
    "probabilities are the K sigmoids normalized to sum to 1, as scikit-learn's `multi_class='ovr'`;\n"
    "- `auto` (default): binary for 2 classes, multinomial for more.\n\n"
    "**Gradient descent** (`solver: gradient_descent`, or `auto` with `epochs`, `learning_rate`, `batch_size`, "
    "`init_weights` or `init_bias` given): binary only, labels exactly 0 or 1. **Full batch** (`batch_size: 0`, "
    "the default): each epoch is one reduce pass computing, per chunk, p = σ(Xw + b) (BLIS `gemv`), Xᵀ(p − y), "
    "Σ(p − y) and the log-loss, merged in chunk order, then "
    "w ← w − lr·(Xᵀ(p − y) + l2·w)/n, b ← b − lr·mean(p − y). With `tol`, it stops at the first epoch whose "
    "gradient has max|∇f| <= tol. **Mini-batch** (`batch_size` > 0): as in `linreg` — each epoch visits the "
    "chunks and the rows within each chunk in an order drawn from `seed` (splitmix64, "
    "`src/kernels/shuffle.h`) and updates after each `batch_size` rows. The result depends on the seed and "
    "`chunk_rows`, never on the thread count.\n\n"
    "**Convergence is reported**: the results `converged` (1 or 0) and `iterations` (Newton steps, or epochs "
    "run), and the progress line shows each iteration's loss. A model that did not converge (the step limit, "
    "a line search that found no lower loss, or gradient descent ending with max|∇f| above `tol`, or 1e-4 "
    "without `tol`) prints a warning, writes it to run.log, and — with `on_no_convergence: error` — fails the "
    "stage. A non-finite loss (divergence) is an error suggesting a smaller `learning_rate` or scaled "
    "features.\n\n"
    "**Checks**: NaN or infinite features or labels stop the run with their position (clean first); any "
    "numeric type is read as float64; no rows, one class only, or more than 1024 classes are errors.\n\n"
    "**Output**: the model frame: `coef` (R × F float64, the features' column names), `intercept` (R × 1) and "
    "`threshold` (R × 1: the binary model's `threshold`; unused by multi-class models), with R = 1 for a "
    "binary model and K for a multi-class one (row k: class k). `coef` has the attributes `model_kind` "
    "([1] binary, [2] multinomial, [3] one-vs-rest), `classes` (the K label values, sorted; a binary model "
    "gives P(classes[1])), `labels` when the target was encoded by `encode` (the original label of each class, "
    "from the target's `classes` table, for predict's `decode`) and `loss` (f at the start and after each Newton step, or one value per epoch: the "
    "mean log-loss at the weights the epoch starts from). With `validation`, the attribute `validation_loss` holds "
    "the validation frame's mean log-loss (one extra pass over it each time) at every Newton iterate, or at the "
    "start of every full-batch epoch and at the final weights (mini-batch: the final weights only), and the "
    "result `validation_log_loss` the final model's. Results: `rows`, `train_log_loss` (the mean log-loss "
    "of the final model; for one-vs-rest the sum of its K binary losses), `converged`, `iterations`.";

typedef struct logreg_state {
    sl__train t;
    sl__newton nt;
    int newton;
    int has_tol, error_if_not_converged;
    double threshold;
} logreg_state;

static void free_state(void *p)
{
    logreg_state *s = p;
    if (s) {
        sl__train_destroy(&s->t);
        sl__newton_free(&s->nt);
        free(s);
    }
}

/* 1 when the pipeline gave the parameter (not its default) */
static int given_param(const sl_params *p, const char *name)
{
    int line = 0, col = 0;
    sl__params_pos(p, name, &line, &col);
    return line > 0;
}

static const char *const gd_params[] = {"epochs", "learning_rate", "batch_size", "init_weights", "init_bias", NULL};

static sl_status plan_solver(sl_stage *st, logreg_state *s, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    const char *solver = sl_params_string(p, "solver"), *given = NULL;
    for (size_t i = 0; gd_params[i] && !given; i++)
        if (given_param(p, gd_params[i]))
            given = gd_params[i];
    s->newton = strcmp(solver, "newton") == 0 || (strcmp(solver, "auto") == 0 && !given);
    const char *mc = sl_params_string(p, "multi_class");
    if (s->newton && given)
        return sl_stage_error(st, err, SL_ERR_CONFIG, given,
                              "'%s' belongs to gradient descent; Newton's method needs none (remove it, or set "
                              "solver: gradient_descent)",
                              given);
    if (!s->newton && strcmp(mc, "auto") != 0 && strcmp(mc, "binary") != 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "multi_class",
                              "multi_class '%s' needs solver newton; gradient descent fits binary models (0/1 labels)",
                              mc);
    if (!s->newton && given_param(p, "max_iter"))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "max_iter",
                              "'max_iter' bounds Newton's steps; gradient descent runs 'epochs' epochs");
    s->has_tol = sl_params_has(p, "tol");
    double tol = s->has_tol ? sl_params_number(p, "tol") : s->newton ? 1e-8 : 1e-4;
    if (!(tol > 0) || !isfinite(tol))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "tol", "'tol' is %g; it must be a finite number > 0", tol);
    s->threshold = sl_params_number(p, "threshold");
    if (!(s->threshold > 0 && s->threshold < 1))
        return sl_stage_error(st, err, SL_ERR_CONFIG, "threshold", "'threshold' is %g; it must be in (0, 1)",
                              s->threshold);
    s->error_if_not_converged = strcmp(sl_params_string(p, "on_no_convergence"), "error") == 0;
    sl__newton *nt = &s->nt;
    nt->tol = tol;
    nt->max_iter = sl_params_int(p, "max_iter");
    nt->mode = strcmp(mc, "binary") == 0        ? SL__LOGIT_BINARY
               : strcmp(mc, "multinomial") == 0 ? SL__LOGIT_SOFTMAX
               : strcmp(mc, "ovr") == 0         ? SL__LOGIT_OVR
                                                : SL__LOGIT_AUTO;
    return SL_OK;
}

/* `validation`: the same arrays, of the same widths, as the training data. */
static sl_status plan_validation(sl_stage *st, sl__newton *nt, sl_error *err)
{
    const sl_frame *v = sl_stage_input(st, "validation");
    if (!v)
        return SL_OK;
    nt->valid.in = v;
    const sl_params *p = sl_stage_params(st);
    const char *names[2] = {sl_params_string(p, "features"), sl_params_string(p, "target")};
    long *idx[2] = {&nt->valid.xi, &nt->valid.yi};
    for (int k = 0; k < 2; k++) {
        *idx[k] = sl_frame_find(v, names[k]);
        int64_t want = k == 0 ? nt->F : 1;
        if (*idx[k] < 0 || sl_frame_array(v, (size_t)*idx[k])->cols != want) {
            char have[512];
            sl__describe_frame(v, have, sizeof have);
            return sl_stage_error(st, err, SL_ERR_CONFIG, "validation",
                                  "the validation frame needs array '%s' of %lld column%s, as the training data "
                                  "has; it has %s",
                                  names[k], (long long)want, want == 1 ? "" : "s", have);
        }
        nt->valid.names[k] = sl_frame_array(v, (size_t)*idx[k])->name;
    }
    nt->valid.names[2] = NULL;
    return SL_OK;
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    logreg_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    sl_status rc = plan_solver(st, s, err);
    if (rc == SL_OK)
        rc = sl__train_plan(st, SL__MODEL_LOGISTIC, &s->t, err);
    if (rc)
        return rc;
    sl__newton *nt = &s->nt;
    const sl__train *t = &s->t;
    nt->st = st;
    nt->train.in = t->in;
    nt->train.xi = t->xi;
    nt->train.yi = t->yi;
    memcpy(nt->train.names, t->names, sizeof nt->train.names);
    nt->F = t->F;
    if ((rc = plan_validation(st, nt, err)) != SL_OK)
        return rc;
    nt->fit_intercept = t->fit_intercept;
    nt->l2 = t->l2;
    /* the number of classes, hence the model's rows, comes from the data */
    if (s->newton && nt->mode != SL__LOGIT_BINARY) {
        sl_frame_set_rows(sl_stage_output(st), -1);
        st->rows_bound = SL_CLASS_MAX; /* the checkpoint is sized for the classes, not the input's rows */
    }
    return SL_OK;
}

/* A target encoded by `encode` carries its class table (attribute
 * `classes`: code j is label classes[j]); the model keeps the labels of its
 * classes as the attribute `labels` of coef, for predict's decode. */
static sl_status store_labels(sl_stage *st, const sl__newton *nt, const double *classes, int64_t K, sl_error *err)
{
    size_t nl = 0;
    const double *table = sl_frame_attr(nt->train.in, nt->train.names[1], "classes", &nl);
    if (!table)
        return SL_OK;
    double *labels = malloc((size_t)K * sizeof *labels);
    if (!labels)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    int codes = 1;
    for (int64_t k = 0; k < K && codes; k++) {
        double c = classes[k];
        codes = c >= 0 && c < (double)nl && c == floor(c);
        if (codes)
            labels[k] = table[(size_t)c];
    }
    sl_status rc = codes ? sl_frame_set_attr(sl_stage_output(st), SL__MODEL_COEF, "labels", labels, (size_t)K, err)
                         : SL_OK;
    free(labels);
    return rc;
}

/* The validation log-loss at each iterate: an attribute beside `loss`, the
 * last one a result. */
static sl_status store_validation(sl_stage *st, const double *loss, size_t n, sl_error *err)
{
    sl_status rc = sl_frame_set_attr(sl_stage_output(st), SL__MODEL_COEF, "validation_loss", loss, n, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "validation_log_loss", loss[n - 1], err);
    return rc;
}

static sl_status run_newton(sl_stage *st, logreg_state *s, sl_exec *ex, sl_error *err)
{
    sl__newton *nt = &s->nt;
    sl__newton_free(nt);
    sl_status rc = sl__newton_start(nt, ex, st, err);
    if (rc == SL_OK)
        rc = sl__newton_solve(nt, ex, st, err);
    if (rc)
        return rc;
    char why[256] = "";
    if (nt->stalled)
        snprintf(why, sizeof why,
                 "the line search found no lower loss after %lld step%s (max|∇f| = %.3g, tol %g); the classes "
                 "may be separable: set l2 > 0, or a larger tol",
                 (long long)nt->iterations, nt->iterations == 1 ? "" : "s", nt->gradient_norm, nt->tol);
    else if (!nt->converged)
        snprintf(why, sizeof why,
                 "max|∇f| = %.3g after %lld Newton steps (max_iter), above tol %g; raise max_iter, set l2 > 0 "
                 "(separable classes have no finite optimum), or scale the features",
                 nt->gradient_norm, (long long)nt->iterations, nt->tol);
    if (why[0] && (rc = sl__not_converged(st, s->error_if_not_converged, why, err)) != SL_OK)
        return rc;
    /* without a penalty, separable classes have no optimum: the weights grow
     * with every step, and tol only decides where the run stops */
    if (!why[0] && nt->l2 == 0 && nt->separated)
        sl_stage_warn(st,
                      "the model separates the training classes perfectly: with l2 = 0 the log-loss has no "
                      "minimum and the weights grow without bound (tol decides where they stop); set l2 > 0");
    int code = nt->mode == SL__LOGIT_BINARY ? 1 : nt->mode == SL__LOGIT_SOFTMAX ? 2 : 3;
    int64_t R = nt->mode == SL__LOGIT_BINARY ? 1 : nt->K;
    rc = sl__model_store_classifier(st, code, nt->theta, R, nt->F, nt->fit_intercept, nt->classes, nt->K, nt->loss,
                                    (size_t)nt->iterations + 1, nt->mode == SL__LOGIT_BINARY ? s->threshold : 0.5,
                                    err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "rows", (double)nt->n, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "train_log_loss", nt->train_loss, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "converged", nt->converged ? 1 : 0, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "iterations", (double)nt->iterations, err);
    if (rc == SL_OK && nt->valid.in)
        rc = store_validation(st, nt->valid_loss, (size_t)nt->iterations + 1, err);
    if (rc == SL_OK)
        rc = store_labels(st, nt, nt->classes, nt->K, err);
    return rc;
}

/* Gradient descent's weights as a binary model's θ, [w, b] (malloc'd, or
 * NULL when out of memory). */
static double *gd_theta(const sl__train *t)
{
    double *theta = malloc((size_t)(t->F + 1) * sizeof *theta);
    if (theta) {
        memcpy(theta, t->w, (size_t)t->F * sizeof *theta);
        theta[t->F] = t->b;
    }
    return theta;
}

/* The validation log-loss of gradient descent's current weights. */
static sl_status gd_valid_loss(logreg_state *s, sl_exec *ex, sl_stage *st, double *loss, sl_error *err)
{
    double *theta = gd_theta(&s->t);
    if (!theta)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status rc = sl__newton_valid_loss(&s->nt, ex, st, theta, loss, err);
    free(theta);
    return rc;
}

static sl_status run_gd(sl_stage *st, logreg_state *s, sl_exec *ex, sl_error *err)
{
    sl__train *t = &s->t;
    sl_status rc = sl__train_start(t, st, err);
    if (rc)
        return rc;
    double n = (double)t->n, gb = 0, loss_sum = 0, gnorm = INFINITY;
    int64_t epochs_run = t->epochs;
    double *valid = NULL;
    size_t n_valid = 0;
    if (s->nt.valid.in) {
        if ((rc = sl__newton_binary01(&s->nt, err)) != SL_OK)
            return rc;
        if (!(valid = malloc((size_t)(t->epochs + 1) * sizeof *valid)))
            return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    if (t->batch_size > 0) {
        rc = sl__train_minibatch(t, ex, st, err);
    } else {
        for (int64_t e = 0; e < t->epochs && rc == SL_OK; e++) {
            rc = sl__train_full_pass(t, ex, st, t->g, &gb, &loss_sum, err);
            if (rc)
                break;
            t->loss[e] = loss_sum / n;
            rc = sl__train_check_loss(t, e, t->loss[e], err);
            if (rc == SL_OK && valid)
                rc = gd_valid_loss(s, ex, st, &valid[n_valid++], err);
            sl_exec_epoch(ex, e + 1, t->epochs, t->loss[e]);
            if (rc == SL_OK && s->has_tol && sl__train_gradient_norm(t, t->g, gb) <= s->nt.tol) {
                epochs_run = e; /* converged at the weights epoch e started from */
                break;
            }
            for (int64_t j = 0; j < t->F; j++)
                t->w[j] -= t->lr * (t->g[j] + t->l2 * t->w[j]) / n;
            if (t->fit_intercept)
                t->b -= t->lr * (gb / n);
        }
    }
    /* the loss and gradient of the final model */
    if (rc == SL_OK)
        rc = sl__train_full_pass(t, ex, st, t->g, &gb, &loss_sum, err);
    if (rc == SL_OK)
        gnorm = sl__train_gradient_norm(t, t->g, gb);
    int converged = gnorm <= s->nt.tol;
    char why[256];
    snprintf(why, sizeof why,
             "max|∇f| = %.3g after %lld epoch%s, above %g%s; raise epochs or learning_rate, scale the features "
             "(op normalize), or use solver: newton",
             gnorm, (long long)epochs_run, epochs_run == 1 ? "" : "s", s->nt.tol, s->has_tol ? " (tol)" : "");
    if (rc == SL_OK && !converged)
        rc = sl__not_converged(st, s->error_if_not_converged, why, err);
    double classes[2] = {0, 1};
    if (rc == SL_OK) {
        double *theta = gd_theta(t);
        rc = theta ? sl__model_store_classifier(st, 1, theta, 1, t->F, 1, classes, 2, t->loss, (size_t)epochs_run,
                                                s->threshold, err)
                   : sl__error_set(err, SL_ERR_NOMEM, "out of memory"); /* `valid` is still freed below */
        free(theta);
    }
    if (rc == SL_OK)
        rc = store_labels(st, &s->nt, classes, 2, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "rows", n, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "train_log_loss", loss_sum / n, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "converged", converged, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "iterations", (double)epochs_run, err);
    /* the final weights (those the last epoch started from, when tol
     * stopped it); mini-batch epochs are scored only here */
    if (rc == SL_OK && valid && epochs_run == t->epochs)
        rc = gd_valid_loss(s, ex, st, &valid[n_valid++], err);
    if (rc == SL_OK && valid)
        rc = store_validation(st, valid, n_valid, err);
    free(valid);
    return rc;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    logreg_state *s = sl_stage_state(st);
    return s->newton ? run_newton(st, s, ex, err) : run_gd(st, s, ex, err);
}

const sl_op sl__op_logreg = {
    .abi = SL_ABI_VERSION,
    .name = "logreg",
    .summary = "logistic regression, binary or multi-class, by Newton's method or gradient descent",
    .doc = doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .run = run,
    .free_state = free_state,
};
