/* Private: what the model ops (linreg, logreg, predict, metrics) share: the
 * model frame convention, reading features and labels chunk by chunk, and
 * the gradient-descent machinery (mini-batch epochs, full passes).
 *
 * The model frame. A trained model is the output frame of linreg or logreg:
 * one row and the arrays
 *   coef       1 x F float64: the weights, one per feature column (column
 *              names copied from the features' names when they have them);
 *   intercept  1 x 1 float64: the bias b (0 when fit_intercept is false);
 *   threshold  1 x 1 float64, logistic models only: the probability above
 *              which predict says class 1 (0.5).
 * The kind of model is part of the schema (a frame with a `threshold` array
 * is a logistic model), so predict and metrics know at plan time which
 * arrays they will write. For readers of the checkpoint, coef also carries
 * the attribute `model_kind` ([0] linear, [1] logistic) and, for gradient
 * descent, `loss` (one value per epoch). Any frame with these arrays is a
 * model: one loaded with load.hdf5 from a saved checkpoint works too. */
#ifndef SL_MODEL_INT_H
#define SL_MODEL_INT_H

#include <stdint.h>
#include "sluice/op.h"
#include "kernels/logistic.h"
#include "kernels/vecmath.h"

#define SL__MODEL_COEF "coef"
#define SL__MODEL_INTERCEPT "intercept"
#define SL__MODEL_THRESHOLD "threshold"

typedef enum sl__model_kind { SL__MODEL_LINEAR = 0, SL__MODEL_LOGISTIC = 1 } sl__model_kind;

/* ---- the model frame ---- */

/* Declares the model frame as the stage's output (plan time): coef with the
 * column names of feature array xi of `in`, intercept, and threshold for a
 * logistic model; rows: 1, or -1 for a classifier whose number of
 * classes the data will tell. */
sl_status sl__model_declare(sl_stage *st, const sl_frame *in, long xi, sl__model_kind kind, int64_t rows,
                            sl_error *err);

/* Sets a linear model's data (run time): coef = w (F), intercept = b, the
 * attributes model_kind and (when loss != NULL) loss (n_loss values).
 * Logistic models go through sl__model_store_classifier. */
sl_status sl__model_store_linear(sl_stage *st, const double *w, double b, const double *loss, size_t n_loss,
                                 sl_error *err);

/* Sets a logistic model's data (run time): R rows (1 binary, K multi-class)
 * of θ (P = F + intercept values a row: w, then b) to coef and intercept,
 * threshold in every row of `threshold`, and the attributes model_kind
 * (kind_code: 1 binary, 2 softmax, 3 one-vs-rest), classes (K label values,
 * sorted: row k of a multi-class model is class classes[k]; a binary
 * model's row gives P(classes[1])) and loss (when not NULL). */
sl_status sl__model_store_classifier(sl_stage *st, int kind_code, const double *theta, int64_t R, int64_t F,
                                     int intercept, const double *classes, int64_t K, const double *loss,
                                     size_t n_loss, double threshold, sl_error *err);

/* Recognizes the frame given by INPUT parameter `param` as a model (plan
 * time): its kind and number of features, or an error at that parameter
 * naming what is missing. */
sl_status sl__model_check(const sl_stage *st, const char *param, const sl_frame *m, sl__model_kind *kind, int64_t *F,
                          sl_error *err);

/* Reads a model's weights (F), bias and threshold (0.5 for a linear model,
 * unused) at run time; checks they are finite. */
sl_status sl__model_load(const sl_stage *st, const char *param, const sl_frame *m, int64_t F, double *w, double *b,
                         double *threshold, sl_error *err);

/* ---- inputs ---- */

/* Looks up the array named by STRING parameter `param` in `in` (plan time):
 * it must exist and, when cols > 0, have that many columns. Errors name the
 * frame's arrays. */
sl_status sl__model_array(const sl_stage *st, const char *param, const sl_frame *in, int64_t cols, long *index,
                          sl_error *err);

/* Array i of chunk c as float64: its own data when it is float64, else
 * converted into scratch (rows x cols doubles). */
const double *sl__chunk_f64(const sl_chunk *c, long i, double *scratch);

/* Checks that rows x cols values are finite; otherwise fills err (SL_ERR_DATA)
 * naming the array, the first bad row and column (rows counted from row0 of
 * the frame) and how many there are, and suggests the clean op. */
sl_status sl__check_finite(const sl_stage *st, const char *array, const double *x, int64_t rows, int64_t cols,
                           int64_t row0, sl_error *err);
/* sl__check_finite for array i of chunk c, whose values as float64
 * (sl__chunk_f64) are x: an integer array converted is finite, so only a
 * float array is scanned. */
sl_status sl__check_chunk_finite(const sl_stage *st, const sl_chunk *c, long i, const double *x, sl_error *err);

