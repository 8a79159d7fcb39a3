#include <math.h>
#include <string.h>
#include "core/error_int.h"
#include "kernels/blas.h"
#include "kernels/logistic.h"
#include "kernels/simd.h"
#include "kernels/vecmath.h"

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

sl_status sl__logit_softmax_chunk(const sl__logit_shape *sh, const double *Xt, const int32_t *cls, int64_t rows,
                                  const double *theta, int hessian, double *partial, double *work, sl_error *err)
{
    if (!sh->softmax)
        return sl__error_set(err, SL_ERR_INTERNAL, "the softmax kernel got a binary model");
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
    sl__logit_probabilities(sh, z, rows, p);
    double loss = 0;
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
    partial[0] += (double)rows;
    partial[1] += loss;
    partial[2] += apart;
    return s;
}

/* ---- the binary model, fused and blocked ---- */

/* Rows per block: X's block (F doubles a row), √w·X, and the per-row
 * values stay in a core's L2 (128 KiB of X at F = 16), and a BLIS call
 * costs little against its 2·F²·1024 flops. */
#define BLOCK 1024

size_t sl__logit_binary_work_doubles(const sl__logit_shape *sh)
{
    size_t F = (size_t)sh->F;
    /* √w·X (BLOCK x F), z, loss, r, w, √w (BLOCK each), XᵀWX (F x F), Σ r·x and Σ w·x (F each) */
    return BLOCK * F + 5 * BLOCK + F * F + 2 * F;
}

/* x·w over n values: four running sums, in a fixed order, so that the
 * baseline and the AVX2 clone give the same bits and a row's products
 * overlap the next row's. */
static inline double dot4(const double *x, const double *w, int64_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t a = 0;
    for (; a + 4 <= n; a += 4) {
        s0 += x[a] * w[a];
        s1 += x[a + 1] * w[a + 1];
        s2 += x[a + 2] * w[a + 2];
        s3 += x[a + 3] * w[a + 3];
    }
    for (; a < n; a++)
        s0 += x[a] * w[a];
    return (s0 + s1) + (s2 + s3);
}

/* z = X w + b for a block. */
SL_HOT static void block_scores(const double *restrict X, int64_t n, int64_t F, const double *restrict w, double b,
                                double *restrict z)
{
    for (int64_t i = 0; i < n; i++)
        z[i] = b + dot4(X + i * F, w, F);
}

/* Per row of a block, from its score z: the log-loss l, the residual
 * r = σ(z) − y and the weight v = σ(z)(1 − σ(z)). One e = e^−|z| serves
 * all: with u = 1 + e, σ(z) = 1/u (z >= 0) or e/u, v = e/u², and
 * log(1 + e^z) = max(z, 0) + log1p(e). Branch-free, so that it
 * vectorizes. */
SL_HOT static void block_rows(const double *restrict z, const int32_t *restrict cls, int32_t positive, int64_t n,
                              double *restrict l, double *restrict r, double *restrict v, double *restrict sv)
{
    for (int64_t i = 0; i < n; i++) {
        double y = (double)(cls[i] == positive), zi = z[i], a = fabs(zi);
        double e = sl__exp_nonpos(-a), iu = 1.0 / (1.0 + e);
        double p = sl__sigmoid_of(zi, e, iu);
        l[i] = (0.5 * (zi + a) + sl__log1p_unit(e)) - y * zi;
        r[i] = p - y;
        v[i] = e * iu * iu;
        sv[i] = sqrt(e) * iu;
    }
}

/* Σ l, the rows with l >= log 2 (true class at probability 1/2 or less),
 * Σ r and Σ v, added to sums[0..3]: four running sums each, in a fixed
 * order, then folded. */
SL_HOT static void block_sums(const double *restrict l, const double *restrict r, const double *restrict v,
                              int64_t n, double *restrict sums)
{
    double acc[4][4] = {{0}};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) {
            acc[0][j] += l[i + j];
            acc[1][j] += (double)(l[i + j] >= M_LN2);
            acc[2][j] += r[i + j];
            acc[3][j] += v[i + j];
        }
    for (; i < n; i++) {
        acc[0][0] += l[i];
        acc[1][0] += (double)(l[i] >= M_LN2);
        acc[2][0] += r[i];
        acc[3][0] += v[i];
    }
    for (int k = 0; k < 4; k++)
        sums[k] += (acc[k][0] + acc[k][1]) + (acc[k][2] + acc[k][3]);
}

