/* normalize: z-score or min-max scaling of the columns of arrays, fitted in
 * one reduce pass (column statistics per chunk, merged in chunk order with
 * Chan's formula) and applied in one map pass. The fitted statistics go with
 * the output as attributes of each normalized array, and another normalize
 * stage can apply them instead of fitting its own (`stats:`): fit on the
 * training part, apply to the test part. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "kernels/cast.h"
#include "kernels/colstats.h"
#include "ops/moments_int.h"
#include "kernels/standardize.h"
#include "ops/ops_int.h"
#include "plan/exec_int.h"
#include "plan/pipeline_int.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose output frame is normalized"},
    {"arrays", SL_PARAM_STRING_LIST, 0, NULL, NULL, 0, 0,
     "arrays to normalize (default: with `stats`, the arrays that stage normalized; otherwise the `features` array "
     "only); the others pass through unchanged"},
    {"features", SL_PARAM_STRING, 0, "X", NULL, 0, 0,
     "the features array, the one normalized when neither `arrays` nor `stats` is given (a target such as y is "
     "left as it is)"},
    {"method", SL_PARAM_CHOICE, 0, "zscore", "zscore|minmax", 0, 0,
     "zscore: (x - mean) / std (population std, ddof 0); minmax: (x - min) / (max - min)"},
    {"stats", SL_PARAM_INPUT, 0, NULL, NULL, 0, 0,
     "a normalize stage whose fitted statistics are applied instead of fitting on this input (fit on train, apply "
     "to test)"},
    {"zero_variance", SL_PARAM_CHOICE, 0, "error", "error|unit", 0, 0,
     "a constant column is an error, or (unit) is centred and scaled by 1, as scikit-learn's scalers do"},
};

/* Per input array: NaN/infinity count and the first one, from the fit pass. */
typedef struct nonfinite {
    int64_t count;
    int64_t row, col;
    double value;
} nonfinite;

typedef struct nz_state {
    int minmax;            /* method: 0 zscore, 1 minmax */
    int unit;              /* zero_variance: unit */
    size_t n;              /* arrays of the input */
    unsigned char *want;   /* per input array: normalized */
    size_t *offset;        /* per input array: its first column in shift/scale */
    int64_t total_cols;
    const char **names;    /* NULL-terminated names of the normalized arrays */
    const sl_stage *stats; /* the stage whose statistics are applied, or NULL */
    sl__affine_chain chain; /* algebra: fit from the moments of a clean below (moments_int.h) */
    int algebra;
    /* run time */
    double *shift, *scale; /* per column: mean or min, std or range (1 for a unit column) */
    int check_finite;      /* apply pass checks for NaN (no fit pass did) */
} nz_state;

static void free_state(void *p)
{
    nz_state *s = p;
    if (s) {
        free(s->want);
        free(s->offset);
        free(s->names);
        free(s->shift);
        free(s->scale);
        free(s);
    }
}

static const char *shift_key(const nz_state *s)
{
    return s->minmax ? "min" : "mean";
}

/* The shortest of %.15g, %.16g, %.17g that reads back as v. */
static void format_value(double v, char *buf, size_t size)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

