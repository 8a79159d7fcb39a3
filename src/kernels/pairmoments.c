#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "kernels/blas.h"
#include "kernels/pairmoments.h"
#include "kernels/simd.h"

#define PM_BLOCK_ROWS 4096
/* The column loops see TILE rows of P columns as one run of TILE·P values,
 * the per-column values (means, running sums) repeated TILE times beside
 * them: a loop whose length is a multiple of the vector width whatever P
 * is, with no scalar tail per row. Rows outside whole tiles of kept rows go
 * one at a time. */
#define TILE 4

size_t sl__pm_size(int64_t P)
{
    return (size_t)(1 + P + 3 * P * P);
}

size_t sl__pm_scratch_size(int64_t rows, int64_t P)
{
    int64_t b = rows < PM_BLOCK_ROWS ? rows : PM_BLOCK_ROWS;
    /* a block of centred rows, counts, sums, a row's missing flags, what
     * rows with missing cells take from the pairs, and two tiles of sums */
    return (size_t)((b > 0 ? b : 1) * P + 3 * P + 2 * P * P + 2 * TILE * P);
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

/* The loops below are branch-free over the columns (a missing cell adds
 * -0.0, which leaves a sum's bits as they are, through a select, simd.h),
 * so that they vectorize; each column's sums run in TILE interleaved
 * partial sums, added in a fixed order: the same bits wherever a block is
 * computed. */

/* Whether rows [i, i + TILE) are all kept. */
static int tile_kept(const unsigned char *drop, int64_t i)
{
    if (!drop)
        return 1;
    uint32_t w;
    memcpy(&w, drop + i, sizeof w);
    return w == 0;
}

/* a[k] += t[k] + t[k + P] + ... over the TILE copies of each column. */
static void fold_tile(const double *t, int64_t P, double *a)
{
    for (int64_t k = 0; k < P; k++)
        a[k] += (t[k] + t[P + k]) + (t[2 * P + k] + t[3 * P + k]);
}

/* count[a], sum[a] += the observed cells of column a in the kept rows
 * (tc, ts: 2·TILE·P doubles of scratch). */
SL_HOT static void observed_sums(const double *restrict X, int64_t rows, int64_t P, const unsigned char *drop,
                                 double *restrict count, double *restrict sum, double *restrict tc, double *restrict ts)
{
    int64_t W = TILE * P, i = 0;
    memset(tc, 0, (size_t)W * sizeof *tc);
    memset(ts, 0, (size_t)W * sizeof *ts);
    for (; i + TILE <= rows; i += TILE) {
        const double *x = X + i * P;
        if (tile_kept(drop, i)) {
            for (int64_t k = 0; k < W; k++) {
                uint64_t miss = sl_nan_mask64(x[k]);
                tc[k] += sl_sel_f64(miss, -0.0, 1.0);
                ts[k] += sl_sel_f64(miss, -0.0, x[k]);
            }
            continue;
        }
        for (int64_t r = 0; r < TILE; r++)
            for (int64_t a = 0; !drop[i + r] && a < P; a++) {
                uint64_t miss = sl_nan_mask64(x[r * P + a]);
                count[a] += sl_sel_f64(miss, -0.0, 1.0);
                sum[a] += sl_sel_f64(miss, -0.0, x[r * P + a]);
            }
    }
    for (; i < rows; i++)
        for (int64_t a = 0; !(drop && drop[i]) && a < P; a++) {
            uint64_t miss = sl_nan_mask64(X[i * P + a]);
            count[a] += sl_sel_f64(miss, -0.0, 1.0);
            sum[a] += sl_sel_f64(miss, -0.0, X[i * P + a]);
        }
    fold_tile(tc, P, count);
    fold_tile(ts, P, sum);
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

SL_HOT static void gather_f32(const float *restrict a, int64_t rows, int64_t w, uint64_t inf_to_nan,
                              double *restrict X, int64_t P, int64_t off)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < w; k++) {
            double v = (double)a[r * w + k];
            X[r * P + off + k] = sl_sel_f64(sl_inf_mask64(v) & inf_to_nan, NAN, v);
        }
}

