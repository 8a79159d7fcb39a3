/* Tests of the public pipeline API (sluice/pipeline.h, sluice/op.h):
 * (a) every config and planning error with its code, file:line:col and text;
 * (b) a successful run with progress events, output frames and describe's
 *     statistics against values computed here;
 * (c) a user op registered with sl_op_register, its checkpoint read back with
 *     the HDF5 C API, and the registry's checks;
 * (d) results that do not depend on the thread count (bitwise);
 * (e) a failing stage: SL_ERR_DATA naming the stage, no partial or temporary
 *     checkpoint, earlier checkpoints kept.
 * HDF5 inputs are written with the HDF5 C API into a mkdtemp folder. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <hdf5.h>
#include "sluice/sluice.h"
#include "test_tmpdir.h"

#define ROWS 1003
#define COLS 3
#define NAME "test.yaml"

static char tmpdir[256];
static float X[ROWS][COLS];
static int32_t Y[ROWS];

/* ---- fixtures -------------------------------------------------------------- */

static void path_in(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s/%s", tmpdir, rel);
}

static void write_ds(hid_t f, const char *name, hid_t type, int rank, const hsize_t *dims, const void *data)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (d < 0)
        fail_msg("cannot create dataset %s", name);
    if (H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        fail_msg("cannot write dataset %s", name);
    H5Dclose(d);
    H5Sclose(sp);
}

/* data.h5: /X float32 ROWS x COLS with NaNs in column 1, /y int32 (ROWS),
 * /short float32 (5), /cube float64 2x2x2, /names strings, group /grp. */
static void make_data(void)
{
    for (int i = 0; i < ROWS; i++) {
        for (int c = 0; c < COLS; c++)
            X[i][c] = (float)(10.0 * sin(0.37 * i + c) + 100.0 * c + 0.001 * i);
        if (i % 17 == 3)
            X[i][1] = NAN;
        Y[i] = i % 7 - 3;
    }
    char path[512];
    path_in(path, sizeof path, "data.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    hsize_t d2[2] = {ROWS, COLS}, d1[1] = {ROWS};
    write_ds(f, "/X", H5T_NATIVE_FLOAT, 2, d2, X);
    write_ds(f, "/y", H5T_NATIVE_INT32, 1, d1, Y);
    const float s[5] = {1, 2, 3, 4, 5};
    hsize_t d5[1] = {5};
    write_ds(f, "/short", H5T_NATIVE_FLOAT, 1, d5, s);
    const double cube[8] = {0};
    hsize_t d3[3] = {2, 2, 2};
    write_ds(f, "/cube", H5T_NATIVE_DOUBLE, 3, d3, cube);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 4);
    const char names[3][4] = {"abc", "de", "f"};
    hsize_t d3s[1] = {3};
    write_ds(f, "/names", st, 1, d3s, names);
    H5Tclose(st);
    hid_t g = H5Gcreate2(f, "/grp", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    H5Fclose(f);

    /* bad.h5: /X float64 10 x 2 with 1000.0 at row 5, column 1 */
    double b[10][2];
    for (int i = 0; i < 10; i++) {
        b[i][0] = i - 4.5;
        b[i][1] = 2.0 * i;
    }
    b[5][1] = 1000.0;
    path_in(path, sizeof path, "bad.h5");
    f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    hsize_t db[2] = {10, 2};
    write_ds(f, "/X", H5T_NATIVE_DOUBLE, 2, db, b);
    H5Fclose(f);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/sluice-test-pipeline-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    make_data();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    sl_test_rmtree(tmpdir);
    return 0;
}

static int file_exists(const char *rel)
{
    char path[512];
    struct stat sb;
    path_in(path, sizeof path, rel);
    return stat(path, &sb) == 0;
}

/* ---- (a) config and planning errors ---------------------------------------- */

static void load_err(const char *yaml, sl_status code, int line, int col, const char *needle)
{
    sl_pipeline *p = (sl_pipeline *)0x1;
    sl_error err;
    sl_status s = sl_pipeline_load_string(yaml, strlen(yaml), NAME, tmpdir, &p, &err);
    if (s == SL_OK) {
        sl_pipeline_free(p);
        fail_msg("expected an error containing \"%s\" for:\n%s", needle, yaml);
    }
    assert_null(p);
    if (s != code || err.code != code || err.line != line || err.col != col || !strstr(err.message, needle))
        fail_msg("for:\n%s\ngot code %d/%d at %d:%d: %s\nexpected code %d at %d:%d containing \"%s\"", yaml, s,
                 err.code, err.line, err.col, err.message, code, line, col, needle);
    assert_string_equal(err.file, NAME);
}

static void test_err_root_not_mapping(void **state)
{
    (void)state;
    load_err("- a\n- b\n", SL_ERR_CONFIG, 1, 1,
             "a pipeline file must be a mapping with a 'stages' key, found a list");
    load_err("just text\n", SL_ERR_CONFIG, 1, 1, "must be a mapping with a 'stages' key, found a string");
}

static void test_err_stages_missing_or_empty(void **state)
{
    (void)state;
    load_err("pipeline: p\nworkdir: w\n", SL_ERR_CONFIG, 1, 1, "the pipeline has no 'stages'");
    load_err("pipeline: p\nstages: {}\n", SL_ERR_CONFIG, 2, 9,
             "'stages' must be a non-empty mapping of stage names to stages, found an empty mapping");
    load_err("pipeline: p\nstages: [a, b]\n", SL_ERR_CONFIG, 2, 9,
             "'stages' must be a non-empty mapping of stage names to stages, found a list");
}

static void test_err_unknown_top_key(void **state)
{
    (void)state;
    load_err("pipeline: p\nstagez:\n  a: {op: describe}\n", SL_ERR_CONFIG, 2, 1,
             "unknown top-level key 'stagez' (did you mean 'stages'?)");
    load_err("chunk_row: 5\nstages:\n  a: {op: describe}\n", SL_ERR_CONFIG, 1, 1,
             "unknown top-level key 'chunk_row' (did you mean 'chunk_rows'?)");
}

static void test_err_chunk_rows(void **state)
{
    (void)state;
    const char *bad[] = {"0", "-1", "abc", "2147483648", "1.5", "1073741825"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char yaml[256], needle[128];
        snprintf(yaml, sizeof yaml, "chunk_rows: %s\nstages:\n  a: {op: describe, input: a}\n", bad[k]);
        snprintf(needle, sizeof needle, "'chunk_rows' must be an integer from 1 to 1073741824, found %s", bad[k]);
        load_err(yaml, SL_ERR_CONFIG, 1, 13, needle);
    }
    load_err("pipeline: p\nchunk_rows: [1]\nstages:\n  a: {op: describe}\n", SL_ERR_CONFIG, 2, 13,
             "'chunk_rows' must be an integer from 1 to 1073741824, found a list");
}

static void test_err_threads(void **state)
{
    (void)state;
    const char *bad[] = {"0", "-2", "many", "4097", "2.0"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        char yaml[256], needle[128];
        snprintf(yaml, sizeof yaml, "threads: %s\nstages:\n  a: {op: describe}\n", bad[k]);
        snprintf(needle, sizeof needle, "'threads' must be 'auto' or an integer from 1 to 4096, found %s", bad[k]);
        load_err(yaml, SL_ERR_CONFIG, 1, 10, needle);
    }
}

/* The limits themselves are accepted, and defaults apply when a key is absent. */
static void test_settings_ok(void **state)
{
    (void)state;
    const char *stages = "stages:\n  load: {op: load.hdf5, file: data.h5, arrays: {X: /X}}\n";
    const struct {
        const char *head;
        int64_t chunk_rows;
        int threads;
    } cases[] = {
        {"chunk_rows: 1\nthreads: 1\n", 1, 1},
        {"chunk_rows: 1073741824\nthreads: 4096\n", 1073741824, 4096},
        {"threads: auto\n", 8192, 0},
        {"", 8192, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, "%s%s", cases[k].head, stages);
        sl_pipeline *p = NULL;
        sl_error err;
        if (sl_pipeline_load_string(yaml, strlen(yaml), NAME, tmpdir, &p, &err) != SL_OK)
            fail_msg("%s: %s", yaml, err.message);
        assert_int_equal(sl_pipeline_chunk_rows(p), cases[k].chunk_rows);
        assert_int_equal(sl_pipeline_threads(p), cases[k].threads);
        /* no 'pipeline:': named after the file; workdir runs/<name> */
        assert_string_equal(sl_pipeline_name(p), "test");
        char wd[512];
        path_in(wd, sizeof wd, "runs/test");
        assert_string_equal(sl_pipeline_workdir(p), wd);
        sl_pipeline_free(p);
    }
}

static void test_err_stage_shape(void **state)
{
    (void)state;
    load_err("stages:\n  a: 5\n", SL_ERR_CONFIG, 2, 6, "stage 'a' must be a mapping with an 'op' key, found a string");
    load_err("stages:\n  a: [op, describe]\n", SL_ERR_CONFIG, 2, 6,
             "stage 'a' must be a mapping with an 'op' key, found a list");
    load_err("stages:\n  a: {input: b}\n", SL_ERR_CONFIG, 2, 3, "stage 'a' has no 'op'");
    load_err("stages:\n  a: {op: descrbe}\n", SL_ERR_CONFIG, 2, 11,
             "unknown op 'descrbe' (did you mean 'describe'?)");
    load_err("stages:\n  a: {op: xyzzy}\n", SL_ERR_CONFIG, 2, 11, "unknown op 'xyzzy'; run 'sluice ops'");
    load_err("stages:\n  a/b: {op: describe}\n", SL_ERR_CONFIG, 2, 3, "stage name 'a/b' is not valid");
    load_err("stages:\n  .hidden: {op: describe}\n", SL_ERR_CONFIG, 2, 3, "stage name '.hidden' is not valid");
}

static void test_err_unknown_input(void **state)
{
    (void)state;
    const char *yaml = "stages:\n"
                       "  load: {op: load.hdf5, file: data.h5, arrays: {X: /X}}\n"
                       "  desc: {op: describe, input: lod}\n";
    sl_pipeline *p = NULL;
    sl_error err;
    assert_int_equal(sl_pipeline_load_string(yaml, strlen(yaml), NAME, tmpdir, &p, &err), SL_ERR_CONFIG);
    assert_null(p);
    assert_int_equal(err.code, SL_ERR_CONFIG);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.col, 31);
    assert_string_equal(err.stage, "desc");
    assert_non_null(strstr(err.message,
                           "'input' names stage 'lod', which the pipeline does not have (did you mean 'load'?)"));
}