/* Checks the `stats` stage against this one and picks the default arrays. */
static sl_status plan_stats(sl_stage *st, nz_state *s, const sl_frame *in, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    const sl_stage *o = sl__input_stage(st, "stats");
    if (!o)
        return sl_stage_error(st, err, SL_ERR_INTERNAL, "stats", "the 'stats' stage was not resolved");
    if (o->op != &sl__op_normalize)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "stats",
                              "'stats' names stage '%s', a '%s' stage; it must name a normalize stage, whose fitted "
                              "statistics this stage applies (fit on the training part, apply to the test part)",
                              o->name, o->op->name);
    const nz_state *os = o->state;
    if (!os)
        return sl_stage_error(st, err, SL_ERR_INTERNAL, "stats", "stage '%s' has no plan", o->name);
    if (os->minmax != s->minmax)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "method",
                              "this stage's method is %s but stage '%s' (named by 'stats') fitted %s statistics; "
                              "use the same method in both stages",
                              s->minmax ? "minmax" : "zscore", o->name, os->minmax ? "minmax" : "zscore");
    const sl_frame *of = o->output;
    if (!sl_params_has(p, "arrays")) {
        /* default: the arrays the stats stage normalized */
        memset(s->want, 0, s->n);
        for (size_t k = 0; k < os->n; k++) {
            if (!os->want[k])
                continue;
            const char *name = sl_frame_array(of, k)->name;
            long i = sl_frame_find(in, name);
            if (i < 0) {
                char have[512];
                sl__describe_frame(in, have, sizeof have);
                return sl_stage_error(st, err, SL_ERR_CONFIG, "stats",
                                      "stage '%s' (named by 'stats') normalized array '%s', which this stage's input "
                                      "lacks; it has %s",
                                      o->name, name, have);
            }
            s->want[i] = 1;
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        if (!s->want[i])
            continue;
        const sl_array_info *a = sl_frame_array(in, i);
        long k = sl_frame_find(of, a->name);
        if (k < 0 || !os->want[k]) {
            char list[512] = "";
            size_t used = 0;
            for (size_t j = 0; j < os->n && used < sizeof list; j++)
                if (os->want[j]) {
                    int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
                                     sl_frame_array(of, j)->name);
                    if (w > 0)
                        used += (size_t)w;
                }
            return sl_stage_error(st, err, SL_ERR_CONFIG, sl_params_has(p, "arrays") ? "arrays" : "stats",
                                  "array '%s' has no statistics in stage '%s' (named by 'stats'), which normalized "
                                  "%s; normalize the same arrays in both stages",
                                  a->name, o->name, used ? list : "no arrays");
        }
        const sl_array_info *b = sl_frame_array(of, (size_t)k);
        if (a->cols != b->cols)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "stats",
                                  "array '%s' has %lld columns here but %lld in stage '%s' (named by 'stats'); the "
                                  "statistics of one cannot be applied to the other",
                                  a->name, (long long)a->cols, (long long)b->cols, o->name);
        for (int64_t c = 0; c < a->cols; c++) {
            const char *x = sl_frame_column(in, i, c), *y = sl_frame_column(of, (size_t)k, c);
            if (x && y && strcmp(x, y) != 0)
                return sl_stage_error(st, err, SL_ERR_CONFIG, "stats",
                                      "array '%s' column %lld is '%s' here but '%s' in stage '%s' (named by "
                                      "'stats'); the columns must be the same, in the same order",
                                      a->name, (long long)c, x, y, o->name);
        }
    }
    s->stats = o;
    return SL_OK;
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    const sl_frame *in = sl_stage_input(st, "input");
    sl_frame *out = sl_stage_output(st);
    nz_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    s->minmax = strcmp(sl_params_string(p, "method"), "minmax") == 0;
    s->unit = strcmp(sl_params_string(p, "zero_variance"), "unit") == 0;
    s->n = sl_frame_count(in);
    s->want = calloc(s->n + 1, 1);
    s->offset = calloc(s->n + 1, sizeof *s->offset);
    s->names = calloc(s->n + 1, sizeof *s->names);
    if (!s->want || !s->offset || !s->names)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status rc = SL_OK;
    if (sl_params_has(p, "arrays")) {
        rc = sl__select_arrays(st, "arrays", in, s->want, err);
    } else if (!sl_params_has(p, "stats")) {
        rc = sl__select_features(st, "arrays", in, s->want, "normalize changes", "normalize", err);
    }
    if (rc == SL_OK && sl_params_has(p, "stats"))
        rc = plan_stats(st, s, in, err);
    if (rc == SL_OK && !s->stats && !s->minmax)
        s->algebra = sl__affine_chain_find(sl__input_stage(st, "input"), 0, &s->chain);
    size_t k = 0;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        const sl_array_info *a = sl_frame_array(in, i);
        sl_dtype t = SL_DTYPE_NONE;
        if (s->want[i]) {
            s->names[k++] = a->name;
            s->offset[i] = (size_t)s->total_cols;
            s->total_cols += a->cols;
            t = a->dtype == SL_FLOAT32 ? SL_FLOAT32 : SL_FLOAT64;
        }
        rc = sl_frame_add_like(out, in, i, t, err);
    }
    if (rc == SL_OK && s->total_cols == 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "arrays", "'arrays' names no arrays; name at least one");
    sl_frame_set_rows(out, sl_frame_rows(in));
    return rc;
}

