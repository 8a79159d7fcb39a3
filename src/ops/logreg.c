/* logreg: binary logistic regression by gradient descent on the mean
 * log-loss. A second model on the same op interface as linreg: full batch is
 * one parallel reduce pass per epoch (gradient and loss per chunk, merged in
 * chunk order), mini-batch the sequential pass of model.c. */
#include <math.h>
#include <stdlib.h>
#include "core/error_int.h"
#include "ops/model_int.h"
#include "ops/ops_int.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose output frame holds the training data"},
    {"features", SL_PARAM_STRING, 0, "X", NULL, 0, 0, "array of features (n x F)"},
    {"target", SL_PARAM_STRING, 0, "y", NULL, 0, 0, "array of labels, 0 or 1 (n x 1)"},
    {"fit_intercept", SL_PARAM_BOOL, 0, "true", NULL, 0, 0, "fit a bias b (else b = 0)"},
    {"l2", SL_PARAM_NUMBER, 0, "0", NULL, 0, 0, "L2 penalty >= 0: the objective's l2·|w|²/(2n) term (1/C of scikit-learn)"},
    {"epochs", SL_PARAM_INT, 0, "100", NULL, 1, 1e7, "passes over the data"},
    {"learning_rate", SL_PARAM_NUMBER, 0, "0.1", NULL, 0, 0, "step size lr (> 0)"},
    {"batch_size", SL_PARAM_INT, 0, "0", NULL, 0, 0, "rows per update (>= 0); 0: full batch"},
    {"seed", SL_PARAM_INT, 0, "0", NULL, 0, 0, "mini-batch descent: seed of the row order"},
    {"init_weights", SL_PARAM_NUMBER_LIST, 0, NULL, NULL, 0, 0,
     "gradient descent: the weights to start from, one per feature (default: zeros)"},
    {"init_bias", SL_PARAM_NUMBER, 0, NULL, NULL, 0, 0, "gradient descent: the bias to start from (default 0)"},
};

static const char doc[] =
    "Fits P(y = 1 | x) = σ(x·w + b), σ(z) = 1/(1 + e^−z), to labels y ∈ {0, 1} by gradient descent on the "
    "mean log-loss (1/n) Σ −(y log p + (1 − y) log(1 − p)) + l2·|w|²/(2n), from w = `init_weights`, b = `init_bias` (default 0, 0). With `l2` = 0 "
    "this is scikit-learn's `LogisticRegression(penalty=None)` objective, with `l2` > 0 that of "
    "`LogisticRegression(C=1/l2)`; many epochs approach its solution.\n\n"
    "**Full batch** (`batch_size: 0`, the default): each epoch is one reduce pass over the data computing, per "
    "chunk, p = σ(Xw + b) (BLIS `gemv`), Xᵀ(p − y) (`gemv`), Σ(p − y) and the log-loss, merged in chunk order, "
    "then the update\n"
    "w ← w − lr·(Xᵀ(p − y) + l2·w)/n, b ← b − lr·mean(p − y).\n"
    "**Mini-batch** (`batch_size` > 0): as in `linreg` — each epoch visits the chunks and the rows within "
    "each chunk in an order drawn from `seed` (splitmix64, `src/kernels/shuffle.h`) and updates after each "
    "`batch_size` rows (w ← w − lr·(Σ_batch x·(p − y)/B + l2·w/n), b ← b − lr·mean_batch(p − y)). The result "
    "depends on the seed and `chunk_rows`, never on the thread count.\n\n"
    "The attribute `loss` of `coef` holds one value per epoch: the mean log-loss at the weights the epoch "
    "starts from (mini-batch: the mean over the epoch's rows of each row's log-loss at the weights before "
    "its batch's update), computed as log(1 + e^z) − y·z without clipping. A last pass computes the "
    "result `train_log_loss` of the final model.\n\n"
    "**Checks**: labels must be exactly 0 or 1 (an error names the first other value, its row and the count); "
    "NaN or infinite features or labels stop the run with their position (clean first); any numeric type is "
    "read as float64; no rows is an error; a non-finite loss (divergence) is an error suggesting a smaller "
    "`learning_rate`.\n\n"
    "**Output**: the model frame, 1 row: `coef` (1 × F float64, the features' column names), `intercept` "
    "(1 × 1) and `threshold` (1 × 1, 0.5: its presence marks a logistic model, so `predict` writes "
    "probabilities and classes). `coef` has the attributes `model_kind` = [1] and `loss`. Results: `rows`, "
    "`train_log_loss`.";

typedef struct logreg_state {
    sl__train t;
} logreg_state;

static void free_state(void *p)
{
    logreg_state *s = p;
    if (s) {
        sl__train_destroy(&s->t);
        free(s);
    }
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    logreg_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    return sl__train_plan(st, SL__MODEL_LOGISTIC, &s->t, err);
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    logreg_state *s = sl_stage_state(st);
    sl__train *t = &s->t;
    sl_status rc = sl__train_start(t, st, err);
    if (rc)
        return rc;
    double n = (double)t->n, gb = 0, loss_sum = 0;
    if (t->batch_size > 0) {
        rc = sl__train_minibatch(t, ex, st, err);
    } else {
        for (int64_t e = 0; e < t->epochs && rc == SL_OK; e++) {
            rc = sl__train_full_pass(t, ex, st, t->g, &gb, &loss_sum, err);
            if (rc)
                break;
            t->loss[e] = loss_sum / n;
            rc = sl__train_check_loss(t, e, t->loss[e], err);
            sl_exec_epoch(ex, e + 1, t->epochs, t->loss[e]);
            for (int64_t j = 0; j < t->F; j++)
                t->w[j] -= t->lr * (t->g[j] + t->l2 * t->w[j]) / n;
            if (t->fit_intercept)
                t->b -= t->lr * (gb / n);
        }
    }
    /* the loss of the final model */
    if (rc == SL_OK)
        rc = sl__train_full_pass(t, ex, st, NULL, &gb, &loss_sum, err);
    if (rc == SL_OK)
        rc = sl__model_store(st, SL__MODEL_LOGISTIC, t->w, t->F, t->b, t->loss, (size_t)t->epochs, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "rows", n, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "train_log_loss", loss_sum / n, err);
    return rc;
}

const sl_op sl__op_logreg = {
    .abi = SL_ABI_VERSION,
    .name = "logreg",
    .summary = "binary logistic regression by (mini-batch) gradient descent",
    .doc = doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .run = run,
    .free_state = free_state,
};
