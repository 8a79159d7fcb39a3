/* Private: small dense linear algebra for model fitting (n = features, at
 * most a few thousand): Cholesky, a symmetric eigensolver and a
 * pseudo-inverse solve. Row-major, in double. */
#ifndef SL_LINALG_H
#define SL_LINALG_H

#include <stddef.h>

/* Factors the symmetric positive definite A (n x n) in place into L (lower
 * triangle; the upper is left as is). Returns -1 on success, or the index of
 * the first pivot that is not positive (A is singular or indefinite). */
long sl__cholesky(double *A, size_t n);

/* Solves L L^T x = b in place (b becomes x), L from sl__cholesky. */
void sl__cholesky_solve(const double *L, size_t n, double *b);

/* Eigen-decomposition of the symmetric A (n x n, destroyed) by cyclic Jacobi
 * rotations: evals (n), evecs (n x n, column k is eigenvector k). Returns 0,
 * or -1 when it does not converge or memory runs out. */
int sl__sym_eigen(double *A, size_t n, double *evals, double *evecs);

/* x = pinv(A) b for symmetric A, discarding eigenvalues below
 * rcond * max|eigenvalue| (like numpy.linalg.pinv). A and b are kept. *rank
 * gets the number of eigenvalues kept. Returns 0, or -1 on failure. */
int sl__pinv_solve(const double *A, size_t n, const double *b, double rcond, double *x, size_t *rank);

#endif
