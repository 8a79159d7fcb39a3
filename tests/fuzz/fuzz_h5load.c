/* Fuzz harness: the HDF5 frame loader (load.hdf5) on hostile files.
 *
 * Each input is an HDF5 file image. It is written to a scratch folder as
 * in.h5 and a few pipelines `load.hdf5 -> describe` are planned and, when
 * they plan, run on it through the public API (1 thread, chunks of 16 rows,
 * the workdir emptied after each). The pipelines read the dataset paths the
 * seed files (corpus/h5load, made by make_h5_corpus.py) use:
 *
 *   { X: /X, y: /y }   2-D features and 1-D labels of the same row count
 *   { v: /g/sub/v }    a dataset under nested groups
 *   { s: /s }          a string dataset (a planning error)
 *   { r: /r3 }         a rank-3 dataset (a planning error)
 *
 * A file whose datasets claim more than RUN_MAX_BYTES is planned but not run:
 * a few mutated bytes in a dataspace make a 2^40-row dataset of fill values,
 * which would be a disk-filling run rather than a bug.
 *
 * Oracles beyond the sanitizers: errors are well formed (fuzz_util.c), and
 * no HDF5 object (file, dataset, attribute, type, space) is left open after
 * a pipeline is freed: a leaked id would keep the file open and make the
 * next open of the same path see stale contents. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "sluice/pipeline.h"

#define RUN_MAX_BYTES ((int64_t)4 << 20)

static char dir[512];
static char wd[600];
static char in_path[600];

static const char *const array_sets[] = {
    "{ X: /X, y: /y }",
    "{ v: /g/sub/v }",
    "{ s: /s }",
    "{ r: /r3 }",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_make_tmpdir("h5load", dir, sizeof dir);
    snprintf(wd, sizeof wd, "%s/wd", dir);
    snprintf(in_path, sizeof in_path, "%s/in.h5", dir);
    /* Lets HDF5 keep freed blocks for reuse whatever their size: each open
     * file has a ~1 MB metadata cache that HDF5 callocs, and under ASan each
     * one is a fresh mmap, page-faulted in. About 6x the executions per
     * second; sluice's own allocations are unaffected. */
    H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
    return 0;
}

static int64_t frame_bytes(const sl_frame *f)
{
    int64_t rows = sl_frame_rows(f), row_bytes = 0;
    for (size_t a = 0; a < sl_frame_count(f); a++) {
        const sl_array_info *ai = sl_frame_array(f, a);
        if (ai->cols > RUN_MAX_BYTES)
            return INT64_MAX;
        row_bytes += ai->cols * (int64_t)sl_dtype_size(ai->dtype);
    }
    if (rows < 0 || (row_bytes > 0 && rows > RUN_MAX_BYTES / row_bytes))
        return INT64_MAX;
    return rows * row_bytes;
}

static void check_no_open_ids(const char *when)
{
    ssize_t open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (open != 0)
        fz_fail("%zd HDF5 objects are still open %s (files %zd, datasets %zd, attributes %zd, types %zd, "
                "groups %zd)",
                open, when, H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE), H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_DATASET),
                H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ATTR), H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_DATATYPE),
                H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_GROUP));
}

static void one_pipeline(const char *arrays)
{
    char yaml[512];
    int len = snprintf(yaml, sizeof yaml,
                       "pipeline: h5load\n"
                       "workdir: wd\n"
                       "chunk_rows: 16\n"
                       "stages:\n"
                       "  load: { op: load.hdf5, file: in.h5, arrays: %s }\n"
                       "  describe: { op: describe, input: load }\n",
                       arrays);
    sl_pipeline *p = NULL;
    sl_error err;
    sl_status s = sl_pipeline_load_string(yaml, (size_t)len, "h5load.yaml", dir, &p, &err);
    fz_check_error(s, &err, "sl_pipeline_load_string");
    if (s == SL_OK && sl_pipeline_stage_count(p) == 2 && frame_bytes(sl_pipeline_stage_output(p, 0)) <= RUN_MAX_BYTES) {
        sl_run_options opt = {.threads = 1, .workdir = wd};
        s = sl_pipeline_run(p, &opt, &err);
        fz_check_error(s, &err, "sl_pipeline_run");
        fz_empty_dir(wd);
    }
    sl_pipeline_free(p);
    check_no_open_ids("after a pipeline on the input");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_write_file(in_path, data, size);
    for (size_t i = 0; i < sizeof array_sets / sizeof array_sets[0]; i++)
        one_pipeline(array_sets[i]);
    return 0;
}
