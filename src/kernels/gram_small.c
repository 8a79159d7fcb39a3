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
 * slice's rows, r < ra, c < nc: ra·nc accumulators (at most 12 of the 16
 * vector registers), each row costing nc loads and ra broadcasts. ra and nc
 * are constants at each call, so the accumulators stay in registers. With
 * `below`, the sums go to C[b0 + 4c + t][a0 + r] instead: the columns past
 * the last whole group of four against the groups. */
static inline __attribute__((always_inline)) void tile(const double *restrict A, int64_t rows, int64_t n,
                                                        int64_t a0, int64_t b0, const int ra, const int nc,
                                                        const int below, double *restrict C)
{
    v4d acc[4][3];
    for (int r = 0; r < ra; r++)
        for (int c = 0; c < nc; c++)
            acc[r][c] = (v4d){0, 0, 0, 0};
    for (int64_t k = 0; k < rows; k++) {
        const double *x = A + k * n;
        v4d b[3];
        for (int c = 0; c < nc; c++)
            b[c] = load4(x + b0 + 4 * c);
        for (int r = 0; r < ra; r++) {
            double xr = x[a0 + r];
            v4d s = (v4d){xr, xr, xr, xr};
            for (int c = 0; c < nc; c++)
                acc[r][c] += s * b[c];
        }
    }
    for (int r = 0; r < ra; r++)
        for (int c = 0; c < nc; c++) {
            if (!below) {
                add4(C + (a0 + r) * n + b0 + 4 * c, acc[r][c]);
                continue;
            }
            for (int t = 0; t < 4; t++)
                C[(b0 + 4 * c + t) * n + a0 + r] += acc[r][c][t];
        }
}

/* The upper triangle of the last rem (< 4) columns among themselves, in
 * scalars that stay in registers (rem is a constant at each call). */
static inline __attribute__((always_inline)) void corner(const double *restrict A, int64_t rows, int64_t n,
                                                          const int rem, double *restrict C)
{
    int64_t q = n - rem;
    double s[3][3] = {{0}};
    for (int64_t k = 0; k < rows; k++) {
        const double *x = A + k * n + q;
        for (int i = 0; i < rem; i++)
            for (int j = i; j < rem; j++)
                s[i][j] += x[i] * x[j];
    }
    for (int i = 0; i < rem; i++)
        for (int j = i; j < rem; j++)
            C[(q + i) * n + q + j] += s[i][j];
}

/* Tiles of ra rows of C and nc groups, nc from 1 to 3 at run time. */
#define TILE_NC(A, rows, n, a0, b0, ra, nc, below, C)                                                         \
    switch (nc) {                                                                                          \
    case 1: tile(A, rows, n, a0, b0, ra, 1, below, C); break;                                              \
    case 2: tile(A, rows, n, a0, b0, ra, 2, below, C); break;                                              \
    default: tile(A, rows, n, a0, b0, ra, 3, below, C); break;                                             \
    }

SL_HOT static void slice(const double *restrict A, int64_t rows, int64_t n, double *restrict C)
{
    int64_t ng = n / 4, q = 4 * ng;
    int rem = (int)(n - q);
    for (int64_t i = 0; i < ng; i++)
        for (int64_t jg = i; jg < ng; jg += 3) {
            int64_t nc = ng - jg < 3 ? ng - jg : 3;
            TILE_NC(A, rows, n, 4 * i, 4 * jg, 4, nc, 0, C);
        }
    for (int64_t jg = 0; rem > 0 && jg < ng; jg += 3) {
        int64_t nc = ng - jg < 3 ? ng - jg : 3;
        switch (rem) {
        case 1: TILE_NC(A, rows, n, q, 4 * jg, 1, nc, 1, C); break;
        case 2: TILE_NC(A, rows, n, q, 4 * jg, 2, nc, 1, C); break;
        default: TILE_NC(A, rows, n, q, 4 * jg, 3, nc, 1, C); break;
        }
    }
    switch (rem) {
    case 1: corner(A, rows, n, 1, C); break;
    case 2: corner(A, rows, n, 2, C); break;
    case 3: corner(A, rows, n, 3, C); break;
    default: break;
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