/* ---- fit: column statistics and NaN positions ---------------------------- */

static size_t fit_partial_size(const nz_state *s)
{
    return (size_t)s->total_cols * sizeof(sl__colstats) + s->n * sizeof(nonfinite);
}

static sl_status fit_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)out;
    (void)err;
    const nz_state *s = ctx;
    sl__colstats *cs = partial;
    nonfinite *nf = (nonfinite *)(cs + s->total_cols);
    for (size_t i = 0; i < s->n; i++) {
        if (!s->want[i])
            continue;
        const sl_array_info *a = in->arrays[i].info;
        const void *x = in->arrays[i].data;
        sl__colstats *c = cs + s->offset[i];
        sl__colstats_chunk(x, a->dtype, in->rows, a->cols, c);
        int bad = 0;
        for (int64_t j = 0; j < a->cols; j++)
            bad |= c[j].nan > 0 || isinf(c[j].min) || isinf(c[j].max);
        if (bad) {
            size_t first = 0;
            size_t count = sl__count_nonfinite(x, a->dtype, (size_t)(in->rows * a->cols), &first);
            nf[i].count = (int64_t)count;
            nf[i].row = in->row0 + (int64_t)(first / (size_t)a->cols);
            nf[i].col = (int64_t)(first % (size_t)a->cols);
            nf[i].value = a->dtype == SL_FLOAT32 ? (double)((const float *)x)[first] : ((const double *)x)[first];
        }
    }
    return SL_OK;
}

static sl_status fit_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)err;
    const nz_state *s = ctx;
    sl__colstats *a = acc;
    const sl__colstats *b = partial;
    sl__colstats_merge(a, b, s->total_cols);
    nonfinite *na = (nonfinite *)(a + s->total_cols);
    const nonfinite *nb = (const nonfinite *)(b + s->total_cols);
    for (size_t i = 0; i < s->n; i++) {
        if (nb[i].count == 0)
            continue;
        if (na[i].count == 0) {
            /* chunk order: the first chunk with one holds the first one */
            na[i].row = nb[i].row;
            na[i].col = nb[i].col;
            na[i].value = nb[i].value;
        }
        na[i].count += nb[i].count;
    }
    return SL_OK;
}

static sl_status nonfinite_error(sl_stage *st, const sl_frame *in, size_t i, int64_t count, int64_t row,
                                 int64_t col, double value, const char *scope, sl_error *err)
{
    char label[SL_NAME_MAX + 8];
    sl__column_name_label(in, i, col, label, sizeof label);
    return sl_stage_error(st, err, SL_ERR_DATA,
                          "input",
                          "array '%s' has %lld NaN or infinite value%s%s; the first is %g at row %lld, column "
                          "%lld%s. normalize needs finite values: put a clean stage before it to drop or impute "
                          "them",
                          sl_frame_array(in, i)->name, (long long)count, count == 1 ? "" : "s", scope, value,
                          (long long)row, (long long)col, label);
}

