/* Tests of libsluice embedded in a program (issue 15): ops on the caller's
 * memory (sl_op_call), pipelines built in code, frames bound to input
 * stages and their content in the cache key, in-memory runs that write no
 * file, cancelling from a progress callback and from another thread and
 * resuming, op user data, the ABI checks, and BLIS kernels chosen without
 * being asked. Expected numbers are derived by hand in the comments (and
 * agree with NumPy: numpy.linalg.lstsq, (x - x.mean(0)) / x.std(0)). */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "sluice/sluice.h"
#include "test_tmpdir.h"

static char tmpdir[256];

static void fail_err(const char *what, const sl_error *err)
{
    char buf[2048];
    fail_msg("%s: %s", what, sl_error_format(err, buf, sizeof buf));
}

/* The lesson's four students: hours studied, hours slept; their scores. */
static const double lesson_X[4][2] = {{5, 7}, {3, 6}, {8, 8}, {2, 5}};
static double lesson_y[4] = {75, 60, 90, 55};

static sl_frame *lesson_frame(const double (*x)[2], const double *y)
{
    sl_error err;
    sl_frame *f = sl_frame_new();
    assert_non_null(f);
    sl_frame_set_rows(f, 4);
    if (sl_frame_add(f, "X", SL_FLOAT64, 2, &err) || sl_frame_add(f, "y", SL_FLOAT64, 1, &err) ||
        sl_frame_borrow_data(f, "X", x, &err) || (y && sl_frame_borrow_data(f, "y", y, &err)))
        fail_err("lesson frame", &err);
    return f;
}

static void read_doubles(const sl_frame *f, const char *name, double *out, size_t n)
{
    sl_error err;
    if (sl_frame_read_all(f, name, SL_FLOAT64, out, n, &err) != SL_OK)
        fail_err(name, &err);
}

/* ---- sl_op_call -------------------------------------------------------- */

static void test_op_call_zscore(void **state)
{
    (void)state;
    sl_frame *x = sl_frame_new();
    sl_error err;
    sl_frame_set_rows(x, 4);
    assert_int_equal(sl_frame_add(x, "X", SL_FLOAT64, 2, &err), SL_OK);
    assert_int_equal(sl_frame_borrow_data(x, "X", lesson_X, &err), SL_OK);
    sl_frame *z = NULL;
    if (sl_op_call("normalize", &z, &err, SL_ARG_FRAME("input", x), SL_ARG_STRING("method", "zscore"), SL_ARG_END))
        fail_err("normalize", &err);
    assert_int_equal(sl_frame_rows(z), 4);
    double got[8];
    read_doubles(z, "X", got, 8);
    /* column 0: 5 3 8 2, mean 4.5, population variance (0.25 + 2.25 + 12.25
     * + 6.25) / 4 = 5.25; column 1: 7 6 8 5, mean 6.5, variance 1.25 */
    for (int r = 0; r < 4; r++) {
        assert_float_equal(got[2 * r], (lesson_X[r][0] - 4.5) / sqrt(5.25), 1e-15);
        assert_float_equal(got[2 * r + 1], (lesson_X[r][1] - 6.5) / sqrt(1.25), 1e-15);
    }
    /* the fitted statistics come back with the frame */
    size_t n = 0;
    const double *mean = sl_frame_attr(z, "X", "mean", &n);
    assert_non_null(mean);
    assert_int_equal(n, 2);
    assert_float_equal(mean[0], 4.5, 1e-15);
    sl_frame_free(z);
    sl_frame_free(x);
}

static void test_op_call_least_squares(void **state)
{
    (void)state;
    sl_frame *f = lesson_frame(lesson_X, lesson_y);
    sl_frame *m = NULL;
    sl_error err;
    if (sl_op_call("linreg", &m, &err, SL_ARG_FRAME("input", f), SL_ARG_END))
        fail_err("linreg", &err);
    /* the normal equations with an intercept solve exactly to w = (5, 2),
     * b = 34.5: residuals -1.5, 1, 0.5, 0 (mean square 1.25) */
    double w[2], b;
    read_doubles(m, "coef", w, 2);
    read_doubles(m, "intercept", &b, 1);
    assert_float_equal(w[0], 5, 1e-12);
    assert_float_equal(w[1], 2, 1e-12);
    assert_float_equal(b, 34.5, 1e-12);
    sl_frame_free(m);
    sl_frame_free(f);
}