void sl__pm_gather_f32(const float *a, int64_t rows, int64_t w, int skip_inf, double *X, int64_t P, int64_t off)
{
    gather_f32(a, rows, w, skip_inf ? ~UINT64_C(0) : 0, X, P, off);
}

void sl__pm_gather(const double *a, int64_t rows, int64_t w, int skip_inf, double *X, int64_t P, int64_t off)
{
    gather(a, rows, w, skip_inf ? ~UINT64_C(0) : 0, X, P, off);
}

/* What a kept row with missing cells takes from the pairs with each of
 * its missing columns b (miss: 1 for a missing cell, else 0, over the S
 * values of a row; bits: the missing columns among the first 64): its
 * deviations (d, 0 in missing cells) to row b of Rm, its missing flags to
 * row b of Mm, as whole rows that vectorize (missing cells are rare). The
 * missing columns are visited through their bits, without a branch per
 * column, when a row has no more than 64 values. */
static inline __attribute__((always_inline)) void add_missing_pairs(const double *d, int64_t S, double *Rm,
                                                                    double *Mm, const double *miss, int64_t b)
{
    double *rb = Rm + b * S, *mb = Mm + b * S;
    for (int64_t a = 0; a < S; a++) {
        rb[a] += d[a];
        mb[a] += miss[a];
    }
}

static inline __attribute__((always_inline)) void missing_row(const double *d, int64_t S, double *Rm, double *Mm,
                                                              const double *miss, uint64_t bits)
{
    if (S > 64) {
        for (int64_t b = 0; b < S; b++)
            if (miss[b] != 0)
                add_missing_pairs(d, S, Rm, Mm, miss, b);
        return;
    }
    for (; bits; bits &= bits - 1)
        add_missing_pairs(d, S, Rm, Mm, miss, __builtin_ctzll(bits));
}

/* miss[a] = 1 where x[a] is missing, else 0; returns the missing columns
 * among the first 64 as bits. */
static inline __attribute__((always_inline)) uint64_t missing_flags(const double *x, int64_t P, double *miss)
{
    uint64_t bits = 0;
    for (int64_t a = 0; a < P; a++) {
        uint64_t nan = sl_nan_mask64(x[a]);
        miss[a] = sl_sel_f64(nan, 1.0, 0.0);
        bits |= a < 64 ? (nan & 1) << a : 0;
    }
    return bits;
}

/* d = x − m with missing cells 0, colsum += d; nonzero when the row has a
 * missing cell. */