/* gx += Σ r_i x_i; and when S (the Hessian's): hx += Σ v_i x_i and
 * S = √v·X (sv: √v, taken in block_rows, where it vectorizes). */
SL_HOT static void block_moments(const double *restrict X, int64_t n, int64_t F, const double *restrict r,
                                 const double *restrict v, const double *restrict sv, double *restrict gx,
                                 double *restrict hx, double *restrict S)
{
    for (int64_t i = 0; i < n; i++) {
        const double *x = X + i * F;
        for (int64_t a = 0; a < F; a++)
            gx[a] += r[i] * x[a];
    }
    if (!S)
        return;
    for (int64_t i = 0; i < n; i++) {
        const double *x = X + i * F;
        for (int64_t a = 0; a < F; a++) {
            hx[a] += v[i] * x[a];
            S[i * F + a] = sv[i] * x[a];
        }
    }
}

sl_status sl__logit_binary_chunk(const sl__logit_shape *sh, const double *X, const int32_t *cls, int32_t positive,
                                 int64_t rows, const double *theta, int hessian, double *partial, double *work,
                                 sl_error *err)
{
    if (sh->softmax)
        return sl__error_set(err, SL_ERR_INTERNAL, "the binary logistic kernel got a softmax model");
    int64_t F = sh->F, P = sl__logit_width(sh);
    int icpt = sh->intercept;
    double *S = work, *z = S + BLOCK * F, *l = z + BLOCK, *r = l + BLOCK, *v = r + BLOCK, *sv = v + BLOCK,
           *HX = sv + BLOCK, *gx = HX + F * F, *hx = gx + F;
    double *g = partial + 3, *H = partial + 3 + P;
    double b = icpt ? theta[F] : 0, sums[4] = {0, 0, 0, 0}; /* loss, rows apart, Σ r, Σ v */
    memset(HX, 0, (size_t)(F * F + 2 * F) * sizeof *HX);
    sl_status s = SL_OK;
    for (int64_t i0 = 0; i0 < rows && s == SL_OK; i0 += BLOCK) {
        int64_t n = rows - i0 < BLOCK ? rows - i0 : BLOCK;
        const double *Xb = X + i0 * F;
        block_scores(Xb, n, F, theta, b, z);
        block_rows(z, cls + i0, positive, n, l, r, v, sv);
        block_sums(l, r, v, n, sums);
        block_moments(Xb, n, F, r, v, sv, gx, hx, hessian ? S : NULL);
        if (hessian)
            s = sl__gram_add(S, n, F, HX, err);
    }
    if (s)
        return s;
    for (int64_t a = 0; a < F; a++)
        g[a] += gx[a];
    if (icpt)
        g[F] += sums[2];
    for (int64_t a = 0; hessian && a < F; a++) {
        for (int64_t c = 0; c < F; c++)
            H[a * P + c] += HX[a * F + c];
        if (icpt) {
            H[a * P + F] += hx[a];
            H[F * P + a] += hx[a];
        }
    }
    if (hessian && icpt)
        H[F * P + F] += sums[3];
    partial[0] += (double)rows;
    partial[1] += sums[0];
    partial[2] += sums[1];
    return SL_OK;
}

double sl__logit_norm_max(const double *X, int64_t rows, int64_t F, int intercept)
{
    double most = 0;
    for (int64_t i = 0; i < rows; i++) {
        double q = (intercept ? 1.0 : 0.0) + dot4(X + i * F, X + i * F, F);
        most = q > most ? q : most;
    }
    /* a bound: above the exact norm whatever the roundings of the sum */
    return sqrt(most) * (1 + 1e-14);
}

double sl__logit_step_bound(const double *g, const double *H, const double *step, int64_t D, double R)
{
    double res = 0, dd = 0, quad = 0;
    for (int64_t i = 0; i < D; i++) {
        double ri = g[i], hi = 0;
        for (int64_t j = 0; j < D; j++)
            hi += H[i * D + j] * step[j];
        ri += hi;
        res += ri * ri;
        dd += step[i] * step[i];
        quad += step[i] * hi;
    }
    return sqrt(res) + 0.5 * R * exp(R * sqrt(dd)) * (quad > 0 ? quad : 0);
}
