/* Private kernel: the squared errors of a linear model from the co-moments
 * of its data, with no pass over the rows (metrics by algebra, issue 18). */
#ifndef SL_RESIDUAL_H
#define SL_RESIDUAL_H

#include <stdint.h>

/* The largest ratio of the terms of the sum below to its result for which
 * the algebra is used: the result then keeps all but log2 of it of the bits
 * the co-moments hold (12 of 53). On the reference data set (R² = 0.99) the
 * ratio is 1456 and the result agrees with a pass to 1.1e-13. */
#define SL__RESIDUAL_KAPPA_MAX 4096.0

/* For e = y − (x·w + b) over n rows whose means are mean[0..F] (x's F
 * columns, then y's) and whose centred co-moments are C ((F+1) x (F+1),
 * row-major, same order):
 *
 *   Σ e² = C_yy − 2 w·C_xy + wᵀ C_xx w + n (ȳ − x̄·w − b)²,
 *
 * the cross terms vanishing because deviations from a mean sum to 0. The
 * terms cancel as much as the model explains, so *kappa gets their size
 * against the result (+Inf when the result is not > 0): an error of u of
 * each co-moment's √(C_aa C_bb) moves the quadratic form by up to
 * u (√C_yy + Σ|w_a|√C_aa)², and one of u of each mean's size moves the mean
 * error d by u (|ȳ| + |b| + Σ|w_a x̄_a|), hence n d² by 2 n |d| times that:
 * kappa is the sum of both sizes (and n d²) over Σ e². */
double sl__residual_ss(const double *mean, const double *C, int64_t F, double n, const double *w, double b,
                       double *kappa);

#endif
