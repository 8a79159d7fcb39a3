/* Unit tests of the expansion of stages over axes (src/plan/expand.c),
 * on pipelines read for their structure only (no data file is opened):
 * member names and counts; a split's folds zipped with its readers' folds
 * (fold i reads fold i) and a product with a sweep; the axes of two
 * inputs with different axes multiplied; a sweep's parameters in the order
 * of their names; a stage with no axis kept once; a gathering stage's
 * inputs (every member, in member order) and a { best: ... } edge; the
 * group helpers; and the positions of two errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "plan/expand.h"

static char dir[64];

/* Reads YAML text (after a `stages:` header) for its structure. */
static sl_status read_stages(const char *stages, sl_pipeline **p, sl_error *err)
{
    char path[128];
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "pipeline: p\nstages:\n  data: { op: load.hdf5, file: none.h5, arrays: { X: /X, y: /y } }\n%s", stages);
    fclose(f);
    return sl_pipeline_read_file(path, p, err);
}

static size_t find(const sl_pipeline *p, const char *name)
{
    size_t i = sl_pipeline_stage_find(p, name);
    if (i == SIZE_MAX)
        fail_msg("no stage '%s'", name);
    return i;
}

/* The stage that stage `name` reads through `param` (its first such input). */
static const char *input_of(const sl_pipeline *p, const char *name, const char *param)
{
    size_t i = find(p, name);
    for (size_t j = 0; j < sl_pipeline_stage_input_count(p, i); j++) {
        const char *pm;
        size_t from = sl_pipeline_stage_input(p, i, j, &pm);
        if (strcmp(pm, param) == 0)
            return sl_pipeline_stage_name(p, from);
    }
    fail_msg("stage '%s' has no input '%s'", name, param);
    return NULL;
}

static const char cv[] =
    "  train: { op: split, input: data, part: train, folds: 3 }\n"
    "  test:  { op: split, input: data, part: test, folds: 3 }\n"
    "  fit:   { op: linreg, input: train, sweep: { l2: [0.5, 1e-1] } }\n"
    "  score: { op: metrics, model: fit, data: test, metrics: [r2] }\n"
    "  cv:    { op: select, input: score, metric: r2 }\n"
    "  final: { op: linreg, input: data, l2: { best: cv } }\n";

static void test_folds_zipped_sweep_multiplied(void **state)
{
    (void)state;
    sl_pipeline *p = NULL;
    sl_error err;
    assert_int_equal(read_stages(cv, &p, &err), SL_OK);
    /* data, 3 train, 3 test, 6 fit, 6 score, cv, final */
    assert_int_equal(sl_pipeline_stage_count(p), 1 + 3 + 3 + 6 + 6 + 1 + 1);
    assert_int_equal(sl_pipeline_stage_find(p, "train"), SIZE_MAX);
    /* a number as the canonical text reads it: 1e-1 is 0.1 */
    assert_string_equal(input_of(p, "fit[fold=2,l2=0.1]", "input"), "train[fold=2]");
    for (int f = 0; f < 3; f++)
        for (int k = 0; k < 2; k++) {
            char score[64], fit[64], test[64];
            const char *l2 = k ? "0.1" : "0.5";
            snprintf(score, sizeof score, "score[fold=%d,l2=%s]", f, l2);
            snprintf(fit, sizeof fit, "fit[fold=%d,l2=%s]", f, l2);
            snprintf(test, sizeof test, "test[fold=%d]", f);
            assert_string_equal(input_of(p, score, "model"), fit);
            assert_string_equal(input_of(p, score, "data"), test);
        }
    sl_pipeline_free(p);
}

