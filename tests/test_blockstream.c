/* The executor's block streaming (src/plan/exec.c, stream_blocks), seen from
 * a reduce op that says its chunk() composes over blocks of B rows
 * (sl__exec_blocks_next): over an input streamed through row-local stages
 * (clean dropping rows, convert, normalize), every chunk reaches it in calls
 * that cover the chunk's rows in order, each call but the chunk's last a
 * whole number of blocks, each starting at the row that follows the last.
 * The rows it sees, hashed in order, are the rows it sees with whole chunks
 * (SLUICE_BLOCKS=off) and with every stage stored; a chunk that a filter
 * empties, and runs of dropped rows longer than a block, included. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <hdf5.h>
#include "plan/exec_int.h"
#include "sluice/sluice.h"
#include "test_tmpdir.h"

#define ROWS 20000
#define CHUNK 2500
#define BLOCK 128

static char tmpdir[256];

/* The op's partial: what one chunk's calls looked like, and a hash of the
 * rows they saw, in order. */
typedef struct calls {
    int64_t calls, rows, bad, next_row, last_rows;
    uint64_t hash;
} calls;

static uint64_t mix(uint64_t h, double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return (h ^ b) * UINT64_C(0x100000001b3);
}

static sl_status calls_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)ctx;
    (void)out;
    (void)err;
    calls *c = partial;
    /* a call after the chunk's first starts where the last ended, which was a whole number of blocks */
    if (c->calls > 0 && (in->row0 != c->next_row || c->last_rows % BLOCK != 0))
        c->bad++;
    c->calls++;
    c->rows += in->rows;
    c->next_row = in->row0 + in->rows;
    c->last_rows = in->rows;
    for (int64_t r = 0; r < in->rows; r++)
        for (size_t i = 0; i < in->n_arrays; i++) {
            const sl_array_info *a = in->arrays[i].info;
            for (int64_t k = 0; k < a->cols; k++)
                c->hash = mix(c->hash, ((const double *)in->arrays[i].data)[r * a->cols + k]);
        }
    return SL_OK;
}

static sl_status calls_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)ctx;
    (void)err;
    calls *a = acc;
    const calls *p = partial;
    a->calls += p->calls;
    a->rows += p->rows;
    a->bad += p->bad;
    a->hash = a->hash * UINT64_C(1099511628211) + p->hash;
    return SL_OK;
}

static const char *names[] = {"calls", "rows", "bad", "hash_hi", "hash_lo"};

static sl_status calls_plan(sl_stage *st, sl_error *err)
{
    sl_frame *out = sl_stage_output(st);
    sl_status rc = SL_OK;
    for (size_t k = 0; k < 5 && rc == SL_OK; k++)
        rc = sl_frame_add(out, names[k], SL_FLOAT64, 1, err);
    sl_frame_set_rows(out, 1);
    return rc;
}

static sl_status calls_run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    calls acc = {0};
    sl_pass pass = {.name = "calls",
                    .input = sl_stage_input(st, "input"),
                    .partial_size = sizeof acc,
                    .chunk = calls_chunk,
                    .merge = calls_merge};
    sl__exec_blocks_next(ex, BLOCK);
    sl_status rc = sl_exec_pass(ex, st, &pass, &acc, err);
    double v[5] = {(double)acc.calls, (double)acc.rows, (double)acc.bad, (double)(acc.hash >> 32),
                   (double)(acc.hash & 0xffffffffu)};
    for (size_t k = 0; k < 5 && rc == SL_OK; k++) {
        rc = sl_frame_set_data(sl_stage_output(st), names[k], &v[k], err);
        if (rc == SL_OK)
            rc = sl_stage_set_result(st, names[k], v[k], err);
    }
    return rc;
}

static const sl_param_spec calls_params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose float64 rows are hashed"},
};

static const sl_op calls_op = {
    .abi = SL_ABI_VERSION,
    .name = "test.blockcalls",
    .summary = "records how the executor hands a chunk's rows to a block-composable reduce",
    .params = calls_params,
    .n_params = 1,
    .plan = calls_plan,
    .run = calls_run,
};

static void write_ds(hid_t f, const char *name, int rank, const hsize_t *dims, const float *data)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
}

/* X: ROWS x 3 float32 with NaNs; y: NaN in every 7th row, in all of chunk
 * 3, and in a run of 3 blocks inside chunk 5; 'kept' gets the rows left. */