/* Checks that labels are 0 or 1 (logistic regression, accuracy, log-loss). */
sl_status sl__check_binary(const sl_stage *st, const char *array, const double *y, int64_t rows, int64_t row0,
                           const char *why, sl_error *err);

/* ---- numerics ---- */

/* sl__sigmoid(z): 1 / (1 + e^-z), without overflow for any z, inline so
 * that the loops calling it vectorize (kernels/vecmath.h). */
/* Log-loss of one row from its score z = x·w + b and label y in {0, 1}:
 * -(y log σ(z) + (1 - y) log(1 - σ(z))) = log(1 + e^z) - y z, computed
 * without overflow or cancellation. */
double sl__logloss_z(double z, double y);

/* ---- gradient descent (linreg's gradient_descent solver and logreg) ----
 *
 * Objective: (1/n) Σ ℓ(x_i·w + b, y_i) + (l2 / 2n) |w|², where ℓ is half
 * the squared error (linear) or the log-loss (logistic); its gradient is
 * ((Xᵀ err) + l2 w) / n and mean(err) for the bias, err = ŷ - y with
 * ŷ = Xw + b (linear) or σ(Xw + b) (logistic). l2 = 0 gives exactly the
 * update w ← w − lr·Xᵀ(Xw+b−y)/n, b ← b − lr·mean(Xw+b−y). The loss that
 * is recorded is the mean squared error (not halved) or the mean log-loss,
 * without the penalty. */
typedef struct sl__train {
    sl__model_kind kind;
    const sl_stage *st;
    const sl_frame *in;
    long xi, yi;             /* feature and target arrays of `in` */
    const char *names[3];    /* their names, NULL-terminated: the pass's input_arrays */
    int64_t F, n;            /* features; rows (known at run time) */
    int fit_intercept;
    double l2, lr;
    int64_t epochs, batch_size; /* batch_size 0: full batch */
    uint64_t seed;
    double *init_w;          /* init_weights (F values), or NULL: zeros */
    double init_b;           /* init_bias */
    /* run time */
    double *w, b;
    double *loss;           /* epochs values */
    /* mini-batch state */
    int64_t epoch;
    double *g, gb;          /* gradient sums of the batch being built */
    int64_t in_batch;
    double loss_sum;        /* Σ of per-row losses of this epoch */
    int64_t *perm;          /* row order within a chunk */
    double *xbuf, *ybuf;    /* conversion scratch (non-float64 inputs) */
} sl__train;

/* Plan time: reads input, features, target, fit_intercept, l2, epochs,
 * learning_rate, batch_size, seed, init_weights and init_bias into t (checking the arrays and the
 * values) and declares the output model. */
sl_status sl__train_plan(sl_stage *st, sl__model_kind kind, sl__train *t, sl_error *err);

/* Run time: allocates w (init_weights, or zeros), loss and scratch; sets b
 * (init_bias, or 0) and n from the input. */
sl_status sl__train_start(sl__train *t, sl_stage *st, sl_error *err);
void sl__train_free(sl__train *t);
/* Frees everything sl__train_plan and sl__train_start allocated. */
void sl__train_destroy(sl__train *t);

/* One full pass over all rows at the current w, b (a parallel reduce,
 * merged in chunk order): gradient sums g = Xᵀerr (F), gb = Σ err and the
 * sum of per-row losses (squared error, or log-loss). Also checks the data. */
sl_status sl__train_full_pass(sl__train *t, sl_exec *ex, sl_stage *st, double *g, double *gb, double *loss_sum,
                              sl_error *err);

/* max|∇f| of the objective at t->w, t->b from a full pass's sums g = Xᵀerr
 * (F) and gb = Σ err: max over (g_j + l2 w_j)/n and, with an intercept,
 * gb/n. */
double sl__train_gradient_norm(const sl__train *t, const double *g, double gb);

/* What a model that did not converge gets (`why` says how far it got and
 * what to change): a warning, or with as_error (on_no_convergence: error)
 * the stage's error, located at that parameter. */
sl_status sl__not_converged(sl_stage *st, int as_error, const char *why, sl_error *err);

/* An error when an epoch's loss is not finite (the descent diverged). */
sl_status sl__train_check_loss(const sl__train *t, int64_t epoch, double loss, sl_error *err);

/* Mini-batch gradient descent: t->epochs sequential passes; epoch e visits
 * the chunks in a seeded order and each chunk's rows in a seeded order
 * (kernels/shuffle.h: chunk order from stream (seed, e, 2^64-1), rows of
 * chunk c from stream (seed, e, c)) and updates w, b after every batch of
 * batch_size consecutive rows of that order (a batch may span chunks; the
 * epoch's last one may be smaller). loss[e] = Σ over the epoch's rows of the
 * row's loss at the weights before its batch's update, / n. */