/* Turns the merged statistics into shift and scale per column. */
static sl_status fitted(sl_stage *st, nz_state *s, const sl__colstats *acc, const nonfinite *nf, int64_t *unit_cols,
                        sl_error *err)
{
    const sl_frame *in = sl_stage_input(st, "input");
    *unit_cols = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->want[i] && nf[i].count > 0)
            return nonfinite_error(st, in, i, nf[i].count, nf[i].row, nf[i].col, nf[i].value, "", err);
    }
    if (sl_frame_rows(in) == 0)
        return sl_stage_error(st, err, SL_ERR_DATA, "input",
                              "the input has no rows, so there is nothing to fit %s statistics on",
                              s->minmax ? "min-max" : "z-score");
    for (size_t i = 0; i < s->n; i++) {
        if (!s->want[i])
            continue;
        const sl_array_info *a = sl_frame_array(in, i);
        int64_t first = -1, constant = 0;
        for (int64_t c = 0; c < a->cols; c++) {
            const sl__colstats *x = &acc[s->offset[i] + (size_t)c];
            double *sh = &s->shift[s->offset[i] + (size_t)c], *sc = &s->scale[s->offset[i] + (size_t)c];
            if (s->minmax) {
                *sh = x->min;
                *sc = x->max - x->min;
            } else {
                *sh = x->mean;
                *sc = sl__colstats_std(x);
            }
            if (x->min == x->max || *sc == 0) {
                /* constant: centre exactly on the value, so the output is 0 */
                if (x->min == x->max)
                    *sh = x->min;
                *sc = 1;
                if (first < 0)
                    first = c;
                constant++;
            }
        }
        if (constant && !s->unit) {
            char label[SL_NAME_MAX + 8];
            sl__column_name_label(in, i, first, label, sizeof label);
            const sl__colstats *x = &acc[s->offset[i] + (size_t)first];
            const char *cname = sl_frame_column(in, i, first);
            char drop[SL_NAME_MAX + 24];
            if (cname)
                snprintf(drop, sizeof drop, "%s", cname);
            else
                snprintf(drop, sizeof drop, "%lld", (long long)first);
            char value[32];
            format_value(x->min, value, sizeof value);
            char more[64] = "";
            if (constant > 1)
                snprintf(more, sizeof more, " (and %lld more constant column%s)", (long long)(constant - 1),
                         constant > 2 ? "s" : "");
            return sl_stage_error(
                st, err, SL_ERR_DATA, "zero_variance",
                "array '%s' column %lld%s is constant (every value is %s), so its %s is 0 and it cannot be "
                "scaled%s; set 'zero_variance: unit' to centre such columns and scale them by 1 (as scikit-learn's "
                "StandardScaler does), or drop the column with a convert stage before this one "
                "(drop_columns: [%s], column_array: %s)",
                a->name, (long long)first, label, value, s->minmax ? "range (max - min)" : "standard deviation",
                more, drop, a->name);
        }
        *unit_cols += constant;
    }
    return SL_OK;
}

/* The z-score's mean and std from the moments the chain below gathered,
 * with no pass; 0 when they do not apply (the caller then fits by a pass). */
static int fit_by_algebra(sl_stage *st, nz_state *s, int64_t *unit_cols, sl_status *rc, sl_error *err)
{
    size_t cols = (size_t)s->total_cols;
    sl__colstats *cs = calloc(cols ? cols : 1, sizeof *cs);
    nonfinite *nf = calloc(s->n ? s->n : 1, sizeof *nf);
    int ok = cs && nf;
    const sl_frame *in = sl_stage_input(st, "input");
    for (size_t i = 0; ok && i < s->n; i++) {
        if (!s->want[i])
            continue;
        double n = 0, *mean = NULL, *C = NULL;
        int64_t F = 0;
        ok = sl__affine_chain_moments(&s->chain, sl_frame_array(in, i)->name, NULL, &n, &mean, &C, &F);
        for (int64_t k = 0; ok && k < F; k++) {
            double m2 = C[k * F + k];
            /* a constant column has no spread: min == max marks it for fitted() */
            cs[s->offset[i] + (size_t)k] =
                (sl__colstats){n, 0, mean[k], m2, m2 == 0 ? mean[k] : -INFINITY, m2 == 0 ? mean[k] : INFINITY};
        }
        free(mean);
        free(C);
    }
    if (ok)
        *rc = fitted(st, s, cs, nf, unit_cols, err);
    free(cs);
    free(nf);
    return ok;
}