static inline __attribute__((always_inline)) uint64_t center_row(const double *restrict x, int64_t P,
                                                                  const double *restrict m, double *restrict d,
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

/* Centres the kept rows of a block on m into D (missing cells 0), adds
 * their deviations to colsum, and what rows with missing cells take from
 * the pairs to Rm and Mm (missing_row). mt, tsum: TILE·P doubles each of
 * scratch. Returns the rows kept. */
SL_HOT static int64_t center_block(const double *restrict X, int64_t rows, int64_t P, const unsigned char *drop,
                                   const double *restrict m, double *restrict D, double *restrict colsum,
                                   double *restrict Rm, double *restrict Mm, double *restrict miss,
                                   double *restrict mt, double *restrict tsum)
{
    int64_t W = TILE * P, nb = 0, i = 0;
    for (int64_t k = 0; k < W; k++) {
        mt[k] = m[k % P];
        tsum[k] = 0;
    }
    for (; i + TILE <= rows; i += TILE) {
        const double *x = X + i * P;
        if (tile_kept(drop, i)) {
            double *d = D + nb * P;
            uint64_t any = 0;
            for (int64_t k = 0; k < W; k++) {
                uint64_t nan = sl_nan_mask64(x[k]);
                d[k] = sl_sel_f64(nan, 0.0, x[k] - mt[k]);
                tsum[k] += d[k];
                any |= nan;
            }
            for (int64_t r = 0; any && r < TILE; r++) {
                uint64_t row_any = 0;
                for (int64_t a = 0; a < P; a++)
                    row_any |= sl_nan_mask64(x[r * P + a]);
                if (row_any)
                    missing_row(d + r * P, P, Rm, Mm, miss, missing_flags(x + r * P, P, miss));
            }
            nb += TILE;
            continue;
        }
        for (int64_t r = 0; r < TILE; r++) {
            if (drop[i + r])
                continue;
            double *d = D + nb++ * P;
            if (center_row(x + r * P, P, m, d, colsum))
                missing_row(d, P, Rm, Mm, miss, missing_flags(x + r * P, P, miss));
        }
    }
    for (; i < rows; i++) {
        if (drop && drop[i])
            continue;
        double *d = D + nb++ * P;
        if (center_row(X + i * P, P, m, d, colsum))
            missing_row(d, P, Rm, Mm, miss, missing_flags(X + i * P, P, miss));
    }
    fold_tile(tsum, P, colsum);
    return nb;
}

/* Moves the state's sums from their centres to centres m − δ (Σ (x_a −
 * (m_a − δ_a)) = R_ab + N_ab δ_a, and the products likewise): exact algebra,
 * used with small δ (rounding) within a chunk and any δ in a merge. Only
 * the sums move; the caller sets the new centres. */
static void shift_sums(double *N, double *R, double *Q, const double *delta, int64_t P)
{
    for (int64_t a = 0; a < P; a++)
        for (int64_t b = 0; b < P; b++) {
            int64_t ab = a * P + b, ba = b * P + a;
            Q[ab] += delta[b] * R[ab] + delta[a] * R[ba] + N[ab] * delta[a] * delta[b];
        }
    for (int64_t a = 0; a < P; a++)
        for (int64_t b = 0; b < P; b++)
            R[a * P + b] += N[a * P + b] * delta[a];
}

/* N_ab, R_ab and the centres' move to the means, from the sums a chunk or
 * a block gathered around centres m (sl__pm_chunk, sl__pm_pass_state):
 * column a's deviations at colsum[a·cs], and the pairs the rows missing b
 * took at Rm[b·ld + a], Mm[b·ld + a]. */
static void finish_state(double kept, const double *colsum, int64_t cs, const double *Rm, const double *Mm,
                         int64_t ld, double *state, int64_t P, double *delta)
{
    double *m = pm_mean(state), *N = pm_N(state, P), *R = pm_R(state, P), *Q = pm_Q(state, P);
    state[0] = kept;
    /* N_ab: kept rows less those missing a or b; R_ab: a's deviations less
     * those in rows missing b */
    for (int64_t a = 0; a < P; a++)
        for (int64_t b = 0; b < P; b++) {
            N[a * P + b] = kept - Mm[a * ld + a] - Mm[b * ld + b] + Mm[b * ld + a];
            /* (a column missing in every row leaves no pair: exactly 0,
             * where the difference of the same sum taken in two orders
             * would leave a rounding) */
            R[a * P + b] = Mm[b * ld + b] == kept ? 0.0 : colsum[a * cs] - Rm[b * ld + a];
        }
    /* the centres become the observed means (the deviations' mean added) */
    for (int64_t a = 0; a < P; a++) {
        double na = N[a * P + a], mean = na > 0 ? m[a] + R[a * P + a] / na : m[a];
        delta[a] = m[a] - mean;
        m[a] = mean;
    }
    shift_sums(N, R, Q, delta, P);
}

sl_status sl__pm_chunk(const double *X, int64_t rows, int64_t P, const unsigned char *drop, double *state,
                       double *scratch, sl_error *err)
{
    memset(state, 0, sl__pm_size(P) * sizeof *state);
    double *m = pm_mean(state), *Q = pm_Q(state, P);
    int64_t block = rows < PM_BLOCK_ROWS ? rows : PM_BLOCK_ROWS;
    double *D = scratch, *count = scratch + (block > 0 ? block : 1) * P, *colsum = count + P, *miss = colsum + P,
           *Rm = miss + P, *Mm = Rm + P * P, *t1 = Mm + P * P, *t2 = t1 + TILE * P;
    memset(count, 0, (size_t)(3 * P + 2 * P * P) * sizeof *count);
    /* centred first on the plain means; their rounding is moved out below */
    observed_sums(X, rows, P, drop, count, colsum, t1, t2);
    for (int64_t a = 0; a < P; a++)
        m[a] = count[a] > 0 ? colsum[a] / count[a] : 0;
    memset(colsum, 0, (size_t)P * sizeof *colsum);
    double kept = 0;
    sl_status s = SL_OK;
    for (int64_t r0 = 0; r0 < rows && s == SL_OK; r0 += block) {
        int64_t r1 = r0 + block < rows ? r0 + block : rows;
        int64_t nb =
            center_block(X + r0 * P, r1 - r0, P, drop ? drop + r0 : NULL, m, D, colsum, Rm, Mm, miss, t1, t2);
        kept += (double)nb;
        /* Σ over both observed of d_a d_b: a missing cell's d is 0 */
        s = sl__gram_add(D, nb, P, Q, err);
    }
    double delta[P > 0 ? P : 1];
    finish_state(kept, colsum, 1, Rm, Mm, P, state, P, delta);
    return s;
}

/* ---- one pass: centres fixed for the chunk ---- */

/* A column may lose this many times its M2 to the fixed centre (4 bits)
 * before the chunk is computed block by block instead. */
#define PASS_MAX_SHIFT 15.0

/* The block D has P + 1 columns: the deviations, and a last column of ones
 * (zeros in dropped rows), so that the Gram product also sums each
 * column's deviations (its row P) and counts the kept rows (its corner):
 * the gather does nothing but centre. */
sl_status sl__pm_pass_init(sl__pm_pass *p, int64_t P, int64_t block, sl_error *err)
{
    *p = (sl__pm_pass){.P = P, .block = block};
    size_t P1 = (size_t)P + 1, b = (size_t)(block > 0 ? block : 1);
    /* the empty chunk: no centres yet, no sums */
    p->centre = calloc(2 * P1, sizeof *p->centre);
    p->D = malloc(b * P1 * sizeof *p->D);
    p->Rm = calloc(3 * P1 * P1, sizeof *p->Rm);
    p->list = malloc(b * sizeof *p->list);
    if (p->centre && p->D && p->Rm && p->list) {
        p->miss = p->centre + P1;
        p->Mm = p->Rm + P1 * P1;
        p->Q = p->Mm + P1 * P1;
        return SL_OK;
    }
    sl__pm_pass_free(p);
    return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
}

void sl__pm_pass_free(sl__pm_pass *p)
{
    free(p->centre);
    free(p->D);
    free(p->Rm);
    free(p->list);
    *p = (sl__pm_pass){0};
}


/* The block's columns [off, off + w) from a rows x w array, centred on c
 * into D (row stride S); a missing cell becomes NaN there, for
 * sl__pm_pass_block to find, and a dropped row zeros. Nothing else, so
 * that it streams: under skip_inf, v·0 (NaN for ±Inf and NaN, ±0 for any
 * finite v) added to v − c makes ±Inf NaN and leaves every other value's
 * bits as they are. A function per element type, as a macro: the
 * conversion is the only difference. */
#define PASS_GATHER(NAME, T)                                                                                   \
    SL_HOT static void NAME(const T *restrict a, int64_t rows, int64_t w, int skip_inf,                      \
                            const unsigned char *drop, const double *restrict c, double *restrict D, int64_t S) \
    {                                                                                                          \
        if (w == 1) { /* a single column (a target): a loop over the rows alone, which vectorizes */          \
            const double c0 = c[0];                                                                            \
            for (int64_t i = 0; i < rows; i++) {                                                               \
                double v = (double)a[i], e = skip_inf ? (v - c0) + v * 0.0 : v - c0;                           \
                D[i * S] = sl_sel_f64(-(uint64_t)(drop && drop[i]), 0.0, e);                                   \
            }                                                                                                  \
            return;                                                                                            \
        }                                                                                                      \
        for (int64_t i = 0; i < rows; i++) {                                                                   \
            double *d = D + i * S;                                                                             \
            const T *x = a + i * w;                                                                            \
            if (drop && drop[i])                                                                               \
                memset(d, 0, (size_t)w * sizeof *d);                                                           \
            else if (skip_inf)                                                                                 \
                for (int64_t k = 0; k < w; k++)                                                                \
                    d[k] = ((double)x[k] - c[k]) + (double)x[k] * 0.0;                                         \
            else                                                                                               \
                for (int64_t k = 0; k < w; k++)                                                                \
                    d[k] = (double)x[k] - c[k];                                                                \
        }                                                                                                      \
    }

PASS_GATHER(pass_gather_f64, double)
PASS_GATHER(pass_gather_f32, float)

/* Rows of a chunk's first block whose plain observed means are its
 * centres: a column's centring costs at most log2(1 + n/n1) bits for n1 of
 * its n observed cells there (M2 >= n1·δ²), 6 bits with 128 rows of 8,192,
 * and in practice a small part of one (the refusal in sl__pm_pass_state
 * guards the rest). */
#define CENTRE_ROWS 128

/* The centres of columns [off, off + w): the plain observed means of the
 * array's first rows, gathered around 0 (columns with none there: 0). */
static void set_centres(sl__pm_pass *p, int64_t rows, int64_t w, const unsigned char *drop, int64_t off)
{
    int64_t S = p->P + 1, n = rows < CENTRE_ROWS ? rows : CENTRE_ROWS;
    for (int64_t k = 0; k < w; k++) {
        double count = 0, sum = 0;
        for (int64_t i = 0; i < n; i++) {
            double v = p->D[i * S + off + k];
            if (!(drop && drop[i]) && v == v) {
                count += 1;
                sum += v;
            }
        }
        p->centre[off + k] = count > 0 ? sum / count : 0;
    }
}

/* The public gathers, one per element type: the chunk's first block
 * gathers its first rows around 0 first, for the centres. */
#define PASS_GATHER_API(NAME, T, KERNEL)                                                                       \
    void NAME(sl__pm_pass *p, const T *a, int64_t rows, int64_t w, int skip_inf, const unsigned char *drop,   \
              int64_t off)                                                                                     \
    {                                                                                                          \
        p->rows = rows;                                                                                        \
        if (!p->centred) {                                                                                     \
            KERNEL(a, rows < CENTRE_ROWS ? rows : CENTRE_ROWS, w, skip_inf, drop, p->centre + off, p->D + off, \
                   p->P + 1);                                                                                  \
            set_centres(p, rows, w, drop, off);                                                                \
        }                                                                                                      \
        KERNEL(a, rows, w, skip_inf, drop, p->centre + off, p->D + off, p->P + 1);                             \
    }

PASS_GATHER_API(sl__pm_pass_gather, double, pass_gather_f64)
PASS_GATHER_API(sl__pm_pass_gather_f32, float, pass_gather_f32)

/* Whether the first n values at d hold a NaN (n >= 4): compares four at a
 * time, nv = n / 4 of them (a constant at each call, so the loop unrolls;
 * -1: n / 4 at run time), and the last four, which overlap the others when
 * n is not a multiple of four, so that no value is looked at alone. */
static inline __attribute__((always_inline)) int any_nan(const double *d, int64_t n, const int nv)
{
    sl_v4i m = {0, 0, 0, 0};
    for (int64_t k = 0; k < (nv < 0 ? n / 4 : nv); k++) {
        sl_v4d v = sl_load4(d + 4 * k);
        m |= v != v;
    }
    sl_v4d v = sl_load4(d + n - 4);
    m |= v != v;
    return ((m[0] | m[1]) | (m[2] | m[3])) != 0;
}

/* Every row gets its ones, and the rows with a missing cell (NaN; a
 * dropped row is zeros) are listed, without a branch per row that would
 * guess wrong as often as rows have one. nv: as any_nan's, 0 for P < 4.
 * Returns how many. */
static inline __attribute__((always_inline)) int64_t list_missing(double *restrict D, int64_t rows, int64_t P,
                                                                   const unsigned char *drop,
                                                                   int64_t *restrict list, const int nv)
{
    int64_t S = P + 1, listed = 0;
    for (int64_t i = 0; i < rows; i++) {
        double *d = D + i * S;
        d[P] = drop && drop[i] ? 0.0 : 1.0;
        list[listed] = i;
        if (nv != 0) {
            listed += any_nan(d, P, nv);
            continue;
        }
        int any = 0;
        for (int64_t a = 0; a < P; a++)
            any |= d[a] != d[a];
        listed += any;
    }
    return listed;
}

/* The rows list_missing finds give their pairs to Rm and Mm and get zeros
 * for their missing cells. */
SL_HOT static void finish_block(double *restrict D, int64_t rows, int64_t P, const unsigned char *drop,
                                int64_t *restrict list, double *restrict miss, double *restrict Rm,
                                double *restrict Mm)
{
    int64_t S = P + 1, listed;
    switch (P < 4 ? 0 : P / 4) {
    case 0: listed = list_missing(D, rows, P, drop, list, 0); break;
    case 1: listed = list_missing(D, rows, P, drop, list, 1); break;
    case 2: listed = list_missing(D, rows, P, drop, list, 2); break;
    case 3: listed = list_missing(D, rows, P, drop, list, 3); break;
    case 4: listed = list_missing(D, rows, P, drop, list, 4); break;
    case 5: listed = list_missing(D, rows, P, drop, list, 5); break;
    case 6: listed = list_missing(D, rows, P, drop, list, 6); break;
    case 7: listed = list_missing(D, rows, P, drop, list, 7); break;
    case 8: listed = list_missing(D, rows, P, drop, list, 8); break;
    default: listed = list_missing(D, rows, P, drop, list, -1); break;
    }
    for (int64_t k = 0; k < listed; k++) {
        double *d = D + list[k] * S;
        uint64_t bits = missing_flags(d, P, miss);
        for (int64_t a = 0; a < P; a++)
            d[a] = sl_sel_f64(sl_nan_mask64(d[a]), 0.0, d[a]);
        miss[P] = 0;
        missing_row(d, S, Rm, Mm, miss, bits);
    }
}

sl_status sl__pm_pass_block(sl__pm_pass *p, const unsigned char *drop, sl_error *err)
{
    int64_t rows = p->rows;
    p->centred = 1;
    finish_block(p->D, rows, p->P, drop, p->list, p->miss, p->Rm, p->Mm);
    p->rows = 0;
    return sl__gram_add(p->D, rows, p->P + 1, p->Q, err);
}

int sl__pm_pass_state(const sl__pm_pass *p, double *state)
{
    int64_t P = p->P, S = P + 1;
    double delta[P > 0 ? P : 1];
    memset(state, 0, sl__pm_size(P) * sizeof *state);
    memcpy(pm_mean(state), p->centre, (size_t)P * sizeof *state);
    double *Q = pm_Q(state, P);
    for (int64_t a = 0; a < P; a++)
        memcpy(Q + a * P, p->Q + a * S, (size_t)P * sizeof *Q);
    /* the ones column: the deviations' sums in row P, the kept rows in the corner */
    finish_state(p->Q[P * S + P], p->Q + P, S, p->Rm, p->Mm, S, state, P, delta);
    const double *N = pm_N(state, P);
    for (int64_t a = 0; a < P; a++)
        if (!(N[a * P + a] * delta[a] * delta[a] <= PASS_MAX_SHIFT * Q[a * P + a]))
            return 0;
    return 1;
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
    memset(da, 0, sizeof da); /* (P >= 1 here; this tells the compiler) */
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
    shift_sums(N, R, Q, da, P);
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
