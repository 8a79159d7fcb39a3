#include <string.h>
#include "kernels/gram_small.h"
#include "kernels/simd.h"

/* Rows of a slice: 128 rows of up to 32 doubles (32 KB) stay in L1 while
 * every tile of C passes over them. */
#define SLICE_ROWS 128

typedef double v4d __attribute__((vector_size(32)));

/* The helpers below that take and return v4d are always inlined, so no
 * call passes a vector whatever the clone's ISA: GCC's warning about that
 * ABI does not apply. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

static inline __attribute__((always_inline)) v4d load4(const double *p)
{
    v4d v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void add4(double *p, v4d v)
{
    v4d c = load4(p) + v;
    memcpy(p, &c, sizeof c);
}

/* C[a0 + r][b0 + 4c + t] += Σ_k A[k][a0 + r] A[k][b0 + 4c + t] over the
 * slice's rows, r < 4, c < nc: 4·nc accumulators (at most 12 of the 16
 * vector registers), each row costing nc loads and 4 broadcasts. nc is a
 * constant at each call, so the accumulators stay in registers. */
static inline __attribute__((always_inline)) void tile(const double *restrict A, int64_t rows, int64_t n,
                                                        int64_t a0, int64_t b0, const int nc, double *restrict C)
{
    v4d acc[4][3];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < nc; c++)
            acc[r][c] = (v4d){0, 0, 0, 0};
    for (int64_t k = 0; k < rows; k++) {
        const double *x = A + k * n;
        v4d b[3];
        for (int c = 0; c < nc; c++)
            b[c] = load4(x + b0 + 4 * c);
        for (int r = 0; r < 4; r++) {
            double xr = x[a0 + r];
            v4d s = (v4d){xr, xr, xr, xr};
            for (int c = 0; c < nc; c++)
                acc[r][c] += s * b[c];
        }
    }
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < nc; c++)
            add4(C + (a0 + r) * n + b0 + 4 * c, acc[r][c]);
}

/* Column j of C above the diagonal and on it, for a column j past the whole
 * groups of four (q = 4·ng of them): ng vector accumulators against the
 * groups, and scalars against the columns [q, j]. */
static inline __attribute__((always_inline)) void tail_column(const double *restrict A, int64_t rows, int64_t n,
                                                               int64_t j, const int ng, double *restrict C)
{
    int64_t q = 4 * (int64_t)ng;
    v4d acc[7];
    double s[3] = {0, 0, 0};
    for (int g = 0; g < ng; g++)
        acc[g] = (v4d){0, 0, 0, 0};
    for (int64_t k = 0; k < rows; k++) {
        const double *x = A + k * n;
        double xj = x[j];
        v4d v = (v4d){xj, xj, xj, xj};
        for (int g = 0; g < ng; g++)
            acc[g] += v * load4(x + 4 * g);
        for (int64_t i = q; i <= j; i++)
            s[i - q] += x[i] * x[j];
    }
    for (int g = 0; g < ng; g++)
        for (int t = 0; t < 4; t++)
            C[(4 * g + t) * n + j] += acc[g][t];
    for (int64_t i = q; i <= j; i++)
        C[i * n + j] += s[i - q];
}

SL_HOT static void slice(const double *restrict A, int64_t rows, int64_t n, double *restrict C)
{
    int64_t ng = n / 4;
    for (int64_t i = 0; i < ng; i++)
        for (int64_t jg = i; jg < ng; jg += 3) {
            int64_t a0 = 4 * i, b0 = 4 * jg;
            switch (ng - jg < 3 ? ng - jg : 3) {
            case 1: tile(A, rows, n, a0, b0, 1, C); break;
            case 2: tile(A, rows, n, a0, b0, 2, C); break;
            default: tile(A, rows, n, a0, b0, 3, C); break;
            }
        }
    for (int64_t j = 4 * ng; j < n; j++)
        switch (ng) {
        case 0: tail_column(A, rows, n, j, 0, C); break;
        case 1: tail_column(A, rows, n, j, 1, C); break;
        case 2: tail_column(A, rows, n, j, 2, C); break;
        case 3: tail_column(A, rows, n, j, 3, C); break;
        case 4: tail_column(A, rows, n, j, 4, C); break;
        case 5: tail_column(A, rows, n, j, 5, C); break;
        case 6: tail_column(A, rows, n, j, 6, C); break;
        default: tail_column(A, rows, n, j, 7, C); break;
        }
}

void sl__gram_small_add(const double *A, int64_t rows, int64_t n, double *C)
{
    for (int64_t k = 0; k < rows; k += SLICE_ROWS)
        slice(A + k * n, rows - k < SLICE_ROWS ? rows - k : SLICE_ROWS, n, C);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < i; j++)
            C[i * n + j] = C[j * n + i];
}
