/* Private: one chunk's share of the Newton system of logistic regression,
 * binary (sigmoid) or multinomial (softmax), as sums over the chunk's rows:
 * the log-loss, its gradient and its Hessian with respect to θ.
 *
 * θ has R rows of P = F + intercept values (w_r, then b_r): R = 1 for a
 * binary model (P(class `positive`) = σ(x̃·θ)), R = K for softmax
 * (P(class k) = e^{x̃·θ_k} / Σ_j e^{x̃·θ_j}). x̃ is the row x with a 1
 * appended when there is an intercept. The Hessian is X̃ᵀ W X̃ (binary,
 * W = p(1 − p)) or the K x K blocks X̃ᵀ diag(p_k (δ_kl − p_l)) X̃ (softmax),
 * through BLIS; partials are merged by the caller in chunk order. */
#ifndef SL_LOGISTIC_H
#define SL_LOGISTIC_H
#include <stddef.h>
#include <stdint.h>
#include "sluice/error.h"

typedef struct sl__logit_shape {
    int64_t F;     /* features */
    int64_t K;     /* classes */
    int softmax;   /* 1: R = K rows of θ; 0: binary, R = 1 */
    int intercept; /* 1: each row of θ ends with a bias */
} sl__logit_shape;

/* Rows of θ (R) and values per row (P); D = R * P unknowns. */
int64_t sl__logit_rows(const sl__logit_shape *sh);
int64_t sl__logit_width(const sl__logit_shape *sh);
/* Doubles of one partial: [0] rows, [1] Σ log-loss, [2] rows whose
 * true class has probability <= 1/2 (none: the model separates the
 * classes), [3, 3 + D) the gradient Σ x̃ (p − y) by rows of θ, then the
 * D x D Hessian (row-major). */
size_t sl__logit_partial_doubles(const sl__logit_shape *sh);
/* Doubles of scratch sl__logit_chunk needs for `rows` rows. */
size_t sl__logit_work_doubles(const sl__logit_shape *sh, int64_t rows);

/* X̃ (rows x P) from X (rows x F): X with a column of ones when intercept. */
void sl__logit_design(const sl__logit_shape *sh, const double *X, int64_t rows, double *Xt);

/* Adds the chunk's rows to partial. Xt is the chunk's X̃ (sl__logit_design),
 * cls each row's class index (0..K-1); a binary model's label is
 * cls == positive. theta: R x P. hessian 0: loss and gradient only.
 * work: sl__logit_work_doubles doubles. */
sl_status sl__logit_chunk(const sl__logit_shape *sh, const double *Xt, const int32_t *cls, int32_t positive,
                          int64_t rows, const double *theta, int hessian, double *partial, double *work,
                          sl_error *err);

/* Class probabilities of `rows` rows from their scores z (rows x R):
 * binary: p = σ(z) (rows x 1); softmax: each row's softmax (rows x K). */
void sl__logit_probabilities(const sl__logit_shape *sh, const double *z, int64_t rows, double *p);

#endif
