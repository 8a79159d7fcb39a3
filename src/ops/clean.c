/* clean: NaN and +-Inf handling per array (drop the row, impute with the
 * column mean / median / a constant, fail, or keep), then optional clipping
 * to fixed bounds or to k standard deviations around the column mean.
 *
 * Passes, in the order of the NumPy script it replaces
 * (keep = ~isnan(y); X = X[keep]; mu = nanmean(X); X[isnan(X)] = mu):
 *   1. "stats" (reduce): per-column count, mean, M2, min, max and missing
 *      count over the rows that survive drop_row, and the rows each chunk
 *      keeps; only when some array needs them (impute_mean, impute_median,
 *      fail, clip_sigma) or drop_row drops rows.
 *   2. "median" (reduce, a few times): exact k-th smallest selection by
 *      histogram narrowing (kernels/quantile.h); only for impute_median.
 *   3. "clean" (map/filter): drops rows, imputes, clips; writes the output.
 *      It declares the rows it keeps of each chunk (out_rows), so it can be
 *      streamed into the stages that read it.
 * Partials merge in chunk order: results are the same bytes for any thread
 * count. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/params_int.h"
#include "core/error_int.h"
#include "kernels/cast.h"
#include "kernels/nanfix.h"
#include "kernels/pairmoments.h"
#include "ops/model_int.h"
#include "ops/moments_int.h"
#include "kernels/quantile.h"
#include "ops/ops_int.h"
#include "plan/exec_int.h"
#include "plan/pipeline_int.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose output frame is cleaned"},
    {"nan", SL_PARAM_STRING_MAP, 0, NULL, NULL, 0, 0,
     "array -> what to do with its NaN values: drop_row, impute_mean, impute_median, impute_constant, fail or "
     "keep (arrays not named are kept as they are)"},
    {"fill_value", SL_PARAM_NUMBER, 0, "0", NULL, 0, 0, "the value impute_constant writes"},
    {"inf", SL_PARAM_CHOICE, 0, "nan", "nan|keep", 0, 0,
     "nan: +-Inf is treated like NaN (dropped, imputed, failed on); keep: +-Inf is an ordinary value"},
    {"clip", SL_PARAM_NUMBER_LIST, 0, NULL, NULL, 0, 0, "[lo, hi]: clip the values of clip_arrays to this range"},
    {"clip_sigma", SL_PARAM_NUMBER, 0, NULL, NULL, 0, 0,
     "k > 0: clip each column of clip_arrays to mean +- k * std (population std of the kept values)"},
    {"clip_arrays", SL_PARAM_STRING_LIST, 0, NULL, NULL, 0, 0, "arrays to clip (default: the `features` array only)"},
    {"features", SL_PARAM_STRING, 0, "X", NULL, 0, 0,
     "the features array, the one clipped when `clip_arrays` is not given (a target such as y is left as it is)"},
    {"mean_dtype", SL_PARAM_CHOICE, 0, "float64", "float64|input", 0, 0,
     "impute_mean of float32 arrays: float64 (exact to the last bit) or input (summed in float32 row by row, "
     "the numbers np.nanmean gives)"},
};

enum { ACT_KEEP, ACT_DROP, ACT_MEAN, ACT_MEDIAN, ACT_CONST, ACT_FAIL };
static const char *const action_names[] = {"keep",          "drop_row",        "impute_mean",
                                           "impute_median", "impute_constant", "fail"};
#define N_ACTIONS (sizeof action_names / sizeof action_names[0])

typedef struct arr_plan {
    int action;
    int is_float;
    int clip;
    int stats;         /* needs the stats pass */
    int64_t stats_off; /* first column in the stats partial */
} arr_plan;

typedef struct clean_state {
    size_t n;
    arr_plan *a;
    int skip_inf;
    int any_drop;   /* some float array drops rows */
    int any_impute; /* some float array imputes */
    int any_median;
    int any_clip;
    int64_t stats_cols;
    const char **stats_names; /* NULL-terminated: arrays the stats pass reads */
    /* A later stage (normalize, linreg) fits from this stage's output by
     * algebra (ops/moments.c): the stats pass also gathers the pairwise
     * moments of every column (kernels/pairmoments.h), over the kept rows. */
    int pair_moments;
    int64_t pm_cols;
    struct clean_run *run;    /* the last run's fill values and counts, which
                                 a streamed output pass uses after run() */
} clean_state;

static void free_clean_run(struct clean_run *r, size_t n);

static void free_state(void *p)
{
    clean_state *s = p;
    if (s) {
        free_clean_run(s->run, s->n);
        free(s->a);
        free(s->stats_names);
        free(s);
    }
}

/* ---- planning ---------------------------------------------------------------------- */

static void list_arrays(const sl_frame *f, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sl_frame_count(f) && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", sl_frame_array(f, i)->name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static sl_status plan_nan(sl_stage *st, const sl_frame *in, clean_state *s, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    for (size_t k = 0; k < sl_params_len(p, "nan"); k++) {
        const char *name = sl_params_map_key(p, "nan", k), *act = sl_params_map_value(p, "nan", k);
        long i = sl_frame_find(in, name);
        if (i < 0) {
            char have[512];
            list_arrays(in, have, sizeof have);
            const char *cand[256];
            size_t nc = 0;
            for (size_t j = 0; j < sl_frame_count(in) && nc < 256; j++)
                cand[nc++] = sl_frame_array(in, j)->name;
            const char *hint = sl__suggest(name, cand, nc);
            sl_stage_error(st, err, SL_ERR_CONFIG, "nan", "'nan' names array '%s', which the input lacks; it has %s",
                           name, have[0] ? have : "no arrays");
            if (hint)
                sl__error_append(err, "; did you mean '%s'?", hint);
            return SL_ERR_CONFIG;
        }
        size_t a;
        for (a = 0; a < N_ACTIONS && strcmp(act, action_names[a]) != 0; a++)
            ;
        if (a == N_ACTIONS) {
            const char *hint = sl__suggest(act, action_names, N_ACTIONS);
            sl_stage_error(st, err, SL_ERR_CONFIG, "nan",
                           "'nan' asks '%s' for array '%s'; the actions are drop_row, impute_mean, impute_median, "
                           "impute_constant, fail and keep",
                           act, name);
            if (hint)
                sl__error_append(err, "; did you mean '%s'?", hint);
            return SL_ERR_CONFIG;
        }
        s->a[i].action = (int)a;
    }
    return SL_OK;
}