static void test_err_cycle(void **state)
{
    (void)state;
    /* a reads b and b reads a: reported on the stage that closes the cycle */
    const char *yaml = "stages:\n"
                       "  a: {op: describe, input: b}\n"
                       "  b: {op: describe, input: a}\n";
    load_err(yaml, SL_ERR_CONFIG, 3, 3,
             "the stages form a cycle: b -> a -> b; a stage cannot read its own output, directly or through others");

    const char *yaml3 = "stages:\n"
                        "  load: {op: load.hdf5, file: data.h5, arrays: {X: /X}}\n"
                        "  one: {op: describe, input: three}\n"
                        "  two: {op: describe, input: one}\n"
                        "  three: {op: describe, input: two}\n";
    load_err(yaml3, SL_ERR_CONFIG, 4, 3, "the stages form a cycle: two -> three -> one -> two;");

    load_err("stages:\n  self: {op: describe, input: self}\n", SL_ERR_CONFIG, 2, 3,
             "the stages form a cycle: self -> self;");
}

static void test_err_duplicate_stage(void **state)
{
    (void)state;
    const char *yaml = "stages:\n"
                       "  a: {op: describe, input: b}\n"
                       "  b: {op: describe, input: a}\n"
                       "  a: {op: describe, input: b}\n";
    load_err(yaml, SL_ERR_CONFIG, 4, 3, "duplicate key 'a' (first defined at line 2, column 3)");
}

static void test_err_bad_param(void **state)
{
    (void)state;
    /* an unknown parameter of a stage, and a choice out of its list */
    const char *yaml = "stages:\n"
                       "  load: {op: load.hdf5, file: data.h5, arrays: {X: /X}}\n"
                       "  conv: {op: convert, input: load, dtyp: int8}\n";
    load_err(yaml, SL_ERR_CONFIG, 3, 36, "dtyp");
    const char *yaml2 = "stages:\n"
                        "  load: {op: load.hdf5, file: data.h5, arrays: {X: /X}}\n"
                        "  conv: {op: convert, input: load, dtype: int9}\n";
    load_err(yaml2, SL_ERR_CONFIG, 3, 43, "int9");
}

/* load.hdf5 checks its source at plan time. */
static void load_hdf5_err(const char *file, const char *arrays, sl_status code, int line, int col,
                          const char *needle)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "pipeline: p\n"
             "stages:\n"
             "  load:\n"
             "    op: load.hdf5\n"
             "    file: %s\n"
             "    arrays: %s\n",
             file, arrays);
    load_err(yaml, code, line, col, needle);
}

