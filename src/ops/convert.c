/* convert: casts arrays to another element type, chunk by chunk. Integer
 * targets are checked: a NaN, an infinity or a value out of range is an error
 * naming its row and column, never a silent wrap-around. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "kernels/cast.h"
#include "ops/ops_int.h"
#include "plan/pipeline_int.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose output frame is converted"},
    {"dtype", SL_PARAM_CHOICE, 1, NULL, "int8|int16|int32|int64|uint8|uint16|uint32|uint64|float32|float64", 0, 0,
     "element type to convert to"},
    {"arrays", SL_PARAM_STRING_LIST, 0, NULL, NULL, 0, 0,
     "arrays to convert (default: all); the others pass through unchanged"},
};

typedef struct convert_state {
    size_t n;
    unsigned char *convert; /* per array */
} convert_state;

static void free_state(void *p)
{
    convert_state *s = p;
    if (s) {
        free(s->convert);
        free(s);
    }
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_frame *in = sl_stage_input(st, "input");
    sl_frame *out = sl_stage_output(st);
    convert_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    s->n = sl_frame_count(in);
    s->convert = calloc(s->n ? s->n : 1, 1);
    if (!s->convert)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status rc = sl__select_arrays(st, "arrays", in, s->convert, err);
    sl_dtype to = sl_dtype_from_name(sl_params_string(sl_stage_params(st), "dtype"));
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        rc = sl_frame_add_like(out, in, i, s->convert[i] ? to : SL_DTYPE_NONE, err);
    }
    sl_frame_set_rows(out, sl_frame_rows(in));
    return rc;
}

static sl_status convert_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)partial;
    const convert_state *s = ctx;
    for (size_t i = 0; i < s->n; i++) {
        const sl_array_info *a = in->arrays[i].info, *b = out->arrays[i].info;
        size_t n = (size_t)(in->rows * a->cols);
        sl__cast_result r = sl__cast(out->arrays[i].data, b->dtype, in->arrays[i].data, a->dtype, n);
        if (r.bad) {
            double v = 0;
            sl__cast(&v, SL_FLOAT64, (const char *)in->arrays[i].data + r.first_bad * sl_dtype_size(a->dtype),
                     a->dtype, 1);
            return sl__error_set(err, SL_ERR_DATA,
                                 "array '%s' row %lld column %lld: value %.17g does not fit in %s (%zu such values "
                                 "in this chunk); clean or clip the data first, or convert to a float type",
                                 a->name, (long long)(in->row0 + (int64_t)(r.first_bad / (size_t)a->cols)),
                                 (long long)(r.first_bad % (size_t)a->cols), v, sl_dtype_name(b->dtype), r.bad);
        }
    }
    out->rows = in->rows;
    return SL_OK;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    sl_pass pass = {.name = "convert",
                    .input = sl_stage_input(st, "input"),
                    .output = sl_stage_output(st),
                    .ctx = sl_stage_state(st),
                    .chunk = convert_chunk};
    return sl_exec_pass(ex, st, &pass, NULL, err);
}

const sl_op sl__op_convert = {
    .name = "convert",
    .summary = "cast arrays to another element type (checked for integer targets)",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .run = run,
    .free_state = free_state,
};
