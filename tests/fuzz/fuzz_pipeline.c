/* Fuzz harness: the YAML config loader and the planner.
 *
 * Each input is a pipeline file. It goes through sl_pipeline_load_string
 * (YAML parse -> settings -> stages -> parameters -> DAG -> every op's plan),
 * and a pipeline that plans is walked through the read-only API (stages,
 * inputs, output schemas, and sl_pipeline_status, which computes cache keys
 * and looks for checkpoints without running anything). Nothing is run.
 *
 * Relative paths resolve against a scratch folder holding one small valid
 * HDF5 file, d.h5 (X float32 20x3 with column names, y float32 20, and a few
 * more datasets), so load.hdf5 stages, and every stage downstream of them,
 * plan. The seed corpus (corpus/pipeline) refers to d.h5.
 *
 * Oracles beyond the sanitizers: a failure must come with a code, a message
 * and a sane position, and never be SL_ERR_INTERNAL (see fuzz_util.c). */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_util.h"
#include "ops/plugin_int.h"
#include "sluice/pipeline.h"

static char dir[512];
static char wd[600];

static void write_dataset(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims, const void *data)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(file, name, type, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0 || H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        fz_fail("cannot write %s to d.h5", name);
    H5Dclose(d);
    H5Sclose(sp);
    H5Pclose(lcpl);
}

/* d.h5: X float32 20x3 (columns a, b, c), y float32 20 (0/1: fits both
 * regression and classification), plus an int32 2-D, a float64 1-D under a
 * group, a string dataset and a rank-3 dataset for the error paths. */
static void make_data_file(const char *path)
{
    float X[20][3], y[20];
    int32_t I[20][2];
    double g[20];
    float r3[2][2][5];
    for (int i = 0; i < 20; i++) {
        X[i][0] = (float)i * 0.5f;
        X[i][1] = (float)((i * 7) % 11) - 5.0f;
        X[i][2] = (float)(i % 3) + 0.25f * (float)i;
        y[i] = (float)(i % 2);
        I[i][0] = i;
        I[i][1] = -i * 3;
        g[i] = (double)i / 3.0;
    }
    memset(r3, 0, sizeof r3);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        fz_fail("cannot create %s", path);
    hsize_t dx[2] = {20, 3}, dy[1] = {20}, di[2] = {20, 2}, d3[3] = {2, 2, 5}, ds[1] = {3};
    write_dataset(f, "/X", H5T_NATIVE_FLOAT, 2, dx, X);
    write_dataset(f, "/y", H5T_NATIVE_FLOAT, 1, dy, y);
    write_dataset(f, "/I", H5T_NATIVE_INT32, 2, di, I);
    write_dataset(f, "/g/sub/v", H5T_NATIVE_DOUBLE, 1, dy, g);
    write_dataset(f, "/r3", H5T_NATIVE_FLOAT, 3, d3, r3);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 4);
    write_dataset(f, "/s", st, 1, ds, "ab\0\0cd\0\0ef\0\0");
    /* column names of X, as a fixed-width string attribute */
    hid_t d = H5Dopen2(f, "/X", H5P_DEFAULT);
    hid_t sp = H5Screate_simple(1, ds, NULL);
    hid_t a = H5Acreate2(d, "columns", st, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, st, "a\0\0\0b\0\0\0c\0\0\0") < 0)
        fz_fail("cannot write the columns attribute");
    H5Aclose(a);
    H5Sclose(sp);
    H5Dclose(d);
    H5Tclose(st);
    H5Fclose(f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* a made-up `plugins:` item must not dlopen this machine's libraries */
    sl__plugins_refused = 1;
    /* HDF5 keeps freed blocks for reuse, as in fuzz_h5load.c: faster under ASan */
    H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
    fz_make_tmpdir("pipeline", dir, sizeof dir);
    char path[700];
    snprintf(path, sizeof path, "%s/d.h5", dir);
    make_data_file(path);
    /* status looks here for checkpoints; it never exists, whatever the input's workdir */
    snprintf(wd, sizeof wd, "%s/wd", dir);
    return 0;
}

static void walk(sl_pipeline *p)
{
    size_t n = sl_pipeline_stage_count(p);
    if (n == 0)
        fz_fail("a pipeline planned with no stages");
    if (!sl_pipeline_name(p) || !sl_pipeline_workdir(p) || sl_pipeline_chunk_rows(p) < 1 || sl_pipeline_threads(p) < 0)
        fz_fail("bad pipeline settings");
    for (size_t i = 0; i < n; i++) {
        if (!sl_pipeline_stage_name(p, i) || !sl_pipeline_stage_op(p, i))
            fz_fail("stage %zu has no name or op", i);
        for (size_t j = 0; j < sl_pipeline_stage_input_count(p, i); j++) {
            const char *param = NULL;
            size_t k = sl_pipeline_stage_input(p, i, j, &param);
            if (k >= i || !param)
                fz_fail("stage %zu input %zu: stage %zu is not before it (or no parameter)", i, j, k);
        }
        const sl_frame *f = sl_pipeline_stage_output(p, i);
        if (!f)
            fz_fail("stage %zu has no output frame", i);
        for (size_t a = 0; a < sl_frame_count(f); a++) {
            const sl_array_info *ai = sl_frame_array(f, a);
            if (!ai || ai->cols < 0 || (sl_dtype_size(ai->dtype) == 0 && ai->dtype != SL_DTYPE_NONE))
                fz_fail("stage %zu array %zu has a bad schema", i, a);
            for (int64_t c = 0; c < ai->cols && c < 64; c++)
                (void)sl_frame_column(f, a, c);
        }
    }
    sl_stage_status *st = calloc(n, sizeof *st);
    if (!st)
        return;
    sl_run_options opt = {.abi = SL_ABI_VERSION, .threads = 1, .workdir = wd};
    sl_error err;
    sl_status s = sl_pipeline_status(p, &opt, st, &err);
    fz_check_error(s, &err, "sl_pipeline_status");
    for (size_t i = 0; s == SL_OK && i < n; i++)
        if (st[i].state == SL_STAGE_FRESH)
            fz_fail("stage %zu is fresh in a workdir that does not exist", i);
    free(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_pipeline *p = (sl_pipeline *)&p; /* must be reset, also on failure */
    sl_error err;
    sl_status s = sl_pipeline_load_string((const char *)data, size, "fuzz.yaml", dir, &p, &err);
    fz_check_error(s, &err, "sl_pipeline_load_string");
    if (s != SL_OK) {
        if (p)
            fz_fail("sl_pipeline_load_string failed but left *out set");
        if (err.code == SL_ERR_CONFIG && strcmp(err.file, "fuzz.yaml") != 0 && err.file[0] &&
            strncmp(err.file, dir, strlen(dir)) != 0)
            fz_fail("a config error names file '%s', not the pipeline: %s", err.file, err.message);
        return 0;
    }
    walk(p);
    sl_pipeline_free(p);
    return 0;
}
