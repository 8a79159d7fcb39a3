/* The op "example.clip_abs", shared by examples/custom_op.c (a program
 * that registers it) and examples/plugin_clip.c (the same op as a plugin
 * of the sluice command). It clips every value of its input's float arrays
 * to [-bound, bound] (a map) and counts, per column, the values it clipped
 * (a reduce partial riding on the same pass). docs/c-api.md walks through it. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include "clip_op.h"

static const sl_param_spec clip_params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose float arrays are clipped"},
    {"bound", SL_PARAM_NUMBER, 1, NULL, NULL, 0, 1e300, "values with |x| > bound become +bound or -bound"},
};

/* What plan() works out once, for run() and the chunk callbacks. */
typedef struct clip_state {
    double bound;
    size_t n_arrays;
    int64_t *first_col; /* per array: its first column in the partial */
    int64_t total_cols; /* columns of all arrays: the partial's length */
} clip_state;

static void clip_free_state(void *state)
{
    clip_state *s = state;
    if (s) {
        free(s->first_col);
        free(s);
    }
}

/* Plan time: check the input's schema, declare the output. No data moves. */
static sl_status clip_plan(sl_stage *st, sl_error *err)
{
    const sl_frame *in = sl_stage_input(st, "input");
    clip_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl_stage_error(st, err, SL_ERR_NOMEM, NULL, "out of memory");
    sl_stage_set_state(st, s); /* from here on, free_state frees it, even if plan fails */
    s->bound = sl_params_number(sl_stage_params(st), "bound");
    s->n_arrays = sl_frame_count(in);
    s->first_col = calloc(s->n_arrays + 1, sizeof *s->first_col);
    if (!s->first_col)
        return sl_stage_error(st, err, SL_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < s->n_arrays; i++) {
        const sl_array_info *a = sl_frame_array(in, i);
        if (a->dtype != SL_FLOAT32 && a->dtype != SL_FLOAT64)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "input",
                                  "example.clip_abs clips float arrays; '%s' is %s (convert it first)", a->name,
                                  sl_dtype_name(a->dtype));
        s->first_col[i] = s->total_cols;
        s->total_cols += a->cols;
    }
    /* the output has the input's arrays, types, column names and rows */
    return sl_frame_copy_schema(sl_stage_output(st), in, err);
}

static double clip(double x, double bound, int64_t *count)
{
    if (fabs(x) > bound) { /* false for NaN: NaN passes through */
        (*count)++;
        return x > 0 ? bound : -bound;
    }
    return x;
}

/* Runs on many threads at once, one chunk each: touches only its own chunk
 * and its own partial (zeroed by the executor). */
static sl_status clip_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)err;
    const clip_state *s = ctx;
    int64_t *clipped = partial;
    for (size_t i = 0; i < in->n_arrays; i++) {
        int64_t cols = in->arrays[i].info->cols, n = in->rows * cols;
        int64_t *count = clipped + s->first_col[i];
        if (in->arrays[i].info->dtype == SL_FLOAT64) {
            const double *x = in->arrays[i].data;
            double *y = out->arrays[i].data;
            for (int64_t k = 0; k < n; k++)
                y[k] = clip(x[k], s->bound, &count[k % cols]);
        } else {
            const float *x = in->arrays[i].data;
            float *y = out->arrays[i].data;
            for (int64_t k = 0; k < n; k++)
                y[k] = (float)clip(x[k], s->bound, &count[k % cols]);
        }
    }
    out->rows = in->rows; /* a map writes as many rows as it reads */
    return SL_OK;
}

/* Runs on one thread, once per chunk, in chunk order. */
static sl_status clip_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)err;
    const clip_state *s = ctx;
    int64_t *total = acc;
    const int64_t *part = partial;
    for (int64_t c = 0; c < s->total_cols; c++)
        total[c] += part[c];
    return SL_OK;
}

static sl_status clip_run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    clip_state *s = sl_stage_state(st);
    sl_frame *out = sl_stage_output(st);
    int64_t *acc = calloc((size_t)s->total_cols + 1, sizeof *acc);
    double *per_col = calloc((size_t)s->total_cols + 1, sizeof *per_col);
    if (!acc || !per_col) {
        free(acc);
        free(per_col);
        return sl_stage_error(st, err, SL_ERR_NOMEM, NULL, "out of memory");
    }
    sl_pass pass = {.name = "clip",
                    .input = sl_stage_input(st, "input"),
                    .output = out, /* streamed to the stage's checkpoint */
                    .partial_size = (size_t)s->total_cols * sizeof(int64_t),
                    .ctx = s,
                    .chunk = clip_chunk,
                    .merge = clip_merge};
    sl_status rc = sl_exec_pass(ex, st, &pass, acc, err);
    /* after the pass: a per-column attribute of each array and one result */
    int64_t total = 0;
    for (size_t i = 0; i < s->n_arrays && rc == SL_OK; i++) {
        const sl_array_info *a = sl_frame_array(out, i);
        for (int64_t c = 0; c < a->cols; c++) {
            per_col[c] = (double)acc[s->first_col[i] + c];
            total += acc[s->first_col[i] + c];
        }
        rc = sl_frame_set_attr(out, a->name, "clipped", per_col, (size_t)a->cols, err);
    }
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "values_clipped", (double)total, err);
    free(acc);
    free(per_col);
    return rc;
}

const sl_op example_clip_op = {
    .abi = SL_ABI_VERSION,
    .name = "example.clip_abs",
    .summary = "clip float arrays to [-bound, bound], counting the values clipped",
    .params = clip_params,
    .n_params = sizeof clip_params / sizeof clip_params[0],
    .plan = clip_plan,
    .run = clip_run,
    .free_state = clip_free_state,
};
