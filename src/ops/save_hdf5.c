/* save.hdf5: writes a frame (or some of its arrays) to an HDF5 file the user
 * names, with the same crash safety as checkpoints: a temporary file renamed
 * into place when complete. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/error_int.h"
#include "core/frame_int.h"
#include "core/fsutil.h"
#include "io/checkpoint.h"
#include "io/h5util.h"
#include "ops/ops_int.h"
#include "plan/pipeline_int.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose output frame is saved"},
    {"file", SL_PARAM_PATH, 1, NULL, NULL, 0, 0,
     "HDF5 file to write; a relative path is relative to the pipeline file's folder"},
    {"arrays", SL_PARAM_STRING_LIST, 0, NULL, NULL, 0, 0, "arrays to save (default: all), as 2-D datasets named as the arrays"},
    {"overwrite", SL_PARAM_BOOL, 0, "true", NULL, 0, 0, "replace the file when it exists; false: fail instead"},
};

typedef struct save_state {
    sl_frame *frame; /* the arrays to save */
} save_state;

static void free_state(void *p)
{
    save_state *s = p;
    if (s) {
        sl_frame_free(s->frame);
        free(s);
    }
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_frame *in = sl_stage_input(st, "input");
    save_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    size_t n = sl_frame_count(in);
    unsigned char *want = calloc(n ? n : 1, 1);
    s->frame = sl_frame_new();
    if (!want || !s->frame) {
        free(want);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    sl_status rc = sl__select_arrays(st, "arrays", in, want, err);
    for (size_t i = 0; i < n && rc == SL_OK; i++)
        if (want[i])
            rc = sl_frame_add_like(s->frame, in, i, SL_DTYPE_NONE, err); /* with its column names */
    free(want);
    if (rc)
        return rc;
    /* fail at plan time when the file can never be written */
    const char *file = sl_params_string(sl_stage_params(st), "file");
    struct stat sb;
    if (stat(file, &sb) == 0 && S_ISDIR(sb.st_mode))
        rc = sl_stage_error(st, err, SL_ERR_IO, "file", "cannot write '%s': it is a folder", file);
    sl_frame_set_rows(sl_stage_output(st), 0);
    return rc;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    save_state *s = sl_stage_state(st);
    const sl_params *p = sl_stage_params(st);
    const char *file = sl_params_string(p, "file");
    const sl_frame *in = sl_stage_input(st, "input");
    if (!sl_params_bool(p, "overwrite") && access(file, F_OK) == 0)
        return sl_stage_error(st, err, SL_ERR_IO, "file",
                              "'%s' exists and 'overwrite' is false; remove it or set overwrite: true", file);
    sl_frame_set_rows(s->frame, sl_frame_rows(in));
    char *dir = sl__dir_name(file);
    if (!dir)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status rc = sl__make_dirs(dir, "output", err);
    free(dir);
    if (rc)
        return sl__stage_locate(st, err, "file");
    sl__ckpt_writer *w = NULL;
    sl__h5_lock();
    rc = sl__ckpt_open_locked(file, s->frame, sl_stage_chunk_rows(st), sl_frame_rows(in), SL__COMP_NONE, &w, err);
    sl__h5_unlock();
    if (rc)
        return rc;
    sl__frame_set_writer(s->frame, w);
    sl_pass pass = {.name = "write", .input = in, .output = s->frame};
    rc = sl_exec_pass(ex, st, &pass, NULL, err);
    sl__frame_set_writer(s->frame, NULL);
    sl__h5_lock();
    if (rc == SL_OK)
        rc = sl__ckpt_attr_string_locked(w, "sluice_stage", sl_stage_name(st), err);
    for (size_t i = 0; rc == SL_OK && i < sl_frame_count(s->frame); i++)
        rc = sl__ckpt_frame_columns_locked(w, s->frame, i, err);
    if (rc == SL_OK)
        rc = sl__ckpt_commit_locked(w, NULL, err);
    else
        sl__ckpt_abort_locked(w);
    sl__h5_unlock();
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "rows_saved", (double)sl_frame_rows(in), err);
    return rc;
}

static const char op_doc[] =
    "Writes the arrays of its input frame (all, or those listed in `arrays`) to\n"
    "the HDF5 file `file`, one 2-D dataset per array named as the array (an\n"
    "n x 1 array stays n x 1). The file is written as `FILE.tmp`, flushed,\n"
    "fsync'ed and renamed into place, so a reader never sees half a file; a\n"
    "failed run leaves any earlier file untouched. Missing folders on the way\n"
    "to `file` are created. An array with column names gets them as its\n"
    "dataset's `columns` attribute (variable-length UTF-8 strings, as in\n"
    "checkpoints): the attribute load.hdf5 reads column names from, so a\n"
    "saved file loads back with its names, and h5py reads them as `str`.\n"
    "\n"
    "Errors: `file` is a folder (at plan time); `file` exists and `overwrite`\n"
    "is false (exit 3); a name in `arrays` that the input lacks (lists the\n"
    "arrays the input has).\n"
    "\n"
    "The stage's own checkpoint holds no arrays; its `result.rows_saved`\n"
    "attribute records the rows written.\n";

const sl_op sl__op_save_hdf5 = {
    .abi = SL_ABI_VERSION,
    .name = "save.hdf5",
    .summary = "write a frame's arrays to an HDF5 file",
    .doc = op_doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .flags = SL_OP_SINK,
    .plan = plan,
    .run = run,
    .free_state = free_state,
};
