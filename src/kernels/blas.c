#include <blis.h>
#include <pthread.h>
#include "core/clock.h"
#include "core/error_int.h"
#include "kernels/blas.h"
#include "kernels/gram_small.h"

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void set_single_thread(void)
{
    bli_thread_set_num_threads(1);
}

void sl__blas_init(void)
{
    pthread_once(&blas_once, set_single_thread);
}

static sl_status check_dims(const char *what, int64_t rows, int64_t n, const void *a, sl_error *err)
{
    if (rows < 0 || n < 0 || (rows > 0 && n > 0 && !a) || (double)rows * (double)n > 9.0e18)
        return sl__error_set(err, SL_ERR_INTERNAL, "%s: bad matrix %lld x %lld", what, (long long)rows,
                             (long long)n);
    return SL_OK;
}

static _Thread_local sl__blas_counters counters;

sl__blas_counters sl__blas_thread_counters(void)
{
    return counters;
}

static void count(double flops, double t0)
{
    counters.flops += flops;
    counters.seconds += sl__now() - t0;
}

sl_status sl__gram_add(const double *A, int64_t rows, int64_t n, double *C, sl_error *err)
{
    sl_status s = check_dims("gram", rows, n, A, err);
    if (s || rows == 0 || n == 0)
        return s;
    if (n <= SL__GRAM_SMALL_MAX) {
        double t0 = sl__now();
        sl__gram_small_add(A, rows, n, C);
        count((double)rows * (double)(n * (n + 1)), t0);
        return SL_OK;
    }
    sl__blas_init();
    double t0 = sl__now(), one = 1.0;
    /* BLIS's gemm is a third slower when both sides have an odd number of
     * columns (zen3 kernels, 2048 rows, in cache: 19-33 GFLOP/s for odd
     * widths from 9 to 33, 27-42 for even ones). For an odd n > 1, C's n rows
     * times its n-1 leading columns go through gemm, which costs what the
     * even (n-1)^2 product does (17 x 16 and 16 x 16: 47 us for 4096 rows,
     * 17 x 17: 70-78 us); the last column is row n-1 mirrored, and C's last
     * diagonal entry a dot. */
    int64_t q = n > 1 && n % 2 == 1 ? n - 1 : n;
    /* A is rows x n row-major, so A^T is n x rows with strides (1, n). gemm
     * rather than syrk: for the tall, narrow blocks sluice has, BLIS's gemm
     * runs twice as fast as its syrk although it does twice the arithmetic. */
    bli_dgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)n, (dim_t)q, (dim_t)rows, &one, (double *)A, (inc_t)n, 1,
              (double *)A, (inc_t)n, 1, &one, C, (inc_t)n, 1);
    if (q < n) {
        double d = 0.0;
        bli_ddotv(BLIS_NO_CONJUGATE, BLIS_NO_CONJUGATE, (dim_t)rows, (double *)A + q, (inc_t)n, (double *)A + q,
                  (inc_t)n, &d);
        C[q * n + q] += d;
        for (int64_t j = 0; j < q; j++)
            C[j * n + q] = C[q * n + j];
    }
    count(2.0 * (double)rows * (double)(n * q + (n - q)), t0);
    /* gemm does not promise C[i][j] == C[j][i] to the bit: keep the upper
     * triangle and mirror it */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < i; j++)
            C[i * n + j] = C[j * n + i];
    return SL_OK;
}

sl_status sl__gemv_t(double alpha, const double *A, int64_t rows, int64_t n, const double *x, double beta, double *y,
                     sl_error *err)
{
    sl_status s = check_dims("gemv_t", rows, n, A, err);
    if (s || n == 0)
        return s;
    sl__blas_init();
    double t0 = sl__now();
    bli_dgemv(BLIS_TRANSPOSE, BLIS_NO_CONJUGATE, (dim_t)rows, (dim_t)n, &alpha, (double *)A, (inc_t)n, 1,
              (double *)x, 1, &beta, y, 1);
    count(2.0 * (double)rows * (double)n, t0);
    return SL_OK;
}

sl_status sl__gemv_n(double alpha, const double *A, int64_t rows, int64_t n, const double *w, double beta, double *y,
                     sl_error *err)
{
    sl_status s = check_dims("gemv_n", rows, n, A, err);
    if (s || rows == 0)
        return s;
    sl__blas_init();
    double t0 = sl__now();
    bli_dgemv(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, (dim_t)rows, (dim_t)n, &alpha, (double *)A, (inc_t)n, 1,
              (double *)w, 1, &beta, y, 1);
    count(2.0 * (double)rows * (double)n, t0);
    return SL_OK;
}

sl_status sl__gemm_tn_add(const double *A, int64_t rows, int64_t m, const double *B, int64_t n, double *C,
                          sl_error *err)
{
    sl_status s = check_dims("gemm_tn", rows, m, A, err);
    if (s == SL_OK)
        s = check_dims("gemm_tn", rows, n, B, err);
    if (s || rows == 0 || m == 0 || n == 0)
        return s;
    sl__blas_init();
    double t0 = sl__now(), one = 1.0;
    bli_dgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)m, (dim_t)n, (dim_t)rows, &one, (double *)A, (inc_t)m, 1,
              (double *)B, (inc_t)n, 1, &one, C, (inc_t)n, 1);
    count(2.0 * (double)rows * (double)m * (double)n, t0);
    return SL_OK;
}