static void test_op_call_errors(void **state)
{
    (void)state;
    sl_frame *f = lesson_frame(lesson_X, lesson_y);
    sl_frame *out = (sl_frame *)1;
    sl_error err;
    assert_int_equal(sl_op_call("no.such.op", &out, &err, SL_ARG_FRAME("input", f), SL_ARG_END), SL_ERR_CONFIG);
    assert_null(out);
    assert_non_null(strstr(err.message, "unknown op 'no.such.op'"));
    assert_string_equal(err.stage, "call");
    assert_string_equal(err.file, "pipeline 'no.such.op' (built in code)");
    assert_int_equal(err.line, 0);
    /* a string where the op's table wants an integer: the parameter is named */
    assert_int_equal(sl_op_call("linreg", &out, &err, SL_ARG_FRAME("input", f), SL_ARG_STRING("epochs", "many"),
                                SL_ARG_END),
                     SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, "parameter 'epochs': "));
    assert_string_equal(err.stage, "call");
    /* a number out of the parameter's range */
    assert_int_equal(sl_op_call("linreg", &out, &err, SL_ARG_FRAME("input", f), SL_ARG_INT("epochs", 0),
                                SL_ARG_END),
                     SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, "parameter 'epochs': "));
    /* the data decides: a feature array that does not exist */
    assert_int_equal(sl_op_call("linreg", &out, &err, SL_ARG_FRAME("input", f), SL_ARG_STRING("features", "Z"),
                                SL_ARG_END),
                     SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, "'Z'"));
    sl_frame_free(f);
}

/* ---- pipelines built in code, in memory -------------------------------- */

typedef struct counts {
    int computed, reused, cancel_at_progress, progress;
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    int *signalled;
} counts;

static int count_events(const sl_event *ev, void *user)
{
    counts *c = user;
    if (ev->kind == SL_EVENT_STAGE_DONE) {
        if (ev->reused)
            c->reused++;
        else if (!ev->streamed)
            c->computed++;
    }
    if (ev->kind == SL_EVENT_PROGRESS && ev->done > 0 && strcmp(ev->name, "norm") == 0) {
        c->progress++;
        if (c->mu) { /* tell the cancelling thread the stage is under way, then slow down */
            pthread_mutex_lock(c->mu);
            *c->signalled = 1;
            pthread_cond_signal(c->cv);
            pthread_mutex_unlock(c->mu);
            usleep(2000);
        }
        if (c->cancel_at_progress && c->progress >= c->cancel_at_progress)
            return 1; /* stop the run */
    }
    return 0;
}

/* data (input) -> norm (normalize X) -> fit (linreg), built in code. */
static sl_pipeline *lesson_pipeline(const char *workdir, const sl_frame *data)
{
    sl_error err;
    sl_pipeline *p = sl_pipeline_new("lesson-in-code");
    assert_non_null(p);
    if (sl_pipeline_set(p, "workdir", workdir, &err) || sl_pipeline_add_frame(p, "data", data, &err) ||
        sl_pipeline_add_stage(p, "norm", "normalize", &err) || sl_pipeline_set_input(p, "norm", "input", "data", &err) ||
        sl_pipeline_set_strings(p, "norm", "arrays", (const char *const[]){"X"}, 1, &err) ||
        sl_pipeline_add_stage(p, "fit", "linreg", &err) || sl_pipeline_set_input(p, "fit", "input", "norm", &err) ||
        sl_pipeline_set_bool(p, "fit", "fit_intercept", 1, &err))
        fail_err("building", &err);
    assert_int_equal(sl_pipeline_planned(p), 0);
    assert_int_equal(sl_pipeline_run(p, NULL, &err), SL_ERR_USAGE);
    assert_non_null(strstr(err.message, "not planned yet"));
    if (sl_pipeline_plan(p, &err))
        fail_err("planning", &err);
    assert_int_equal(sl_pipeline_planned(p), 1);
    assert_int_equal(sl_pipeline_stage_count(p), 3);
    return p;
}

static void fitted(const sl_pipeline *p, double w[2], double *b)
{
    const sl_frame *m = sl_pipeline_stage_output(p, sl_pipeline_stage_find(p, "fit"));
    read_doubles(m, "coef", w, 2);
    read_doubles(m, "intercept", b, 1);
}

