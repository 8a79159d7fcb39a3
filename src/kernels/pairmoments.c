#include <math.h>
#include <string.h>
#include "kernels/blas.h"
#include "kernels/pairmoments.h"
#include "kernels/simd.h"

#define PM_BLOCK_ROWS 4096

size_t sl__pm_size(int64_t P)
{
    return (size_t)(1 + P + 3 * P * P);
}

size_t sl__pm_scratch_size(int64_t rows, int64_t P)
{
    int64_t b = rows < PM_BLOCK_ROWS ? rows : PM_BLOCK_ROWS;
    /* a block of centred rows, counts and sums for the means, the rows' missing flags */
    return (size_t)((b > 0 ? b : 1) * P + 3 * P);
}

static double *pm_mean(double *s)
{
    return s + 1;
}

static double *pm_N(double *s, int64_t P)
{
    return s + 1 + P;
}

static double *pm_R(double *s, int64_t P)
{
    return s + 1 + P + P * P;
}

static double *pm_Q(double *s, int64_t P)
{
    return s + 1 + P + 2 * P * P;
}

/* Observed means of each column over the kept rows: the plain mean, then
 * the mean of the deviations from it as a correction (exact for data whose
 * plain sum rounds). */
/* The loops below are branch-free over the columns (a missing cell adds
 * -0.0, which leaves a sum's bits as they are, through a select, simd.h),
 * so that they vectorize; each column's sums still run in row order. */

/* count[a], sum[a] += the observed cells of column a in the kept rows. */
SL_HOT static void observed_sums(const double *restrict X, int64_t rows, int64_t P, const unsigned char *drop,
                                 double *restrict count, double *restrict sum)
{
    for (int64_t i = 0; i < rows; i++) {
        if (drop && drop[i])
            continue;
        const double *x = X + i * P;
        for (int64_t a = 0; a < P; a++) {
            uint64_t miss = sl_nan_mask64(x[a]);
            count[a] += sl_sel_f64(miss, -0.0, 1.0);
            sum[a] += sl_sel_f64(miss, -0.0, x[a]);
        }
    }
}

/* sum[a] += the observed cells' deviations from mean[a] in the kept rows. */
SL_HOT static void observed_deviations(const double *restrict X, int64_t rows, int64_t P, const unsigned char *drop,
                                       const double *restrict mean, double *restrict sum)
{
    for (int64_t i = 0; i < rows; i++) {
        if (drop && drop[i])
            continue;
        const double *x = X + i * P;
        for (int64_t a = 0; a < P; a++)
            sum[a] += sl_sel_f64(sl_nan_mask64(x[a]), -0.0, x[a] - mean[a]);
    }
}

static void observed_means(const double *X, int64_t rows, int64_t P, const unsigned char *drop, double *count,
                           double *sum, double *mean)
{
    memset(count, 0, (size_t)P * sizeof *count);
    memset(sum, 0, (size_t)P * sizeof *sum);
    observed_sums(X, rows, P, drop, count, sum);
    for (int64_t a = 0; a < P; a++)
        mean[a] = count[a] > 0 ? sum[a] / count[a] : 0;
    memset(sum, 0, (size_t)P * sizeof *sum);
    observed_deviations(X, rows, P, drop, mean, sum);
    for (int64_t a = 0; a < P; a++)
        if (count[a] > 0)
            mean[a] += sum[a] / count[a];
}

SL_HOT static void gather(const double *restrict a, int64_t rows, int64_t w, uint64_t inf_to_nan,
                          double *restrict X, int64_t P, int64_t off)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < w; k++) {
            double v = a[r * w + k];
            X[r * P + off + k] = sl_sel_f64(sl_inf_mask64(v) & inf_to_nan, NAN, v);
        }
}

void sl__pm_gather(const double *a, int64_t rows, int64_t w, int skip_inf, double *X, int64_t P, int64_t off)
{
    gather(a, rows, w, skip_inf ? ~UINT64_C(0) : 0, X, P, off);
}

/* d = x − m with missing cells 0, colsum += d; nonzero when the row has a
 * missing cell. */
SL_HOT static uint64_t center_row(const double *restrict x, int64_t P, const double *restrict m, double *restrict d,
                                  double *restrict colsum)
{
    uint64_t any = 0;
    for (int64_t a = 0; a < P; a++) {
        uint64_t nan = sl_nan_mask64(x[a]);
        d[a] = sl_sel_f64(nan, 0.0, x[a] - m[a]);
        colsum[a] += d[a];
        any |= nan;
    }
    return any;
}

