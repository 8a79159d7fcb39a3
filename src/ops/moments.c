/* Fits by algebra along a chain clean → convert → normalize: see
 * moments_int.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/pairmoments.h"
#include "ops/moments_int.h"
#include "ops/ops_int.h"
#include "plan/pipeline_int.h"

/* convert keeps every value when it changes no column and casts only to a
 * type that holds the input's values exactly. */
static int convert_keeps_values(const sl_stage *st)
{
    const sl_params *p = sl_stage_params(st);
    if (sl_params_has(p, "columns") || sl_params_has(p, "drop_columns") || sl_params_has(p, "label"))
        return 0;
    const sl_frame *in = sl_stage_input(st, "input"), *out = st->output;
    if (sl_frame_count(in) != sl_frame_count(out))
        return 0;
    for (size_t i = 0; i < sl_frame_count(in); i++) {
        const sl_array_info *a = sl_frame_array(in, i), *b = sl_frame_array(out, i);
        int exact = a->dtype == b->dtype || (b->dtype == SL_FLOAT64 && a->dtype != SL_INT64 && a->dtype != SL_UINT64);
        if (a->cols != b->cols || strcmp(a->name, b->name) != 0 || !exact)
            return 0;
    }
    return 1;
}

int sl__affine_chain_find(sl_stage *top, int with_normalize, sl__affine_chain *ch)
{
    memset(ch, 0, sizeof *ch);
    /* SLUICE_ALGEBRA=off: every stage makes its own passes (A/B, debugging) */
    const char *env = getenv("SLUICE_ALGEBRA");
    if (env && strcmp(env, "off") == 0)
        return 0;
    sl_stage *s = top;
    if (!s || s->plan_later != SL__PLAN_NOW)
        return 0;
    if (with_normalize && strcmp(s->op->name, "normalize") == 0) {
        const sl_params *p = sl_stage_params(s);
        if (strcmp(sl_params_string(p, "method"), "zscore") != 0)
            return 0;
        ch->normalize = s;
        s = sl__input_stage(s, "input");
    }
    while (s && strcmp(s->op->name, "convert") == 0 && convert_keeps_values(s))
        s = sl__input_stage(s, "input");
    if (!s || strcmp(s->op->name, "clean") != 0 || !sl__clean_offer_moments(s))
        return 0;
    ch->clean = s;
    return 1;
}

/* Column offsets of array `name` in a frame's column order, or -1. */
static int64_t column_offset(const sl_frame *f, const char *name, int64_t *cols)
{
    int64_t off = 0;
    for (size_t i = 0; i < sl_frame_count(f); i++) {
        const sl_array_info *a = sl_frame_array(f, i);
        if (strcmp(a->name, name) == 0) {
            *cols = a->cols;
            return off;
        }
        off += a->cols;
    }
    return -1;
}

int sl__affine_chain_moments(const sl__affine_chain *ch, const char *x, const char *y, double *n, double **mean,
                             double **C, int64_t *cols)
{
    const sl_frame *cf = ch->clean->output;
    *mean = *C = NULL;
    if (sl_frame_count(cf) == 0)
        return 0;
    int64_t P = 0;
    for (size_t i = 0; i < sl_frame_count(cf); i++)
        P += sl_frame_array(cf, i)->cols;
    size_t len = 0;
    const double *pm = sl_frame_attr(cf, sl_frame_array(cf, 0)->name, SL__PAIR_MOMENTS, &len);
    if (!pm || len != sl__pm_size(P))
        return 0;
    /* the fill value of every column: clean's, or (nothing missing) any */
    double *v = malloc((size_t)P * sizeof *v), *m = malloc((size_t)P * sizeof *m);
    double *CC = malloc((size_t)(P * P) * sizeof *CC);
    int ok = v && m && CC;
    const double *N = pm + 1 + P;
    int64_t off = 0;
    for (size_t i = 0; ok && i < sl_frame_count(cf); i++) {
        const sl_array_info *a = sl_frame_array(cf, i);
        size_t nf = 0;
        const double *fill = sl_frame_attr(cf, a->name, "impute_value", &nf);
        for (int64_t k = 0; ok && k < a->cols; k++) {
            int64_t c = off + k;
            if (fill && nf == (size_t)a->cols)
                v[c] = fill[k];
            else if (N[c * P + c] == pm[0])
                v[c] = pm[1 + c]; /* nothing missing */
            else
                ok = 0; /* missing values left in place */
        }
        off += a->cols;
    }
    if (ok)
        sl__pm_imputed(pm, P, v, m, CC);
    /* the columns asked for, at the top of the chain */
    int64_t fx = 0, fy = 0, ox = ok ? column_offset(cf, x, &fx) : -1, oy = y ? column_offset(cf, y, &fy) : 0;
    ok = ok && ox >= 0 && oy >= 0 && (!y || fy == 1);
    int64_t Q = fx + (y ? 1 : 0);
    int64_t *idx = ok ? malloc((size_t)Q * sizeof *idx) : NULL;
    double *scale = ok ? malloc((size_t)Q * sizeof *scale) : NULL, *shift = ok ? malloc((size_t)Q * sizeof *shift)
                                                                             : NULL;
    ok = ok && idx && scale && shift;
    for (int64_t k = 0; ok && k < Q; k++) {
        idx[k] = k < fx ? ox + k : oy;
        shift[k] = 0;
        scale[k] = 1;
    }
    /* a normalize on top: its fitted shift and scale, for the arrays it z-scored */
    for (int pass = 0; ok && ch->normalize && pass < (y ? 2 : 1); pass++) {
        const char *name = pass == 0 ? x : y;
        size_t ns = 0, nc = 0;
        const double *sh = sl_frame_attr(ch->normalize->output, name, "mean", &ns);
        const double *sc = sl_frame_attr(ch->normalize->output, name, "scale", &nc);
        int64_t width = pass == 0 ? fx : 1, base = pass == 0 ? 0 : fx;
        if (!sh || !sc)
            continue; /* not normalized: passes through */
        if ((int64_t)ns != width || (int64_t)nc != width) {
            ok = 0;
            break;
        }
        for (int64_t k = 0; k < width; k++) {
            shift[base + k] = sh[k];
            scale[base + k] = sc[k];
        }
    }
    if (ok) {
        *mean = malloc((size_t)Q * sizeof **mean);
        *C = malloc((size_t)(Q * Q) * sizeof **C);
        ok = *mean && *C;
    }
    for (int64_t a = 0; ok && a < Q; a++) {
        (*mean)[a] = (m[idx[a]] - shift[a]) / scale[a];
        for (int64_t b = 0; b < Q; b++)
            (*C)[a * Q + b] = CC[idx[a] * P + idx[b]] / (scale[a] * scale[b]);
    }
    for (int64_t k = 0; ok && k < Q * Q; k++)
        ok = isfinite((*C)[k]) && isfinite((*mean)[k % Q]);
    if (!ok) {
        free(*mean);
        free(*C);
        *mean = *C = NULL;
    }
    *n = pm[0];
    *cols = Q;
    free(v);
    free(m);
    free(CC);
    free(idx);
    free(scale);
    free(shift);
    return ok;
}