static sl_status plan_clip(sl_stage *st, const sl_frame *in, clean_state *s, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    int has_clip = sl_params_has(p, "clip"), has_sigma = sl_params_has(p, "clip_sigma");
    if (has_clip && has_sigma)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "clip_sigma",
                              "give either 'clip' (fixed bounds) or 'clip_sigma' (bounds from each column's mean "
                              "and std), not both");
    if (!has_clip && !has_sigma) {
        if (sl_params_has(p, "clip_arrays"))
            return sl_stage_error(st, err, SL_ERR_CONFIG, "clip_arrays",
                                  "'clip_arrays' is given but neither 'clip' nor 'clip_sigma' says how to clip");
        return SL_OK;
    }
    double lo = 0, hi = 0;
    if (has_clip) {
        if (sl_params_len(p, "clip") != 2)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "clip",
                                  "'clip' needs two numbers [lo, hi], found %zu", sl_params_len(p, "clip"));
        lo = sl_params_list_number(p, "clip", 0);
        hi = sl_params_list_number(p, "clip", 1);
        if (isnan(lo) || isnan(hi))
            return sl_stage_error(st, err, SL_ERR_CONFIG, "clip", "'clip' bounds must be numbers, not NaN");
        if (lo > hi)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "clip",
                                  "'clip' has lo %.17g greater than hi %.17g; write [lo, hi] with lo <= hi", lo, hi);
    } else {
        double k = sl_params_number(p, "clip_sigma");
        if (!(k > 0) || isinf(k))
            return sl_stage_error(st, err, SL_ERR_CONFIG, "clip_sigma",
                                  "'clip_sigma' must be a finite number greater than 0, found %g", k);
    }
    unsigned char *want = calloc(s->n + 1, 1);
    if (!want)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status rc = sl__select_features(st, "clip_arrays", in, want, "clean clips", "clip", err);
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        if (!want[i])
            continue;
        const sl_array_info *ai = sl_frame_array(in, i);
        if (has_clip && !s->a[i].is_float && ceil(lo) > floor(hi))
            rc = sl_stage_error(st, err, SL_ERR_CONFIG, "clip",
                                "array '%s' holds integers (%s) and no integer lies in [%.17g, %.17g]", ai->name,
                                sl_dtype_name(ai->dtype), lo, hi);
        s->a[i].clip = 1;
        s->any_clip = 1;
        if (has_sigma)
            s->a[i].stats = 1;
    }
    free(want);
    return rc;
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_frame *in = sl_stage_input(st, "input");
    sl_frame *out = sl_stage_output(st);
    const sl_params *p = sl_stage_params(st);
    clean_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    s->n = sl_frame_count(in);
    s->a = calloc(s->n + 1, sizeof *s->a);
    s->stats_names = calloc(s->n + 1, sizeof *s->stats_names);
    if (!s->a || !s->stats_names)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    s->skip_inf = strcmp(sl_params_string(p, "inf"), "nan") == 0;
    for (size_t i = 0; i < s->n; i++)
        s->a[i].is_float = sl_dtype_is_float(sl_frame_array(in, i)->dtype);
    sl_status rc = plan_nan(st, in, s, err);
    if (rc == SL_OK)
        rc = plan_clip(st, in, s, err);
    if (rc)
        return rc;
    double fill = sl_params_number(p, "fill_value");
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        arr_plan *a = &s->a[i];
        if (!a->is_float) /* integers hold no NaN: the action is a no-op */
            a->action = a->action == ACT_KEEP ? ACT_KEEP : -a->action;
        int act = a->action;
        if (act == ACT_CONST && isnan(fill))
            return sl_stage_error(st, err, SL_ERR_CONFIG, "fill_value",
                                  "'fill_value' is NaN, which would leave the NaNs of array '%s' in place",
                                  sl_frame_array(in, i)->name);
        s->any_drop |= act == ACT_DROP;
        s->any_impute |= act == ACT_MEAN || act == ACT_MEDIAN || act == ACT_CONST;
        s->any_median |= act == ACT_MEDIAN;
        if (act == ACT_MEAN || act == ACT_MEDIAN || act == ACT_FAIL)
            a->stats = 1;
        if (a->stats) {
            a->stats_off = s->stats_cols;
            s->stats_cols += sl_frame_array(in, i)->cols;
        }
        if (a->stats || act == ACT_DROP)
            s->stats_names[k++] = sl_frame_array(in, i)->name;
    }
    for (size_t i = 0; i < s->n && rc == SL_OK; i++)
        rc = sl_frame_add_like(out, in, i, SL_DTYPE_NONE, err);
    sl_frame_set_rows(out, s->any_drop ? -1 : sl_frame_rows(in));
    return rc;
}

/* ---- shared chunk helpers ---------------------------------------------------------- */

/* Marks the rows of a chunk to drop; returns the mask, or NULL when no
 * array drops rows. */
static const unsigned char *drop_mask(const clean_state *s, const sl_chunk *in, unsigned char *mask)
{
    if (!s->any_drop)
        return NULL;
    memset(mask, 0, (size_t)in->rows);
    for (size_t i = 0; i < s->n; i++)
        if (s->a[i].action == ACT_DROP)
            sl__rows_missing(in->arrays[i].data, in->arrays[i].info->dtype, in->rows, in->arrays[i].info->cols,
                             s->skip_inf, mask);
    return mask;
}

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* "column 3 ('bmi')" or "column 3" */
static void column_label(const sl_frame *f, size_t i, int64_t c, char *buf, size_t size)
{
    const char *name = sl_frame_column(f, i, c);
    if (name && name[0])
        snprintf(buf, size, "column %lld ('%s')", (long long)c, name);
    else
        snprintf(buf, size, "column %lld", (long long)c);
}

/* ---- pass 1: statistics -------------------------------------------------------------- */

/* mean_dtype: input. NumPy's nanmean(X, axis=0) of a float32 array sums each
 * column in float32, one row after the other, and divides in double. The
 * stats pass reproduces that in its merge, which sees the chunks in row order
 * on one thread: each chunk's partial points at the chunk, whose buffers stay
 * valid until the merge is done, and the float32 sums travel in the
 * accumulator (after the statistics), so a resumed pass has them too. */