static void test_err_load_hdf5(void **state)
{
    (void)state;
    char want[600];
    snprintf(want, sizeof want, "cannot open HDF5 file '%s/missing.h5': No such file or directory", tmpdir);
    load_hdf5_err("missing.h5", "{X: /X}", SL_ERR_IO, 5, 11, want);
    load_hdf5_err("data.h5", "{X: /X, Z: /nope}", SL_ERR_IO, 6, 13, "has no dataset '/nope' (for array 'Z')");
    load_hdf5_err("data.h5", "{Z: /grp/nope}", SL_ERR_IO, 6, 13, "has no dataset '/grp/nope'");
    load_hdf5_err("data.h5", "{G: /grp}", SL_ERR_DATA, 6, 13, "'/grp' in ");
    load_hdf5_err("data.h5", "{C: /cube}", SL_ERR_DATA, 6, 13, "has 3 dimensions");
    load_hdf5_err("data.h5", "{S: /names}", SL_ERR_DATA, 6, 13, "holds string values");
    load_hdf5_err("data.h5", "{X: /X, s: /short}", SL_ERR_DATA, 6, 13,
                  "arrays of a frame must have the same number of rows: '/short' in");
    load_hdf5_err("data.h5", "{X: /X, s: /short}", SL_ERR_DATA, 6, 13, "has 5 rows, '/X' has 1003");
    /* a file that is not HDF5 */
    char path[512];
    path_in(path, sizeof path, "not.h5");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("hello\n", f);
    fclose(f);
    load_hdf5_err("not.h5", "{X: /X}", SL_ERR_IO, 5, 11, "is not an HDF5 file");

    /* the stage is named on plan errors */
    const char *yaml = "stages:\n  src: {op: load.hdf5, file: missing.h5, arrays: {X: /X}}\n";
    sl_pipeline *p = NULL;
    sl_error err;
    assert_int_equal(sl_pipeline_load_string(yaml, strlen(yaml), NAME, tmpdir, &p, &err), SL_ERR_IO);
    assert_string_equal(err.stage, "src");
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 30);
}

/* ---- progress events --------------------------------------------------------- */

#define MAX_STAGES 8
typedef struct counts {
    int start[MAX_STAGES], done[MAX_STAGES], failed[MAX_STAGES], progress[MAX_STAGES], warnings[MAX_STAGES];
    int64_t last_done[MAX_STAGES], total[MAX_STAGES], rows[MAX_STAGES], bytes[MAX_STAGES];
    int bad_total; /* PROGRESS events whose total changed within a stage */
    int non_monotonic;
    int order_error; /* an event before START or after DONE, or an epoch out of turn */
    int epochs[MAX_STAGES];
    double loss[MAX_STAGES][8]; /* EPOCH: the first epochs' losses */
} counts;

static int on_event(const sl_event *ev, void *user)
{
    counts *c = user;
    size_t i = ev->stage;
    if (i >= MAX_STAGES)
        return 0;
    switch (ev->kind) {
    case SL_EVENT_STAGE_START:
        c->start[i]++;
        break;
    case SL_EVENT_PROGRESS:
        if (!c->start[i] || c->done[i])
            c->order_error++;
        if (c->progress[i] && c->total[i] != ev->total)
            c->bad_total++;
        if (ev->done <= c->last_done[i] && c->total[i] == ev->total)
            c->non_monotonic++;
        c->progress[i]++;
        c->last_done[i] = ev->done;
        c->total[i] = ev->total;
        break;
    case SL_EVENT_STAGE_DONE:
        if (!c->start[i])
            c->order_error++;
        c->done[i]++;
        c->rows[i] = ev->rows;
        c->bytes[i] = ev->bytes;
        break;
    case SL_EVENT_STAGE_FAILED:
        c->failed[i]++;
        break;
    case SL_EVENT_WARNING:
        c->warnings[i]++;
        break;
    case SL_EVENT_EPOCH:
        if (!c->start[i] || c->done[i] || ev->done != c->epochs[i] + 1 || ev->done > ev->total)
            c->order_error++;
        if (c->epochs[i] < 8)
            c->loss[i][c->epochs[i]] = ev->loss;
        c->epochs[i]++;
        break;
    }
    return 0;
}

/* ---- (b) a successful run ---------------------------------------------------- */

/* Statistics of column c of X computed here in long double, two-pass. */
static void x_stats(int c, double *n, double *nan, double *mean, double *std, double *mn, double *mx)
{
    long double sum = 0, cnt = 0, m2 = 0;
    int nn = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < ROWS; i++) {
        double v = X[i][c];
        if (isnan(v)) {
            nn++;
            continue;
        }
        cnt += 1;
        sum += v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    long double m = sum / cnt;
    for (int i = 0; i < ROWS; i++) {
        double v = X[i][c];
        if (!isnan(v))
            m2 += (v - m) * (v - m);
    }
    *n = (double)cnt;
    *nan = nn;
    *mean = (double)m;
    *std = (double)sqrtl(m2 / cnt);
    *mn = lo;
    *mx = hi;
}

static void rel_near(double got, double want, double tol, const char *what)
{
    double scale = fabs(want) > 1 ? fabs(want) : 1;
    if (!(fabs(got - want) <= tol * scale))
        fail_msg("%s: got %.17g, expected %.17g", what, got, want);
}

static const char *const basic_yaml = "pipeline: basic\n"
                                      "workdir: work-basic\n"
                                      "chunk_rows: 100\n"
                                      "stages:\n"
                                      "  load: {op: load.hdf5, file: data.h5, arrays: {X: /X, y: /y}}\n"
                                      "  conv: {op: convert, input: load, dtype: float64}\n"
                                      "  desc: {op: describe, input: conv}\n";

/* sl_pipeline_read_file: the structure of a pipeline whose data file does not
 * exist (sl_pipeline_load_file fails on it); running or judging it is refused. */
