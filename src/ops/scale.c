/* scale: element-wise out = transform(x) * factor + offset on float arrays,
 * with per-column or scalar factors and offsets; transform is none, log,
 * log1p, sqrt or square. One map pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/error_int.h"
#include "ops/ops_int.h"
#include "plan/pipeline_int.h"

static const sl_param_spec params[] = {
    {"input", SL_PARAM_INPUT, 1, NULL, NULL, 0, 0, "stage whose output frame is scaled"},
    {"arrays", SL_PARAM_STRING_LIST, 0, NULL, NULL, 0, 0,
     "float arrays to scale (default: the `features` array only); the others pass through unchanged"},
    {"features", SL_PARAM_STRING, 0, "X", NULL, 0, 0,
     "the features array, the one scaled when `arrays` is not given (a target such as y is left as it is)"},
    {"transform", SL_PARAM_CHOICE, 0, "none", "none|log|log1p|sqrt|square", 0, 0,
     "function applied to each value before the factor and offset"},
    {"factor", SL_PARAM_NUMBER_LIST, 0, "[1]", NULL, 0, 0, "multiplier: one value, or one per column"},
    {"offset", SL_PARAM_NUMBER_LIST, 0, "[0]", NULL, 0, 0, "added after multiplying: one value, or one per column"},
    {"domain_errors", SL_PARAM_CHOICE, 0, "error", "error|nan", 0, 0,
     "log/log1p/sqrt of a value outside their domain: error (naming row and column), or nan (NumPy's result)"},
};

enum { T_NONE, T_LOG, T_LOG1P, T_SQRT, T_SQUARE };
static const char *const transform_names[] = {"none", "log", "log1p", "sqrt", "square"};

typedef struct arr_scale {
    int on;
    double *factor, *offset; /* per column */
    unsigned char *identity; /* per column: factor 1 and offset 0 */
} arr_scale;

typedef struct scale_state {
    const sl_frame *in;
    size_t n;
    arr_scale *a;
    int transform;
    int nan_mode;
} scale_state;

static void free_state(void *p)
{
    scale_state *s = p;
    if (!s)
        return;
    for (size_t i = 0; s->a && i < s->n; i++) {
        free(s->a[i].factor);
        free(s->a[i].offset);
        free(s->a[i].identity);
    }
    free(s->a);
    free(s);
}

/* Per-column values of a NUMBER_LIST parameter of 1 or cols entries. */
static sl_status per_column(sl_stage *st, const char *param, const sl_array_info *a, double **out, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    size_t len = sl_params_len(p, param);
    if (len != 1 && len != (size_t)a->cols)
        return sl_stage_error(st, err, SL_ERR_CONFIG, param,
                              "'%s' has %zu values but array '%s' has %lld column%s; give one value, or one per "
                              "column",
                              param, len, a->name, (long long)a->cols, a->cols == 1 ? "" : "s");
    *out = malloc((size_t)a->cols * sizeof **out);
    if (!*out)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (int64_t c = 0; c < a->cols; c++) {
        double v = sl_params_list_number(p, param, len == 1 ? 0 : (size_t)c);
        if (!isfinite(v))
            return sl_stage_error(st, err, SL_ERR_CONFIG, param, "'%s' values must be finite numbers, found %g",
                                  param, v);
        (*out)[c] = v;
    }
    return SL_OK;
}

static sl_status plan(sl_stage *st, sl_error *err)
{
    const sl_frame *in = sl_stage_input(st, "input");
    const sl_params *p = sl_stage_params(st);
    sl_frame *out = sl_stage_output(st);
    scale_state *s = calloc(1, sizeof *s);
    if (!s)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    sl_stage_set_state(st, s);
    s->in = in;
    s->n = sl_frame_count(in);
    s->a = calloc(s->n + 1, sizeof *s->a);
    unsigned char *want = calloc(s->n + 1, 1);
    if (!s->a || !want) {
        free(want);
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    const char *tr = sl_params_string(p, "transform");
    for (int t = 0; t <= T_SQUARE; t++)
        if (strcmp(tr, transform_names[t]) == 0)
            s->transform = t;
    s->nan_mode = strcmp(sl_params_string(p, "domain_errors"), "nan") == 0;
    sl_status rc = sl__select_features(st, "arrays", in, want, "scale changes", "scale", err);
    int any = 0;
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        const sl_array_info *a = sl_frame_array(in, i);
        if (!want[i])
            continue;
        if (!sl_dtype_is_float(a->dtype)) {
            rc = sl_stage_error(st, err, SL_ERR_CONFIG, sl_params_has(p, "arrays") ? "arrays" : "features",
                                "array '%s' holds %s; scale writes floats in the array's own type: convert it "
                                "first (op: convert, dtype: float64, arrays: [%s])",
                                a->name, sl_dtype_name(a->dtype), a->name);
            continue;
        }
        arr_scale *as = &s->a[i];
        as->on = 1;
        any = 1;
        rc = per_column(st, "factor", a, &as->factor, err);
        if (rc == SL_OK)
            rc = per_column(st, "offset", a, &as->offset, err);
        if (rc == SL_OK && !(as->identity = malloc((size_t)a->cols)))
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (int64_t c = 0; c < a->cols && rc == SL_OK; c++)
            as->identity[c] = as->factor[c] == 1.0 && as->offset[c] == 0.0;
    }
    free(want);
    if (rc == SL_OK && !any)
        rc = sl_stage_error(st, err, SL_ERR_CONFIG, "arrays", "'arrays' names no arrays; name at least one");
    for (size_t i = 0; i < s->n && rc == SL_OK; i++)
        rc = sl_frame_add_like(out, in, i, SL_DTYPE_NONE, err);
    sl_frame_set_rows(out, sl_frame_rows(in));
    return rc;
}