static int dir_entries(const char *path)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void test_memory_pipeline_follows_the_data(void **state)
{
    (void)state;
    double X[4][2], y[4];
    memcpy(X, lesson_X, sizeof X);
    memcpy(y, lesson_y, sizeof y);
    sl_frame *data = lesson_frame((const double(*)[2])X, y);
    char cwd[4096], empty[300];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(empty, sizeof empty, "%s/empty", tmpdir);
    assert_int_equal(mkdir(empty, 0700), 0);
    assert_int_equal(chdir(empty), 0);
    sl_pipeline *p = lesson_pipeline(":memory:", data);
    counts c = {0};
    sl_run_options opt = SL_RUN_OPTIONS_INIT;
    opt.threads = 2;
    opt.progress = count_events;
    opt.user = &c;
    sl_error err;
    if (sl_pipeline_run(p, &opt, &err))
        fail_err("run 1", &err);
    assert_int_equal(c.computed, 3);
    double w[2], b;
    fitted(p, w, &b);
    /* z-scoring X rescales the weights: w_j * std_j, and b = mean(y) = 70 */
    assert_float_equal(w[0], 5 * sqrt(5.25), 1e-12);
    assert_float_equal(w[1], 2 * sqrt(1.25), 1e-12);
    assert_float_equal(b, 70, 1e-12);
    /* the same data again: everything is held in memory and reused */
    c = (counts){0};
    if (sl_pipeline_run(p, &opt, &err))
        fail_err("run 2", &err);
    assert_int_equal(c.reused, 3);
    assert_int_equal(c.computed, 0);
    /* the program changes its data in place: the next run sees it */
    for (int i = 0; i < 4; i++)
        y[i] *= 2;
    c = (counts){0};
    if (sl_pipeline_run(p, &opt, &err))
        fail_err("run 3", &err);
    fitted(p, w, &b);
    assert_float_equal(w[0], 10 * sqrt(5.25), 1e-12);
    assert_float_equal(b, 140, 1e-12);
    /* only y changed: the normalized X has the same hash as before, so the
     * fit reruns (its input frame changed: y), and norm reruns (its input did) */
    assert_int_equal(c.computed, 3);
    sl_stage_status st[3];
    assert_int_equal(sl_pipeline_status(p, NULL, st, &err), SL_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(st[i].state, SL_STAGE_FRESH);
    /* nothing was written anywhere: the working directory is still empty */
    assert_int_equal(dir_entries(empty), 0);
    size_t removed = 0;
    assert_int_equal(sl_pipeline_clean(p, NULL, NULL, &removed, &err), SL_OK);
    assert_int_equal(removed, 3);
    assert_int_equal(chdir(cwd), 0);
    sl_pipeline_free(p);
    sl_frame_free(data);
}

static void test_frame_version_stands_for_content(void **state)
{
    (void)state;
    double y[4];
    memcpy(y, lesson_y, sizeof y);
    sl_frame *data = lesson_frame(lesson_X, y);
    sl_error err;
    assert_int_equal(sl_frame_set_version(data, "scores of 2026-12-06", &err), SL_OK);
    assert_string_equal(sl_frame_version(data), "scores of 2026-12-06");
    sl_pipeline *p = lesson_pipeline(":memory:", data);
    counts c = {0};
    sl_run_options opt = SL_RUN_OPTIONS_INIT;
    opt.progress = count_events;
    opt.user = &c;
    assert_int_equal(sl_pipeline_run(p, &opt, &err), SL_OK);
    /* the version is the program's word for the content: same version, reused */
    y[0] = 0;
    c = (counts){0};
    assert_int_equal(sl_pipeline_run(p, &opt, &err), SL_OK);
    assert_int_equal(c.reused, 3);
    assert_int_equal(sl_frame_set_version(data, "scores corrected", &err), SL_OK);
    c = (counts){0};
    assert_int_equal(sl_pipeline_run(p, &opt, &err), SL_OK);
    assert_int_equal(c.computed, 3);
    sl_pipeline_free(p);
    sl_frame_free(data);
}

static void test_bind_to_a_yaml_pipeline(void **state)
{
    (void)state;
    static const char yaml[] = "pipeline: scored\n"
                               "workdir: \":memory:\"\n"
                               "stages:\n"
                               "  students: { op: input }\n"
                               "  model: { op: linreg, input: students }\n"
                               "  scores: { op: predict, input: students, model: model }\n";
    sl_frame *data = lesson_frame(lesson_X, lesson_y);
    sl_error err;
    /* loaded and planned at once, it has no frame: the error says what to do */
    sl_pipeline *p = NULL;
    assert_int_equal(sl_pipeline_load_string(yaml, strlen(yaml), "scored.yaml", NULL, &p, &err), SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, "no frame is bound to it: call sl_pipeline_bind"));
    assert_int_equal(err.line, 4);
    assert_int_equal(sl_pipeline_new_from_string(yaml, strlen(yaml), "scored.yaml", NULL, &p, &err), SL_OK);
    assert_int_equal(sl_pipeline_bind(p, "students", data, &err), SL_OK);
    if (sl_pipeline_plan(p, &err))
        fail_err("plan", &err);
    if (sl_pipeline_run(p, NULL, &err))
        fail_err("run", &err);
    double pred[4];
    read_doubles(sl_pipeline_stage_output(p, sl_pipeline_stage_find(p, "scores")), "y_pred", pred, 4);
    /* 5 * x0 + 2 * x1 + 34.5 */
    for (int r = 0; r < 4; r++)
        assert_float_equal(pred[r], 5 * lesson_X[r][0] + 2 * lesson_X[r][1] + 34.5, 1e-11);
    /* another frame of the same arrays and rows: scoring other students */
    static const double other_X[4][2] = {{1, 1}, {2, 2}, {3, 3}, {4, 4}};
    sl_frame *other = lesson_frame(other_X, lesson_y);
    assert_int_equal(sl_pipeline_bind(p, "students", other, &err), SL_OK);
    sl_frame *wrong = sl_frame_new();
    sl_frame_set_rows(wrong, 3);
    assert_int_equal(sl_frame_add(wrong, "X", SL_FLOAT64, 2, &err), SL_OK);
    assert_int_equal(sl_pipeline_bind(p, "students", wrong, &err), SL_ERR_USAGE);
    assert_non_null(strstr(err.message, "differs in its arrays or rows"));
    sl_frame_free(wrong);
    sl_pipeline_free(p);
    sl_frame_free(other);
    sl_frame_free(data);
}

