/* scale: element-wise out = transform(x) * factor + offset on float arrays,
 * with per-column or scalar factors and offsets; transform is none, log,
 * log1p, sqrt or square. All columns or some (`columns`), replaced or
 * appended to the array (`append`). One map pass. */
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
    {"columns", SL_PARAM_STRING_LIST, 0, NULL, NULL, 0, 0,
     "columns to scale, of the one array scaled: names or 0-based indices (negative: from the end); default: all"},
    {"append", SL_PARAM_BOOL, 0, "false", NULL, 0, 0,
     "append the results to the array as new columns named <transform>(<name>) (scaled(<name>) without a "
     "transform), keeping the columns they come from, instead of replacing them"},
};

enum { T_NONE, T_LOG, T_LOG1P, T_SQRT, T_SQUARE };
static const char *const transform_names[] = {"none", "log", "log1p", "sqrt", "square"};

typedef struct arr_scale {
    int on;
    int64_t n;               /* columns scaled */
    int64_t *src, *dst;      /* per column scaled: its column in the input, and in the output */
    int64_t out_cols;
    int copy;                /* an output row starts as its input row: some columns are not scaled, or appended */
    double *factor, *offset; /* per column scaled */
    unsigned char *identity; /* per column scaled: factor 1 and offset 0 */
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
        free(s->a[i].src);
        free(s->a[i].dst);
        free(s->a[i].factor);
        free(s->a[i].offset);
        free(s->a[i].identity);
    }
    free(s->a);
    free(s);
}

/* Per-column values of a NUMBER_LIST parameter of 1 or n entries (one per
 * column scaled). */
static sl_status per_column(sl_stage *st, const char *param, const sl_array_info *a, int64_t n, double **out,
                            sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    size_t len = sl_params_len(p, param);
    if (len != 1 && len != (size_t)n && !sl_params_has(p, "columns"))
        return sl_stage_error(st, err, SL_ERR_CONFIG, param,
                              "'%s' has %zu values but array '%s' has %lld column%s; give one value, or one per "
                              "column",
                              param, len, a->name, (long long)a->cols, a->cols == 1 ? "" : "s");
    if (len != 1 && len != (size_t)n)
        return sl_stage_error(st, err, SL_ERR_CONFIG, param,
                              "'%s' has %zu values but 'columns' picks %lld column%s of array '%s'; give one value, "
                              "or one per column picked, in the order of 'columns'",
                              param, len, (long long)n, n == 1 ? "" : "s", a->name);
    *out = malloc((size_t)(n ? n : 1) * sizeof **out);
    if (!*out)
        return sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (int64_t c = 0; c < n; c++) {
        double v = sl_params_list_number(p, param, len == 1 ? 0 : (size_t)c);
        if (!isfinite(v))
            return sl_stage_error(st, err, SL_ERR_CONFIG, param, "'%s' values must be finite numbers, found %g",
                                  param, v);
        (*out)[c] = v;
    }
    return SL_OK;
}

/* The columns array i scales (`columns`, or all) and where their results
 * go: in their own place, or after the array's columns (`append`). */
static sl_status pick_columns(sl_stage *st, const sl_frame *in, size_t i, int append, arr_scale *as, sl_error *err)
{
    const sl_params *p = sl_stage_params(st);
    const sl_array_info *a = sl_frame_array(in, i);
    int some = sl_params_has(p, "columns");
    int64_t n = some ? (int64_t)sl_params_len(p, "columns") : a->cols;
    if (n == 0)
        return sl_stage_error(st, err, SL_ERR_CONFIG, "columns",
                              "'columns' is empty; name the columns to scale, or leave it out to scale them all");
    as->src = malloc((size_t)n * sizeof *as->src);
    as->dst = malloc((size_t)n * sizeof *as->dst);
    unsigned char *seen = calloc((size_t)a->cols, 1);
    sl_status rc = as->src && as->dst && seen ? SL_OK : sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    for (int64_t k = 0; k < n && rc == SL_OK; k++) {
        int64_t c = k;
        const char *text = some ? sl_params_list_string(p, "columns", (size_t)k) : NULL;
        if (some)
            rc = sl__resolve_column(st, in, i, "columns", text, &c, err);
        if (rc == SL_OK && seen[c]++)
            rc = sl_stage_error(st, err, SL_ERR_CONFIG, "columns", "'columns' lists column %lld ('%s') twice",
                                (long long)c, text);
        as->src[k] = c;
        as->dst[k] = append ? a->cols + k : c;
    }
    free(seen);
    as->n = n;
    as->out_cols = append ? a->cols + n : a->cols;
    as->copy = append || n < a->cols;
    return rc;
}

