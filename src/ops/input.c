/* input: a frame the calling program holds in memory, bound to the stage
 * with sl_pipeline_bind (or added with sl_pipeline_add_frame). The stage
 * reads its rows chunk by chunk like any source, so the stages after it,
 * the checkpoint and the hashes are what the same data loaded from a file
 * would give. Its cache key holds the frame's content: a hash of its bytes,
 * or the version the program gave it (sl_frame_set_version), so a run never
 * reuses results computed from other data. */
#include <string.h>
#include "core/error_int.h"
#include "core/frame_int.h"
#include "ops/ops_int.h"
#include "plan/pipeline_int.h"

static const sl_frame *bound_frame(const sl_stage *st)
{
    return sl__pipeline_bound(st->pipe, st->name);
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_frame *in = bound_frame(st);
    if (!in)
        return sl_stage_error(st, err, SL_ERR_CONFIG, NULL,
                              "stage '%s' (op input) takes its data from the program that runs the pipeline, and no "
                              "frame is bound to it: call sl_pipeline_bind(p, \"%s\", frame) before "
                              "sl_pipeline_plan, or read a file with load.hdf5",
                              st->name, st->name);
    if (sl_frame_count(in) == 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, NULL, "the frame bound to stage '%s' has no arrays", st->name);
    sl_frame *out = sl_stage_output(st);
    for (size_t i = 0; i < sl_frame_count(in); i++) {
        sl_status s = sl_frame_add_like(out, in, i, SL_DTYPE_NONE, err);
        if (s)
            return s;
    }
    sl_frame_set_rows(out, sl_frame_rows(in));
    return SL_OK;
}

static sl_status read_rows(void *ctx, sl_chunk *out, sl_error *err)
{
    const sl_frame *in = ctx;
    (void)err;
    for (size_t i = 0; i < out->n_arrays; i++) {
        size_t row = (size_t)out->arrays[i].info->cols * sl_dtype_size(out->arrays[i].info->dtype);
        memcpy(out->arrays[i].data, (const char *)sl__frame_mem(in, i) + (size_t)out->row0 * row,
               (size_t)out->rows * row);
    }
    return SL_OK;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    const sl_frame *in = bound_frame(st);
    for (size_t i = 0; i < sl_frame_count(in); i++)
        if (!sl__frame_mem(in, i))
            return sl_stage_error(st, err, SL_ERR_USAGE, NULL,
                                  "array '%s' of the frame bound to stage '%s' has no data: give it with "
                                  "sl_frame_set_data or sl_frame_borrow_data",
                                  sl_frame_array(in, i)->name, st->name);
    sl_pass pass = {.name = "read",
                    .output = sl_stage_output(st),
                    .source_rows = sl_frame_rows(in),
                    .read = read_rows,
                    .read_parallel = 1, /* memcpy from the caller's memory: no HDF5, no lock */
                    .ctx = (void *)in};
    return sl_exec_pass(ex, st, &pass, NULL, err);
}

sl_status sl__input_identity(const sl_stage *st, char *out, size_t size, sl_error *err)
{
    const sl_frame *in = bound_frame(st);
    if (!in)
        return sl_stage_error(st, err, SL_ERR_USAGE, NULL, "no frame is bound to stage '%s'", st->name);
    sl_status s = sl__frame_content_id(in, out, size, err);
    return s ? sl__stage_locate(st, err, NULL) : SL_OK;
}

static const char op_doc[] =
    "A frame the program running the pipeline holds in memory (the C API:\n"
    "`sl_pipeline_bind`, or `sl_pipeline_add_frame` for a pipeline built in\n"
    "code). The output frame has the bound frame's arrays, element types,\n"
    "columns and column names, and its rows, read chunk by chunk.\n"
    "\n"
    "The stage's cache key holds the frame's content: a hash of its schema\n"
    "and every byte of its arrays, computed at each run, or the version the\n"
    "program named with `sl_frame_set_version`. Changing the data in memory\n"
    "makes the stage and all it feeds stale; a run never reuses results of\n"
    "other data. A frame bound to a planned pipeline may be replaced by one of\n"
    "the same arrays and rows (`sl_pipeline_bind` again).\n"
    "\n"
    "Errors: no frame bound to the stage (a pipeline run by the `sluice`\n"
    "command has none: read files with `load.hdf5`); an array of the frame\n"
    "without data.\n";

const sl_op sl__op_input = {
    .abi = SL_ABI_VERSION,
    .name = "input",
    .summary = "a frame the calling program holds in memory (C API: sl_pipeline_bind)",
    .doc = op_doc,
    .params = NULL,
    .n_params = 0,
    .flags = SL_OP_SOURCE,
    .plan = plan,
    .run = run,
};
