/* The lesson on arrays the program holds, with libsluice and no file at all.
 *
 * Four students (hours studied, hours slept) and their scores. The program
 *   1. z-scores the features with one call (sl_op_call, as libvips' vips_call),
 *   2. fits least squares on them with one call,
 *   3. builds the lesson's pipeline in code (scale by 1.1, z-score, predict
 *      with weights [4, 3] and bias 10, mean squared error, one gradient
 *      step) on the same arrays and runs it in memory (workdir ":memory:"),
 *   4. changes a score in place and runs it again: the input's content is in
 *      its cache key, so the stages that depend on it are recomputed.
 * Each number is printed as "name value" (%.17g) for tests/cli/
 * test_embedding.py, which compares them with a derivation by hand and
 * checks with strace that nothing was written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sluice/sluice.h>

static double X[4][2] = {{5, 7}, {3, 6}, {8, 8}, {2, 5}};
static double y[4] = {75, 60, 90, 55};

static int fail(const char *what, const sl_error *err)
{
    char buf[2048];
    fprintf(stderr, "embed_lesson: %s: %s\n", what, sl_error_format(err, buf, sizeof buf));
    return 1;
}

static int print_array(const sl_frame *f, const char *label, const char *array, size_t n)
{
    double v[16];
    sl_error err;
    if (n > 16 || sl_frame_read_all(f, array, SL_FLOAT64, v, n, &err) != SL_OK)
        return fail(label, &err);
    printf("%s", label);
    for (size_t i = 0; i < n; i++)
        printf(" %.17g", v[i]);
    printf("\n");
    return 0;
}

/* The frame the program lends the library: no copy of X or y is made. */
static sl_frame *students(sl_error *err)
{
    sl_frame *f = sl_frame_new();
    if (!f)
        return NULL;
    sl_frame_set_rows(f, 4);
    if (sl_frame_add(f, "X", SL_FLOAT64, 2, err) || sl_frame_add(f, "y", SL_FLOAT64, 1, err) ||
        sl_frame_borrow_data(f, "X", X, err) || sl_frame_borrow_data(f, "y", y, err)) {
        sl_frame_free(f);
        return NULL;
    }
    return f;
}

static sl_pipeline *lesson(const sl_frame *data, sl_error *err)
{
    static const char *const x_only[] = {"X"};
    static const double weights[] = {4, 3};
    sl_pipeline *p = sl_pipeline_new("lesson-in-memory");
    if (!p)
        return NULL;
    if (sl_pipeline_set(p, "workdir", ":memory:", err) || sl_pipeline_add_frame(p, "students", data, err) ||
        sl_pipeline_add_stage(p, "scale", "scale", err) || sl_pipeline_set_input(p, "scale", "input", "students", err) ||
        sl_pipeline_set_strings(p, "scale", "arrays", x_only, 1, err) ||
        sl_pipeline_set_number(p, "scale", "factor", 1.1, err) ||
        sl_pipeline_add_stage(p, "normalize", "normalize", err) ||
        sl_pipeline_set_input(p, "normalize", "input", "scale", err) ||
        sl_pipeline_set_strings(p, "normalize", "arrays", x_only, 1, err) ||
        sl_pipeline_add_stage(p, "predict", "predict", err) ||
        sl_pipeline_set_input(p, "predict", "input", "normalize", err) ||
        sl_pipeline_set_numbers(p, "predict", "weights", weights, 2, err) ||
        sl_pipeline_set_number(p, "predict", "bias", 10, err) || sl_pipeline_add_stage(p, "mse", "metrics", err) ||
        sl_pipeline_set_input(p, "mse", "input", "predict", err) ||
        sl_pipeline_set_strings(p, "mse", "metrics", (const char *const[]){"mse"}, 1, err) ||
        sl_pipeline_add_stage(p, "step", "linreg", err) || sl_pipeline_set_input(p, "step", "input", "normalize", err) ||
        sl_pipeline_set_string(p, "step", "solver", "gradient_descent", err) ||
        sl_pipeline_set_int(p, "step", "epochs", 1, err) || sl_pipeline_set_number(p, "step", "learning_rate", 0.1, err) ||
        sl_pipeline_set_numbers(p, "step", "init_weights", weights, 2, err) ||
        sl_pipeline_set_number(p, "step", "init_bias", 10, err) || sl_pipeline_plan(p, err)) {
        sl_pipeline_free(p);
        return NULL;
    }
    return p;
}

static int computed;

static int count_computed(const sl_event *ev, void *user)
{
    (void)user;
    if (ev->kind == SL_EVENT_STAGE_DONE && !ev->reused)
        computed++;
    return 0;
}

static int run_lesson(sl_pipeline *p, const char *tag)
{
    sl_run_options opt = SL_RUN_OPTIONS_INIT;
    opt.progress = count_computed;
    sl_error err;
    computed = 0;
    if (sl_pipeline_run(p, &opt, &err) != SL_OK)
        return fail(tag, &err);
    char label[64];
    int rc = 0;
    printf("%s.computed %d\n", tag, computed);
    snprintf(label, sizeof label, "%s.mse", tag);
    rc |= print_array(sl_pipeline_stage_output(p, sl_pipeline_stage_find(p, "mse")), label, "mse", 1);
    snprintf(label, sizeof label, "%s.step_coef", tag);
    rc |= print_array(sl_pipeline_stage_output(p, sl_pipeline_stage_find(p, "step")), label, "coef", 2);
    snprintf(label, sizeof label, "%s.step_intercept", tag);
    rc |= print_array(sl_pipeline_stage_output(p, sl_pipeline_stage_find(p, "step")), label, "intercept", 1);
    return rc;
}

int main(void)
{
    sl_error err;
    sl_frame *data = students(&err);
    if (!data)
        return fail("frame", &err);
    int rc = 0;

    sl_frame *z = NULL;
    if (sl_op_call("normalize", &z, &err, SL_ARG_FRAME("input", data), SL_ARG_STRINGS("arrays", (const char *const[]){"X"}, 1),
                   SL_ARG_END) != SL_OK)
        return fail("normalize", &err);
    rc |= print_array(z, "zscore", "X", 8);
    sl_frame_free(z);

    sl_frame *model = NULL;
    if (sl_op_call("linreg", &model, &err, SL_ARG_FRAME("input", data), SL_ARG_END) != SL_OK)
        return fail("linreg", &err);
    rc |= print_array(model, "lstsq_coef", "coef", 2);
    rc |= print_array(model, "lstsq_intercept", "intercept", 1);
    sl_frame_free(model);

    sl_pipeline *p = lesson(data, &err);
    if (!p)
        return fail("lesson pipeline", &err);
    rc |= run_lesson(p, "run1");
    rc |= run_lesson(p, "run2"); /* nothing changed: nothing is computed */
    y[3] = 65; /* a score corrected in place */
    rc |= run_lesson(p, "run3");
    sl_pipeline_free(p);
    sl_frame_free(data);
    return rc;
}
