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

/* Like sl__cholesky, but also stops at a pivot that is tiny relative to its
 * diagonal: the first j whose pivot d_j (A_jj minus the squares of row j of
 * L, before the square root) is <= rtol * A_jj (A_jj as given). d_j / A_jj is
 * 1 - R² of column j regressed on columns 0..j-1 (for a Gram or covariance
 * matrix), so a tiny value means column j is nearly a linear combination of
 * the earlier ones. Returns -1 on success or that j; *min_rel (when not NULL)
 * gets the smallest d_j / A_jj seen. The upper triangle is left as given. */
long sl__cholesky_rel(double *A, size_t n, double rtol, double *min_rel);

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