static void test_read_structure_without_data(void **state)
{
    (void)state;
    char yml[512], wd[512];
    path_in(yml, sizeof yml, "structure.yaml");
    path_in(wd, sizeof wd, "structure-wd");
    FILE *f = fopen(yml, "w");
    assert_non_null(f);
    fprintf(f, "pipeline: s\nworkdir: structure-wd\ncheckpoint: final\nstages:\n"
               "  load: { op: load.hdf5, file: not-made-yet.h5, arrays: { X: /X, y: /y } }\n"
               "  conv: { op: convert, input: load, dtype: float64 }\n"
               "  fit:  { op: linreg, input: conv }\n"
               "  score: { op: metrics, model: fit, data: conv }\n");
    fclose(f);
    sl_pipeline *p = NULL;
    sl_error err;
    assert_int_equal(sl_pipeline_load_file(yml, &p, &err), SL_ERR_IO);
    assert_non_null(strstr(err.message, "not-made-yet.h5"));
    assert_int_equal(sl_pipeline_read_file(yml, &p, &err), SL_OK);
    assert_int_equal(sl_pipeline_planned(p), 0);
    assert_int_equal(sl_pipeline_stage_count(p), 4);
    const char *want[] = {"load", "conv", "fit", "score"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(sl_pipeline_stage_name(p, i), want[i]);
    /* score reads fit (model) and conv (data) */
    assert_int_equal(sl_pipeline_stage_input_count(p, 3), 2);
    const char *param = NULL;
    size_t a = sl_pipeline_stage_input(p, 3, 0, &param);
    assert_int_equal(a, 2);
    assert_string_equal(param, "model");
    assert_int_equal(sl_pipeline_stage_input(p, 3, 1, &param), 1);
    assert_string_equal(param, "data");
    assert_int_equal(sl_frame_count(sl_pipeline_stage_output(p, 1)), 0);
    /* checkpoint: final streams the stages others read, when their op can be */
    assert_int_equal(sl_pipeline_stage_stored(p, 1), 0);
    assert_int_equal(sl_pipeline_stage_stored(p, 3), 1);
    assert_int_equal(sl_pipeline_run(p, NULL, &err), SL_ERR_USAGE);
    assert_non_null(strstr(err.message, "read for its structure only"));
    sl_stage_status st[4];
    assert_int_equal(sl_pipeline_status(p, NULL, st, &err), SL_ERR_USAGE);
    struct stat sb;
    assert_int_not_equal(stat(wd, &sb), 0); /* nothing made */
    sl_pipeline_free(p);
    /* the structure is still checked: an unknown input */
    f = fopen(yml, "w");
    assert_non_null(f);
    fprintf(f, "stages:\n  a: { op: describe, input: b }\n");
    fclose(f);
    assert_int_equal(sl_pipeline_read_file(yml, &p, &err), SL_ERR_CONFIG);
    assert_null(p);
}

static void test_run_basic(void **state)
{
    (void)state;
    sl_pipeline *p = NULL;
    sl_error err;
    if (sl_pipeline_load_string(basic_yaml, strlen(basic_yaml), NAME, tmpdir, &p, &err) != SL_OK)
        fail_msg("load: %d:%d: %s", err.line, err.col, err.message);
    assert_string_equal(sl_pipeline_name(p), "basic");
    assert_int_equal(sl_pipeline_chunk_rows(p), 100);
    assert_int_equal(sl_pipeline_stage_count(p), 3);
    assert_string_equal(sl_pipeline_stage_name(p, 0), "load");
    assert_string_equal(sl_pipeline_stage_name(p, 1), "conv");
    assert_string_equal(sl_pipeline_stage_name(p, 2), "desc");
    assert_string_equal(sl_pipeline_stage_op(p, 2)->name, "describe");
    assert_int_equal(sl_pipeline_stage_input_count(p, 0), 0);
    assert_int_equal(sl_pipeline_stage_input_count(p, 2), 1);
    const char *param = NULL;
    assert_int_equal(sl_pipeline_stage_input(p, 2, 0, &param), 1);
    assert_string_equal(param, "input");
    char wd[512];
    path_in(wd, sizeof wd, "work-basic");
    assert_string_equal(sl_pipeline_workdir(p), wd);

    /* planned schemas, before any data moves */
    const sl_frame *lf = sl_pipeline_stage_output(p, 0);
    assert_int_equal(sl_frame_rows(lf), ROWS);
    assert_int_equal(sl_frame_count(lf), 2);
    assert_string_equal(sl_frame_array(lf, 0)->name, "X");
    assert_int_equal(sl_frame_array(lf, 0)->dtype, SL_FLOAT32);
    assert_int_equal(sl_frame_array(lf, 0)->cols, COLS);
    assert_string_equal(sl_frame_array(lf, 1)->name, "y");
    assert_int_equal(sl_frame_array(lf, 1)->dtype, SL_INT32);
    assert_int_equal(sl_frame_array(lf, 1)->cols, 1);

    counts c;
    memset(&c, 0, sizeof c);
    sl_run_options opt = {.abi = SL_ABI_VERSION, .threads = 2, .progress = on_event, .user = &c};
    if (sl_pipeline_run(p, &opt, &err) != SL_OK)
        fail_msg("run: %s: %s", err.stage, err.message);
    assert_int_equal(err.code, SL_OK);

    const int64_t chunks = (ROWS + 99) / 100; /* 11 */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c.start[i], 1);
        assert_int_equal(c.done[i], 1);
        assert_int_equal(c.failed[i], 0);
        assert_true(c.progress[i] >= 1);
        assert_int_equal(c.total[i], chunks);
        assert_int_equal(c.last_done[i], chunks);
    }
    assert_int_equal(c.bad_total, 0);
    assert_int_equal(c.non_monotonic, 0);
    assert_int_equal(c.order_error, 0);
    assert_int_equal(c.rows[0], ROWS);
    assert_int_equal(c.rows[1], ROWS);
    assert_int_equal(c.rows[2], 1);
    assert_int_equal(c.bytes[0], 0); /* the source is read in place, not copied */
    /* X, float32 made float64, is stored as float32 (its values are float32s); y, from int32, as float64 */
    assert_int_equal(c.bytes[1], (int64_t)ROWS * (COLS * 4 + 8));
    assert_int_equal(c.bytes[2], 6 * (COLS + 1) * 8);

    /* conv's frame: float64 copies of the data */
    const sl_frame *cf = sl_pipeline_stage_output(p, 1);
    assert_int_equal(sl_frame_rows(cf), ROWS);
    assert_int_equal(sl_frame_array(cf, 0)->dtype, SL_FLOAT64);
    assert_int_equal(sl_frame_array(cf, 1)->dtype, SL_FLOAT64);
    static double xd[ROWS * COLS], yd[ROWS];
    assert_int_equal(sl_frame_read_all(cf, "X", SL_FLOAT64, xd, ROWS * COLS, &err), SL_OK);
    assert_int_equal(sl_frame_read_all(cf, "y", SL_FLOAT64, yd, ROWS, &err), SL_OK);
    for (int i = 0; i < ROWS; i++) {
        for (int k = 0; k < COLS; k++)
            if (!(xd[i * COLS + k] == (double)X[i][k] || (isnan(X[i][k]) && isnan(xd[i * COLS + k]))))
                fail_msg("conv X[%d][%d] = %.17g, expected %.17g", i, k, xd[i * COLS + k], (double)X[i][k]);
        assert_true(yd[i] == (double)(i % 7 - 3));
    }
    /* the buffer must hold the whole array */
    assert_int_equal(sl_frame_read_all(cf, "X", SL_FLOAT64, xd, ROWS * COLS - 1, &err), SL_ERR_USAGE);
    assert_int_equal(sl_frame_read_all(cf, "nope", SL_FLOAT64, xd, ROWS * COLS, &err), SL_ERR_USAGE);

    /* load's frame read back as its own types */
    static float xf[ROWS * COLS];
    assert_int_equal(sl_frame_read_all(lf, "X", SL_FLOAT32, xf, ROWS * COLS, &err), SL_OK);
    assert_memory_equal(xf, X, sizeof X);

    /* describe: one row of per-column statistics */
    const sl_frame *df = sl_pipeline_stage_output(p, 2);
    assert_int_equal(sl_frame_rows(df), 1);
    assert_int_equal(sl_frame_count(df), 12);
    const char *stats[] = {"count", "nan_count", "mean", "std", "min", "max"};
    for (int j = 0; j < 6; j++) {
        char name[64];
        snprintf(name, sizeof name, "X.%s", stats[j]);
        long at = sl_frame_find(df, name);
        assert_true(at >= 0);
        assert_int_equal(sl_frame_array(df, (size_t)at)->dtype, SL_FLOAT64);
        assert_int_equal(sl_frame_array(df, (size_t)at)->cols, COLS);
    }
    double got[6][COLS];
    for (int j = 0; j < 6; j++) {
        char name[64];
        snprintf(name, sizeof name, "X.%s", stats[j]);
        if (sl_frame_read_all(df, name, SL_FLOAT64, got[j], COLS, &err) != SL_OK)
            fail_msg("%s: %s", name, err.message);
    }
    for (int k = 0; k < COLS; k++) {
        double n, nan, mean, std, mn, mx;
        x_stats(k, &n, &nan, &mean, &std, &mn, &mx);
        assert_true(got[0][k] == n);
        assert_true(got[1][k] == nan);
        rel_near(got[2][k], mean, 1e-13, "X.mean");
        rel_near(got[3][k], std, 1e-12, "X.std");
        assert_true(got[4][k] == mn);
        assert_true(got[5][k] == mx);
    }
    /* by hand: column 1 has a NaN in rows 3, 20, 37, ... (i % 17 == 3): 59 of them */
    assert_true(got[1][1] == 59);
    assert_true(got[0][1] == ROWS - 59);
    assert_true(got[1][0] == 0 && got[0][0] == ROWS);
    /* y: -3..3 repeating; 1003 = 143 * 7 + 2, the extra two are -3 and -2 */
    double ymean;
    assert_int_equal(sl_frame_read_all(df, "y.mean", SL_FLOAT64, &ymean, 1, &err), SL_OK);
    rel_near(ymean, -5.0 / 1003.0, 1e-14, "y.mean");

    /* the checkpoints are in the workdir, no temporary files */
    assert_true(file_exists("work-basic/load.h5"));
    assert_true(file_exists("work-basic/conv.h5"));
    assert_true(file_exists("work-basic/desc.h5"));
    assert_false(file_exists("work-basic/load.h5.tmp"));
    assert_false(file_exists("work-basic/conv.h5.tmp"));
    assert_false(file_exists("work-basic/desc.h5.tmp"));
    sl_pipeline_free(p);
}

