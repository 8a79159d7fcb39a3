/* Private: the one place sluice calls BLIS. BLIS aborts the process on bad
 * arguments, so every wrapper checks dimensions first and returns an error.
 * Matrices are row-major doubles. Called inside sluice's own parallel
 * regions, so BLIS itself runs single-threaded (sl__blas_init). */
#ifndef SL_BLAS_H
#define SL_BLAS_H

#include <stdint.h>
#include "sluice/error.h"

/* Sets BLIS to one thread per call; idempotent and thread-safe. */
void sl__blas_init(void);

/* C (n x n) += A^T A for A (rows x n): the Gram matrix of a chunk. C is
 * complete (both triangles) on return. */
sl_status sl__gram_add(const double *A, int64_t rows, int64_t n, double *C, sl_error *err);

/* y (n) = beta * y + alpha * A^T x, A rows x n, x rows. */
sl_status sl__gemv_t(double alpha, const double *A, int64_t rows, int64_t n, const double *x, double beta, double *y,
                     sl_error *err);

/* y (rows) = beta * y + alpha * A w, A rows x n, w n. */
sl_status sl__gemv_n(double alpha, const double *A, int64_t rows, int64_t n, const double *w, double beta, double *y,
                     sl_error *err);

/* C (m x n) += A^T B for A (rows x m), B (rows x n): a weighted Gram block
 * when B is A with its rows scaled. */
sl_status sl__gemm_tn_add(const double *A, int64_t rows, int64_t m, const double *B, int64_t n, double *C,
                          sl_error *err);
/* What the BLIS calls of the calling thread have done since it started:
 * floating-point operations (2 per multiply-add) and seconds inside BLIS.
 * The executor reads them around each chunk, so run.log can say how fast a
 * stage's BLAS work ran apart from everything else its passes do. */
typedef struct sl__blas_counters {
    double flops, seconds;
} sl__blas_counters;
sl__blas_counters sl__blas_thread_counters(void);

#endif
