#include <string.h>
#include "kernels/gram_small.h"
#include "kernels/simd.h"

/* Rows of a slice: 128 rows of up to 32 doubles (32 KB) stay in L1 while
 * every tile of C passes over them. */
#define SLICE_ROWS 128

typedef sl_v4d v4d;

static inline __attribute__((always_inline)) void add4(double *p, v4d v)
{
    v4d c = sl_load4(p) + v;
    memcpy(p, &c, sizeof c);
}

/* C[a(r)][b0 + 4c + t] += Σ_k A[k][a(r)] A[k][b0 + 4c + t] over the
 * slice's rows, for c < nc and r < ra, where a(r) is a0 + r for r < 4 and
 * a1 + r − 4 after (two groups of four rows of C against the same
 * columns): ra·nc accumulators (at most 12 of the 16 vector registers),
 * each row costing nc loads and ra broadcasts. ra and nc are constants at
 * each call, so the accumulators stay in registers. */
static inline __attribute__((always_inline)) void tile(const double *restrict A, int64_t rows, int64_t n,
                                                        int64_t a0, int64_t a1, int64_t b0, const int ra,
                                                        const int nc, double *restrict C)
{
    v4d acc[8][3];
    for (int r = 0; r < ra; r++)
        for (int c = 0; c < nc; c++)
            acc[r][c] = (v4d){0, 0, 0, 0};
    for (int64_t k = 0; k < rows; k++) {
        const double *x = A + k * n;
        v4d b[3];
        for (int c = 0; c < nc; c++)
            b[c] = sl_load4(x + b0 + 4 * c);
        for (int r = 0; r < ra; r++) {
            double xr = x[r < 4 ? a0 + r : a1 + r - 4];
            v4d s = (v4d){xr, xr, xr, xr};
            for (int c = 0; c < nc; c++)
                acc[r][c] += s * b[c];
        }
    }
    for (int r = 0; r < ra; r++)
        for (int c = 0; c < nc; c++)
            add4(C + (r < 4 ? a0 + r : a1 + r - 4) * n + b0 + 4 * c, acc[r][c]);
}

/* The last rem (< 4) columns, from q = n − rem: against the ng groups of
 * four before them (ng <= 4 here, as vectors; their sums go above the
 * diagonal, to C[4g + t][q + r]) and among themselves (the upper triangle
 * of the corner, in scalars), in one pass: rem·ng vector and rem·(rem+1)/2
 * scalar accumulators, constants at each call. */
static inline __attribute__((always_inline)) void last_columns(const double *restrict A, int64_t rows, int64_t n,
                                                                int64_t g0, const int rem, const int ng,
                                                                const int corner, double *restrict C)
{
    int64_t q = n - rem;
    v4d acc[3][4];
    double s[3][3] = {{0}};
    for (int r = 0; r < rem; r++)
        for (int g = 0; g < ng; g++)
            acc[r][g] = (v4d){0, 0, 0, 0};
    for (int64_t k = 0; k < rows; k++) {
        const double *x = A + k * n;
        v4d b[4];
        for (int g = 0; g < ng; g++)
            b[g] = sl_load4(x + 4 * (g0 + g));
        for (int r = 0; r < rem; r++) {
            double xr = x[q + r];
            v4d v = (v4d){xr, xr, xr, xr};
            for (int g = 0; g < ng; g++)
                acc[r][g] += v * b[g];
            for (int j = r; corner && j < rem; j++)
                s[r][j] += xr * x[q + j];
        }
    }
    for (int r = 0; r < rem; r++) {
        for (int g = 0; g < ng; g++)
            for (int t = 0; t < 4; t++)
                C[(4 * (g0 + g) + t) * n + q + r] += acc[r][g][t];
        for (int j = r; corner && j < rem; j++)
            C[(q + r) * n + q + j] += s[r][j];
    }
}

/* Tiles of ra rows of C and nc groups, nc from 1 to 3 at run time. */
#define TILE_NC(A, rows, n, a0, a1, b0, ra, nc, C)                                                            \
    switch (nc) {                                                                                          \
    case 1: tile(A, rows, n, a0, a1, b0, ra, 1, C); break;                                                 \
    case 2: tile(A, rows, n, a0, a1, b0, ra, 2, C); break;                                                 \
    default: tile(A, rows, n, a0, a1, b0, ra, 3, C); break;                                                \
    }

/* The last columns against groups [g0, g0 + ng), ng from 0 to 4 at run
 * time, the corner with the first call (g0 == 0). */
#define LAST_NG(A, rows, n, g0, rem, ng, C)                                                                   \
    switch (ng) {                                                                                          \
    case 0: last_columns(A, rows, n, g0, rem, 0, 1, C); break;                                             \
    case 1: last_columns(A, rows, n, g0, rem, 1, (g0) == 0, C); break;                                     \
    case 2: last_columns(A, rows, n, g0, rem, 2, (g0) == 0, C); break;                                     \
    case 3: last_columns(A, rows, n, g0, rem, 3, (g0) == 0, C); break;                                     \
    default: last_columns(A, rows, n, g0, rem, 4, (g0) == 0, C); break;                                    \
    }

/* The upper triangle over one slice. Row group i of C (rows 4i..4i+3)
 * takes groups i..ng−1 three at a time; a row group left with the last
 * group alone shares that pass with another such row group (8 broadcasts
 * against 1 load), where alone its 4 accumulators would wait on their adds'
 * latency every row. The columns past the groups take one pass per four
 * groups, their corner included. */
SL_HOT static void slice(const double *restrict A, int64_t rows, int64_t n, double *restrict C)
{
    int64_t ng = n / 4, q = 4 * ng, pending = -1;
    int rem = (int)(n - q);
    for (int64_t i = 0; i < ng; i++)
        for (int64_t jg = i; jg < ng; jg += 3) {
            int64_t nc = ng - jg < 3 ? ng - jg : 3;
            if (nc > 1) {
                TILE_NC(A, rows, n, 4 * i, 4 * i, 4 * jg, 4, nc, C);
            } else if (pending < 0) {
                pending = i;
            } else {
                tile(A, rows, n, 4 * pending, 4 * i, 4 * jg, 8, 1, C);
                pending = -1;
            }
        }
    if (pending >= 0)
        tile(A, rows, n, 4 * pending, 4 * pending, 4 * (ng - 1), 4, 1, C);
    for (int64_t g0 = 0; rem > 0 && (g0 < ng || g0 == 0); g0 += 4) {
        int64_t nb = ng - g0 < 4 ? ng - g0 : 4;
        switch (rem) {
        case 1: LAST_NG(A, rows, n, g0, 1, nb, C); break;
        case 2: LAST_NG(A, rows, n, g0, 2, nb, C); break;
        default: LAST_NG(A, rows, n, g0, 3, nb, C); break;
        }
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