/* ---- (c) a user op ------------------------------------------------------------ */

static const sl_param_spec dbl_params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose float64 arrays are scaled"},
    {"factor", SL_PARAM_NUMBER, 0, "2", NULL, -100, 100, "multiplier"},
};

static sl_status dbl_plan(sl_stage *st, sl_error *err)
{
    const sl_frame *in = sl_stage_input(st, "input");
    for (size_t i = 0; i < sl_frame_count(in); i++)
        if (sl_frame_array(in, i)->dtype != SL_FLOAT64)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "input", "test.double needs float64 arrays; '%s' is %s",
                                  sl_frame_array(in, i)->name, sl_dtype_name(sl_frame_array(in, i)->dtype));
    double *factor = malloc(sizeof *factor);
    if (!factor)
        return SL_ERR_NOMEM;
    *factor = sl_params_number(sl_stage_params(st), "factor");
    sl_stage_set_state(st, factor);
    return sl_frame_copy_schema(sl_stage_output(st), in, err);
}

static sl_status dbl_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)partial;
    (void)err;
    const double f = *(const double *)ctx;
    for (size_t i = 0; i < in->n_arrays; i++) {
        const double *a = in->arrays[i].data;
        double *b = out->arrays[i].data;
        size_t n = (size_t)(in->rows * in->arrays[i].info->cols);
        for (size_t k = 0; k < n; k++)
            b[k] = a[k] * f;
    }
    out->rows = in->rows;
    return SL_OK;
}

static sl_status dbl_run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    sl_pass pass = {.name = "double",
                    .input = sl_stage_input(st, "input"),
                    .output = sl_stage_output(st),
                    .ctx = sl_stage_state(st),
                    .chunk = dbl_chunk};
    return sl_exec_pass(ex, st, &pass, NULL, err);
}

static const sl_op dbl_op = {
    .abi = SL_ABI_VERSION,
    .name = "test.double",
    .summary = "multiplies float64 arrays by a factor",
    .params = dbl_params,
    .n_params = 2,
    .plan = dbl_plan,
    .run = dbl_run,
    .free_state = free,
};

static void test_op_register(void **state)
{
    (void)state;
    sl_error err;
    sl_error_clear(&err);
    /* registered once in main(); a second time is refused */
    assert_ptr_equal(sl_op_find("test.double"), &dbl_op);
    assert_int_equal(sl_op_register(&dbl_op, NULL, NULL, &err), SL_ERR_USAGE);
    assert_non_null(strstr(err.message, "an op named 'test.double' is already registered"));
    /* a copy under a built-in's name too */
    sl_op dup = dbl_op;
    dup.name = "describe";
    assert_int_equal(sl_op_register(&dup, NULL, NULL, &err), SL_ERR_USAGE);
    assert_non_null(strstr(err.message, "'describe' is already registered"));
    /* no run function */
    sl_op norun = dbl_op;
    norun.name = "test.norun";
    norun.run = NULL;
    assert_int_equal(sl_op_register(&norun, NULL, NULL, &err), SL_ERR_USAGE);
    assert_non_null(strstr(err.message, "has no run function"));
    assert_null(sl_op_find("test.norun"));
    /* bad names */
    sl_op bad = dbl_op;
    bad.name = "no/slash";
    assert_int_equal(sl_op_register(&bad, NULL, NULL, &err), SL_ERR_USAGE);
    assert_int_equal(sl_op_register(NULL, NULL, NULL, &err), SL_ERR_USAGE);
    /* a parameter called 'op' is reserved */
    static const sl_param_spec reserved[] = {{"op", SL_PARAM_STRING, 0, NULL, NULL, 0, 0, NULL}};
    sl_op r = dbl_op;
    r.name = "test.reserved";
    r.params = reserved;
    r.n_params = 1;
    assert_int_equal(sl_op_register(&r, NULL, NULL, &err), SL_ERR_USAGE);
    assert_null(sl_op_find("test.reserved"));
    /* a default that is no value of its type is refused here, not when a stage uses it */
    static const sl_param_spec bad_default[] = {{"k", SL_PARAM_INT, 0, "abc", NULL, 0, 0, "an int"}};
    sl_op d = dbl_op;
    d.name = "test.baddefault";
    d.params = bad_default;
    d.n_params = 1;
    assert_int_equal(sl_op_register(&d, NULL, NULL, &err), SL_ERR_USAGE);
    assert_int_equal(err.code, SL_ERR_USAGE);
    assert_non_null(strstr(err.message, "op 'test.baddefault' has an invalid default for parameter 'k' ('abc')"));
    assert_null(sl_op_find("test.baddefault"));
}