/* Adds scaled array i to the output: its columns named after what was done
 * to them, "log(x)", when they are replaced by a transform's results or
 * appended ("scaled(x)" without a transform; an array without names gets
 * "X[j]" for its columns then). */
static sl_status add_scaled(const scale_state *s, sl_frame *out, const sl_frame *in, size_t i, int append,
                            sl_error *err)
{
    const arr_scale *as = &s->a[i];
    const sl_array_info *a = sl_frame_array(in, i);
    int named = sl_frame_column(in, i, 0) != NULL;
    if (!append && (s->transform == T_NONE || !named))
        return sl_frame_add_like(out, in, i, SL_DTYPE_NONE, err);
    sl_status rc = sl_frame_add(out, a->name, a->dtype, as->out_cols, err);
    char **names = calloc((size_t)as->out_cols, sizeof *names);
    if (rc == SL_OK && !names)
        rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    const char *what = s->transform == T_NONE ? "scaled" : transform_names[s->transform];
    for (int64_t c = 0; c < a->cols && rc == SL_OK; c++) {
        char buf[SL_NAME_MAX + 24];
        snprintf(buf, sizeof buf, "%s[%lld]", a->name, (long long)c);
        if (!(names[c] = strdup(named ? sl_frame_column(in, i, c) : buf)))
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
    }
    for (int64_t k = 0; k < as->n && rc == SL_OK; k++) {
        const char *base = names[as->src[k]];
        char *name = malloc(strlen(what) + strlen(base) + 3);
        if (!name) {
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
            break;
        }
        sprintf(name, "%s(%s)", what, base);
        if (!append)
            free(names[as->dst[k]]);
        names[as->dst[k]] = name;
    }
    if (rc == SL_OK)
        rc = sl_frame_set_columns(out, a->name, (const char *const *)names, err);
    for (int64_t c = 0; names && c < as->out_cols; c++)
        free(names[c]);
    free(names);
    return rc;
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
    int append = sl_params_bool(p, "append");
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
        s->a[i].on = 1;
        any++;
    }
    free(want);
    if (rc == SL_OK && !any)
        rc = sl_stage_error(st, err, SL_ERR_CONFIG, "arrays", "'arrays' names no arrays; name at least one");
    if (rc == SL_OK && any > 1 && sl_params_has(p, "columns")) {
        char list[512] = "";
        size_t used = 0;
        for (size_t i = 0; i < s->n && used < sizeof list; i++)
            if (s->a[i].on) {
                int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "",
                                 sl_frame_array(in, i)->name);
                if (w > 0)
                    used += (size_t)w;
            }
        rc = sl_stage_error(st, err, SL_ERR_CONFIG, "columns",
                            "'columns' picks columns of one array, but this stage scales %d arrays (%s); name that "
                            "one array in 'arrays'",
                            any, list);
    }
    for (size_t i = 0; i < s->n && rc == SL_OK; i++) {
        arr_scale *as = &s->a[i];
        if (!as->on)
            continue;
        const sl_array_info *a = sl_frame_array(in, i);
        rc = pick_columns(st, in, i, append, as, err);
        if (rc == SL_OK)
            rc = per_column(st, "factor", a, as->n, &as->factor, err);
        if (rc == SL_OK)
            rc = per_column(st, "offset", a, as->n, &as->offset, err);
        if (rc == SL_OK && !(as->identity = malloc((size_t)as->n)))
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (int64_t k = 0; k < as->n && rc == SL_OK; k++)
            as->identity[k] = as->factor[k] == 1.0 && as->offset[k] == 0.0;
    }
    for (size_t i = 0; i < s->n && rc == SL_OK; i++)
        rc = s->a[i].on ? add_scaled(s, out, in, i, append, err) : sl_frame_add_like(out, in, i, SL_DTYPE_NONE, err);
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

/* SRC and DST: a scaled column's place in the input row and the output row
 * (k, k when every column is scaled in place: no indirection then) */
#define SCALE_LOOP(T, EXPR, SRC, DST)                                                                   \
    do {                                                                                                \
        const T *x = src;                                                                               \
        T *y = dst;                                                                                     \
        for (int64_t r = 0; r < rows; r++) {                                                            \
            const T *xr = x + r * cols;                                                                 \
            T *yr = y + r * ocols;                                                                      \
            if (copy)                                                                                   \
                memcpy(yr, xr, (size_t)cols * sizeof(T));                                               \
            for (int64_t k = 0; k < nsel; k++) {                                                        \
                int64_t c = SRC;                                                                        \
                double v = (double)xr[c];                                                               \
                if (check && out_of_domain(tr, v)) {                                                    \
                    if (n->bad++ == 0)                                                                  \
                        n->first_bad = r * cols + c;                                                    \
                }                                                                                       \
                v = EXPR;                                                                               \
                yr[DST] = (T)(id[k] ? v : v * f[k] + o[k]);                                             \
            }                                                                                           \
        }                                                                                               \
    } while (0)