sl_status sl__pm_chunk(const double *X, int64_t rows, int64_t P, const unsigned char *drop, double *state,
                       double *scratch, sl_error *err)
{
    memset(state, 0, sl__pm_size(P) * sizeof *state);
    double *m = pm_mean(state), *N = pm_N(state, P), *R = pm_R(state, P), *Q = pm_Q(state, P);
    int64_t block = rows < PM_BLOCK_ROWS ? rows : PM_BLOCK_ROWS;
    double *D = scratch, *count = scratch + (block > 0 ? block : 1) * P, *colsum = count + P, *missing = colsum + P;
    observed_means(X, rows, P, drop, count, colsum, m);
    memset(colsum, 0, (size_t)P * sizeof *colsum);
    double kept = 0;
    sl_status s = SL_OK;
    for (int64_t r0 = 0; r0 < rows && s == SL_OK; r0 += block) {
        int64_t r1 = r0 + block < rows ? r0 + block : rows, nb = 0;
        for (int64_t i = r0; i < r1; i++) {
            if (drop && drop[i])
                continue;
            const double *x = X + i * P;
            double *d = D + nb * P;
            if (!center_row(x, P, m, d, colsum)) {
                nb++;
                continue;
            }
            /* Missing cells are rare: the pairs they take out of "both
             * observed" are subtracted row by row (N and R start from all
             * kept rows and the column sums of d, added below). */
            for (int64_t a = 0; a < P; a++)
                missing[a] = isnan(x[a]);
            for (int64_t b = 0; b < P; b++) {
                if (!missing[b])
                    continue;
                for (int64_t a = 0; a < P; a++) {
                    R[a * P + b] -= d[a];
                    N[a * P + b] -= 1;
                    if (!missing[a])
                        N[b * P + a] -= 1;
                }
            }
            nb++;
        }
        kept += (double)nb;
        /* Σ over both observed of d_a d_b: a missing cell's d is 0 */
        s = sl__gram_add(D, nb, P, Q, err);
    }
    state[0] = kept;
    for (int64_t a = 0; a < P; a++)
        for (int64_t b = 0; b < P; b++) {
            N[a * P + b] += kept;
            R[a * P + b] += colsum[a];
        }
    return s;
}

/* One part's sums moved from its means m_p to means m_p − δ (δ = m_p − m):
 * Σ (x_a − m_a) = R_ab + N_ab δ_a, and Σ (x_a − m_a)(x_b − m_b) = Q_ab +
 * δ_b R_ab + δ_a R_ba + N_ab δ_a δ_b, added to the totals. */
static void add_moved(const double *N, const double *R, const double *Q, const double *delta, int64_t P, double *Rt,
                      double *Qt)
{
    for (int64_t a = 0; a < P; a++)
        for (int64_t b = 0; b < P; b++) {
            int64_t ab = a * P + b, ba = b * P + a;
            Rt[ab] += R[ab] + N[ab] * delta[a];
            Qt[ab] += Q[ab] + delta[b] * R[ab] + delta[a] * R[ba] + N[ab] * delta[a] * delta[b];
        }
}

void sl__pm_merge(double *acc, const double *part, int64_t P)
{
    if (part[0] == 0)
        return;
    if (acc[0] == 0) {
        memcpy(acc, part, sl__pm_size(P) * sizeof *acc);
        return;
    }
    double *m = pm_mean(acc), *N = pm_N(acc, P), *R = pm_R(acc, P), *Q = pm_Q(acc, P);
    const double *m2 = part + 1, *N2 = part + 1 + P, *R2 = N2 + P * P, *Q2 = R2 + P * P;
    double da[P > 0 ? P : 1], db[P > 0 ? P : 1];
    for (int64_t a = 0; a < P; a++) {
        double na = N[a * P + a], nb = N2[a * P + a], n = na + nb;
        /* m = m_a + (m_b − m_a)·n_b/n, rounded; each part's offset is taken
         * from the rounded centre (a difference of close numbers: exact), so
         * that the sums stay centred on the mean the state holds, whatever
         * the number of merges */
        double mnew = na == 0 ? m2[a] : nb == 0 ? m[a] : m[a] + (m2[a] - m[a]) * (nb / n);
        da[a] = na == 0 ? 0 : m[a] - mnew;
        db[a] = nb == 0 ? 0 : m2[a] - mnew;
        m[a] = mnew;
    }
    /* in place for acc: its N does not change until the end */
    for (int64_t a = 0; a < P; a++)
        for (int64_t b = 0; b < P; b++) {
            int64_t ab = a * P + b, ba = b * P + a;
            double q = Q[ab] + da[b] * R[ab] + da[a] * R[ba] + N[ab] * da[a] * da[b];
            Q[ab] = q;
        }
    for (int64_t a = 0; a < P; a++)
        for (int64_t b = 0; b < P; b++)
            R[a * P + b] += N[a * P + b] * da[a];
    add_moved(N2, R2, Q2, db, P, R, Q);
    for (int64_t k = 0; k < P * P; k++)
        N[k] += N2[k];
    acc[0] += part[0];
}

void sl__pm_imputed(const double *state, int64_t P, const double *v, double *mean, double *C)
{
    double n = state[0];
    const double *m = state + 1, *N = m + P, *R = N + P * P, *Q = R + P * P;
    double delta[P > 0 ? P : 1], e[P > 0 ? P : 1];
    for (int64_t a = 0; a < P; a++) {
        double na = N[a * P + a];
        /* the imputed column's mean: (n_a m_a + (n − n_a) v_a) / n, as a move from m_a */
        mean[a] = n > 0 ? m[a] + (n - na) / n * (v[a] - m[a]) : v[a];
        delta[a] = m[a] - mean[a];
        e[a] = v[a] - mean[a];
    }
    for (int64_t a = 0; a < P; a++)
        for (int64_t b = 0; b < P; b++) {
            int64_t ab = a * P + b, ba = b * P + a;
            double na = N[a * P + a], nb = N[b * P + b];
            /* both observed; a observed, b imputed; a imputed, b observed; both imputed */
            double both = Q[ab] + delta[b] * R[ab] + delta[a] * R[ba] + N[ab] * delta[a] * delta[b];
            double a_only = (R[a * P + a] - R[ab]) + (na - N[ab]) * delta[a];
            double b_only = (R[b * P + b] - R[ba]) + (nb - N[ab]) * delta[b];
            C[ab] = both + e[b] * a_only + e[a] * b_only + (n - na - nb + N[ab]) * e[a] * e[b];
        }
}