sl_status sl__train_minibatch(sl__train *t, sl_exec *ex, sl_stage *st, sl_error *err);

/* ---- Newton's method for logistic regression (logreg_newton.c) ----
 *
 * Minimizes f(θ) = (Σ_i ℓ_i + l2/2 |w|²) / n, ℓ the log-loss of row i
 * (binary: of σ(x̃·θ); softmax: of the row's softmax), w the weights
 * without the biases; scikit-learn's LogisticRegression(C = 1/l2) objective
 * divided by C·n. Each iteration: the direction d = −H⁻¹∇f (Cholesky, or
 * the least-norm solve when H is singular), then θ + t·d with t = 1, ½, ¼,
 * ... until f falls by at least 1e-4·t·∇f·d (Armijo). Converged when
 * max|∇f| <= tol, or at float64's floor: when the predicted decrease
 * −∇f·d is below 64 ε |f| (the line search cannot judge such a step, so it
 * is taken whole) twice in a row and the step did not halve max|∇f|. One-vs-rest runs K binary problems (class k against the
 * rest) through the same passes, each with its own steps. */
typedef enum sl__logit_mode {
    SL__LOGIT_AUTO,    /* binary for 2 classes, else softmax */
    SL__LOGIT_BINARY,
    SL__LOGIT_SOFTMAX,
    SL__LOGIT_OVR
} sl__logit_mode;

/* A frame's features and labels, as a pass reads them. */
typedef struct sl__logit_data {
    const sl_frame *in;
    long xi, yi;
    const char *names[3];  /* features, target, NULL: the passes' input_arrays */
} sl__logit_data;

typedef struct sl__newton {
    /* settings (plan time) */
    const sl_stage *st;
    sl__logit_data train;
    sl__logit_data valid;  /* `validation`, when valid.in is not NULL */
    int64_t F;
    int fit_intercept;
    double l2, tol;
    int64_t max_iter;
    sl__logit_mode mode;   /* AUTO is resolved by sl__newton_start */
    /* run time */
    int64_t n, K;          /* rows; classes */
    double *classes;       /* K label values, sorted */
    int classes_are_codes; /* classes[k] == k: a label is its class index */
    int64_t stride;        /* the passes compute every stride-th chunk (the warm start), else 1 */
    int train_checked, valid_checked; /* a pass has checked the frame's values (finite) */
    sl__logit_shape shape;
    int64_t problems, D;   /* 1, or K for one-vs-rest; unknowns per problem */
    double *theta, *trial; /* problems x D: the iterate, the point being evaluated */
    double *sums;          /* problems x sl__logit_partial_doubles, then max ‖x̃‖ (first full pass): the last pass */
    double norm_max;       /* max_i ‖x̃_i‖ over the training rows, once a full pass has run; else 0 */
    int certified;         /* the last step was taken on the bound of the gradient after it, without its pass */
    double *hess, *hess_copy;
    double *loss;          /* f after each iteration (from 0: the start), max_iter + 1 values */
    int64_t iterations, passes;
    int converged;         /* every problem reached max|∇f| <= tol */
    int64_t stalled;       /* problems whose line search found no lower loss */
    double gradient_norm;  /* max|∇f| over the problems at the end */
    double train_loss;     /* Σ_i ℓ_i / n at the end (one-vs-rest: summed over the K problems) */
    double *valid_loss;    /* with a validation frame: its mean log-loss at each iterate (as loss) */
    int separated;         /* every training row's class has probability > 1/2 (every problem's) */
} sl__newton;

/* Run time: rows, then one pass for the target's classes (sorted distinct
 * values; at most SL_CLASS_MAX, at least 2), the mode resolved and the
 * buffers allocated. */
sl_status sl__newton_start(sl__newton *nt, sl_exec *ex, sl_stage *st, sl_error *err);
/* Newton iterations from θ = 0 until converged or max_iter; reports each
 * iteration's f through sl_exec_epoch. */
sl_status sl__newton_solve(sl__newton *nt, sl_exec *ex, sl_stage *st, sl_error *err);
void sl__newton_free(sl__newton *nt);

/* The mean log-loss (one-vs-rest: summed over the problems) of the model
 * theta (problems x D, the layout sl__newton_start set up) on the
 * validation frame: one pass. Labels the model has no class for are an
 * error naming the row. */
sl_status sl__newton_valid_loss(sl__newton *nt, sl_exec *ex, sl_stage *st, const double *theta, double *loss,
                                sl_error *err);
/* Sets up nt (classes 0 and 1, the binary shape, buffers) for a binary
 * model fitted by gradient descent, so that sl__newton_valid_loss can score
 * its weights. */
sl_status sl__newton_binary01(sl__newton *nt, sl_error *err);

#endif
