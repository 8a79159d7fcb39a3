/* select: the summary of a cross-validated sweep and its best setting. It
 * gathers (SL__OP_GATHER): its input names an expanded stage, and it reads
 * every member's score instead of being expanded with it. The axis `fold`
 * is averaged over; every other axis is a parameter chosen among. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "ops/ops_int.h"
#include "plan/expand.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0,
     "an expanded stage (e.g. metrics over folds and a sweep): every member of it is read"},
    {"metric", SL_PARAM_STRING, 1, NULL, NULL, 0, 0, "the 1 x 1 array of each member that scores it, e.g. r2 or mse"},
    {"goal", SL_PARAM_CHOICE, 0, "max", "max|min", 0, 0,
     "max: the best setting has the highest mean score (r2, accuracy); min: the lowest (mse, mae, log_loss)"},
};

typedef struct sel_state {
    size_t n;            /* members read */
    const sl_stage **members;
    const sl__group *g;  /* their group; NULL: one stage, not expanded */
    long fold;           /* the axis averaged over, -1: none */
    size_t n_settings, n_folds;
    size_t *setting, *fold_of; /* per member */
    char metric[SL_NAME_MAX];
    int minimize;
} sel_state;

static void free_state(void *p)
{
    sel_state *s = p;
    if (!s)
        return;
    free(s->members);
    free(s->setting);
    free(s->fold_of);
    free(s);
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    sel_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    snprintf(s->metric, sizeof s->metric, "%s", sl_params_string(p, "metric"));
    s->minimize = strcmp(sl_params_string(p, "goal"), "min") == 0;
    s->n = sl__stage_gathered(st, "input", NULL);
    if (!(s->members = calloc(s->n ? s->n : 1, sizeof *s->members)))
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl__stage_gathered(st, "input", s->members);
    s->g = s->n ? s->members[0]->group : NULL;
    s->fold = -1;
    s->n_settings = s->n_folds = 1;
    for (size_t a = 0; s->g && a < s->g->n_axes; a++) {
        if (strcmp(s->g->axes[a]->name, "fold") == 0) {
            s->fold = (long)a;
            s->n_folds = s->g->axes[a]->n;
        } else {
            s->n_settings *= s->g->axes[a]->n;
        }
    }
    s->setting = calloc(s->n ? s->n : 1, sizeof *s->setting);
    s->fold_of = calloc(s->n ? s->n : 1, sizeof *s->fold_of);
    if (!s->setting || !s->fold_of)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < s->n; k++) {
        const sl_stage *m = s->members[k];
        const sl_frame *f = m->output;
        /* settings in the order of the axes, the first varying slowest */
        for (size_t a = 0; s->g && a < s->g->n_axes; a++) {
            size_t v = sl__group_value(s->g, m->member, a);
            if ((long)a == s->fold)
                s->fold_of[k] = v;
            else
                s->setting[k] = s->setting[k] * s->g->axes[a]->n + v;
        }
        long i = sl_frame_find(f, s->metric);
        char have[512];
        sl__describe_frame(f, have, sizeof have);
        if (i < 0)
            return sl_stage_error(st, err, SL_ERR_CONFIG, "metric",
                                  "stage '%s' has no array '%s' to score with; it has %s (name one of them, e.g. a "
                                  "metric the metrics stage computes)",
                                  sl_stage_name(m), s->metric, have);
        if (sl_frame_array(f, (size_t)i)->cols != 1 || (sl_frame_rows(f) >= 0 && sl_frame_rows(f) != 1))
            return sl_stage_error(st, err, SL_ERR_CONFIG, "metric",
                                  "array '%s' of stage '%s' is not one number (1 x 1): it is %lld x %lld; name an "
                                  "array that scores the member, such as the output of metrics",
                                  s->metric, sl_stage_name(m), (long long)sl_frame_rows(f),
                                  (long long)sl_frame_array(f, (size_t)i)->cols);
    }
    sl_frame *out = sl_stage_output(st);
    sl_status rc = SL_OK;
    for (size_t a = 0; s->g && a < s->g->n_axes && rc == SL_OK; a++) {
        if ((long)a == s->fold)
            continue;
        char name[SL_NAME_MAX];
        snprintf(name, sizeof name, "param.%s", s->g->axes[a]->name);
        rc = sl_frame_add(out, name, SL_FLOAT64, 1, err);
    }
    if (rc == SL_OK)
        rc = sl_frame_add(out, "mean", SL_FLOAT64, 1, err);
    if (rc == SL_OK)
        rc = sl_frame_add(out, "std", SL_FLOAT64, 1, err);
    if (rc == SL_OK)
        rc = sl_frame_add(out, "rank", SL_INT64, 1, err);
    if (rc == SL_OK)
        rc = sl_frame_add(out, "scores", SL_FLOAT64, (int64_t)s->n_folds, err);
    sl_frame_set_rows(out, (int64_t)s->n_settings);
    return rc;
}