typedef struct stats_ctx {
    const clean_state *s;
    size_t pm_off;     /* the partial's pairwise moments, 0: none */
    size_t acc_pm_off; /* the accumulator's */
    size_t mask_off;  /* the partial's drop mask */
    size_t chunk_off; /* the partial's pointer to its chunk (float32 sums only) */
    size_t f32_off;   /* the accumulator's float32 sums, 0: none */
    size_t *f32_col;  /* per array: its first column among the float32 sums, or SIZE_MAX */
    size_t kept_off;  /* the partial's chunk index and count of kept rows (drop_row only) */
    size_t counts_off; /* the accumulator's rows kept of each chunk */
} stats_ctx;

/* Rows of the blocks a chunk's statistics are gathered in: a block's rows,
 * as float64, and its centred copy stay in L2 between the column statistics,
 * the pairwise moments and their Gram product, where a whole chunk (65,536
 * rows) went out to memory between each of them. Each block's statistics are
 * merged into the chunk's in row order, as chunks merge into the pass. */
#define STATS_BLOCK_ROWS 1024

typedef struct stats_scratch {
    double *X, *cast, *pm_scratch, *pm_part;
    sl__mstats *ms;
    sl__pm_pass pass;
} stats_scratch;

static void stats_scratch_free(stats_scratch *b)
{
    sl__pm_pass_free(&b->pass);
    free(b->X);
    free(b->cast);
    free(b->pm_scratch);
    free(b->pm_part);
    free(b->ms);
}

static sl_status stats_scratch_alloc(const clean_state *s, const sl_chunk *in, int64_t P, stats_scratch *b,
                                     sl_error *err)
{
    int64_t widest = 1;
    for (size_t i = 0; i < s->n; i++)
        if (in->arrays[i].info->dtype != SL_FLOAT32 && in->arrays[i].info->dtype != SL_FLOAT64)
            widest = in->arrays[i].info->cols > widest ? in->arrays[i].info->cols : widest;
    *b = (stats_scratch){0};
    b->ms = malloc((size_t)(s->stats_cols ? s->stats_cols : 1) * sizeof *b->ms);
    if (P > 0)
        b->cast = malloc((size_t)(STATS_BLOCK_ROWS * widest) * sizeof *b->cast);
    if (b->ms && (P == 0 || (b->cast && sl__pm_pass_init(&b->pass, P, STATS_BLOCK_ROWS, err) == SL_OK)))
        return SL_OK;
    stats_scratch_free(b);
    return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
}

/* The buffers of the block by block moments, for a chunk the one pass
 * refused (rare: allocated then only). */
static sl_status block_scratch_alloc(int64_t P, stats_scratch *b, sl_error *err)
{
    b->X = malloc((size_t)(STATS_BLOCK_ROWS * P) * sizeof *b->X);
    b->pm_scratch = malloc(sl__pm_scratch_size(STATS_BLOCK_ROWS, P) * sizeof *b->pm_scratch);
    b->pm_part = malloc(sl__pm_size(P) * sizeof *b->pm_part);
    return b->X && b->pm_scratch && b->pm_part ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
}

/* A block's rows of every array (the frame's order: its columns of the
 * moments) as float64 when they are neither float32 nor float64. */
static const char *block_rows(const sl_chunk *in, size_t i, int64_t r0, int64_t nb, stats_scratch *b)
{
    const sl_array_info *a = in->arrays[i].info;
    const char *rows = sl__chunk_array_row(&in->arrays[i], r0);
    if (a->dtype == SL_FLOAT32 || a->dtype == SL_FLOAT64)
        return rows;
    sl__cast(b->cast, SL_FLOAT64, rows, a->dtype, (size_t)(nb * a->cols));
    return (const char *)b->cast;
}

/* Rows [r0, r0 + nb) of every array into the chunk's one-pass moments. */
static sl_status pass_block(const clean_state *s, const sl_chunk *in, int64_t r0, int64_t nb,
                            const unsigned char *drop, stats_scratch *b, sl_error *err)
{
    const unsigned char *d = drop ? drop + r0 : NULL;
    for (size_t i = 0, off = 0; i < s->n; off += (size_t)in->arrays[i++].info->cols) {
        const sl_array_info *a = in->arrays[i].info;
        const char *rows = block_rows(in, i, r0, nb, b);
        if (a->dtype == SL_FLOAT32)
            sl__pm_pass_gather_f32(&b->pass, (const float *)rows, nb, a->cols, s->skip_inf, d, (int64_t)off);
        else
            sl__pm_pass_gather(&b->pass, (const double *)rows, nb, a->cols, s->skip_inf, d, (int64_t)off);
    }
    return sl__pm_pass_block(&b->pass, d, err);
}

/* Rows [r0, r0 + nb) of the chunk's columns, every array's in frame order,
 * as doubles (a missing value, ±Inf included under inf: nan, as NaN), into
 * the block's pairwise moments, folded into pm. */
static sl_status pair_moments_block(const clean_state *s, const sl_chunk *in, int64_t r0, int64_t nb,
                                    const unsigned char *drop, stats_scratch *b, double *pm, sl_error *err)
{
    int64_t P = s->pm_cols, off = 0;
    for (size_t i = 0; i < s->n; off += in->arrays[i++].info->cols) {
        const char *rows = block_rows(in, i, r0, nb, b);
        if (in->arrays[i].info->dtype == SL_FLOAT32)
            sl__pm_gather_f32((const float *)rows, nb, in->arrays[i].info->cols, s->skip_inf, b->X, P, off);
        else
            sl__pm_gather((const double *)rows, nb, in->arrays[i].info->cols, s->skip_inf, b->X, P, off);
    }
    sl_status rc = sl__pm_chunk(b->X, nb, P, drop ? drop + r0 : NULL, b->pm_part, b->pm_scratch, err);
    if (rc == SL_OK)
        sl__pm_merge(pm, b->pm_part, P);
    return rc;
}

/* Whether array i's column statistics follow from the chunk's pairwise
 * moments, which hold the same count, mean and squared deviations of its
 * observed values: then its cells are not read a second time. Medians need
 * the extremes, and inf: keep ordinary infinite values, which the moments
 * take as missing. */
static int stats_from_moments(const stats_ctx *c, size_t i)
{
    const clean_state *s = c->s;
    return c->pm_off && s->skip_inf && s->a[i].action != ACT_MEDIAN;
}

/* Whether cell (r, k) of a float array is NaN or ±Inf (integers are never missing). */
static int cell_missing(const sl_chunk_array *a, int64_t r, int64_t k)
{
    size_t at = (size_t)(r * a->info->cols + k);
    double v = a->info->dtype == SL_FLOAT32 ? ((const float *)a->data)[at]
               : a->info->dtype == SL_FLOAT64 ? ((const double *)a->data)[at]
                                              : 0.0;
    return !isfinite(v);
}