static void test_user_op_in_pipeline(void **state)
{
    (void)state;
    const char *yaml = "pipeline: userop\n"
                       "workdir: work-user\n"
                       "chunk_rows: 64\n"
                       "stages:\n"
                       "  load: {op: load.hdf5, file: data.h5, arrays: {X: /X, y: /y}}\n"
                       "  conv: {op: convert, input: load, dtype: float64}\n"
                       "  dbl: {op: test.double, input: conv, factor: 3}\n"
                       "  dbl2: {op: test.double, input: dbl}\n";
    sl_pipeline *p = NULL;
    sl_error err;
    if (sl_pipeline_load_string(yaml, strlen(yaml), NAME, tmpdir, &p, &err) != SL_OK)
        fail_msg("load: %d:%d: %s", err.line, err.col, err.message);
    assert_ptr_equal(sl_pipeline_stage_op(p, 2), &dbl_op);
    sl_run_options opt = {.abi = SL_ABI_VERSION, .threads = 2};
    if (sl_pipeline_run(p, &opt, &err) != SL_OK)
        fail_msg("run: %s: %s", err.stage, err.message);
    sl_pipeline_free(p);

    /* read the checkpoints with HDF5 itself */
    const char *files[] = {"work-user/dbl.h5", "work-user/dbl2.h5"};
    const double factor[] = {3.0, 6.0}; /* dbl2 uses the default, 2 */
    for (int f = 0; f < 2; f++) {
        char path[512];
        path_in(path, sizeof path, files[f]);
        hid_t h = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        assert_true(h >= 0);
        hid_t d = H5Dopen2(h, "X", H5P_DEFAULT);
        assert_true(d >= 0);
        hid_t sp = H5Dget_space(d);
        hsize_t dims[2];
        assert_int_equal(H5Sget_simple_extent_ndims(sp), 2);
        H5Sget_simple_extent_dims(sp, dims, NULL);
        assert_int_equal(dims[0], ROWS);
        assert_int_equal(dims[1], COLS);
        hid_t t = H5Dget_type(d);
        assert_int_equal(H5Tget_class(t), H5T_FLOAT);
        assert_int_equal(H5Tget_size(t), 8);
        H5Tclose(t);
        static double buf[ROWS * COLS];
        assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
        H5Sclose(sp);
        H5Dclose(d);
        for (int i = 0; i < ROWS; i++)
            for (int k = 0; k < COLS; k++) {
                double want = (double)X[i][k] * factor[f];
                double g = buf[i * COLS + k];
                if (!(g == want || (isnan(want) && isnan(g))))
                    fail_msg("%s X[%d][%d] = %.17g, expected %.17g", files[f], i, k, g, want);
            }
        static double yb[ROWS];
        d = H5Dopen2(h, "y", H5P_DEFAULT);
        assert_true(d >= 0);
        assert_true(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, yb) >= 0);
        H5Dclose(d);
        for (int i = 0; i < ROWS; i++)
            assert_true(yb[i] == (i % 7 - 3) * factor[f]);
        /* provenance attributes */
        assert_true(H5Aexists(h, "sluice_op") > 0);
        assert_true(H5Aexists(h, "sluice_params") > 0);
        H5Fclose(h);
    }

    /* the op's plan rejects float32 input, located at 'input' */
    const char *bad = "stages:\n"
                      "  load: {op: load.hdf5, file: data.h5, arrays: {X: /X}}\n"
                      "  dbl: {op: test.double, input: load}\n";
    assert_int_equal(sl_pipeline_load_string(bad, strlen(bad), NAME, tmpdir, &p, &err), SL_ERR_CONFIG);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.col, 33);
    assert_string_equal(err.stage, "dbl");
    assert_non_null(strstr(err.message, "test.double needs float64 arrays; 'X' is float32"));

    /* its NUMBER parameter is checked against the schema's bounds */
    const char *oob = "stages:\n"
                      "  load: {op: load.hdf5, file: data.h5, arrays: {X: /X}}\n"
                      "  conv: {op: convert, input: load, dtype: float64}\n"
                      "  dbl: {op: test.double, input: conv, factor: 1000}\n";
    assert_int_equal(sl_pipeline_load_string(oob, strlen(oob), NAME, tmpdir, &p, &err), SL_ERR_CONFIG);
    assert_int_equal(err.line, 4);
    assert_int_equal(err.col, 47);
    assert_non_null(strstr(err.message, "factor"));
}

/* ---- (d) thread count does not change results -------------------------------- */

static const char *const threads_yaml = "pipeline: thr\n"
                                        "chunk_rows: 7\n"
                                        "stages:\n"
                                        "  load: {op: load.hdf5, file: data.h5, arrays: {X: /X, y: /y}}\n"
                                        "  conv: {op: convert, input: load, dtype: float64}\n"
                                        "  all: {op: describe, input: conv}\n"
                                        "  raw: {op: describe, input: load, arrays: [X]}\n";

static void run_describe(int threads, const char *workdir, double out[2][6][COLS], double *ystd)
{
    sl_pipeline *p = NULL;
    sl_error err;
    if (sl_pipeline_load_string(threads_yaml, strlen(threads_yaml), NAME, tmpdir, &p, &err) != SL_OK)
        fail_msg("load: %s", err.message);
    char wd[512];
    path_in(wd, sizeof wd, workdir);
    sl_run_options opt = {.abi = SL_ABI_VERSION, .threads = threads, .workdir = wd};
    if (sl_pipeline_run(p, &opt, &err) != SL_OK)
        fail_msg("run with %d threads: %s", threads, err.message);
    const char *stats[] = {"count", "nan_count", "mean", "std", "min", "max"};
    for (int s = 0; s < 2; s++) {
        const sl_frame *f = sl_pipeline_stage_output(p, s == 0 ? 2 : 3);
        for (int j = 0; j < 6; j++) {
            char name[64];
            snprintf(name, sizeof name, "X.%s", stats[j]);
            assert_int_equal(sl_frame_read_all(f, name, SL_FLOAT64, out[s][j], COLS, &err), SL_OK);
        }
    }
    assert_int_equal(sl_frame_read_all(sl_pipeline_stage_output(p, 2), "y.std", SL_FLOAT64, ystd, 1, &err), SL_OK);
    /* raw describes X only */
    assert_true(sl_frame_find(sl_pipeline_stage_output(p, 3), "y.mean") < 0);
    sl_pipeline_free(p);
}

static void test_threads_bitwise(void **state)
{
    (void)state;
    static double a[2][6][COLS], b[2][6][COLS], c[2][6][COLS];
    double ya, yb, yc;
    run_describe(1, "work-t1", a, &ya);
    run_describe(2, "work-t2", b, &yb);
    run_describe(3, "work-t3", c, &yc);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(a, c, sizeof a);
    assert_memory_equal(&ya, &yb, sizeof ya);
    assert_memory_equal(&ya, &yc, sizeof ya);
    /* describe of float32 and of its float64 conversion agree exactly */
    assert_memory_equal(a[0], a[1], sizeof a[0]);
    /* and are right */
    for (int k = 0; k < COLS; k++) {
        double n, nan, mean, std, mn, mx;
        x_stats(k, &n, &nan, &mean, &std, &mn, &mx);
        rel_near(a[0][2][k], mean, 1e-13, "mean with 7-row chunks");
        rel_near(a[0][3][k], std, 1e-12, "std with 7-row chunks");
    }
}