#define SCALE_PLACED(T, EXPR)                                                                           \
    do {                                                                                                \
        if (all)                                                                                        \
            SCALE_LOOP(T, EXPR, k, k);                                                                  \
        else                                                                                            \
            SCALE_LOOP(T, EXPR, sc[k], dc[k]);                                                          \
    } while (0)

#define SCALE_TYPED(T)                                                                                  \
    switch (tr) {                                                                                       \
    case T_LOG: SCALE_PLACED(T, log(v)); break;                                                         \
    case T_LOG1P: SCALE_PLACED(T, log1p(v)); break;                                                     \
    case T_SQRT: SCALE_PLACED(T, sqrt(v)); break;                                                       \
    case T_SQUARE: SCALE_PLACED(T, v * v); break;                                                       \
    default: SCALE_PLACED(T, v); break;                                                                 \
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
        const arr_scale *as = &s->a[i];
        if (!as->on) {
            memcpy(dst, src, (size_t)(rows * cols) * sl_dtype_size(a->dtype));
            continue;
        }
        const double *f = as->factor, *o = as->offset;
        const unsigned char *id = as->identity;
        const int64_t *sc = as->src, *dc = as->dst, nsel = as->n, ocols = as->out_cols;
        const int copy = as->copy, all = !copy && nsel == cols;
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
        const arr_scale *as = &s->a[i];
        if (!as->on)
            continue;
        /* per output column: what scaled it, 1 and 0 where nothing did */
        double *f = malloc((size_t)as->out_cols * sizeof *f), *o = malloc((size_t)as->out_cols * sizeof *o);
        if (!f || !o)
            rc = sl__error_set(err, SL_ERR_NOMEM, "out of memory");
        for (int64_t c = 0; c < as->out_cols && rc == SL_OK; c++) {
            f[c] = 1.0;
            o[c] = 0.0;
        }
        for (int64_t k = 0; k < as->n && rc == SL_OK; k++) {
            f[as->dst[k]] = as->factor[k];
            o[as->dst[k]] = as->offset[k];
        }
        const char *name = sl_frame_array(s->in, i)->name;
        if (rc == SL_OK)
            rc = sl_frame_set_attr(out, name, "scale_factor", f, (size_t)as->out_cols, err);
        if (rc == SL_OK)
            rc = sl_frame_set_attr(out, name, "scale_offset", o, (size_t)as->out_cols, err);
        free(f);
        free(o);
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
    "one per column scaled (then every scaled array must have that many columns, or with\n"
    "`columns`, one per column picked, in that order). A column whose\n"
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
    "`columns` scales only those columns (names or 0-based indices, negative from the end)\n"
    "of the one array scaled (an error when `arrays` names several); the other columns keep\n"
    "their values.\n"
    "\n"
    "```python\n"
    "X[:, [2, 0]] = np.log1p(X[:, [2, 0]])               # transform: log1p, columns: [bmi, age]\n"
    "X = np.hstack([X, np.square(X[:, [2]]) * 2])        # transform: square, columns: [bmi], factor: 2, append: true\n"
    "```\n"
    "\n"
    "**Append**: with `append: true` the results go into new columns after the array's\n"
    "columns, in the order of `columns` (default: all), and the columns they come from stay\n"
    "as they are.\n"
    "\n"
    "**Column names**: a column replaced by a transform's result is renamed\n"
    "`<transform>(<name>)` (`log1p(bmi)`); with `factor`/`offset` only it keeps its name. An\n"
    "appended column is named `<transform>(<name>)`, or `scaled(<name>)` without a transform;\n"
    "an array without column names then gets `<array>[<j>]` for its own columns\n"
    "(`square(X[2])`). Otherwise an array without names stays without.\n"
    "\n"
    "**Output**: the input's arrays, same types and rows, same columns unless appended to;\n"
    "scaled arrays carry the attributes `scale_factor` and `scale_offset`, one per column of\n"
    "the output array (1 and 0 for a column nothing scaled). One map pass: results do not\n"
    "depend on chunk size or thread count.\n"
    "\n"
    "**Errors**: an unknown or integer array in `arrays`, or as `features`; no `features`\n"
    "array and no `arrays`; `arrays: []`; `factor` or `offset` with a count that is neither\n"
    "1 nor the columns scaled, or not finite; `columns` empty, naming an unknown column or\n"
    "one twice, or given while several arrays are scaled; at run time, a value outside the\n"
    "transform's domain (unless `domain_errors: nan`).\n";

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