/* Values outside a transform's domain (NaN passes through). */
static int out_of_domain(int t, double v)
{
    switch (t) {
    case T_LOG: return v <= 0;
    case T_LOG1P: return v <= -1;
    case T_SQRT: return v < 0;
    default: return 0;
    }
}

static const char *domain_text(int t)
{
    switch (t) {
    case T_LOG: return "log needs values > 0";
    case T_LOG1P: return "log1p needs values > -1";
    default: return "sqrt needs values >= 0";
    }
}

typedef struct scale_counts {
    int64_t bad;       /* values outside the domain */
    int64_t first_bad; /* element index in the chunk of the first, for the error */
    int64_t array;
} scale_counts;

#define SCALE_LOOP(T, EXPR)                                                                                 \
    do {                                                                                                   \
        const T *x = src;                                                                                  \
        T *y = dst;                                                                                        \
        for (int64_t r = 0; r < rows; r++)                                                                 \
            for (int64_t c = 0; c < cols; c++) {                                                           \
                size_t e = (size_t)(r * cols + c);                                                         \
                double v = (double)x[e];                                                                   \
                if (check && out_of_domain(tr, v)) {                                                       \
                    if (n->bad++ == 0)                                                                     \
                        n->first_bad = (int64_t)e;                                                         \
                }                                                                                          \
                v = EXPR;                                                                                  \
                y[e] = (T)(id[c] ? v : v * f[c] + o[c]);                                                   \
            }                                                                                              \
    } while (0)

#define SCALE_TYPED(T)                                                                                      \
    switch (tr) {                                                                                          \
    case T_LOG: SCALE_LOOP(T, log(v)); break;                                                              \
    case T_LOG1P: SCALE_LOOP(T, log1p(v)); break;                                                          \
    case T_SQRT: SCALE_LOOP(T, sqrt(v)); break;                                                            \
    case T_SQUARE: SCALE_LOOP(T, v * v); break;                                                            \
    default: SCALE_LOOP(T, v); break;                                                                      \
    }

static sl_status scale_chunk(void *ctx, const sl_chunk *in, sl_chunk *out, void *partial, sl_error *err)
{
    const scale_state *s = ctx;
    scale_counts *n = partial;
    const int tr = s->transform;
    const int check = tr == T_LOG || tr == T_LOG1P || tr == T_SQRT;
    for (size_t i = 0; i < s->n; i++) {
        const sl_array_info *a = in->arrays[i].info;
        const void *src = in->arrays[i].data;
        void *dst = out->arrays[i].data;
        const int64_t rows = in->rows, cols = a->cols;
        if (!s->a[i].on) {
            memcpy(dst, src, (size_t)(rows * cols) * sl_dtype_size(a->dtype));
            continue;
        }
        const double *f = s->a[i].factor, *o = s->a[i].offset;
        const unsigned char *id = s->a[i].identity;
        int64_t before = n->bad;
        if (a->dtype == SL_FLOAT32) {
            SCALE_TYPED(float)
        } else {
            SCALE_TYPED(double)
        }
        if (n->bad > before && before == 0)
            n->array = (int64_t)i;
        if (n->bad && !s->nan_mode) {
            const sl_array_info *b = in->arrays[n->array].info;
            int64_t row = n->first_bad / b->cols, col = n->first_bad % b->cols;
            double v = b->dtype == SL_FLOAT32 ? (double)((const float *)in->arrays[n->array].data)[n->first_bad]
                                              : ((const double *)in->arrays[n->array].data)[n->first_bad];
            const char *cname = sl_frame_column(s->in, (size_t)n->array, col);
            char cn[SL_NAME_MAX + 8] = "";
            if (cname && cname[0])
                snprintf(cn, sizeof cn, " ('%s')", cname);
            return sl__error_set(err, SL_ERR_DATA,
                                 "array '%s' row %lld column %lld%s: value %.17g is outside the domain of %s (%s; "
                                 "%lld such values in this chunk); clean or clip the data first, pick another "
                                 "transform (log1p for values >= 0), or set domain_errors: nan to get NaN as NumPy "
                                 "does",
                                 b->name, (long long)(in->row0 + row), (long long)col, cn, v, transform_names[tr],
                                 domain_text(tr), (long long)n->bad);
        }
    }
    out->rows = in->rows;
    return SL_OK;
}