/* Array i's statistics from the chunk's pairwise moments (its columns start
 * at column p of them): the first missing value is looked for only in the
 * columns that have one, from the top. */
static void stats_of_moments(const clean_state *s, const sl_chunk *in, size_t i, int64_t p, const double *pm,
                             const unsigned char *drop, sl__mstats *out)
{
    int64_t P = s->pm_cols, w = in->arrays[i].info->cols;
    const double *m = pm + 1, *N = m + P, *Q = N + 2 * P * P;
    for (int64_t k = 0; k < w; k++, p++) {
        double n = N[p * P + p];
        out[k] = (sl__mstats){n, n > 0 ? m[p] : NAN, Q[p * P + p], NAN, NAN, pm[0] - n, -1, 0};
        for (int64_t r = 0; out[k].missing > 0 && r < in->rows; r++)
            if (!(drop && drop[r]) && cell_missing(&in->arrays[i], r, k)) {
                out[k].first_missing = in->row0 + r;
                break;
            }
    }
}

static sl_status stats_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)out;
    const stats_ctx *c = ctx;
    const clean_state *s = c->s;
    sl__mstats *ms = partial;
    const unsigned char *drop = drop_mask(s, in, (unsigned char *)partial + c->mask_off);
    stats_scratch b;
    sl_status rc = stats_scratch_alloc(s, in, c->pm_off ? s->pm_cols : 0, &b, err);
    if (rc != SL_OK)
        return rc;
    sl__mstats_init(ms, s->stats_cols);
    double *pm = c->pm_off ? (double *)((char *)partial + c->pm_off) : NULL;
    for (int64_t r0 = 0; r0 < in->rows && rc == SL_OK; r0 += STATS_BLOCK_ROWS) {
        int64_t nb = in->rows - r0 < STATS_BLOCK_ROWS ? in->rows - r0 : STATS_BLOCK_ROWS;
        for (size_t i = 0; i < s->n; i++) {
            const sl_array_info *a = in->arrays[i].info;
            if (!s->a[i].stats || stats_from_moments(c, i))
                continue;
            const char *rows = sl__chunk_array_row(&in->arrays[i], r0);
            sl__mstats_chunk(rows, a->dtype, nb, a->cols, in->row0 + r0, drop ? drop + r0 : NULL, s->skip_inf, b.ms);
            sl__mstats_merge(ms + s->a[i].stats_off, b.ms, a->cols);
        }
        if (pm)
            rc = pass_block(s, in, r0, nb, drop, &b, err);
    }
    /* a chunk whose first rows sat far from the rest (in a column seen
     * rarely there) is taken again, each block centred on its own means */
    if (rc == SL_OK && pm && !sl__pm_pass_state(&b.pass, pm)) {
        rc = block_scratch_alloc(s->pm_cols, &b, err);
        memset(pm, 0, sl__pm_size(s->pm_cols) * sizeof *pm);
        for (int64_t r0 = 0; r0 < in->rows && rc == SL_OK; r0 += STATS_BLOCK_ROWS)
            rc = pair_moments_block(s, in, r0, in->rows - r0 < STATS_BLOCK_ROWS ? in->rows - r0 : STATS_BLOCK_ROWS,
                                    drop, &b, pm, err);
    }
    stats_scratch_free(&b);
    for (size_t i = 0, p = 0; rc == SL_OK && pm && i < s->n; p += (size_t)in->arrays[i++].info->cols)
        if (s->a[i].stats && stats_from_moments(c, i))
            stats_of_moments(s, in, i, (int64_t)p, pm, drop, ms + s->a[i].stats_off);
    if (c->f32_off)
        memcpy((char *)partial + c->chunk_off, &in, sizeof in);
    if (drop) {
        int64_t kept[2] = {in->index, in->rows};
        for (int64_t r = 0; r < in->rows; r++)
            kept[1] -= drop[r] != 0;
        memcpy((char *)partial + c->kept_off, kept, sizeof kept);
    }
    return rc;
}

static sl_status stats_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)err;
    const stats_ctx *c = ctx;
    sl__mstats_merge(acc, partial, c->s->stats_cols);
    if (c->pm_off)
        sl__pm_merge((double *)((char *)acc + c->acc_pm_off), (const double *)((const char *)partial + c->pm_off),
                     c->s->pm_cols);
    if (c->s->any_drop) {
        /* the output pass declares these (out_rows); an empty input chunk
         * is not merged and keeps its 0 */
        int64_t kept[2];
        memcpy(kept, (const char *)partial + c->kept_off, sizeof kept);
        ((int64_t *)((char *)acc + c->counts_off))[kept[0]] = kept[1];
    }
    if (!c->f32_off)
        return SL_OK;
    const sl_chunk *in;
    memcpy(&in, (const char *)partial + c->chunk_off, sizeof in);
    const unsigned char *drop = c->s->any_drop ? (const unsigned char *)partial + c->mask_off : NULL;
    float *sums = (float *)((char *)acc + c->f32_off);
    for (size_t i = 0; i < c->s->n; i++)
        if (c->f32_col[i] != SIZE_MAX)
            sl__nansum_f32(in->arrays[i].data, in->rows, in->arrays[i].info->cols, drop, c->s->skip_inf,
                           sums + c->f32_col[i]);
    return SL_OK;
}

/* ---- pass 2: medians ----------------------------------------------------------------- */

typedef struct target {
    size_t array;
    int64_t col;
    sl__qsel q;
    size_t off; /* in 8-byte words, in the partial and the accumulator */
    int step;   /* this pass: SL_QSEL_STEP_HIST or _COLLECT */
} target;

typedef struct median_ctx {
    const clean_state *s;
    target *t;
    size_t nt;
    size_t mask_off; /* bytes */
} median_ctx;

static sl_status median_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)out;
    (void)err;
    const median_ctx *c = ctx;
    const unsigned char *drop = drop_mask(c->s, in, (unsigned char *)partial + c->mask_off);
    int64_t *words = partial;
    for (size_t k = 0; k < c->nt; k++) {
        const target *t = &c->t[k];
        if (t->step == SL_QSEL_STEP_DONE)
            continue;
        const sl_chunk_array *a = &in->arrays[t->array];
        const char *base = (const char *)a->data + (size_t)t->col * sl_dtype_size(a->info->dtype);
        if (t->step == SL_QSEL_STEP_HIST) {
            sl__qsel_hist(&t->q, base, a->info->dtype, in->rows, a->info->cols, drop, c->s->skip_inf,
                          words + t->off);
        } else {
            words[t->off] = sl__qsel_collect(&t->q, base, a->info->dtype, in->rows, a->info->cols, drop,
                                             c->s->skip_inf, (double *)(words + t->off + 1), t->q.count);
        }
    }
    return SL_OK;
}