static void test_gather_and_best(void **state)
{
    (void)state;
    sl_pipeline *p = NULL;
    sl_error err;
    assert_int_equal(read_stages(cv, &p, &err), SL_OK);
    const sl_stage *sel = &p->stages[find(p, "cv")];
    const sl_stage *gathered[6];
    assert_int_equal(sl__stage_gathered(sel, "input", NULL), 6);
    assert_int_equal(sl__stage_gathered(sel, "input", gathered), 6);
    assert_null(sel->group);
    for (size_t k = 0; k < 6; k++) {
        const sl_stage *m = gathered[k];
        assert_non_null(m);
        assert_non_null(m->group);
        assert_string_equal(m->group->name, "score");
        assert_int_equal(m->member, k); /* in member order */
        assert_string_equal(m->name, m->group->members[k]);
        assert_int_equal(sl__group_value(m->group, k, 0), k / 2); /* fold, the slower axis */
        assert_int_equal(sl__group_value(m->group, k, 1), k % 2); /* l2 */
        assert_true(sl__stage_is(m, "score"));
        assert_true(sl__stage_is(m, m->name));
        assert_false(sl__stage_is(m, "fit"));
    }
    const sl_stage *fin = &p->stages[find(p, "final")];
    assert_int_equal(fin->n_best, 1);
    assert_string_equal(fin->best[0].param, "l2");
    assert_true(fin->inputs[fin->best[0].input].best);
    assert_string_equal(p->stages[fin->inputs[fin->best[0].input].stage].name, "cv");
    assert_string_equal(input_of(p, "final", "best"), "cv");
    /* until the run chooses, the first value swept */
    assert_true(sl_params_number(fin->params, "l2") == 0.5);
    sl_pipeline_free(p);
}

static void test_product_of_axes_and_sorted_sweep(void **state)
{
    (void)state;
    sl_pipeline *p = NULL;
    sl_error err;
    sl_status s = read_stages("  fit:   { op: linreg, input: data, sweep: { solver: [normal_equations, gradient_descent],"
                              " l2: [1, 2, 3] } }\n"
                              "  norm:  { op: normalize, input: data, sweep: { method: [zscore, minmax] } }\n"
                              "  score: { op: metrics, model: fit, data: norm }\n"
                              "  once:  { op: describe, input: data }\n",
                              &p, &err);
    if (s != SL_OK)
        fail_msg("%s", err.message);
    /* data, 6 fit, 2 norm, 12 score, once */
    assert_int_equal(sl_pipeline_stage_count(p), 1 + 6 + 2 + 12 + 1);
    /* a sweep's parameters in the order of their names, the first slowest */
    const sl__group *g = p->stages[find(p, "fit[l2=1,solver=normal_equations]")].group;
    assert_int_equal(g->n_axes, 2);
    assert_string_equal(g->members[1], "fit[l2=1,solver=gradient_descent]");
    assert_string_equal(g->members[2], "fit[l2=2,solver=normal_equations]");
    assert_string_equal(input_of(p, "score[l2=3,solver=gradient_descent,method=minmax]", "model"),
                        "fit[l2=3,solver=gradient_descent]");
    assert_string_equal(input_of(p, "score[l2=3,solver=gradient_descent,method=minmax]", "data"), "norm[method=minmax]");
    /* no axis: one stage under its own name */
    assert_null(p->stages[find(p, "once")].group);
    assert_string_equal(input_of(p, "once", "input"), "data");
    sl_pipeline_free(p);
}

static void test_error_positions(void **state)
{
    (void)state;
    sl_pipeline *p = NULL;
    sl_error err;
    sl_status s = read_stages("  a: { op: split, input: data, part: train, folds: 3 }\n"
                              "  b: { op: split, input: data, part: test, folds: 4 }\n"
                              "  n: { op: normalize, input: a, stats: b }\n",
                              &p, &err);
    assert_int_equal(s, SL_ERR_CONFIG);
    assert_null(p);
    assert_int_equal(err.line, 6);
    assert_int_equal(err.col, 40); /* at `b`, the second input on the axis */
    assert_string_equal(err.stage, "n");
    assert_non_null(strstr(err.message, "input 'stats' (stage 'b') is expanded over fold = [0, 1, 2, 3], but input "
                                        "'input' (stage 'a') over fold = [0, 1, 2]"));
    s = read_stages("  f: { op: linreg, input: data, l2: { best: data } }\n", &p, &err);
    assert_int_equal(s, SL_ERR_CONFIG);
    assert_int_equal(err.line, 4);
    assert_int_equal(err.col, 45); /* at the stage named */
    assert_non_null(strstr(err.message, "{ best: data } names stage 'data' of op 'load.hdf5', which is not a select "
                                        "stage"));
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/sl_expand_XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_folds_zipped_sweep_multiplied),
        cmocka_unit_test(test_gather_and_best),
        cmocka_unit_test(test_product_of_axes_and_sorted_sweep),
        cmocka_unit_test(test_error_positions),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    unlink(path);
    rmdir(dir);
    return rc;
}
