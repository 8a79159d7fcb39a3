#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/linalg.h"

long sl__cholesky(double *A, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        double d = A[j * n + j];
        for (size_t k = 0; k < j; k++)
            d -= A[j * n + k] * A[j * n + k];
        if (!(d > 0))
            return (long)j;
        d = sqrt(d);
        A[j * n + j] = d;
        for (size_t i = j + 1; i < n; i++) {
            double s = A[i * n + j];
            for (size_t k = 0; k < j; k++)
                s -= A[i * n + k] * A[j * n + k];
            A[i * n + j] = s / d;
        }
    }
    return -1;
}

long sl__cholesky_rel(double *A, size_t n, double rtol, double *min_rel)
{
    double lowest = 1;
    for (size_t j = 0; j < n; j++) {
        double ajj = A[j * n + j];
        double d = ajj;
        for (size_t k = 0; k < j; k++)
            d -= A[j * n + k] * A[j * n + k];
        double rel = ajj > 0 ? d / ajj : 0;
        if (rel < lowest)
            lowest = rel;
        if (!(d > 0) || !(d > rtol * ajj)) {
            if (min_rel)
                *min_rel = lowest;
            return (long)j;
        }
        d = sqrt(d);
        A[j * n + j] = d;
        for (size_t i = j + 1; i < n; i++) {
            double s = A[i * n + j];
            for (size_t k = 0; k < j; k++)
                s -= A[i * n + k] * A[j * n + k];
            A[i * n + j] = s / d;
        }
    }
    if (min_rel)
        *min_rel = lowest;
    return -1;
}

void sl__cholesky_solve(const double *L, size_t n, double *b)
{
    for (size_t i = 0; i < n; i++) {
        double s = b[i];
        for (size_t k = 0; k < i; k++)
            s -= L[i * n + k] * b[k];
        b[i] = s / L[i * n + i];
    }
    for (size_t i = n; i-- > 0;) {
        double s = b[i];
        for (size_t k = i + 1; k < n; k++)
            s -= L[k * n + i] * b[k];
        b[i] = s / L[i * n + i];
    }
}

int sl__sym_eigen(double *A, size_t n, double *evals, double *evecs)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            evecs[i * n + j] = i == j;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, total = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                total += A[i * n + j] * A[i * n + j];
                if (i != j)
                    off += A[i * n + j] * A[i * n + j];
            }
        if (off <= 1e-30 * total || off == 0) {
            for (size_t i = 0; i < n; i++)
                evals[i] = A[i * n + i];
            return 0;
        }
        for (size_t p = 0; p < n; p++)
            for (size_t q = p + 1; q < n; q++) {
                double apq = A[p * n + q];
                if (apq == 0)
                    continue;
                /* the rotation that zeroes A[p][q] (Golub & Van Loan 8.5.2) */
                double theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (size_t k = 0; k < n; k++) {
                    double akp = A[k * n + p], akq = A[k * n + q];
                    A[k * n + p] = c * akp - s * akq;
                    A[k * n + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < n; k++) {
                    double apk = A[p * n + k], aqk = A[q * n + k];
                    A[p * n + k] = c * apk - s * aqk;
                    A[q * n + k] = s * apk + c * aqk;
                }
                for (size_t k = 0; k < n; k++) {
                    double vkp = evecs[k * n + p], vkq = evecs[k * n + q];
                    evecs[k * n + p] = c * vkp - s * vkq;
                    evecs[k * n + q] = s * vkp + c * vkq;
                }
            }
    }
    return -1;
}

int sl__pinv_solve(const double *A, size_t n, const double *b, double rcond, double *x, size_t *rank)
{
    double *work = malloc(n * n * sizeof *work), *vec = malloc(n * n * sizeof *vec);
    double *val = malloc(n * sizeof *val), *tmp = malloc(n * sizeof *tmp);
    int rc = -1;
    if (work && vec && val && tmp) {
        memcpy(work, A, n * n * sizeof *work);
        if (sl__sym_eigen(work, n, val, vec) == 0) {
            double vmax = 0;
            for (size_t k = 0; k < n; k++)
                if (fabs(val[k]) > vmax)
                    vmax = fabs(val[k]);
            size_t r = 0;
            /* x = V diag(1/val) V^T b over the kept eigenvalues */
            for (size_t k = 0; k < n; k++) {
                double s = 0;
                for (size_t i = 0; i < n; i++)
                    s += vec[i * n + k] * b[i];
                if (fabs(val[k]) > rcond * vmax && val[k] != 0) {
                    tmp[k] = s / val[k];
                    r++;
                } else {
                    tmp[k] = 0;
                }
            }
            for (size_t i = 0; i < n; i++) {
                double s = 0;
                for (size_t k = 0; k < n; k++)
                    s += vec[i * n + k] * tmp[k];
                x[i] = s;
            }
            *rank = r;
            rc = 0;
        }
    }
    free(work);
    free(vec);
    free(val);
    free(tmp);
    return rc;
}
