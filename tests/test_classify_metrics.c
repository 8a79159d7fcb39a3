/* Tests of the classification metrics' kernels (kernels/classify_metrics.c)
 * against brute force, and of metrics reading the classes of a probability
 * array from its attribute `classes` (what predict writes for a multi-class
 * model; load.hdf5 does not carry it, so tests/ops/test_classify_metrics.py
 * cannot reach it): an op of this test makes the frame. Expected values are
 * derived by hand in the comments and agree with scikit-learn 1.2
 * (log_loss(labels=...), roc_auc_score(multi_class='ovr')). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kernels/classify_metrics.h"
#include "sluice/sluice.h"

static void fail_err(const char *what, const sl_error *err)
{
    char buf[2048];
    fail_msg("%s: %s", what, sl_error_format(err, buf, sizeof buf));
}

static uint64_t rng_state = 12345;
static uint64_t next_rand(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng_state >> 33;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- kernels ------------------------------------------------------------- */

/* Scores from a few values, so ties are everywhere: the AUC must equal the
 * count over all pairs of (positive above negative) + 1/2 (tie). */
static void test_roc_auc_is_the_pair_count(void **state)
{
    (void)state;
    for (int round = 0; round < 50; round++) {
        size_t n1 = 1 + next_rand() % 300, n0 = 1 + next_rand() % 300;
        /* a few levels of either sign, tiny to huge, or (levels 0) all distinct */
        static const double scale[] = {0.25, 1e-300, 3.7e300, 1.0 / 3};
        int levels = (int)(next_rand() % 13);
        double sc = scale[round % 4];
        double *pos = malloc(n1 * sizeof *pos), *neg = malloc(n0 * sizeof *neg);
        assert_non_null(pos);
        assert_non_null(neg);
        for (size_t i = 0; i < n1 + n0; i++) {
            uint64_t r = next_rand();
            double v = levels ? ((double)(r % (uint64_t)levels) - levels / 2) * sc : ((double)r - 2e9) * sc;
            *(i < n1 ? &pos[i] : &neg[i - n1]) = v;
        }
        if (round % 5 == 0) {
            pos[0] = -0.0; /* equal to +0.0, as NumPy's sort sees it */
            neg[0] = 0.0;
        }
        double twice = 0;
        for (size_t i = 0; i < n1; i++)
            for (size_t j = 0; j < n0; j++)
                twice += pos[i] > neg[j] ? 2 : pos[i] == neg[j] ? 1 : 0;
        double want = twice / (2.0 * (double)n1 * (double)n0);
        uint64_t *kp = malloc(n1 * sizeof *kp), *kn = malloc(n0 * sizeof *kn), *scratch = malloc(600 * sizeof *kp);
        assert_non_null(kp);
        assert_non_null(kn);
        assert_non_null(scratch);
        for (size_t i = 0; i < n1; i++)
            kp[i] = sl__score_key(pos[i]);
        for (size_t i = 0; i < n0; i++)
            kn[i] = sl__score_key(neg[i]);
        assert_true(sl__roc_auc(kp, n1, kn, n0, scratch) == want);
        free(kp);
        free(kn);
        free(scratch);
        free(pos);
        free(neg);
    }
}

/* Sets built a value at a time and merged must be the sorted distinct
 * values; more than cap is reported, not truncated silently. */
static void test_label_sets(void **state)
{
    (void)state;
    for (int round = 0; round < 50; round++) {
        size_t na = next_rand() % 200, nb = next_rand() % 200, range = 1 + next_rand() % 100;
        double x[400], all[400];
        for (size_t i = 0; i < na + nb; i++)
            all[i] = x[i] = (double)(next_rand() % range) - (double)range / 2;
        double a[SL_CLASS_MAX], b[SL_CLASS_MAX];
        size_t ka = 0, kb = 0;
        assert_int_equal(sl__labels_add(a, &ka, SL_CLASS_MAX, x, (int64_t)na), 0);
        assert_int_equal(sl__labels_add(b, &kb, SL_CLASS_MAX, x + na, (int64_t)nb), 0);
        assert_int_equal(sl__labels_union(a, &ka, SL_CLASS_MAX, b, kb), 0);
        qsort(all, na + nb, sizeof *all, cmp_double);
        size_t k = 0;
        for (size_t i = 0; i < na + nb; i++)
            if (k == 0 || all[k - 1] != all[i])
                all[k++] = all[i];
        assert_int_equal(ka, k);
        for (size_t i = 0; i < k; i++) {
            assert_true(a[i] == all[i]);
            assert_int_equal(sl__labels_find(a, ka, all[i]), (long)i);
        }
        assert_int_equal(sl__labels_find(a, ka, 1e9), -1);
        /* a cap below the count is an overflow, for each way in */
        if (k > 2) {
            size_t kc = 0, kd = 0;
            double c[400], d[400];
            assert_int_equal(sl__labels_add(c, &kc, k - 1, x, (int64_t)(na + nb)), 1);
            assert_int_equal(sl__labels_add(c, &kc, 400, x, (int64_t)na), 0);
            assert_int_equal(sl__labels_add(d, &kd, 400, x + na, (int64_t)nb), 0);
            assert_int_equal(sl__labels_union(c, &kc, k - 1, d, kd), 1);
        }
    }
    double z[2] = {-0.0, 0.0}, s[2];
    size_t k = 0;
    assert_int_equal(sl__labels_add(s, &k, 2, z, 2), 0);
    assert_int_equal(k, 1);
}

/* ---- the attribute `classes` --------------------------------------------- */

/* Four rows of classes 2, 5, 9, 5 and their probabilities, the columns in
 * the order of `cls` (the attribute, unless n_attr is 0). */
typedef struct probs {
    const double *cls;
    size_t n_attr;
} probs;