static void make_data(int64_t *kept)
{
    static float X[ROWS][3], y[ROWS];
    *kept = 0;
    for (int i = 0; i < ROWS; i++) {
        for (int c = 0; c < 3; c++)
            X[i][c] = (float)(sin(0.1 * i + c) * (c + 1) + 10 * c);
        if (i % 11 == 4)
            X[i][i % 3] = NAN;
        y[i] = (float)(0.01 * i);
        int chunk = i / CHUNK, at = i % CHUNK;
        if (i % 7 == 0 || chunk == 3 || (chunk == 5 && at >= 300 && at < 300 + 3 * BLOCK))
            y[i] = NAN;
        *kept += !isnan(y[i]);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/d.h5", tmpdir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    hsize_t dx[2] = {ROWS, 3}, dy[2] = {ROWS, 1};
    write_ds(f, "X", 2, dx, &X[0][0]);
    write_ds(f, "y", 2, dy, y);
    H5Fclose(f);
}

static const char *yaml_fmt = "pipeline: blocks\n"
                              "checkpoint: %s\n"
                              "chunk_rows: %d\n"
                              "stages:\n"
                              "  load: { op: load.hdf5, file: d.h5, arrays: { X: /X, y: /y } }\n"
                              "  clean: { op: clean, input: load, nan: { y: drop_row, X: impute_mean } }\n"
                              "  f64: { op: convert, input: clean, dtype: float64 }\n"
                              "  norm: { op: normalize, input: f64, arrays: [X] }\n"
                              "  seen: { op: test.blockcalls, input: norm }\n";

/* Runs the pipeline (checkpoint: ck) into workdir wd; fills r[] with seen's results. */
static void run(const char *ck, const char *wd, double r[5])
{
    char yaml[1024], work[512];
    snprintf(yaml, sizeof yaml, yaml_fmt, ck, CHUNK);
    snprintf(work, sizeof work, "%s/%s", tmpdir, wd);
    sl_pipeline *p = NULL;
    sl_error err;
    if (sl_pipeline_load_string(yaml, strlen(yaml), "blocks.yaml", tmpdir, &p, &err) != SL_OK)
        fail_msg("load: %s", err.message);
    sl_run_options opt = {.abi = SL_ABI_VERSION, .threads = 2, .workdir = work};
    if (sl_pipeline_run(p, &opt, &err) != SL_OK)
        fail_msg("run (%s): %s", wd, err.message);
    size_t i = sl_pipeline_stage_find(p, "seen");
    for (size_t k = 0; k < 5; k++)
        assert_int_equal(sl_pipeline_stage_result_find(p, i, names[k], &r[k]), 1);
    sl_pipeline_free(p);
}

static void test_blocks_cover_each_chunk_in_whole_blocks(void **state)
{
    (void)state;
    int64_t kept = 0;
    make_data(&kept);
    double blocks[5], whole[5], stored[5];
    run("final", "blocks", blocks);
    setenv("SLUICE_BLOCKS", "off", 1);
    run("final", "whole", whole);
    unsetenv("SLUICE_BLOCKS");
    run("true", "stored", stored);
    int64_t chunks = ROWS / CHUNK;
    /* whole chunks: one call per chunk with rows (chunk 3 has none) */
    assert_true(whole[0] == (double)(chunks - 1));
    assert_true(stored[0] == (double)(chunks - 1));
    /* blocks: more calls than chunks, each chunk's in whole blocks but its last */
    printf("%g calls in blocks of %d rows for %lld chunks\n", blocks[0], BLOCK, (long long)chunks);
    assert_true(blocks[0] > (double)chunks);
    for (double *r = blocks; r; r = r == blocks ? whole : r == whole ? stored : NULL) {
        assert_true(r[1] == (double)kept);
        assert_true(r[2] == 0);
    }
    /* the same rows, the same values, in the same order */
    assert_true(blocks[3] == whole[3] && blocks[4] == whole[4]);
    assert_true(blocks[3] == stored[3] && blocks[4] == stored[4]);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/sluice-test-blocks-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sl_test_rmtree(tmpdir);
    return 0;
}

int main(void)
{
    sl_error err;
    if (sl_op_register(&calls_op, NULL, NULL, &err) != SL_OK) {
        fprintf(stderr, "cannot register test.blockcalls: %s\n", err.message);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_cover_each_chunk_in_whole_blocks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
