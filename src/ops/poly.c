/* poly: polynomial and interaction features of one array's columns, as
 * scikit-learn's PolynomialFeatures makes them (kernels/poly.c), with its
 * feature names as the output's column names. One map pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "kernels/poly.h"
#include "ops/ops_int.h"
#include "plan/pipeline_int.h"

/* Beyond this many output columns a degree is most likely a slip (degree 10
 * of 20 columns makes 30 million); a chunk of 65,536 rows of it is already
 * 5 GB. */
#define POLY_MAX_COLS 10000

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose output frame holds the array"},
    {"array", SL_PARAM_STRING, 0, "X", NULL, 0, 0, "array whose columns are expanded (any numeric type)"},
    {"degree", SL_PARAM_INT, 0, "2", NULL, 1, 64, "highest degree of the terms"},
    {"interaction_only", SL_PARAM_BOOL, 0, "false", NULL, 0, 0,
     "only products of distinct columns (a*b, not a^2)"},
    {"include_bias", SL_PARAM_BOOL, 0, "false", NULL, 0, 0,
     "add a first column of ones (scikit-learn's default is true; the models fit their own intercept)"},
    {"output", SL_PARAM_STRING, 0, NULL, NULL, 0, 0,
     "name of a new array for the features, keeping 'array' (default: the features replace 'array')"},
};

typedef struct poly_state {
    sl__poly plan;
    long xi;       /* the input array */
    size_t n_out;  /* output arrays */
    long *from;    /* per output array: the input array it copies, -1 for the features */
} poly_state;

static void free_state(void *p)
{
    poly_state *s = p;
    if (s) {
        sl__poly_free(&s->plan);
        free(s->from);
        free(s);
    }
}

/* scikit-learn's get_feature_names_out: "a", "a^2", "a b", "1" for the bias. */
static char *term_name(const sl__poly *pl, int64_t c, const char *const *in_names, int64_t *feats)
{
    int64_t d = sl__poly_term(pl, c, feats);
    if (d == 0)
        return strdup("1");
    size_t len = 1;
    for (int64_t k = 0; k < d; k++)
        len += strlen(in_names[feats[k]]) + 24;
    char *name = malloc(len), *p = name;
    if (!name)
        return NULL;
    for (int64_t k = 0; k < d;) {
        int64_t e = 1;
        while (k + e < d && feats[k + e] == feats[k])
            e++;
        p += sprintf(p, "%s%s", p == name ? "" : " ", in_names[feats[k]]);
        if (e > 1)
            p += sprintf(p, "^%lld", (long long)e);
        k += e;
    }
    return name;
}

static sl_status set_names(sl_frame *out, const char *array, const sl_frame *in, long xi, const sl__poly *pl,
                           sl_error *err)
{
    int64_t n = pl->n;
    char **in_names = calloc((size_t)n, sizeof *in_names), **names = calloc((size_t)pl->cols, sizeof *names);
    int64_t *feats = malloc((size_t)(pl->cols + n + 1) * sizeof *feats);
    sl_status rc = in_names && names && feats ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (int64_t c = 0; c < n && rc == SL_OK; c++) {
        const char *cn = sl_frame_column(in, (size_t)xi, c);
        char x[32];
        /* scikit-learn's names for columns it has no names for */
        snprintf(x, sizeof x, "x%lld", (long long)c);
        if (!(in_names[c] = strdup(cn ? cn : x)))
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    for (int64_t c = 0; c < pl->cols && rc == SL_OK; c++)
        if (!(names[c] = term_name(pl, c, (const char *const *)in_names, feats)))
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (rc == SL_OK)
        rc = sl_frame_set_columns(out, array, (const char *const *)names, err);
    for (int64_t c = 0; in_names && c < n; c++)
        free(in_names[c]);
    for (int64_t c = 0; names && c < pl->cols; c++)
        free(names[c]);
    free(in_names);
    free(names);
    free(feats);
    return rc;
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    const sl_frame *in = sl_stage_input(st, "input");
    sl_frame *out = sl_stage_output(st);
    poly_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    const char *array = sl_params_string(p, "array");
    s->xi = sl_frame_find(in, array);
    if (s->xi < 0) {
        char have[512];
        sl__describe_frame(in, have, sizeof have);
        return sl_stage_error(st, err, SL_ERR_CONFIG, "array",
                              "'array' names array '%s', which the input lacks; it has %s", array, have);
    }
    const sl_array_info *a = sl_frame_array(in, (size_t)s->xi);
    int64_t degree = sl_params_int(p, "degree");
    int inter = sl_params_bool(p, "interaction_only"), bias = sl_params_bool(p, "include_bias");
    int64_t cols = sl__poly_count(a->cols, degree, inter, bias, POLY_MAX_COLS);
    if (cols > POLY_MAX_COLS) {
        /* the exact count, for the message, when it still fits */
        int64_t exact = sl__poly_count(a->cols, degree, inter, bias, INT64_MAX / 4);
        char count[48];
        if (exact <= INT64_MAX / 4)
            snprintf(count, sizeof count, "%lld", (long long)exact);
        else
            snprintf(count, sizeof count, "more than %lld", (long long)(INT64_MAX / 4));
        return sl_stage_error(st, err, SL_ERR_CONFIG, "degree",
                              "degree %lld of the %lld columns of array '%s' makes %s columns, more than the %d poly "
                              "writes; lower the degree, set interaction_only: true, or select fewer columns first "
                              "(convert's columns)",
                              (long long)degree, (long long)a->cols, a->name, count, POLY_MAX_COLS);
    }
    if (sl__poly_plan(&s->plan, a->cols, degree, inter, bias) != 0)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    if (s->plan.cols != cols)
        return sl_stage_error(st, err, SL_ERR_INTERNAL, "degree", "poly planned %lld columns where it counted %lld",
                              (long long)s->plan.cols, (long long)cols);
    const char *name = sl_params_has(p, "output") ? sl_params_string(p, "output") : array;
    int replace = strcmp(name, array) == 0;
    if (!replace && sl_frame_find(in, name) >= 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "output",
                              "the input already has an array named '%s'; set 'output' to a new name, or leave it "
                              "out to replace '%s'",
                              name, array);
    size_t nin = sl_frame_count(in);
    s->from = malloc((nin + 1) * sizeof *s->from);
    if (!s->from)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_status rc = SL_OK;
    for (size_t i = 0; i < nin && rc == SL_OK; i++) {
        if (replace && (long)i == s->xi) {
            rc = sl_frame_add(out, name, SL_FLOAT64, cols, err);
            s->from[s->n_out++] = -1;
        } else {
            rc = sl_frame_add_like(out, in, i, SL_DTYPE_NONE, err);
            s->from[s->n_out++] = (long)i;
        }
    }
    if (rc == SL_OK && !replace) {
        rc = sl_frame_add(out, name, SL_FLOAT64, cols, err);
        s->from[s->n_out++] = -1;
        if (rc)
            sl__stage_locate(st, err, "output");
    }
    if (rc == SL_OK)
        rc = set_names(out, name, in, s->xi, &s->plan, err);
    sl_frame_set_rows(out, sl_frame_rows(in));
    return rc;
}

static sl_status poly_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    (void)partial;
    (void)err;
    const poly_state *s = ctx;
    for (size_t j = 0; j < s->n_out; j++) {
        if (s->from[j] < 0) {
            const sl_chunk_array *x = &in->arrays[s->xi];
            sl__poly_rows(&s->plan, out->arrays[j].data, x->data, x->info->dtype, in->rows);
            continue;
        }
        const sl_array_info *a = in->arrays[s->from[j]].info;
        memcpy(out->arrays[j].data, in->arrays[s->from[j]].data,
               (size_t)(in->rows * a->cols) * sl_dtype_size(a->dtype));
    }
    out->rows = in->rows;
    return SL_OK;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    sl_pass pass = {.name = "poly",
                    .input = sl_stage_input(st, "input"),
                    .output = sl_stage_output(st),
                    .ctx = sl_stage_state(st),
                    .chunk = poly_chunk};
    return sl_exec_pass(ex, st, &pass, NULL, err);
}

