/* Private kernel: the Gram matrix of a narrow block, C += AᵀA for A rows x
 * n (n <= SL__GRAM_SMALL_MAX), without BLIS.
 *
 * sluice's Gram blocks are tall and narrow (1,024 rows of the 17 columns of
 * the reference's X and y): there BLIS's gemm pays per call (its objects,
 * packing both sides) and at the edges of its 6 x 8 micro-tiles (17 x 16
 * computed as 18 x 16) about as much as it computes, and runs at a quarter
 * of the core's peak. This kernel computes the upper triangle only, in 4 x
 * 12 register tiles over 128-row slices that stay in L1, with separate
 * multiplies and adds (no FMA: the x86-64 and x86-64-v3 clones then give
 * the same bits).
 *
 * Each C entry adds its products in row order within a slice, and the
 * slices' sums in order: fixed by n and rows alone, so the same bits on any
 * thread. */
#ifndef SL_GRAM_SMALL_H
#define SL_GRAM_SMALL_H

#include <stdint.h>

#define SL__GRAM_SMALL_MAX 32

/* C (n x n, row-major, both triangles on return) += AᵀA, A rows x n
 * row-major; 1 <= n <= SL__GRAM_SMALL_MAX. */
void sl__gram_small_add(const double *A, int64_t rows, int64_t n, double *C);

#endif
