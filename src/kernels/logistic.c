#include <math.h>
#include <string.h>
#include "kernels/blas.h"
#include "kernels/logistic.h"

int64_t sl__logit_rows(const sl__logit_shape *sh)
{
    return sh->softmax ? sh->K : 1;
}

int64_t sl__logit_width(const sl__logit_shape *sh)
{
    return sh->F + (sh->intercept ? 1 : 0);
}

size_t sl__logit_partial_doubles(const sl__logit_shape *sh)
{
    size_t D = (size_t)(sl__logit_rows(sh) * sl__logit_width(sh));
    return 3 + D + D * D;
}

size_t sl__logit_work_doubles(const sl__logit_shape *sh, int64_t rows)
{
    size_t P = (size_t)sl__logit_width(sh), R = (size_t)sl__logit_rows(sh);
    size_t n = (size_t)rows;
    /* scores (n x R), probabilities (n x R), residual (n), scaled X̃ (n x P), a P x P block */
    return 2 * n * R + n + n * P + P * P;
}

void sl__logit_design(const sl__logit_shape *sh, const double *X, int64_t rows, double *Xt)
{
    int64_t F = sh->F, P = sl__logit_width(sh);
    if (!sh->intercept) {
        memcpy(Xt, X, (size_t)(rows * F) * sizeof *Xt);
        return;
    }
    for (int64_t i = 0; i < rows; i++) {
        memcpy(Xt + i * P, X + i * F, (size_t)F * sizeof *Xt);
        Xt[i * P + F] = 1.0;
    }
}

static double sigmoid(double z)
{
    if (z >= 0)
        return 1 / (1 + exp(-z));
    double e = exp(z);
    return e / (1 + e);
}

void sl__logit_probabilities(const sl__logit_shape *sh, const double *z, int64_t rows, double *p)
{
    if (!sh->softmax) {
        for (int64_t i = 0; i < rows; i++)
            p[i] = sigmoid(z[i]);
        return;
    }
    int64_t K = sh->K;
    for (int64_t i = 0; i < rows; i++) {
        const double *zi = z + i * K;
        double *pi = p + i * K, m = zi[0], sum = 0;
        for (int64_t k = 1; k < K; k++)
            m = zi[k] > m ? zi[k] : m;
        for (int64_t k = 0; k < K; k++)
            sum += pi[k] = exp(zi[k] - m);
        for (int64_t k = 0; k < K; k++)
            pi[k] /= sum;
    }
}

/* H[block (r, c)] += the P x P block B, and its transpose at (c, r). */
static void add_block(double *H, int64_t D, int64_t P, int64_t r, int64_t c, const double *B)
{
    for (int64_t a = 0; a < P; a++)
        for (int64_t b = 0; b < P; b++) {
            /* B is symmetric up to rounding: take its upper triangle, so
             * that H is symmetric to the bit */
            double v = a <= b ? B[a * P + b] : B[b * P + a];
            H[(r * P + a) * D + c * P + b] += v;
            if (r != c)
                H[(c * P + b) * D + r * P + a] += v;
        }
}

sl_status sl__logit_chunk(const sl__logit_shape *sh, const double *Xt, const int32_t *cls, int32_t positive,
                          int64_t rows, const double *theta, int hessian, double *partial, double *work,
                          sl_error *err)
{
    int64_t P = sl__logit_width(sh), R = sl__logit_rows(sh), D = R * P;
    double *z = work, *p = z + rows * R, *res = p + rows * R, *S = res + rows, *B = S + rows * P;
    double *g = partial + 3, *H = partial + 3 + D;
    double apart = 0; /* rows on the wrong side of p = 1/2, or on it */
    sl_status s = SL_OK;
    /* scores, row-major rows x R: z_r = X̃ θ_r, one gemv per row of θ into a column */
    for (int64_t r = 0; r < R && s == SL_OK; r++) {
        s = sl__gemv_n(1.0, Xt, rows, P, theta + r * P, 0.0, res, err);
        for (int64_t i = 0; i < rows; i++)
            z[i * R + r] = res[i];
    }
    if (s)
        return s;
    if (sh->softmax)
        sl__logit_probabilities(sh, z, rows, p);
    double loss = 0;
    if (!sh->softmax) {
        for (int64_t i = 0; i < rows; i++) {
            /* one exp for both: e = e^-|z|, σ(z) and log(1 + e^z) = max(z, 0) + log1p(e) */
            double y = cls[i] == positive ? 1.0 : 0.0, zi = z[i], e = exp(-fabs(zi));
            double pi = zi >= 0 ? 1 / (1 + e) : e / (1 + e);
            double li = (zi > 0 ? zi : 0) + log1p(e) - y * zi;
            p[i] = pi;
            loss += li;
            apart += li >= M_LN2;
            res[i] = pi - y;
        }
        s = sl__gemv_t(1.0, Xt, rows, P, res, 1.0, g, err);
        if (s == SL_OK && hessian) {
            for (int64_t i = 0; i < rows; i++) {
                double sw = sqrt(p[i] * (1 - p[i]));
                for (int64_t a = 0; a < P; a++)
                    S[i * P + a] = sw * Xt[i * P + a];
            }
            s = sl__gram_add(S, rows, P, H, err);
        }
    } else {
        int64_t K = sh->K;
        for (int64_t i = 0; i < rows; i++) {
            const double *zi = z + i * K;
            double m = zi[0], sum = 0;
            for (int64_t k = 1; k < K; k++)
                m = zi[k] > m ? zi[k] : m;
            for (int64_t k = 0; k < K; k++)
                sum += exp(zi[k] - m);
            double li = log(sum) + m - zi[cls[i]];
            loss += li;
            apart += li >= M_LN2;
        }
        for (int64_t k = 0; k < K && s == SL_OK; k++) {
            for (int64_t i = 0; i < rows; i++)
                res[i] = p[i * K + k] - (cls[i] == k ? 1.0 : 0.0);
            s = sl__gemv_t(1.0, Xt, rows, P, res, 1.0, g + k * P, err);
        }
        for (int64_t k = 0; hessian && k < K && s == SL_OK; k++)
            for (int64_t l = k; l < K && s == SL_OK; l++) {
                for (int64_t i = 0; i < rows; i++) {
                    double c = p[i * K + k] * ((k == l ? 1.0 : 0.0) - p[i * K + l]);
                    for (int64_t a = 0; a < P; a++)
                        S[i * P + a] = c * Xt[i * P + a];
                }
                memset(B, 0, (size_t)(P * P) * sizeof *B);
                s = sl__gemm_tn_add(Xt, rows, P, S, P, B, err);
                if (s == SL_OK)
                    add_block(H, D, P, k, l, B);
            }
    }
    partial[0] += (double)rows;
    partial[1] += loss;
    partial[2] += apart;
    return s;
}