static sl_status median_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)err;
    const median_ctx *c = ctx;
    int64_t *a = acc;
    const int64_t *p = partial;
    for (size_t k = 0; k < c->nt; k++) {
        const target *t = &c->t[k];
        if (t->step == SL_QSEL_STEP_HIST) {
            for (size_t b = 0; b < SL_QSEL_BINS; b++)
                a[t->off + b] += p[t->off + b];
        } else if (t->step == SL_QSEL_STEP_COLLECT) {
            int64_t have = a[t->off], add = p[t->off], cap = t->q.count;
            double *dst = (double *)(a + t->off + 1);
            const double *src = (const double *)(p + t->off + 1);
            for (int64_t j = 0; j < add && have + j < cap && j < cap; j++)
                dst[have + j] = src[j];
            a[t->off] = have + add;
        }
    }
    return SL_OK;
}

/* Runs median passes until every target's value is known. */
static sl_status find_medians(sl_stage *st, sl_exec *ex, const clean_state *s, target *t, size_t nt,
                              sl_error *err)
{
    size_t chunk_rows = (size_t)sl_stage_chunk_rows(st);
    sl_status rc = SL_OK;
    int64_t *acc = NULL;
    for (int round = 0; rc == SL_OK; round++) {
        size_t words = 0;
        int active = 0;
        for (size_t k = 0; k < nt; k++) {
            t[k].step = (int)sl__qsel_next(&t[k].q);
            t[k].off = words;
            if (t[k].step == SL_QSEL_STEP_HIST)
                words += SL_QSEL_BINS;
            else if (t[k].step == SL_QSEL_STEP_COLLECT)
                words += 1 + (size_t)t[k].q.count;
            active |= t[k].step != SL_QSEL_STEP_DONE;
        }
        if (!active)
            break;
        if (round > 16) {
            rc = sl__error_set(err, SL_ERR_INTERNAL, "the median selection did not converge");
            break;
        }
        free(acc);
        acc = calloc(words ? words : 1, sizeof *acc);
        if (!acc) {
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory for the median selection (%zu bytes)",
                               words * sizeof *acc);
            break;
        }
        median_ctx mc = {s, t, nt, words * sizeof *acc};
        sl_pass pass = {.name = "median",
                        .input = sl_stage_input(st, "input"),
                        .input_arrays = s->stats_names,
                        .partial_size = words * sizeof *acc + align8(chunk_rows),
                        .acc_size = words * sizeof *acc,
                        .ctx = &mc,
                        .chunk = median_chunk,
                        .merge = median_merge};
        rc = sl_exec_pass(ex, st, &pass, acc, err);
        for (size_t k = 0; k < nt && rc == SL_OK; k++) {
            int bad = 0;
            if (t[k].step == SL_QSEL_STEP_HIST)
                bad = sl__qsel_narrow(&t[k].q, acc + t[k].off);
            else if (t[k].step == SL_QSEL_STEP_COLLECT)
                bad = sl__qsel_finish(&t[k].q, (double *)(acc + t[k].off + 1), acc[t[k].off]);
            if (bad)
                rc = sl__error_set(err, SL_ERR_DATA,
                                   "array '%s' column %lld: the input changed between two passes over it (value "
                                   "counts differ)",
                                   sl_frame_array(sl_stage_input(st, "input"), t[k].array)->name,
                                   (long long)t[k].col);
        }
    }
    free(acc);
    return rc;
}

/* ---- pass 3: the output ------------------------------------------------------------- */

typedef struct apply_ctx {
    const clean_state *s;
    double **fill; /* per array: per column, or NULL */
    double **lo, **hi;
    size_t mask_off;
} apply_ctx;

typedef struct apply_counts {
    int64_t dropped, imputed, clipped;
} apply_counts;

static sl_status apply_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)err;
    const apply_ctx *c = ctx;
    const clean_state *s = c->s;
    apply_counts *n = partial;
    const unsigned char *drop = drop_mask(s, in, (unsigned char *)partial + c->mask_off);
    int64_t kept = in->rows;
    for (size_t i = 0; i < s->n; i++) {
        const sl_array_info *a = in->arrays[i].info;
        size_t rb = (size_t)a->cols * sl_dtype_size(a->dtype);
        if (c->fill[i]) {
            int64_t imputed = 0;
            kept = sl__compact_impute(out->arrays[i].data, in->arrays[i].data, a->dtype, in->rows, a->cols, drop,
                                      c->fill[i], s->skip_inf, &imputed);
            n->imputed += imputed;
        } else {
            kept = sl__compact_rows(out->arrays[i].data, in->arrays[i].data, rb, in->rows, drop);
        }
        if (c->lo[i])
            n->clipped += sl__clip(out->arrays[i].data, a->dtype, kept, a->cols, c->lo[i], c->hi[i], s->skip_inf);
    }
    n->dropped = in->rows - kept;
    out->rows = kept;
    return SL_OK;
}

static sl_status apply_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)ctx;
    (void)err;
    apply_counts *a = acc;
    const apply_counts *p = partial;
    a->dropped += p->dropped;
    a->imputed += p->imputed;
    a->clipped += p->clipped;
    return SL_OK;
}

/* ---- run ------------------------------------------------------------------------------- */

typedef struct run_data {
    sl__mstats *stats; /* the stats pass's accumulator: statistics, float32 sums, kept rows per chunk */
    double **fill, **lo, **hi;
    target *t;
    size_t nt;
} run_data;

struct clean_run {
    run_data r;
    apply_ctx ac;
};

static void free_run(run_data *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (r->fill)
            free(r->fill[i]);
        if (r->lo)
            free(r->lo[i]);
        if (r->hi)
            free(r->hi[i]);
    }
    free(r->fill);
    free(r->lo);
    free(r->hi);
    free(r->stats);
    free(r->t);
}

static void free_clean_run(struct clean_run *r, size_t n)
{
    if (r) {
        free_run(&r->r, n);
        free(r);
    }
}