/* a is better than b: NaN (a failed score) is worse than any number, as
 * GridSearchCV ranks it. */
static int better(int minimize, double a, double b)
{
    if (isnan(a))
        return 0;
    if (isnan(b))
        return 1;
    return minimize ? a < b : a > b;
}

/* ord[0..n): the settings, the best first, equal means in setting order:
 * a stable merge sort (qsort is neither stable nor given a context). */
static void sort_settings(size_t *ord, size_t *tmp, size_t n, const double *mean, int minimize)
{
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n, i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = better(minimize, mean[ord[j]], mean[ord[i]]) ? ord[j++] : ord[i++];
            while (i < mid)
                tmp[k++] = ord[i++];
            while (j < hi)
                tmp[k++] = ord[j++];
        }
        memcpy(ord, tmp, n * sizeof *ord);
    }
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    (void)ex;
    sel_state *s = sl_stage_state(st);
    size_t ns = s->n_settings, nf = s->n_folds, na = s->g ? s->g->n_axes : 0;
    double *scores = calloc(ns * nf, sizeof *scores), *mean = calloc(ns, sizeof *mean),
           *sd = calloc(ns, sizeof *sd), *col = calloc(ns, sizeof *col);
    int64_t *rank = calloc(ns, sizeof *rank);
    sl_status rc = scores && mean && sd && col && rank ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < s->n && rc == SL_OK; k++) {
        rc = sl_frame_read_all(s->members[k]->output, s->metric, SL_FLOAT64,
                               &scores[s->setting[k] * nf + s->fold_of[k]], 1, err);
    }
    /* as GridSearchCV's mean_test_score and std_test_score: over the folds
     * in fold order, the population standard deviation */
    for (size_t i = 0; i < ns && rc == SL_OK; i++) {
        double sum = 0, ss = 0;
        for (size_t f = 0; f < nf; f++)
            sum += scores[i * nf + f];
        mean[i] = sum / (double)nf;
        for (size_t f = 0; f < nf; f++)
            ss += (scores[i * nf + f] - mean[i]) * (scores[i * nf + f] - mean[i]);
        sd[i] = sqrt(ss / (double)nf);
    }
    /* rank 1 + the settings strictly better (GridSearchCV's rankdata
     * "min"); the best is the first of rank 1 in setting order, as its
     * best_index_: the first after a stable sort */
    size_t best = 0, *ord = rc == SL_OK ? malloc(2 * ns * sizeof *ord) : NULL;
    if (rc == SL_OK && !ord)
        rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (rc == SL_OK) {
        for (size_t i = 0; i < ns; i++)
            ord[i] = i;
        sort_settings(ord, ord + ns, ns, mean, s->minimize);
        best = ord[0];
        for (size_t r = 0; r < ns; r++)
            rank[ord[r]] = r > 0 && !better(s->minimize, mean[ord[r - 1]], mean[ord[r]]) ? rank[ord[r - 1]]
                                                                                           : (int64_t)r + 1;
    }
    free(ord);
    sl_frame *out = sl_stage_output(st);
    for (size_t a = 0, stride = ns; a < na && rc == SL_OK; a++) {
        const sl__axis *ax = s->g->axes[a];
        if ((long)a == s->fold)
            continue;
        stride /= ax->n;
        for (size_t i = 0; i < ns; i++) /* a value's index when it is not a number */
            col[i] = ax->numeric ? ax->nums[(i / stride) % ax->n] : (double)((i / stride) % ax->n);
        char name[SL_NAME_MAX];
        snprintf(name, sizeof name, "param.%s", ax->name);
        rc = sl_frame_set_data(out, name, col, err);
        if (rc == SL_OK && ax->numeric) {
            snprintf(name, sizeof name, "best.%s", ax->name);
            rc = sl_stage_set_result(st, name, ax->nums[(best / stride) % ax->n], err);
        }
    }
    if (rc == SL_OK)
        rc = sl_frame_set_data(out, "mean", mean, err);
    if (rc == SL_OK)
        rc = sl_frame_set_data(out, "std", sd, err);
    if (rc == SL_OK)
        rc = sl_frame_set_data(out, "rank", rank, err);
    if (rc == SL_OK)
        rc = sl_frame_set_data(out, "scores", scores, err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "best_mean", mean[best], err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "best_std", sd[best], err);
    if (rc == SL_OK)
        rc = sl_stage_set_result(st, "best_index", (double)best, err);
    if (rc == SL_OK && isnan(mean[best]))
        sl_stage_warn(st, "every setting's mean %s is NaN; the first setting is taken as the best", s->metric);
    free(scores);
    free(mean);
    free(sd);
    free(col);
    free(rank);
    return rc;
}