static const double sorted_cls[3] = {2, 5, 9}, shuffled_cls[3] = {9, 2, 5};

static sl_status probs_plan(sl_stage *st, sl_error *err)
{
    sl_frame *out = sl_stage_output(st);
    sl_frame_set_rows(out, 4);
    sl_status s = sl_frame_add(out, "y", SL_FLOAT64, 1, err);
    return s ? s : sl_frame_add(out, "y_prob", SL_FLOAT64, 3, err);
}

static sl_status probs_run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    (void)ex;
    const probs *pr = sl_stage_op_user(st);
    static const double y[4] = {2, 5, 9, 5};
    /* row i: 0.5 for class y[i], except row 3 (0.5 for class 2), else 0.25 */
    static const double by_class[4][3] = {{.5, .25, .25}, {.25, .5, .25}, {.25, .25, .5}, {.5, .25, .25}};
    double p[4][3];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            int c = pr->cls[j] == 2 ? 0 : pr->cls[j] == 5 ? 1 : 2;
            p[i][j] = by_class[i][c];
        }
    sl_frame *out = sl_stage_output(st);
    sl_status s = sl_frame_set_data(out, "y", y, err);
    if (s == SL_OK)
        s = sl_frame_set_data(out, "y_prob", p, err);
    if (s == SL_OK && pr->n_attr)
        s = sl_frame_set_attr(out, "y_prob", "classes", pr->cls, pr->n_attr, err);
    return s;
}

static const sl_op probs_op = {.abi = SL_ABI_VERSION, .name = "test.probs", .summary = "probabilities of 3 classes",
                               .plan = probs_plan, .run = probs_run};

static sl_status run_metrics(probs *pr, const char *extra, double *log_loss, double *auc, sl_error *err)
{
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "pipeline: classes\nworkdir: \":memory:\"\nstages:\n"
             "  src: { op: test.probs }\n"
             "  m: { op: metrics, input: src, metrics: [log_loss, roc_auc]%s }\n",
             extra);
    sl_error e2;
    if (sl_op_register(&probs_op, pr, NULL, &e2))
        fail_err("register", &e2);
    sl_pipeline *p = NULL;
    sl_status s = sl_pipeline_load_string(yaml, strlen(yaml), "classes.yaml", NULL, &p, err);
    if (s == SL_OK)
        s = sl_pipeline_run(p, NULL, err);
    size_t m = sl_pipeline_stage_find(p, "m");
    if (s == SL_OK && !(sl_pipeline_stage_result_find(p, m, "log_loss", log_loss) &&
                        sl_pipeline_stage_result_find(p, m, "roc_auc", auc)))
        fail_msg("no results");
    sl_pipeline_free(p);
    if (sl_op_unregister("test.probs", &e2))
        fail_err("unregister", &e2);
    return s;
}

static void test_classes_from_the_attribute(void **state)
{
    (void)state;
    sl_error err;
    double ll, auc;
    /* log_loss: the true class has 0.5 in rows 0-2, 0.25 in row 3:
     * (3 ln 2 + ln 4) / 4 = 5/4 ln 2. roc_auc, one class against the rest:
     * class 2: 0.5 against 0.25, 0.25, 0.5: (1 + 1 + 1/2) / 3 = 5/6;
     * class 5: 0.5, 0.25 against 0.25, 0.25: (2 + 1/2 + 1/2) / 4 = 3/4;
     * class 9: 0.5 against 0.25 (3 times): 1; the mean: 31/36. */
    probs sorted = {sorted_cls, 3};
    if (run_metrics(&sorted, "", &ll, &auc, &err))
        fail_err("sorted classes", &err);
    assert_float_equal(ll, 1.25 * log(2), 1e-15);
    assert_float_equal(auc, 31.0 / 36, 1e-15);
    /* the columns follow the attribute, in whatever order it lists them */
    double ll2, auc2;
    probs shuffled = {shuffled_cls, 3};
    if (run_metrics(&shuffled, "", &ll2, &auc2, &err))
        fail_err("shuffled classes", &err);
    assert_true(ll2 == ll && auc2 == auc);
    /* the parameter `classes` says the same for a frame without the attribute */
    probs plain = {shuffled_cls, 0};
    if (run_metrics(&plain, ", classes: [9, 2, 5]", &ll2, &auc2, &err))
        fail_err("classes parameter", &err);
    assert_true(ll2 == ll && auc2 == auc);
    /* without either, the classes are 0, 1, 2: label 5 (row 1) is the first unknown one */
    assert_int_equal(run_metrics(&plain, "", &ll2, &auc2, &err), SL_ERR_DATA);
    assert_string_equal(err.message, "array 'y' row 1 holds 5, which is not one of the classes of the probabilities "
                                     "(0, 1, 2); set 'classes' to the class of each probability column, or leave "
                                     "out the rows of other classes");
    /* an attribute that does not fit the array */
    probs short_attr = {sorted_cls, 2};
    assert_int_equal(run_metrics(&short_attr, "", &ll2, &auc2, &err), SL_ERR_DATA);
    assert_string_equal(err.message, "the attribute 'classes' of 'y_prob' has 2 values, but 'y_prob' has 3 "
                                     "probability columns: give one class per column");
    static const double twice[3] = {2, 5, 2};
    probs dup = {twice, 3};
    assert_int_equal(run_metrics(&dup, "", &ll2, &auc2, &err), SL_ERR_DATA);
    assert_string_equal(err.message, "the attribute 'classes' of 'y_prob': value 2 is 2; the classes must be "
                                     "distinct finite numbers");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roc_auc_is_the_pair_count),
        cmocka_unit_test(test_label_sets),
        cmocka_unit_test(test_classes_from_the_attribute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