/* nan: fail on an array that has missing values in kept rows. */
static sl_status check_fail(sl_stage *st, const clean_state *s, const sl__mstats *ms, sl_error *err)
{
    const sl_frame *in = sl_stage_input(st, "input");
    for (size_t i = 0; i < s->n; i++) {
        if (s->a[i].action != ACT_FAIL)
            continue;
        const sl_array_info *a = sl_frame_array(in, i);
        const sl__mstats *c = ms + s->a[i].stats_off;
        double total = 0;
        int64_t first_row = -1, first_col = -1;
        for (int64_t k = 0; k < a->cols; k++) {
            total += c[k].missing;
            if (c[k].first_missing >= 0 && (first_row < 0 || c[k].first_missing < first_row)) {
                first_row = c[k].first_missing;
                first_col = k;
            }
        }
        if (total == 0)
            continue;
        char col[SL_NAME_MAX + 48];
        column_label(in, i, first_col, col, sizeof col);
        return sl_stage_error(st, err, SL_ERR_DATA, "nan",
                              "array '%s' has %.0f %s value%s%s (nan: fail); the first is at row %lld, %s; drop "
                              "those rows (drop_row) or impute them (impute_mean, impute_median, impute_constant)",
                              a->name, total, s->skip_inf ? "NaN or +-Inf" : "NaN", total == 1 ? "" : "s",
                              s->any_drop ? " in the rows that drop_row keeps" : "", (long long)first_row, col);
    }
    return SL_OK;
}

static sl_status no_values(sl_stage *st, size_t i, int64_t k, const char *what, sl_error *err)
{
    const sl_frame *in = sl_stage_input(st, "input");
    char col[SL_NAME_MAX + 48];
    column_label(in, i, k, col, sizeof col);
    const clean_state *s = sl_stage_state(st);
    return sl_stage_error(st, err, SL_ERR_DATA, "nan",
                          "array '%s' %s has no value that is not %s%s, so it has no %s to impute; use "
                          "impute_constant (with fill_value) or drop the column first (convert's drop_columns)",
                          sl_frame_array(in, i)->name, col, s->skip_inf ? "NaN or +-Inf" : "NaN",
                          s->any_drop ? " in the rows that drop_row keeps" : "", what);
}

/* Fill values and clip bounds of every array from the statistics. */
static sl_status prepare(sl_stage *st, sl_exec *ex, const clean_state *s, run_data *r, sl_error *err)
{
    const sl_frame *in = sl_stage_input(st, "input");
    const sl_params *p = sl_stage_params(st);
    size_t nt = 0;
    for (size_t i = 0; i < s->n; i++) {
        const sl_array_info *a = sl_frame_array(in, i);
        int act = s->a[i].action;
        const sl__mstats *c = r->stats ? r->stats + s->a[i].stats_off : NULL;
        if (act == ACT_MEAN || act == ACT_MEDIAN || act == ACT_CONST) {
            r->fill[i] = malloc((size_t)a->cols * sizeof(double));
            if (!r->fill[i])
                return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            for (int64_t k = 0; k < a->cols; k++) {
                if (act != ACT_CONST && c[k].n == 0)
                    return no_values(st, i, k, act == ACT_MEAN ? "mean" : "median", err);
                r->fill[i][k] = act == ACT_CONST ? sl_params_number(p, "fill_value") : c[k].mean;
            }
            if (act == ACT_MEDIAN)
                nt += (size_t)a->cols * 2;
        }
        if (s->a[i].clip) {
            r->lo[i] = malloc((size_t)a->cols * sizeof(double));
            r->hi[i] = malloc((size_t)a->cols * sizeof(double));
            if (!r->lo[i] || !r->hi[i])
                return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            for (int64_t k = 0; k < a->cols; k++) {
                if (sl_params_has(p, "clip")) {
                    r->lo[i][k] = sl_params_list_number(p, "clip", 0);
                    r->hi[i][k] = sl_params_list_number(p, "clip", 1);
                } else {
                    double kk = sl_params_number(p, "clip_sigma"), sd = sl__mstats_std(&c[k]);
                    r->lo[i][k] = c[k].mean - kk * sd;
                    r->hi[i][k] = c[k].mean + kk * sd;
                }
            }
        }
    }
    if (!nt)
        return SL_OK;
    /* medians: one target (odd count) or two (even: the mean of the middle two) */
    r->t = calloc(nt, sizeof *r->t);
    if (!r->t)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n; i++) {
        if (s->a[i].action != ACT_MEDIAN)
            continue;
        const sl__mstats *c = r->stats + s->a[i].stats_off;
        for (int64_t k = 0; k < sl_frame_array(in, i)->cols; k++) {
            int64_t n = (int64_t)c[k].n;
            target *t = &r->t[r->nt++];
            t->array = i;
            t->col = k;
            sl__qsel_init(&t->q, n, (n - 1) / 2, c[k].min, c[k].max);
            if (n % 2 == 0) {
                t = &r->t[r->nt++];
                t->array = i;
                t->col = k;
                sl__qsel_init(&t->q, n, n / 2, c[k].min, c[k].max);
            }
        }
    }
    sl_status rc = find_medians(st, ex, s, r->t, r->nt, err);
    for (size_t j = 0; j < r->nt && rc == SL_OK;) {
        target *t = &r->t[j];
        int64_t n = (int64_t)r->stats[s->a[t->array].stats_off + t->col].n;
        double v = t->q.value;
        if (n % 2 == 0) {
            v = (v + r->t[j + 1].q.value) / 2;
            j += 2;
        } else {
            j += 1;
        }
        r->fill[t->array][t->col] = v;
    }
    return rc;
}