static sl_status fit(sl_stage *st, sl_exec *ex, nz_state *s, int64_t *unit_cols, sl_error *err)
{
    sl_status by_algebra = SL_OK;
    if (s->algebra && fit_by_algebra(st, s, unit_cols, &by_algebra, err))
        return by_algebra;
    size_t cols = (size_t)s->total_cols;
    void *acc = calloc(1, fit_partial_size(s));
    if (!acc)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl__colstats *cs = acc;
    for (size_t k = 0; k < cols; k++)
        cs[k] = (sl__colstats){0, 0, NAN, 0, NAN, NAN};
    sl_pass pass = {.name = "fit",
                    .input = sl_stage_input(st, "input"),
                    .input_arrays = s->names,
                    .partial_size = fit_partial_size(s),
                    .ctx = s,
                    .chunk = fit_chunk,
                    .merge = fit_merge};
    sl_status rc = sl_exec_pass(ex, st, &pass, acc, err);
    if (rc == SL_OK)
        rc = fitted(st, s, cs, (const nonfinite *)(cs + cols), unit_cols, err);
    free(acc);
    return rc;
}

/* Reads the statistics the `stats` stage fitted (attributes of its output). */
static sl_status load_stats(sl_stage *st, nz_state *s, double *count, sl_error *err)
{
    const sl_frame *in = sl_stage_input(st, "input");
    const sl_frame *of = s->stats->output;
    *count = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!s->want[i])
            continue;
        const sl_array_info *a = sl_frame_array(in, i);
        const char *keys[] = {shift_key(s), "scale", "count"};
        const double *v[3];
        size_t len[3] = {0, 0, 0};
        for (int k = 0; k < 3; k++) {
            v[k] = sl_frame_attr(of, a->name, keys[k], &len[k]);
            size_t expect = k == 2 ? 1 : (size_t)a->cols;
            if (!v[k] || len[k] != expect)
                return sl_stage_error(st, err, SL_ERR_DATA, "stats",
                                      "stage '%s' (named by 'stats') holds no fitted '%s' of %zu value%s for array "
                                      "'%s'; rerun it",
                                      s->stats->name, keys[k], expect, expect == 1 ? "" : "s", a->name);
        }
        memcpy(s->shift + s->offset[i], v[0], (size_t)a->cols * sizeof(double));
        memcpy(s->scale + s->offset[i], v[1], (size_t)a->cols * sizeof(double));
        *count = v[2][0];
    }
    return SL_OK;
}

/* ---- apply --------------------------------------------------------------- */

static sl_status apply_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)partial;
    const nz_state *s = ctx;
    for (size_t i = 0; i < s->n; i++) {
        const sl_array_info *a = in->arrays[i].info;
        size_t n = (size_t)(in->rows * a->cols);
        if (!s->want[i]) {
            /* a float32 array where the frame has its float64 widening
             * (sl__exec_any_float_next): widened here, value for value */
            if (a->dtype == out->arrays[i].info->dtype)
                memcpy(out->arrays[i].data, in->arrays[i].data, n * sl_dtype_size(a->dtype));
            else
                sl__cast(out->arrays[i].data, out->arrays[i].info->dtype, in->arrays[i].data, a->dtype, n);
            continue;
        }
        if (s->check_finite) {
            size_t first = 0, bad = sl__count_nonfinite(in->arrays[i].data, a->dtype, n, &first);
            if (bad) {
                const void *x = in->arrays[i].data;
                double v = a->dtype == SL_FLOAT32 ? (double)((const float *)x)[first] : ((const double *)x)[first];
                return sl__error_set(err, SL_ERR_DATA,
                                     "array '%s' has NaN or infinite values (%zu in rows %lld to %lld); the first is "
                                     "%g at row %lld, column %lld. normalize needs finite values: put a clean stage "
                                     "before it to drop or impute them",
                                     a->name, bad, (long long)in->row0, (long long)(in->row0 + in->rows - 1), v,
                                     (long long)(in->row0 + (int64_t)(first / (size_t)a->cols)),
                                     (long long)(first % (size_t)a->cols));
            }
        }
        sl__standardize(out->arrays[i].data, out->arrays[i].info->dtype, in->arrays[i].data, a->dtype, in->rows,
                        a->cols, s->shift + s->offset[i], s->scale + s->offset[i]);
    }
    out->rows = in->rows;
    return SL_OK;
}