static sl_status scale_merge(void *ctx, void *acc, const void *partial, sl_error *err)
{
    (void)ctx;
    (void)err;
    ((scale_counts *)acc)->bad += ((const scale_counts *)partial)->bad;
    return SL_OK;
}

static sl_status run(sl_stage *st, sl_exec *ex, sl_error *err)
{
    const scale_state *s = sl_stage_state(st);
    sl_frame *out = sl_stage_output(st);
    scale_counts total = {0, 0, 0};
    sl_pass pass = {.name = "scale",
                    .input = sl_stage_input(st, "input"),
                    .output = out,
                    .partial_size = sizeof(scale_counts),
                    .ctx = (void *)s,
                    .chunk = scale_chunk,
                    .merge = scale_merge};
    sl_status rc = sl_exec_pass(ex, st, &pass, &total, err);
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        if (!s->a[i].on)
            continue;
        const sl_array_info *a = sl_frame_array(s->in, i);
        rc = sl_frame_set_attr(out, a->name, "scale_factor", s->a[i].factor, (size_t)a->cols, err);
        if (rc == SL_OK)
            rc = sl_frame_set_attr(out, a->name, "scale_offset", s->a[i].offset, (size_t)a->cols, err);
    }
    if (rc == SL_OK && s->transform != T_NONE && s->transform != T_SQUARE)
        rc = sl_stage_set_result(st, "values_out_of_domain", (double)total.bad, err);
    return rc;
}

static const char doc[] =
    "Element-wise affine maps with an optional transform first, on float arrays:\n"
    "\n"
    "```python\n"
    "X = np.log(X) * factor + offset      # transform: log, factor: [...], offset: [...]\n"
    "X = X * 1.1                          # factor: 1.1 (\"increase all features by 10%\")\n"
    "```\n"
    "\n"
    "`out = transform(x) * factor + offset`, where `transform` is `none`, `log`, `log1p`,\n"
    "`sqrt` or `square` (x*x), and `factor` and `offset` are one number for every column or\n"
    "one per column (then every scaled array must have that many columns). A column whose\n"
    "factor is 1 and offset 0 gets transform(x) exactly. Values are computed in double\n"
    "precision and rounded once to the array's type (float32 stays float32); NaN stays NaN.\n"
    "For float64 the result is the same expression NumPy evaluates (two roundings, no fused\n"
    "multiply-add); `log`/`log1p` use the C library's functions, which may differ from\n"
    "NumPy's in the last bit.\n"
    "\n"
    "**Domain**: `log` needs x > 0, `log1p` x > -1, `sqrt` x >= 0. With `domain_errors: error`\n"
    "(the default) the first value outside (0 for `log` included) stops the stage with its\n"
    "array, row, column and value. With `domain_errors: nan` the results are those of\n"
    "`np.log` etc.: NaN outside the domain, -Inf at 0 for `log` (-1 for `log1p`); the\n"
    "result `values_out_of_domain` counts those values.\n"
    "\n"
    "**Arrays**: `arrays`, or without it only the `features` array (`X` by default), so\n"
    "that a target such as y keeps its values; name y in `arrays` to scale it too. An input\n"
    "without the `features` array is an error at plan time that lists its arrays. Scaling\n"
    "an integer array is an error that suggests `convert` to a float type first.\n"
    "\n"
    "**Output**: the input's arrays, same types, columns and rows; scaled arrays carry the\n"
    "attributes `scale_factor` and `scale_offset` (one per column). One map pass: results do\n"
    "not depend on chunk size or thread count.\n"
    "\n"
    "**Errors**: an unknown or integer array in `arrays`, or as `features`; no `features`\n"
    "array and no `arrays`; `arrays: []`; `factor` or `offset` with a count that is neither\n"
    "1 nor the array's columns, or not finite; at run time, a value outside the transform's\n"
    "domain (unless `domain_errors: nan`).\n";

const sl_op sl__op_scale = {
    .abi = SL_ABI_VERSION,
    .name = "scale",
    .summary = "element-wise transform(x) * factor + offset on float arrays (log, log1p, sqrt, square)",
    .doc = doc,
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .plan = plan,
    .run = run,
    .free_state = free_state,
};
