/* A custom op in a pipeline, end to end (used by docs/c-api.md).
 *
 * It registers the op "example.clip_abs" (examples/clip_op.c), which clips every value of its
 * input's float arrays to [-bound, bound] (a map) and counts, per column, the
 * values it clipped (a reduce partial riding on the same pass). It writes a
 * small HDF5 file with the HDF5 C API and runs this pipeline on it three
 * times: 1 thread with 1000-row chunks, 4 threads with 64-row chunks (the
 * chunk size is in every cache key, so everything is recomputed), and the
 * same again (every checkpoint is fresh and reused, nothing is computed):
 *
 *   load  (load.hdf5)        -> X 1000x3 float64, y 1000x1 float32
 *   clip  (example.clip_abs) -> X, y clipped to [-2, 2]
 *   stats (describe)         -> X.min, X.max, ... of clip
 *
 * After each run it checks what sluice computed (or reused) against what it
 * computes here directly, and which stages were computed.
 *
 *   custom_op [FOLDER]
 *
 * works in FOLDER (created if missing, files kept for h5dump), or else in a
 * new temporary folder that it removes at the end. Exit status: 0 when every
 * check passes, 1 on a mismatch, 2 when sluice or HDF5 reports an error. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sluice/sluice.h>
#include "clip_op.h"

/* ---- the program -------------------------------------------------------- */

#define N 1000
#define F 3
#define BOUND 2.0

static const char pipeline_yaml[] = "pipeline: custom-op-example\n"
                                    "workdir: runs\n"
                                    "stages:\n"
                                    "  load:  { op: load.hdf5, file: data.h5, arrays: { X: /X, y: /y } }\n"
                                    "  clip:  { op: example.clip_abs, input: load, bound: 2.0 }\n"
                                    "  stats: { op: describe, input: clip }\n";

static double X[N][F]; /* the data, as written to data.h5 */
static float y[N];

static void make_data(void)
{
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < F; j++)
            X[i][j] = 3.0 * sin(0.05 * i * (j + 1)) + 0.25 * j;
        if (i % 97 == 0)
            X[i][2] = NAN;
        y[i] = (float)(2.5 * cos(0.01 * i));
    }
}