static void test_builder_errors_name_stage_and_parameter(void **state)
{
    (void)state;
    sl_error err;
    sl_pipeline *p = sl_pipeline_new("broken");
    assert_int_equal(sl_pipeline_set_int(p, "nope", "epochs", 3, &err), SL_ERR_USAGE);
    assert_non_null(strstr(err.message, "has no stage named 'nope'"));
    assert_int_equal(sl_pipeline_add_stage(p, "fit", "linreg", &err), SL_OK);
    assert_int_equal(sl_pipeline_add_stage(p, "fit", "linreg", &err), SL_ERR_USAGE);
    assert_int_equal(sl_pipeline_set_input(p, "fit", "input", "missing", &err), SL_OK);
    assert_int_equal(sl_pipeline_set_number(p, "fit", "l2", -1, &err), SL_OK);
    /* a stage's own settings go through the setters too */
    assert_int_equal(sl_pipeline_set_string(p, "fit", "checkpoint", "final", &err), SL_OK);
    assert_int_equal(sl_pipeline_plan(p, &err), SL_ERR_CONFIG);
    assert_string_equal(err.stage, "fit");
    assert_string_equal(err.file, "pipeline 'broken' (built in code)");
    assert_int_equal(err.line, 0);
    assert_non_null(strstr(err.message, "parameter 'input': "));
    assert_non_null(strstr(err.message, "'missing'"));
    /* still a draft: it can be fixed and planned */
    assert_int_equal(sl_pipeline_planned(p), 0);
    assert_int_equal(sl_pipeline_set(p, "workdir", ":memory:", &err), SL_OK);
    sl_pipeline_free(p);
}

/* ---- cancel and resume ------------------------------------------------- */

#define BIG_ROWS 400000
#define BIG_COLS 8

static double *big_data(void)
{
    double *x = malloc((size_t)BIG_ROWS * BIG_COLS * sizeof *x);
    assert_non_null(x);
    uint64_t s = 42;
    for (size_t i = 0; i < (size_t)BIG_ROWS * BIG_COLS; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        x[i] = (double)(s >> 11) / 9007199254740992.0 + (double)(i % BIG_COLS);
    }
    return x;
}