/* Values as the output array holds them (float32 rounds), for attributes. */
static void as_stored(double *v, int64_t n, sl_dtype t)
{
    for (int64_t k = 0; t == SL_FLOAT32 && k < n; k++)
        v[k] = (double)(float)v[k];
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    clean_state *s = sl_stage_state(st);
    const sl_frame *in = sl_stage_input(st, "input");
    sl_frame *out = sl_stage_output(st);
    size_t chunk_rows = (size_t)sl_stage_chunk_rows(st);
    free_clean_run(s->run, s->n);
    s->run = calloc(1, sizeof *s->run);
    if (!s->run)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    run_data *r = &s->run->r;
    r->fill = calloc(s->n + 1, sizeof *r->fill);
    r->lo = calloc(s->n + 1, sizeof *r->lo);
    r->hi = calloc(s->n + 1, sizeof *r->hi);
    sl_status rc = r->fill && r->lo && r->hi ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    /* mean_dtype: input: float32 sums of the float32 impute_mean arrays */
    int f32_means = strcmp(sl_params_string(sl_stage_params(st), "mean_dtype"), "input") == 0;
    size_t *f32_col = calloc(s->n + 1, sizeof *f32_col);
    size_t n_f32 = 0;
    if (!f32_col && rc == SL_OK)
        rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t i = 0; f32_col && i < s->n; i++) {
        const sl_array_info *a = sl_frame_array(in, i);
        f32_col[i] = SIZE_MAX;
        if (f32_means && s->a[i].action == ACT_MEAN && a->dtype == SL_FLOAT32) {
            f32_col[i] = n_f32;
            n_f32 += (size_t)a->cols;
        }
    }
    /* the accumulator: statistics, float32 sums, then (drop_row) the rows
     * each chunk keeps, so that the output pass can declare them and be
     * streamed, and a resumed run has them too */
    size_t stats_bytes = (size_t)s->stats_cols * sizeof *r->stats;
    size_t f32_off = n_f32 ? align8(stats_bytes) : 0;
    size_t counts_off = align8(n_f32 ? f32_off + n_f32 * sizeof(float) : stats_bytes);
    int64_t nchunks = s->any_drop ? sl_stage_input_chunks(st, in) : 0;
    size_t acc_bytes = s->any_drop ? counts_off + (size_t)nchunks * sizeof(int64_t) : counts_off;
    size_t acc_pm_off = s->pair_moments ? align8(acc_bytes) : 0;
    if (s->pair_moments)
        acc_bytes = acc_pm_off + sl__pm_size(s->pm_cols) * sizeof(double);
    const int64_t *kept = NULL;
    if (rc == SL_OK && (s->stats_cols || s->any_drop || s->pair_moments)) {
        r->stats = calloc(1, acc_bytes ? acc_bytes : 1);
        if (!r->stats)
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        if (rc == SL_OK) {
            sl__mstats_init(r->stats, s->stats_cols);
            size_t mask_off = stats_bytes, chunk_off = align8(mask_off + chunk_rows);
            size_t kept_off = align8(chunk_off + (n_f32 ? sizeof(const sl_chunk *) : 0));
            size_t partial_size = kept_off + (s->any_drop ? 2 * sizeof(int64_t) : 0), pm_off = 0;
            if (s->pair_moments) {
                pm_off = align8(partial_size);
                partial_size = pm_off + sl__pm_size(s->pm_cols) * sizeof(double);
            }
            stats_ctx sc = {s, pm_off, acc_pm_off, mask_off, chunk_off, f32_off, f32_col, kept_off, counts_off};
            sl_pass pass = {.name = "stats",
                            .input = in,
                            .input_arrays = s->pair_moments ? NULL : s->stats_names,
                            .partial_size = partial_size,
                            .acc_size = acc_bytes,
                            .ctx = &sc,
                            .chunk = stats_chunk,
                            .merge = stats_merge,
                            .merge_reads_input = f32_off != 0};
            rc = sl_exec_pass(ex, st, &pass, r->stats, err);
        }
        if (rc == SL_OK && s->any_drop)
            kept = (const int64_t *)((const char *)r->stats + counts_off);
        if (rc == SL_OK)
            rc = check_fail(st, s, r->stats, err);
    }
    if (rc == SL_OK)
        rc = prepare(st, ex, s, r, err);
    if (rc == SL_OK && s->pair_moments && s->n > 0)
        rc = sl_frame_set_attr(out, sl_frame_array(in, 0)->name, SL__PAIR_MOMENTS,
                               (const double *)((const char *)r->stats + acc_pm_off), sl__pm_size(s->pm_cols), err);
    for (size_t i = 0; rc == SL_OK && n_f32 && i < s->n; i++) {
        if (f32_col[i] == SIZE_MAX)
            continue;
        const float *sums = (const float *)((const char *)r->stats + f32_off) + f32_col[i];
        const sl__mstats *m = r->stats + s->a[i].stats_off;
        for (int64_t k = 0; k < sl_frame_array(in, i)->cols; k++)
            r->fill[i][k] = (double)(float)((double)sums[k] / m[k].n);
    }
    free(f32_col);
    apply_counts counts = {0, 0, 0};
    if (rc == SL_OK) {
        s->run->ac = (apply_ctx){s, r->fill, r->lo, r->hi, align8(sizeof(apply_counts))};
        sl_pass pass = {.name = "clean",
                        .input = in,
                        .output = out,
                        .partial_size = s->run->ac.mask_off + align8(chunk_rows),
                        .acc_size = sizeof counts,
                        .ctx = &s->run->ac,
                        .chunk = apply_chunk,
                        .merge = apply_merge,
                        .out_rows = kept};
        /* each row kept or dropped, imputed and clipped on its own; the
         * partial's mask is written before it is read */
        sl__exec_row_local_next(ex);
        rc = sl_exec_pass(ex, st, &pass, &counts, err);
    }
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        const sl_array_info *a = sl_frame_array(in, i);
        double *v = malloc((size_t)a->cols * 3 * sizeof *v);
        if (!v) {
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            break;
        }
        /* the attributes hold the values as stored; the pass keeps its own */
        if (r->fill[i]) {
            memcpy(v, r->fill[i], (size_t)a->cols * sizeof *v);
            as_stored(v, a->cols, a->dtype);
            rc = sl_frame_set_attr(out, a->name, "impute_value", v, (size_t)a->cols, err);
        }
        if (rc == SL_OK && r->lo[i]) {
            memcpy(v, r->lo[i], (size_t)a->cols * sizeof *v);
            memcpy(v + a->cols, r->hi[i], (size_t)a->cols * sizeof *v);
            as_stored(v, 2 * a->cols, a->dtype);
            rc = sl_frame_set_attr(out, a->name, "clip_lo", v, (size_t)a->cols, err);
            if (rc == SL_OK)
                rc = sl_frame_set_attr(out, a->name, "clip_hi", v + a->cols, (size_t)a->cols, err);
        }
        free(v);
    }
    /* streamed, the output pass runs in the readers: no counts here */
    if (rc == SL_OK && !sl_exec_streaming(ex)) {
        rc = sl_stage_set_result(st, "rows_dropped", (double)counts.dropped, err);
        if (rc == SL_OK)
            rc = sl_stage_set_result(st, "values_imputed", (double)counts.imputed, err);
        if (rc == SL_OK)
            rc = sl_stage_set_result(st, "values_clipped", (double)counts.clipped, err);
    }
    return rc;
}