static sl_status set_attrs(sl_stage *st, const nz_state *s, double count, sl_error *err)
{
    const sl_frame *in = sl_stage_input(st, "input");
    sl_frame *out = sl_stage_output(st);
    sl_status rc = SL_OK;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        if (!s->want[i])
            continue;
        const sl_array_info *a = sl_frame_array(in, i);
        rc = sl_frame_set_attr(out, a->name, shift_key(s), s->shift + s->offset[i], (size_t)a->cols, err);
        if (rc == SL_OK)
            rc = sl_frame_set_attr(out, a->name, "scale", s->scale + s->offset[i], (size_t)a->cols, err);
        if (rc == SL_OK)
            rc = sl_frame_set_attr(out, a->name, "count", &count, 1, err);
    }
    return rc;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    nz_state *s = sl_stage_state(st);
    size_t cols = (size_t)s->total_cols;
    free(s->shift);
    free(s->scale);
    s->shift = calloc(cols ? cols : 1, sizeof *s->shift);
    s->scale = calloc(cols ? cols : 1, sizeof *s->scale);
    if (!s->shift || !s->scale)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    double count = 0;
    int64_t unit_cols = 0;
    sl_status rc;
    if (s->stats) {
        rc = load_stats(st, s, &count, err);
        s->check_finite = 1;
    } else {
        rc = fit(st, ex, s, &unit_cols, err);
        count = (double)sl_frame_rows(sl_stage_input(st, "input"));
        s->check_finite = 0;
    }
    if (rc == SL_OK)
        rc = set_attrs(st, s, count, err);
    if (rc == SL_OK && !s->stats)
        rc = sl_stage_set_result(st, "constant_columns", (double)unit_cols, err);
    if (rc != SL_OK)
        return rc;
    sl_pass pass = {.name = "apply",
                    .input = sl_stage_input(st, "input"),
                    .output = sl_stage_output(st),
                    .ctx = s,
                    .chunk = apply_chunk};
    sl__exec_row_local_next(ex); /* element by element */
    sl__exec_any_float_next(ex); /* apply_chunk reads float32 as the float64 it widens to */
    return sl_exec_pass(ex, st, &pass, NULL, err);
}