static sl_pipeline *big_pipeline(const char *workdir, const sl_frame *data)
{
    sl_error err;
    sl_pipeline *p = sl_pipeline_new("big");
    if (sl_pipeline_set(p, "workdir", workdir, &err) || sl_pipeline_set(p, "chunk_rows", "4096", &err) ||
        sl_pipeline_add_frame(p, "data", data, &err) || sl_pipeline_add_stage(p, "norm", "normalize", &err) ||
        sl_pipeline_set_input(p, "norm", "input", "data", &err) || sl_pipeline_plan(p, &err))
        fail_err("big pipeline", &err);
    return p;
}

static sl_frame *big_frame(const double *x)
{
    sl_error err;
    sl_frame *f = sl_frame_new();
    sl_frame_set_rows(f, BIG_ROWS);
    if (sl_frame_add(f, "X", SL_FLOAT64, BIG_COLS, &err) || sl_frame_borrow_data(f, "X", x, &err))
        fail_err("big frame", &err);
    return f;
}

static void expect_normalized(const sl_pipeline *p, const double *want)
{
    double *got = malloc((size_t)BIG_ROWS * BIG_COLS * sizeof *got);
    read_doubles(sl_pipeline_stage_output(p, 1), "X", got, (size_t)BIG_ROWS * BIG_COLS);
    assert_memory_equal(got, want, (size_t)BIG_ROWS * BIG_COLS * sizeof *got);
    free(got);
}

typedef struct canceller {
    sl_pipeline *p;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started;
} canceller;

static void *cancel_later(void *arg)
{
    canceller *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->started)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    sl_pipeline_cancel(c->p);
    return NULL;
}

static void test_cancel_then_resume(void **state)
{
    (void)state;
    double *x = big_data();
    sl_frame *data = big_frame(x);
    sl_error err;
    /* the reference: the same pipeline run through in memory */
    sl_pipeline *ref = big_pipeline(":memory:", data);
    assert_int_equal(sl_pipeline_run(ref, NULL, &err), SL_OK);
    double *want = malloc((size_t)BIG_ROWS * BIG_COLS * sizeof *want);
    read_doubles(sl_pipeline_stage_output(ref, 1), "X", want, (size_t)BIG_ROWS * BIG_COLS);
    sl_pipeline_free(ref);

    for (int way = 0; way < 2; way++) {
        char wd[300];
        snprintf(wd, sizeof wd, "%s/cancel%d", tmpdir, way);
        sl_pipeline *p = big_pipeline(wd, data);
        sl_run_options opt = SL_RUN_OPTIONS_INIT;
        opt.threads = 2;
        counts c = {0};
        canceller k = {.p = p};
        pthread_t t;
        opt.progress = count_events;
        opt.user = &c;
        if (way == 0) {
            c.cancel_at_progress = 20; /* the callback answers "stop" */
        } else { /* another thread calls sl_pipeline_cancel */
            pthread_mutex_init(&k.mu, NULL);
            pthread_cond_init(&k.cv, NULL);
            c.mu = &k.mu;
            c.cv = &k.cv;
            c.signalled = &k.started;
            assert_int_equal(pthread_create(&t, NULL, cancel_later, &k), 0);
        }
        assert_int_equal(sl_pipeline_run(p, &opt, &err), SL_ERR_CANCELLED);
        if (way == 1) {
            pthread_join(t, NULL);
            pthread_mutex_destroy(&k.mu);
            pthread_cond_destroy(&k.cv);
        }
        /* the next run picks up where it stopped and gives the same bits */
        c = (counts){0};
        opt.progress = count_events;
        if (sl_pipeline_run(p, &opt, &err))
            fail_err("resumed run", &err);
        expect_normalized(p, want);
        /* resumed, not restarted: run.log says where the kept work ended */
        char log[400];
        snprintf(log, sizeof log, "%s/run.log", wd);
        FILE *f = fopen(log, "r");
        assert_non_null(f);
        static char text[1 << 16];
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        assert_non_null(strstr(text, "\"status\":\"interrupted\""));
        assert_non_null(strstr(text, "resumed at row "));
        sl_stage_status st[2];
        assert_int_equal(sl_pipeline_status(p, NULL, st, &err), SL_OK);
        assert_int_equal(st[1].state, SL_STAGE_FRESH);
        size_t removed;
        assert_int_equal(sl_pipeline_clean(p, NULL, NULL, &removed, &err), SL_OK);
        sl_pipeline_free(p);
    }
    free(want);
    sl_frame_free(data);
    free(x);
}

