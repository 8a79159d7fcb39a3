/* Scoring rows held in memory with a model trained by a pipeline file.
 *
 *   score_rows PIPELINE.yaml MODEL_STAGE x0,x1,... [x0,x1,... ...]
 *
 * Runs the pipeline (its fresh checkpoints are reused, so a trained model is
 * not trained again), copies the model stage's output out of its checkpoint
 * (sl_frame_copy), and predicts each row given on the command line with
 * sl_op_call("predict"), in memory. Prints "reused N" (stages not
 * recomputed) and one prediction a line (%.17g). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sluice/sluice.h>

static int fail(const char *what, const sl_error *err)
{
    char buf[2048];
    fprintf(stderr, "score_rows: %s: %s\n", what, sl_error_format(err, buf, sizeof buf));
    return 1;
}

static int reused;

static int count_reused(const sl_event *ev, void *user)
{
    (void)user;
    if (ev->kind == SL_EVENT_STAGE_DONE && ev->reused)
        reused++;
    return 0;
}

/* The model stage's output, copied into memory. */
static sl_frame *trained_model(const char *file, const char *stage, sl_error *err)
{
    sl_pipeline *p = NULL;
    if (sl_pipeline_load_file(file, &p, err) != SL_OK)
        return NULL;
    sl_run_options opt = SL_RUN_OPTIONS_INIT;
    opt.until = stage; /* only what the model needs */
    opt.progress = count_reused;
    sl_frame *model = NULL;
    size_t i = sl_pipeline_stage_find(p, stage);
    if (i == SIZE_MAX)
        snprintf(err->message, sizeof err->message, "the pipeline has no stage '%s'", stage);
    else if (sl_pipeline_run(p, &opt, err) == SL_OK)
        sl_frame_copy(sl_pipeline_stage_output(p, i), &model, err);
    sl_pipeline_free(p);
    return model;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: score_rows PIPELINE.yaml MODEL_STAGE x0,x1,... [...]\n");
        return 2;
    }
    sl_error err;
    sl_error_clear(&err);
    sl_frame *model = trained_model(argv[1], argv[2], &err);
    if (!model)
        return fail("model", &err);
    size_t F = 0;
    const sl_array_info *coef = sl_frame_array(model, (size_t)sl_frame_find(model, "coef"));
    F = (size_t)coef->cols;
    size_t n = (size_t)argc - 3;
    double *x = calloc(n * F, sizeof *x);
    for (size_t r = 0; x && r < n; r++) {
        char *s = argv[3 + r], *end;
        for (size_t c = 0; c < F; c++, s = end + (*end == ',')) {
            x[r * F + c] = strtod(s, &end);
            if (end == s) {
                fprintf(stderr, "score_rows: row %zu needs %zu numbers separated by ','\n", r + 1, F);
                return 2;
            }
        }
    }
    sl_frame *rows = sl_frame_new();
    sl_frame_set_rows(rows, (int64_t)n);
    sl_frame *pred = NULL;
    if (!x || sl_frame_add(rows, "X", SL_FLOAT64, (int64_t)F, &err) || sl_frame_borrow_data(rows, "X", x, &err) ||
        sl_op_call("predict", &pred, &err, SL_ARG_FRAME("input", rows), SL_ARG_FRAME("model", model), SL_ARG_END))
        return fail("predict", &err);
    double *y = malloc(n * sizeof *y);
    if (!y || sl_frame_read_all(pred, "y_pred", SL_FLOAT64, y, n, &err))
        return fail("predictions", &err);
    printf("reused %d\n", reused);
    for (size_t r = 0; r < n; r++)
        printf("%.17g\n", y[r]);
    free(y);
    sl_frame_free(pred);
    sl_frame_free(rows);
    sl_frame_free(model);
    free(x);
    return 0;
}