/* Running the same pipeline again, into the same workdir, gives the same
 * bytes: nothing from the first run leaks into the second. */
static void test_run_twice(void **state)
{
    (void)state;
    sl_pipeline *p = NULL;
    sl_error err;
    if (sl_pipeline_load_string(threads_yaml, strlen(threads_yaml), NAME, tmpdir, &p, &err) != SL_OK)
        fail_msg("load: %s", err.message);
    char wd[512];
    path_in(wd, sizeof wd, "work-twice");
    sl_run_options opt = {.abi = SL_ABI_VERSION, .threads = 2, .workdir = wd};
    static double first[12][COLS], second[12][COLS];
    for (int run = 0; run < 2; run++) {
        if (sl_pipeline_run(p, &opt, &err) != SL_OK)
            fail_msg("run %d: %s", run, err.message);
        const sl_frame *f = sl_pipeline_stage_output(p, 2);
        assert_int_equal(sl_frame_count(f), 12);
        for (size_t j = 0; j < 12; j++) {
            const sl_array_info *a = sl_frame_array(f, j);
            double *dst = run == 0 ? first[j] : second[j];
            assert_int_equal(sl_frame_read_all(f, a->name, SL_FLOAT64, dst, (size_t)a->cols, &err), SL_OK);
        }
    }
    assert_memory_equal(first, second, sizeof first);
    sl_pipeline_free(p);
}

/* Loads yaml (relative paths in tmpdir) and runs it with the event counter c
 * on 2 threads; returns the pipeline and puts the run's status in *s. */
static sl_pipeline *run_counted(const char *yaml, const char *workdir, counts *c, sl_status *s, sl_error *err)
{
    sl_pipeline *p = NULL;
    if (sl_pipeline_load_string(yaml, strlen(yaml), NAME, tmpdir, &p, err) != SL_OK)
        fail_msg("load: %s", err->message);
    memset(c, 0, sizeof *c);
    sl_run_options opt = {.abi = SL_ABI_VERSION, .threads = 2, .workdir = workdir, .progress = on_event, .user = c};
    *s = sl_pipeline_run(p, &opt, err);
    return p;
}

/* A training stage reports each epoch (SL_EVENT_EPOCH): epochs 1..E in turn,
 * each with the loss the model records (the `loss` attribute of its coef). */