/* ---- op user data and the ABI ----------------------------------------- */

static int destroyed;
static void destroy_counter(void *user)
{
    destroyed += *(int *)user;
}

static sl_status tag_plan(sl_stage *st, sl_error *err)
{
    const int *tag = sl_stage_op_user(st);
    sl_frame *out = sl_stage_output(st);
    sl_frame_set_rows(out, 1);
    sl_status s = sl_frame_add(out, "tag", SL_FLOAT64, 1, err);
    (void)tag;
    return s;
}

static sl_status tag_run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    (void)ex;
    double v = *(const int *)sl_stage_op_user(st);
    return sl_frame_set_data(sl_stage_output(st), "tag", &v, err);
}

static const sl_op tag_op = {.abi = SL_ABI_VERSION, .name = "test.tag", .summary = "the op's user data",
                             .plan = tag_plan, .run = tag_run};

static void test_op_user_data(void **state)
{
    (void)state;
    static int seven = 7;
    sl_error err;
    destroyed = 0;
    assert_int_equal(sl_op_register(&tag_op, &seven, destroy_counter, &err), SL_OK);
    /* a failed registration hands the data back to its destroy function */
    assert_int_equal(sl_op_register(&tag_op, &seven, destroy_counter, &err), SL_ERR_USAGE);
    assert_int_equal(destroyed, 7);
    sl_frame *out = NULL;
    if (sl_op_call("test.tag", &out, &err, SL_ARG_END))
        fail_err("tag", &err);
    double v;
    read_doubles(out, "tag", &v, 1);
    assert_float_equal(v, 7, 0);
    sl_frame_free(out);
    assert_int_equal(sl_op_unregister("test.tag", &err), SL_OK);
    assert_int_equal(destroyed, 14);
    assert_null(sl_op_find("test.tag"));
    assert_int_equal(sl_op_unregister("test.tag", &err), SL_ERR_USAGE);
    assert_int_equal(sl_op_unregister("normalize", &err), SL_ERR_USAGE);
    assert_non_null(strstr(err.message, "built in"));
}

static void test_abi_versions_are_checked(void **state)
{
    (void)state;
    sl_error err;
    sl_op old = tag_op;
    old.abi = 0;
    assert_int_equal(sl_op_register(&old, NULL, NULL, &err), SL_ERR_USAGE);
    assert_string_equal(err.message,
                        "op 'test.tag' sets no ABI version: add .abi = SL_ABI_VERSION (from <sluice/version.h>) to it");
    old.abi = SL_ABI_VERSION + 1;
    assert_int_equal(sl_op_register(&old, NULL, NULL, &err), SL_ERR_USAGE);
    assert_non_null(strstr(err.message, "was built for sluice ABI 2, but this libsluice"));
    sl_frame *data = lesson_frame(lesson_X, lesson_y);
    sl_pipeline *p = lesson_pipeline(":memory:", data);
    sl_run_options zero = {0};
    assert_int_equal(sl_pipeline_run(p, &zero, &err), SL_ERR_USAGE);
    assert_non_null(strstr(err.message, "sl_run_options sets no ABI version"));
    sl_pipeline_free(p);
    sl_frame_free(data);
}

/* BLIS reads its kernel choice once, at its first call: the library made it
 * when it was loaded, before this first call. */
static void test_blis_kernels_chosen_at_load(void **state)
{
    (void)state;
    const char *using = sl_blis_kernels(); /* initialises BLIS */
    const char *chosen = sl_blis_select_kernels();
    if (chosen)
        assert_string_equal(using, chosen);
    else
        print_message("BLIS knows this CPU (%s): nothing to choose\n", using);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sluice-embed-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return sl_test_rmtree(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blis_kernels_chosen_at_load),
        cmocka_unit_test(test_op_call_zscore),
        cmocka_unit_test(test_op_call_least_squares),
        cmocka_unit_test(test_op_call_errors),
        cmocka_unit_test(test_memory_pipeline_follows_the_data),
        cmocka_unit_test(test_frame_version_stands_for_content),
        cmocka_unit_test(test_bind_to_a_yaml_pipeline),
        cmocka_unit_test(test_builder_errors_name_stage_and_parameter),
        cmocka_unit_test(test_cancel_then_resume),
        cmocka_unit_test(test_op_user_data),
        cmocka_unit_test(test_abi_versions_are_checked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
