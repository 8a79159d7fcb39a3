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
/* Doubles of scratch sl__logit_softmax_chunk needs for `rows` rows. */
size_t sl__logit_work_doubles(const sl__logit_shape *sh, int64_t rows);

/* X̃ (rows x P) from X (rows x F): X with a column of ones when intercept. */
void sl__logit_design(const sl__logit_shape *sh, const double *X, int64_t rows, double *Xt);

/* Adds the chunk's rows to partial, for a softmax model. Xt is the chunk's
 * X̃ (sl__logit_design), cls each row's class index (0..K-1). theta: K x P.
 * hessian 0: loss and gradient only. work: sl__logit_work_doubles doubles. */
sl_status sl__logit_softmax_chunk(const sl__logit_shape *sh, const double *Xt, const int32_t *cls, int64_t rows,
                                  const double *theta, int hessian, double *partial, double *work, sl_error *err);

/* The same sums for a binary (sigmoid) model, one problem (binary, or one
 * of one-vs-rest's: a row's label is cls == positive), straight from X
 * (rows x F, no X̃), in blocks of rows that stay in the core's cache: every
 * row's score, loss, residual and weight σ(1 − σ) = e^-|z|/(1 + e^-|z|)²
 * (no cancellation in 1 − σ), then XᵀWX for the block through BLIS.
 * sh->softmax must be 0. work: sl__logit_binary_work_doubles doubles. */
size_t sl__logit_binary_work_doubles(const sl__logit_shape *sh);
sl_status sl__logit_binary_chunk(const sl__logit_shape *sh, const double *X, const int32_t *cls, int32_t positive,
                                 int64_t rows, const double *theta, int hessian, double *partial, double *work,
                                 sl_error *err);

/* max_i ‖x̃_i‖ over the rows of X (rows x F; x̃: x with a 1 appended when
 * intercept): the data's part of sl__logit_step_bound. */
double sl__logit_norm_max(const double *X, int64_t rows, int64_t F, int intercept);

/* A bound on max|∇f(θ + Δ)| for the binary (sigmoid) penalized mean
 * log-loss f, from what is known at θ: g = ∇f(θ), H = ∇²f(θ) (D x D) and
 * R = max_i ‖x̃_i‖. ∇f(θ + Δ) = g + HΔ + ρ with
 * ρ = (1/n) Σ_i ∫₀¹ (σ'(z_i + t a_i) − σ'(z_i)) a_i x̃_i dt, a_i = x̃_iᵀΔ.
 * |σ''| <= σ' and |(log σ')'| <= 1 give |σ'(z + δ) − σ'(z)| <=
 * |δ| σ'(z) e^|δ|, so ‖ρ‖ <= ½ R e^{R‖Δ‖} (1/n) Σ_i σ'(z_i) a_i² =
 * ½ R e^{R‖Δ‖} ΔᵀH_dataΔ <= ½ R e^{R‖Δ‖} ΔᵀHΔ (the penalty's part of H
 * is positive semi-definite and has no part in ρ). Returns
 * ‖g + HΔ‖ + ½ R e^{R‖Δ‖} ΔᵀHΔ: near the optimum, where ΔᵀHΔ is the
 * squared Newton decrement, it falls quadratically with the step. */
double sl__logit_step_bound(const double *g, const double *H, const double *step, int64_t D, double R);

/* Class probabilities of `rows` rows from their scores z (rows x R):
 * binary: p = σ(z) (rows x 1); softmax: each row's softmax (rows x K). */
void sl__logit_probabilities(const sl__logit_shape *sh, const double *z, int64_t rows, double *p);

#endif