static const char op_doc[] =
    "Scales each column of the chosen arrays:\n"
    "\n"
    "- `zscore`: `(x - mean) / std`, with the population standard deviation\n"
    "  (ddof 0, NumPy's default), as `(X - X.mean(0)) / X.std(0)` or\n"
    "  scikit-learn's `StandardScaler`;\n"
    "- `minmax`: `(x - min) / (max - min)`, into [0, 1], as scikit-learn's\n"
    "  `MinMaxScaler`.\n"
    "\n"
    "**Which arrays.** Without `arrays` (and without `stats`), only the\n"
    "features array is normalized: the one `features` names, `X` by default.\n"
    "The target and every other array pass through with their values, so\n"
    "`linreg` fits y in its own units and `logreg` still sees labels 0 and 1.\n"
    "To normalize other arrays, y included, name them all in `arrays`. An\n"
    "input with no array called as `features` says so when the pipeline is\n"
    "planned, lists the input's arrays and what to write.\n"
    "\n"
    "**Fit, then apply.** Without `stats`, the stage makes two passes over its\n"
    "input. The fit pass computes each chunk's column statistics exactly (mean\n"
    "first, then squared deviations from it) and merges the chunks in chunk\n"
    "order with Chan's formula; the apply pass computes `(x - shift) / scale` in\n"
    "double precision. It divides (as NumPy does) rather than multiplying by\n"
    "`1 / scale`. Results are the same bits for any thread count. They depend on\n"
    "the chunk size only through the rounding of the merged mean and std.\n"
    "When the data fit in one chunk, the result is NumPy's to the bit (NumPy's\n"
    "`X.mean(0)` also sums row by row). With smaller chunks, the mean is often\n"
    "more accurate than NumPy's, and the z-values differ from NumPy's by a few\n"
    "1e-14 at most. The tests require 1e-12, relative or absolute for values\n"
    "near 0, with chunks of 100, 333 and 65536 rows.\n"
    "\n"
    "**Fitted statistics** are part of the output. Each normalized array carries\n"
    "attribute vectors (stored as HDF5 attributes of its dataset in the\n"
    "checkpoint): `mean` (zscore) or `min` (minmax), and `scale` (the std, or\n"
    "`max - min`; 1 for a constant column under `zero_variance: unit`), one\n"
    "value per column, and `count`, the number of rows fitted.\n"
    "\n"
    "**Fit on train, apply to test.** `stats: S` names another normalize stage\n"
    "`S`. This stage makes no fit pass: it applies `S`'s fitted statistics to its\n"
    "own input, and its output carries those same statistics. By default it\n"
    "normalizes the arrays that `S` normalized. `zero_variance` does not apply\n"
    "here, because `S` settled it. When the pipeline is planned, `sluice check`\n"
    "verifies that `S` is a normalize stage with the same `method` and that it\n"
    "normalized every array named here, with the same number of columns (and\n"
    "the same column names, where both sides have names).\n"
    "\n"
    "**Element types.** float32 arrays stay float32: the arithmetic is done in\n"
    "double precision and rounded once. float64 arrays stay float64. Integer\n"
    "arrays (named in `arrays`, or the `features` array) become float64. The\n"
    "arrays that are not normalized pass through unchanged, so the output\n"
    "frame has the input's arrays, in the input's order, with its row count\n"
    "and column names.\n"
    "\n"
    "**Constant columns.** A column whose values are all equal, or whose\n"
    "computed std underflows to 0, has no scale. With `zero_variance: error`\n"
    "(the default), the run fails with a message naming the array, the column\n"
    "(and its name, if known), its value and how many columns are constant,\n"
    "and suggests `zero_variance: unit` or dropping the column with convert's\n"
    "`drop_columns`.\n"
    "With `zero_variance: unit`, the column's scale is 1 and its shift is the\n"
    "constant itself, so the column becomes exactly 0, as scikit-learn's scalers\n"
    "leave it centred with scale 1. scikit-learn also treats as constant the\n"
    "columns whose variance is at the level of rounding error. sluice does not:\n"
    "it scales a column of distinct values, however close they are. The run's\n"
    "result `constant_columns` counts the unit columns.\n"
    "\n"
    "**Errors:**\n"
    "\n"
    "- a NaN or an infinity in a normalized array: the message gives the array,\n"
    "  how many there are, and the first one's value, row and column, and\n"
    "  suggests a clean stage. In apply mode (`stats`) the count covers the\n"
    "  chunk holding the first one.\n"
    "- an input with no rows, when fitting;\n"
    "- no `arrays` and no `stats`, and the input has no array called as\n"
    "  `features`;\n"
    "- `stats` naming a stage that is not a normalize stage, or one with another\n"
    "  method, other arrays or other columns (these are configuration errors,\n"
    "  found at plan time).\n";

const sl_op sl__op_normalize = {
    .abi = SL_ABI_VERSION,
    .name = "normalize",
    .summary = "z-score or min-max scaling of columns, fitted here or applied from another normalize stage",
    .doc = op_doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .flags = SL_OP_STREAMABLE,
    .run = run,
    .free_state = free_state,
};