static const char doc[] =
    "Polynomial and interaction features of the columns of one array, as scikit-learn's\n"
    "`PolynomialFeatures(degree, interaction_only, include_bias)`:\n"
    "\n"
    "```python\n"
    "poly = PolynomialFeatures(degree=2, include_bias=False)\n"
    "X = poly.fit_transform(X)                            # the values\n"
    "poly.get_feature_names_out(names)                    # the column names\n"
    "```\n"
    "\n"
    "For columns `a, b` and `degree: 2` the output columns are `a, b, a^2, a b, b^2`: the\n"
    "columns themselves, then the products of each degree from 2 to `degree`, in\n"
    "scikit-learn's order (lexicographic in the columns, as\n"
    "`itertools.combinations_with_replacement`). `interaction_only: true` keeps only products\n"
    "of distinct columns (`a, b, a b`). `include_bias: true` puts a column of ones, named `1`,\n"
    "first. Its default is false here, where scikit-learn's is true: `linreg` and `logreg`\n"
    "fit their own intercept, and to them a column of ones is a constant feature that adds\n"
    "nothing (`linreg`'s normal equations refuse it as rank deficient unless\n"
    "`rank_deficient: pinv`).\n"
    "\n"
    "**Values** are float64 whatever the input's type (integers and float32 are converted\n"
    "first). Each product is the one scikit-learn computes on a float64 array, in the same\n"
    "order (the term `a b c` is `(c * b) * a`, from the term `b c` of the degree below), so the\n"
    "values are its values to the bit. A NaN or an infinity is multiplied like any value\n"
    "(scikit-learn refuses them): clean the data first if that is not wanted.\n"
    "\n"
    "**Names**: the output columns are named as `get_feature_names_out(names)` names them\n"
    "(`a`, `a^2`, `a b`, `1`), from the array's column names, or `x0`, `x1`, ... (scikit-learn's\n"
    "names) when it has none.\n"
    "\n"
    "**Output**: the input's arrays, with `array` replaced by the features (n x the number of\n"
    "terms, float64), or with `output` set, the features added as a new array after the\n"
    "others and `array` kept. Each row depends on its row only: one map pass, streamable.\n"
    "\n"
    "**Size**: at most 10,000 output columns. For n columns there are C(n + d, d) - 1 terms up\n"
    "to degree d (plus the bias), or the sum of C(n, k) for k = 1..d with `interaction_only`;\n"
    "10 columns make 65 at degree 2 and 285 at degree 3.\n"
    "\n"
    "**Errors**: an unknown `array`; `degree` below 1, or one that makes more than 10,000\n"
    "columns (the message gives the count); `output` naming another array of the input.\n";

const sl_op sl__op_poly = {
    .abi = SL_ABI_VERSION,
    .name = "poly",
    .summary = "polynomial and interaction features of an array's columns (scikit-learn's PolynomialFeatures)",
    .doc = doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .flags = SL_OP_STREAMABLE,
    .run = run,
    .free_state = free_state,
};