static const char doc[] =
    "Handles NaN (and, by default, +-Inf) values array by array, then optionally clips\n"
    "values, in the order a NumPy script does it:\n"
    "\n"
    "```python\n"
    "keep = ~np.isnan(y); X = X[keep]; y = y[keep]          # nan: { y: drop_row }\n"
    "mu = np.nanmean(X, axis=0); r, c = np.where(np.isnan(X)); X[r, c] = mu[c]   # { X: impute_mean }\n"
    "X = np.clip(X, lo, hi)                                 # clip: [lo, hi]\n"
    "```\n"
    "\n"
    "1. Rows with a missing value in any `drop_row` array are dropped from **every**\n"
    "   array of the frame; row order is kept.\n"
    "2. Statistics (mean, median, and the mean and std for `clip_sigma`) are computed\n"
    "   over the kept rows' non-missing values.\n"
    "3. Missing values of `impute_*` arrays are replaced, column by column.\n"
    "4. Values of `clip_arrays` are clipped (imputed values too).\n"
    "\n"
    "**Actions** (`nan: { array: action }`; arrays not named are kept as they are):\n"
    "\n"
    "| action | effect |\n"
    "|---|---|\n"
    "| `drop_row` | drop every row with a missing value in this array |\n"
    "| `impute_mean` | replace missing values by the column mean (`np.nanmean`) |\n"
    "| `impute_median` | by the column median (`np.nanmedian`: the mean of the two middle values for an even count) |\n"
    "| `impute_constant` | by `fill_value` |\n"
    "| `fail` | stop with the number of missing values and the (row, column) of the first |\n"
    "| `keep` | leave them |\n"
    "\n"
    "With `inf: nan` (the default) +-Inf counts as missing everywhere: it drops rows, is\n"
    "imputed, fails, is skipped by the statistics and is never clipped. With `inf: keep`\n"
    "+-Inf is an ordinary value: it enters the statistics (a mean of +-Inf, a std of NaN,\n"
    "so no `clip_sigma` bounds for that column) and is clipped. NaN is never clipped (as\n"
    "in `np.clip`). Integer arrays hold no NaN, so actions on them do nothing; clipping\n"
    "applies to them with the bounds [ceil(lo), floor(hi)].\n"
    "\n"
    "**Clipping**: `clip: [lo, hi]` clips every column of `clip_arrays` to fixed bounds;\n"
    "`clip_sigma: k` clips column j to `mean_j - k*std_j`, `mean_j + k*std_j` with the\n"
    "population std (ddof 0) of the kept rows' non-missing values before imputation\n"
    "(`np.nanmean`, `np.nanstd`). For float32 arrays the bounds are rounded to float32\n"
    "before comparing, as `np.clip` does. A column with no values has no sigma bounds and\n"
    "is not clipped.\n"
    "\n"
    "**Which arrays are clipped**: those `clip_arrays` names or, without it, only the\n"
    "features array (`features`, default `X`), so that a target such as y keeps its values\n"
    "and the metrics compare predictions with the real truth; name y in `clip_arrays` to clip\n"
    "it too. Clipping without `clip_arrays` on an input that has no `features` array is an\n"
    "error at plan time that lists the input's arrays. The NaN actions name their arrays in\n"
    "`nan`, so no default applies to them.\n"
    "\n"
    "**How**: a reduce pass computes the statistics (per chunk: a corrected two-pass mean and\n"
    "M2; chunks merged in order with Chan's formula), only when an action or `clip_sigma`\n"
    "needs them. Medians are exact and out of core: a few reduce passes histogram each\n"
    "column's values by order-preserving 64-bit keys into 2048 bins, narrow to the bin\n"
    "holding the middle rank until at most 4096 candidates remain, then collect and select\n"
    "them (typically 2 to 4 passes; never more than 7). With `drop_row`, the statistics pass\n"
    "also counts the rows each chunk keeps (it runs for that alone when no statistics are\n"
    "needed). A last pass drops, imputes and clips and writes the output; its chunks are the\n"
    "input's chunks less the dropped rows. That pass can be streamed (`checkpoint: false` or\n"
    "`final`): then the stages that read `clean` apply it to each chunk they read, and the\n"
    "counts below are not reported. Statistics are computed in double precision; imputed values\n"
    "are rounded once to the array's type. Results are the same bytes for any thread count;\n"
    "means and stds may differ in the last bits with the chunk size, medians never.\n"
    "\n"
    "**Output**: the input's arrays, same names, types and column names; fewer rows when\n"
    "rows are dropped. Arrays that were imputed carry the attribute `impute_value` (one per\n"
    "column, as stored in the array's type); clipped arrays carry `clip_lo` and `clip_hi`.\n"
    "Results: `rows_dropped`, `values_imputed`, `values_clipped` (values that changed).\n"
    "\n"
    "**Errors**: an unknown array in `nan` (with the arrays there are) or action (with a\n"
    "did-you-mean); an unknown array in `clip_arrays`, or clipping without `clip_arrays`\n"
    "and no `features` array; `clip` without two numbers or with lo > hi; `clip` together with\n"
    "`clip_sigma`; `clip_sigma` <= 0; `clip_arrays` without `clip` or `clip_sigma`; integer\n"
    "bounds that hold no integer; a NaN `fill_value`. At run time: `fail` with the count of\n"
    "missing values and the first (row, column), rows numbered as in the input;\n"
    "`impute_mean` or `impute_median` on a column whose kept values are all missing.\n";

const sl_op sl__op_clean = {
    .abi = SL_ABI_VERSION,
    .name = "clean",
    .summary = "drop, impute or reject NaN/Inf per array (mean, median, constant) and clip values",
    .doc = doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .run = run,
    .free_state = free_state,
    .flags = SL_OP_STREAMABLE,
};

int sl__clean_offer_moments(sl_stage *st)
{
    clean_state *s = sl_stage_state(st);
    if (!s || strcmp(sl_stage_op_name(st), "clean") != 0 || s->any_clip || s->n == 0)
        return 0;
    int64_t P = 0;
    for (size_t i = 0; i < s->n; i++)
        P += sl_frame_array(sl_stage_input(st, "input"), i)->cols;
    if (P > SL__PAIR_MOMENTS_MAX_COLS)
        return 0;
    s->pair_moments = 1;
    s->pm_cols = P;
    return 1;
}
