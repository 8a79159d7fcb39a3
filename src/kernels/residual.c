/* The squared errors of a linear model from co-moments: see residual.h. */
#include <math.h>
#include "kernels/residual.h"

double sl__residual_ss(const double *mean, const double *C, int64_t F, double n, const double *w, double b,
                       double *kappa)
{
    int64_t Q = F + 1;
    const double *cy = C + F * Q; /* C_yx row, then C_yy */
    double d = mean[F] - b, q = cy[F], size = sqrt(cy[F] > 0 ? cy[F] : 0), dsize = fabs(mean[F]) + fabs(b);
    for (int64_t a = 0; a < F; a++) {
        double cw = 0;
        for (int64_t k = 0; k < F; k++)
            cw += C[a * Q + k] * w[k];
        d -= mean[a] * w[a];
        dsize += fabs(mean[a] * w[a]);
        q += w[a] * cw - 2 * w[a] * cy[a];
        size += fabs(w[a]) * sqrt(C[a * Q + a] > 0 ? C[a * Q + a] : 0);
    }
    double ss = q + n * d * d, terms = size * size + n * fabs(d) * (fabs(d) + 2 * dsize);
    *kappa = ss > 0 ? terms / ss : INFINITY;
    return ss;
}