static const char op_doc[] =
    "Chooses among the settings of a sweep by cross-validation. Its `input` names an expanded stage, "
    "typically a `metrics` stage whose members score each setting on each fold; unlike other ops, "
    "`select` is not expanded with its input but reads *every* member of it (it gathers):\n\n"
    "```yaml\n"
    "train: { op: split, input: data, part: train, folds: 5 }\n"
    "test:  { op: split, input: data, part: test,  folds: 5 }\n"
    "fit:   { op: linreg, input: train, sweep: { l2: [0.01, 0.1, 1, 10] } }\n"
    "score: { op: metrics, model: fit, data: test, metrics: [r2] }\n"
    "cv:    { op: select, input: score, metric: r2 }\n"
    "final: { op: linreg, input: data, l2: { best: cv } }\n"
    "```\n\n"
    "The members' axis `fold` is averaged over; each combination of values of the other axes is a "
    "*setting* (one row of the output), in the order of the axes, the first varying slowest (for one "
    "swept stage: its parameters in the order of their names, each in the order listed, as "
    "scikit-learn's `ParameterGrid`). For each setting: `mean`, the mean of `metric` over the folds "
    "(summed in fold order) and `std`, the population standard deviation (ddof 0), as `GridSearchCV`'s "
    "`mean_test_score` and `std_test_score`; `rank`, 1 + the number of settings with a strictly better "
    "mean (`goal: max`: higher; `min`: lower; a NaN mean is worse than any number), as "
    "`rank_test_score`. The best setting is the first of rank 1 in setting order, as `best_index_`.\n\n"
    "**Output**: one row per setting: `param.<name>` (float64) for each swept parameter, its value (for a "
    "parameter that is not a number, the value's index in the sweep's list), `mean`, `std` (float64), "
    "`rank` (int64) and `scores` (float64, one column per fold: each member's score). **Results**: "
    "`best.<name>` for each swept numeric parameter, `best_mean`, `best_std` and `best_index` (the best "
    "row, from 0). `sluice run` prints the table after the run.\n\n"
    "**The choice as a value**: a parameter of another stage written `{ best: cv }` takes the value of "
    "that parameter in the best setting (its edge to `cv` is drawn `best`); the stage is planned in the "
    "run once `cv` is computed, and its cache key holds the value, so a new choice recomputes it and the "
    "same choice reuses it.\n\n"
    "**Checks**: each member must have `metric` as a 1 × 1 array. A stage that is not expanded is one "
    "setting of one fold. When every mean is NaN the first setting is taken, with a warning.";

const sl_op sl__op_select = {
    .abi = SL_ABI_VERSION,
    .name = "select",
    .summary = "the mean and std over folds of each setting of a sweep, their ranks, and the best setting",
    .doc = op_doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .flags = SL__OP_GATHER,
    .plan = plan,
    .run = run,
    .free_state = free_state,
};