static int write_data(const char *path)
{
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0)
        return -1;
    hsize_t xdims[2] = {N, F}, ydims[1] = {N};
    hid_t xs = H5Screate_simple(2, xdims, NULL), ys = H5Screate_simple(1, ydims, NULL);
    hid_t xd = H5Dcreate2(file, "X", H5T_NATIVE_DOUBLE, xs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t yd = H5Dcreate2(file, "y", H5T_NATIVE_FLOAT, ys, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int ok = xd >= 0 && yd >= 0 && H5Dwrite(xd, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, X) >= 0 &&
             H5Dwrite(yd, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0;
    if (xd >= 0)
        H5Dclose(xd);
    if (yd >= 0)
        H5Dclose(yd);
    H5Sclose(xs);
    H5Sclose(ys);
    return H5Fclose(file) >= 0 && ok ? 0 : -1;
}

/* The progress callback: called from sluice's threads, one call at a time. */
typedef struct progress {
    int stages_computed;
    int64_t chunk_events;
} progress;

static int on_event(const sl_event *ev, void *user)
{
    progress *pg = user;
    switch (ev->kind) {
    case SL_EVENT_STAGE_START: pg->stages_computed++; break;
    case SL_EVENT_PROGRESS: pg->chunk_events++; break;
    case SL_EVENT_STAGE_DONE:
        if (ev->reused) /* the checkpoint was fresh: nothing was computed */
            printf("    %-6s %5lld rows   reused\n", ev->name, (long long)ev->rows);
        else
            printf("    %-6s %5lld rows %7lld bytes %8.4f s\n", ev->name, (long long)ev->rows, (long long)ev->bytes,
                   ev->seconds);
        break;
    case SL_EVENT_STAGE_FAILED: printf("    %-6s failed\n", ev->name); break;
    case SL_EVENT_EPOCH: break; /* training ops only */
    case SL_EVENT_WARNING: printf("    %-6s warning: %s\n", ev->name, ev->message); break;
    }
    return 0;
}

static int fail_sluice(const char *what, const sl_error *err)
{
    char buf[2048];
    fprintf(stderr, "custom_op: %s: %s\n", what, sl_error_format(err, buf, sizeof buf));
    return 2;
}

static long stage_index(const sl_pipeline *p, const char *name)
{
    for (size_t i = 0; i < sl_pipeline_stage_count(p); i++)
        if (strcmp(sl_pipeline_stage_name(p, i), name) == 0)
            return (long)i;
    return -1;
}

static int same(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

/* Compares the clip stage's output and figures with a direct computation.
 * Returns the number of mismatches. */
static int check_run(const sl_pipeline *p)
{
    int bad = 0;
    long clip_i = stage_index(p, "clip"), stats_i = stage_index(p, "stats");
    const sl_frame *out = sl_pipeline_stage_output(p, (size_t)clip_i);
    sl_error err;

    /* expected: clip by hand */
    static double want_x[N][F], got_x[N][F];
    static float want_y[N], got_y[N];
    double want_cols[F] = {0}, want_max[F], want_min[F], want_nan[F] = {0};
    int64_t want_total = 0;
    for (int j = 0; j < F; j++)
        want_max[j] = -INFINITY, want_min[j] = INFINITY;
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < F; j++) {
            double v = X[i][j];
            if (fabs(v) > BOUND) {
                v = v > 0 ? BOUND : -BOUND;
                want_cols[j]++;
                want_total++;
            }
            want_x[i][j] = v;
            if (isnan(v))
                want_nan[j]++;
            else {
                want_max[j] = fmax(want_max[j], v);
                want_min[j] = fmin(want_min[j], v);
            }
        }
        want_y[i] = y[i];
        if (fabs(y[i]) > BOUND) {
            want_y[i] = y[i] > 0 ? (float)BOUND : (float)-BOUND;
            want_total++;
        }
    }

    /* the streamed output, read back from the stage's checkpoint */
    if (sl_frame_rows(out) != N || sl_frame_read_all(out, "X", SL_FLOAT64, got_x, N * F, &err) != SL_OK ||
        sl_frame_read_all(out, "y", SL_FLOAT32, got_y, N, &err) != SL_OK) {
        fail_sluice("reading clip's output", &err);
        return 1;
    }
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < F; j++)
            if (!same(got_x[i][j], want_x[i][j]) && bad++ < 5)
                printf("    X[%d][%d] = %.17g, expected %.17g\n", i, j, got_x[i][j], want_x[i][j]);
        if (got_y[i] != want_y[i] && bad++ < 5)
            printf("    y[%d] = %.9g, expected %.9g\n", i, got_y[i], want_y[i]);
    }

    /* the result recorded with sl_stage_set_result */
    double total = -1;
    for (size_t k = 0; k < sl_pipeline_stage_result_count(p, (size_t)clip_i); k++) {
        double v;
        if (strcmp(sl_pipeline_stage_result(p, (size_t)clip_i, k, &v), "values_clipped") == 0)
            total = v;
    }
    if (total != (double)want_total) {
        bad++;
        printf("    values_clipped = %g, expected %lld\n", total, (long long)want_total);
    }

    /* the attribute vector set with sl_frame_set_attr */
    size_t n = 0;
    const double *cols = sl_frame_attr(out, "X", "clipped", &n);
    if (!cols || n != F || memcmp(cols, want_cols, sizeof want_cols) != 0) {
        bad++;
        printf("    X's 'clipped' attribute is wrong\n");
    }

    /* describe's output: a small frame held in memory */
    const sl_frame *stats = sl_pipeline_stage_output(p, (size_t)stats_i);
    double got_max[F], got_min[F], got_nan[F];
    if (sl_frame_read_all(stats, "X.max", SL_FLOAT64, got_max, F, &err) != SL_OK ||
        sl_frame_read_all(stats, "X.min", SL_FLOAT64, got_min, F, &err) != SL_OK ||
        sl_frame_read_all(stats, "X.nan_count", SL_FLOAT64, got_nan, F, &err) != SL_OK) {
        fail_sluice("reading stats' output", &err);
        return bad + 1;
    }
    for (int j = 0; j < F; j++)
        if (got_max[j] != want_max[j] || got_min[j] != want_min[j] || got_nan[j] != want_nan[j]) {
            bad++;
            printf("    X column %d: min %g max %g NaNs %g, expected %g %g %g\n", j, got_min[j], got_max[j],
                   got_nan[j], want_min[j], want_max[j], want_nan[j]);
        }
    printf("    values_clipped=%g, X clipped per column: %g %g %g -> %s\n", total, want_cols[0], want_cols[1],
           want_cols[2], bad ? "MISMATCH" : "ok");
    return bad;
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, name);
    return s;
}

