/* sl_op_call: one op on the caller's frames, as a two-level pipeline built
 * in code (an input stage per frame, then the op) and run in memory. The
 * op is planned, checked and run exactly as in a pipeline file. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "plan/pipeline_int.h"

#define CALL_STAGE "call"

/* Adds the arguments to the stage; frames become input stages in_<param>. */
static sl_status add_args(sl_pipeline *p, va_list ap, sl_error *err)
{
    sl_status s = SL_OK;
    for (int n = 0; s == SL_OK; n++) {
        int tag = va_arg(ap, int);
        if (tag == SL_ARG_END_)
            break;
        const char *name = va_arg(ap, const char *);
        if (!name)
            return sl__error_set(err, SL_ERR_USAGE, "sl_op_call: argument %d has no parameter name", n + 1);
        switch (tag) {
        case SL_ARG_FRAME_: {
            const sl_frame *f = va_arg(ap, const sl_frame *);
            char stage[SL_NAME_MAX];
            if (snprintf(stage, sizeof stage, "in_%s", name) >= (int)sizeof stage)
                return sl__error_set(err, SL_ERR_USAGE, "sl_op_call: parameter name '%s' is too long", name);
            s = sl_pipeline_add_frame(p, stage, f, err);
            if (s == SL_OK)
                s = sl_pipeline_set_input(p, CALL_STAGE, name, stage, err);
            break;
        }
        case SL_ARG_INT_: s = sl_pipeline_set_int(p, CALL_STAGE, name, va_arg(ap, int64_t), err); break;
        case SL_ARG_NUMBER_: s = sl_pipeline_set_number(p, CALL_STAGE, name, va_arg(ap, double), err); break;
        case SL_ARG_BOOL_: s = sl_pipeline_set_bool(p, CALL_STAGE, name, va_arg(ap, int), err); break;
        case SL_ARG_STRING_: s = sl_pipeline_set_string(p, CALL_STAGE, name, va_arg(ap, const char *), err); break;
        case SL_ARG_STRINGS_: {
            const char *const *v = va_arg(ap, const char *const *);
            s = sl_pipeline_set_strings(p, CALL_STAGE, name, v, va_arg(ap, size_t), err);
            break;
        }
        case SL_ARG_NUMBERS_: {
            const double *v = va_arg(ap, const double *);
            s = sl_pipeline_set_numbers(p, CALL_STAGE, name, v, va_arg(ap, size_t), err);
            break;
        }
        default:
            /* the list is not what the macros make: reading on would be undefined */
            return sl__error_set(err, SL_ERR_USAGE,
                                 "sl_op_call: argument %d ('%s') is not an SL_ARG_* item, or the list lacks "
                                 "SL_ARG_END",
                                 n + 1, name);
        }
    }
    return s;
}

sl_status sl_op_call(const char *op, sl_frame **out, sl_error *err, ...)
{
    sl_error_clear(err);
    if (!op || !out)
        return sl__error_set(err, SL_ERR_USAGE, "sl_op_call needs an op name and an output pointer");
    *out = NULL;
    sl_pipeline *p = sl_pipeline_new(op);
    if (!p)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status s = sl_pipeline_set(p, "workdir", ":memory:", err);
    if (s == SL_OK)
        s = sl_pipeline_add_stage(p, CALL_STAGE, op, err);
    if (s == SL_OK) {
        va_list ap;
        va_start(ap, err);
        s = add_args(p, ap, err);
        va_end(ap);
    }
    if (s == SL_OK)
        s = sl_pipeline_plan(p, err);
    if (s == SL_OK)
        s = sl_pipeline_run(p, NULL, err);
    size_t i = s == SL_OK ? sl_pipeline_stage_find(p, CALL_STAGE) : SIZE_MAX;
    if (s == SL_OK && i != SIZE_MAX) {
        sl_frame *fresh = sl_frame_new();
        if (!fresh) {
            s = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        } else {
            *out = p->stages[i].output; /* the caller's now; the pipeline frees the empty one */
            p->stages[i].output = fresh;
        }
    }
    sl_pipeline_free(p);
    return s;
}