static void test_epoch_events(void **state)
{
    (void)state;
    char data[512], wd[512];
    path_in(data, sizeof data, "epochs.h5");
    path_in(wd, sizeof wd, "work-epochs");
    static double x[64][2];
    static int32_t y[64];
    for (int i = 0; i < 64; i++) {
        x[i][0] = (double)(i % 8) - 3.5;
        x[i][1] = (double)(i % 5) - 2.0;
        y[i] = x[i][0] + 0.5 * x[i][1] > 0;
    }
    hid_t f = H5Fcreate(data, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dx[2] = {64, 2}, dy[1] = {64};
    write_ds(f, "X", H5T_NATIVE_DOUBLE, 2, dx, x);
    write_ds(f, "y", H5T_NATIVE_INT32, 1, dy, y);
    H5Fclose(f);
    const char *yaml = "stages:\n"
                       "  src: { op: load.hdf5, file: epochs.h5, arrays: { X: /X, y: /y } }\n"
                       "  fit: { op: logreg, input: src, epochs: 6, learning_rate: 0.5 }\n";
    sl_error err;
    counts c;
    sl_status s;
    sl_pipeline *p = run_counted(yaml, wd, &c, &s, &err);
    if (s != SL_OK)
        fail_msg("run: %s", err.message);
    assert_int_equal(c.order_error, 0);
    assert_int_equal(c.epochs[0], 0);
    assert_int_equal(c.epochs[1], 6);
    size_t n = 0;
    const double *loss = sl_frame_attr(sl_pipeline_stage_output(p, 1), "coef", "loss", &n);
    assert_non_null(loss);
    assert_int_equal(n, 6);
    for (int e = 0; e < 6; e++)
        assert_true(c.loss[1][e] == loss[e]);
    assert_true(loss[5] < loss[0]);
    /* lookups by name */
    assert_int_equal(sl_pipeline_stage_find(p, "fit"), 1);
    assert_int_equal(sl_pipeline_stage_find(p, "nope"), SIZE_MAX);
    double rows = 0;
    assert_int_equal(sl_pipeline_stage_result_find(p, 1, "rows", &rows), 1);
    assert_true(rows == 64);
    assert_int_equal(sl_pipeline_stage_result_find(p, 1, "nope", &rows), 0);
    assert_int_equal(sl_pipeline_stage_result_find(p, 9, "rows", &rows), 0);
    sl_pipeline_free(p);
}

/* A reused stage gives its results back in the order the op recorded them
 * when it ran (clean: rows_dropped, values_imputed, values_clipped), not in
 * HDF5's name order. */
static void test_results_order_on_reuse(void **state)
{
    (void)state;
    char wd[512];
    path_in(wd, sizeof wd, "work-results-order");
    const char *yaml = "stages:\n"
                       "  src: { op: load.hdf5, file: data.h5, arrays: { X: /X } }\n"
                       "  fix: { op: clean, input: src, nan: { X: impute_mean } }\n";
    sl_pipeline *p = NULL;
    sl_error err;
    if (sl_pipeline_load_string(yaml, strlen(yaml), NAME, tmpdir, &p, &err) != SL_OK)
        fail_msg("load: %s", err.message);
    char first[8][64], second[8][64];
    size_t n1 = 0, n2 = 0;
    for (int run = 0; run < 2; run++) {
        counts c;
        memset(&c, 0, sizeof c);
        sl_run_options opt = {.abi = SL_ABI_VERSION, .threads = 1, .workdir = wd, .progress = on_event, .user = &c};
        if (sl_pipeline_run(p, &opt, &err) != SL_OK)
            fail_msg("run %d: %s", run, err.message);
        assert_int_equal(c.start[1], run == 0 ? 1 : 0); /* the second run reuses it */
        size_t n = sl_pipeline_stage_result_count(p, 1);
        assert_true(n >= 2 && n <= 8);
        for (size_t k = 0; k < n; k++)
            snprintf(run == 0 ? first[k] : second[k], 64, "%s", sl_pipeline_stage_result(p, 1, k, NULL));
        *(run == 0 ? &n1 : &n2) = n;
    }
    assert_int_equal(n1, n2);
    for (size_t k = 0; k < n1; k++)
        assert_string_equal(first[k], second[k]);
    assert_string_equal(first[0], "rows_dropped"); /* recorded first, not first by name */
    sl_pipeline_free(p);
}

/* Getters given NULL or an index out of range answer NULL, 0 or SIZE_MAX, and
 * the frame calls a usage error: none crashes. */
static void test_getters_null_safe(void **state)
{
    (void)state;
    const char *param = "x";
    double v = 0;
    sl_error err;
    assert_null(sl_pipeline_name(NULL));
    assert_null(sl_pipeline_workdir(NULL));
    assert_int_equal(sl_pipeline_stage_count(NULL), 0);
    assert_null(sl_pipeline_stage_name(NULL, 0));
    assert_null(sl_pipeline_stage_op(NULL, 0));
    assert_int_equal(sl_pipeline_stage_find(NULL, "a"), SIZE_MAX);
    assert_int_equal(sl_pipeline_stage_input_count(NULL, 0), 0);
    assert_int_equal(sl_pipeline_stage_input(NULL, 0, 0, &param), SIZE_MAX);
    assert_null(param);
    assert_null(sl_pipeline_stage_output(NULL, 0));
    assert_int_equal(sl_pipeline_stage_stored(NULL, 0), 0);
    assert_int_equal(sl_pipeline_stage_result_count(NULL, 0), 0);
    assert_null(sl_pipeline_stage_result(NULL, 0, 0, &v));
    assert_int_equal(sl_pipeline_stage_result_find(NULL, 0, "rows", &v), 0);
    assert_int_equal(sl_pipeline_planned(NULL), 0);
    assert_int_equal(sl_frame_count(NULL), 0);
    assert_int_equal(sl_frame_rows(NULL), -1);
    assert_null(sl_frame_array(NULL, 0));
    assert_null(sl_frame_column(NULL, 0, 0));
    assert_int_equal(sl_frame_find(NULL, "X"), -1);
    double buf[4];
    assert_int_equal(sl_frame_read_all(NULL, "X", SL_FLOAT64, buf, 4, &err), SL_ERR_USAGE);
    assert_string_equal(err.message, "sl_frame_read_all needs a frame and a buffer");
    assert_int_equal(sl_frame_add(NULL, "X", SL_FLOAT64, 2, &err), SL_ERR_USAGE);
    assert_string_equal(err.message, "sl_frame_add needs a frame");
    /* a real pipeline, indexes out of range */
    const char *yaml = "stages:\n  src: { op: load.hdf5, file: data.h5, arrays: { X: /X } }\n";
    sl_pipeline *p = NULL;
    if (sl_pipeline_load_string(yaml, strlen(yaml), NAME, tmpdir, &p, &err) != SL_OK)
        fail_msg("load: %s", err.message);
    assert_null(sl_pipeline_stage_name(p, 1));
    assert_int_equal(sl_pipeline_stage_input(p, 0, 0, &param), SIZE_MAX);
    assert_int_equal(sl_pipeline_stage_input(p, 5, 0, &param), SIZE_MAX);
    assert_null(sl_pipeline_stage_result(p, 0, 3, &v));
    sl_pipeline_free(p);
}

/* ---- (e) a failing stage ------------------------------------------------------- */

static void test_failing_stage(void **state)
{
    (void)state;
    const char *yaml = "pipeline: fail\n"
                       "workdir: work-fail\n"
                       "chunk_rows: 4\n"
                       "stages:\n"
                       "  load: {op: load.hdf5, file: bad.h5, arrays: {X: /X}}\n"
                       "  conv: {op: convert, input: load, dtype: int8}\n"
                       "  desc: {op: describe, input: conv}\n";
    sl_error err;
    counts c;
    sl_status s;
    sl_pipeline *p = run_counted(yaml, NULL, &c, &s, &err);
    assert_int_equal(s, SL_ERR_DATA);
    assert_int_equal(err.code, SL_ERR_DATA);
    assert_string_equal(err.stage, "conv");
    if (!strstr(err.message, "array 'X' row 5 column 1: value 1000 does not fit in int8"))
        fail_msg("message: %s", err.message);
    /* events: load done, conv failed, desc never started */
    assert_int_equal(c.done[0], 1);
    assert_int_equal(c.start[1], 1);
    assert_int_equal(c.failed[1], 1);
    assert_int_equal(c.done[1], 0);
    assert_int_equal(c.start[2], 0);

    /* the workdir holds load's checkpoint and nothing else */
    assert_true(file_exists("work-fail/load.h5"));
    assert_false(file_exists("work-fail/conv.h5"));
    assert_false(file_exists("work-fail/conv.h5.tmp"));
    assert_false(file_exists("work-fail/desc.h5"));
    char wd[512];
    path_in(wd, sizeof wd, "work-fail");
    DIR *d = opendir(wd);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n >= 4 && strcmp(e->d_name + n - 4, ".tmp") == 0)
            fail_msg("temporary file left: %s", e->d_name);
    }
    closedir(d);

    /* the load checkpoint is complete and readable */
    const sl_frame *lf = sl_pipeline_stage_output(p, 0);
    double buf[20];
    assert_int_equal(sl_frame_read_all(lf, "X", SL_FLOAT64, buf, 20, &err), SL_OK);
    assert_true(buf[11] == 1000.0);
    assert_true(buf[0] == -4.5);
    /* the failed stage's frame has no data */
    signed char i8[20];
    assert_int_not_equal(sl_frame_read_all(sl_pipeline_stage_output(p, 1), "X", SL_INT8, i8, 20, &err), SL_OK);
    sl_pipeline_free(p);
}

int main(void)
{
    sl_error err;
    if (sl_op_register(&dbl_op, NULL, NULL, &err) != SL_OK) {
        fprintf(stderr, "cannot register test.double: %s\n", err.message);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_root_not_mapping),
        cmocka_unit_test(test_err_stages_missing_or_empty),
        cmocka_unit_test(test_err_unknown_top_key),
        cmocka_unit_test(test_err_chunk_rows),
        cmocka_unit_test(test_err_threads),
        cmocka_unit_test(test_settings_ok),
        cmocka_unit_test(test_err_stage_shape),
        cmocka_unit_test(test_err_unknown_input),
        cmocka_unit_test(test_err_cycle),
        cmocka_unit_test(test_err_duplicate_stage),
        cmocka_unit_test(test_err_bad_param),
        cmocka_unit_test(test_err_load_hdf5),
        cmocka_unit_test(test_read_structure_without_data),
        cmocka_unit_test(test_run_basic),
        cmocka_unit_test(test_op_register),
        cmocka_unit_test(test_user_op_in_pipeline),
        cmocka_unit_test(test_threads_bitwise),
        cmocka_unit_test(test_run_twice),
        cmocka_unit_test(test_epoch_events),
        cmocka_unit_test(test_getters_null_safe),
        cmocka_unit_test(test_results_order_on_reuse),
        cmocka_unit_test(test_failing_stage),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