/* Removes the temporary folder: data.h5 and runs/ (checkpoints and
 * whatever else sluice keeps there). */
static void remove_work(const char *dir)
{
    char *runs = path_in(dir, "runs"), *data = path_in(dir, "data.h5");
    DIR *d = runs ? opendir(runs) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *f = path_in(runs, e->d_name);
        if (f)
            unlink(f);
        free(f);
    }
    if (d)
        closedir(d);
    if (runs)
        rmdir(runs);
    if (data)
        unlink(data);
    rmdir(dir);
    free(runs);
    free(data);
}

int main(int argc, char **argv)
{
    char tmp[] = "/tmp/sluice-custom-op-XXXXXX";
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmp);
    if (!dir || (argc > 1 && mkdir(dir, 0777) != 0 && errno != EEXIST)) {
        fprintf(stderr, "custom_op: cannot create a work folder: %s\n", strerror(errno));
        return 2;
    }
    int keep = argc > 1, rc = 0;
    sl_pipeline *p = NULL;
    sl_error err;

    make_data();
    char *data = path_in(dir, "data.h5");
    if (!data || write_data(data) != 0) {
        fprintf(stderr, "custom_op: cannot write %s/data.h5\n", dir);
        rc = 2;
    }
    free(data);

    if (rc == 0 && sl_op_register(&example_clip_op, NULL, NULL, &err) != SL_OK)
        rc = fail_sluice("registering example.clip_abs", &err);

    /* relative paths in the text (data.h5, runs) resolve against dir */
    if (rc == 0 &&
        sl_pipeline_load_string(pipeline_yaml, strlen(pipeline_yaml), "custom_op.yaml", dir, &p, &err) != SL_OK)
        rc = fail_sluice("loading the pipeline", &err);
    if (rc == 0)
        printf("pipeline '%s', %zu stages, workdir %s\n", sl_pipeline_name(p), sl_pipeline_stage_count(p),
               sl_pipeline_workdir(p));

    /* the chunk size is part of every cache key: run 2 recomputes every
     * stage, run 3 (the same settings again) must reuse every checkpoint */
    const struct {
        int threads;
        int64_t chunk_rows;
        int computes;
    } runs[] = {{1, 1000, 1}, {4, 64, 1}, {4, 64, 0}};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0] && rc == 0; r++) {
        progress pg = {0};
        sl_run_options opt = {.abi = SL_ABI_VERSION, .threads = runs[r].threads,
                              .chunk_rows = runs[r].chunk_rows,
                              .progress = on_event,
                              .user = &pg};
        printf("run %zu: %d thread%s, %lld-row chunks\n", r + 1, runs[r].threads, runs[r].threads == 1 ? "" : "s",
               (long long)runs[r].chunk_rows);
        if (sl_pipeline_run(p, &opt, &err) != SL_OK) {
            rc = fail_sluice("running the pipeline", &err);
            break;
        }
        printf("    %d stages computed, %lld progress events\n", pg.stages_computed, (long long)pg.chunk_events);
        if (pg.stages_computed != (runs[r].computes ? (int)sl_pipeline_stage_count(p) : 0)) {
            printf("    expected %s\n", runs[r].computes ? "every stage to be computed" : "every checkpoint to be reused");
            rc = 1;
        }
        if (check_run(p) != 0)
            rc = 1;
    }

    if (rc == 0)
        printf("custom_op: all checks passed%s%s\n", keep ? "; files in " : "", keep ? dir : "");
    if (!keep)
        remove_work(dir);
    sl_pipeline_free(p);
    return rc;
}
